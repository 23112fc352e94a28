"""The `bti` command, as a teacher, a rektor and a coordinator would type it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import typer
from typer.testing import CliRunner, Result

from ledger import messages
from ledger.application import CaseLedger
from ledger.cli import build_app, label, main, option_name
from ledger.errors import LedgerNotFound
from ledger.events import ACTIONS, EVENT_TYPES, LEDGER_SET_FIELDS, CaseEvent
from ledger.policies.calendar import OSLO
from ledger.policies.rulebook import load_rulebook
from tests.cast import TILSYN

TEACHER_ENV = {
    "BTI_PERSON": "Kari Lærer",
    "BTI_ROLE": "staff",
    "BTI_SERVICE": "skole",
    "BTI_UNIT": "Fossen skole",
    "BTI_DATABASE_URL": None,
    "BTI_LANGUAGE": None,
}
BTI = Path(sys.executable).with_name("bti")


@pytest.fixture(autouse=True)
def bokmal_again() -> Iterator[None]:
    """Each command sets the process-wide language; later tests start from bokmål."""
    yield
    messages.set_language("nb")


def bti(url: str, *args: str, **env: str | None) -> Result:
    """Run `bti --db URL ARGS…` as the teacher (env overrides the teacher's variables)."""
    return CliRunner().invoke(build_app(), ["--db", url, *args], env={**TEACHER_ENV, **env})


def a_while_ago(**delta: float) -> datetime:
    """A moment in the past on the real clock (the CLI runs on the system clock)."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(**delta)


def undring_args(noticed_at: datetime | None = None) -> list[str]:
    noticed = (noticed_at or a_while_ago(days=2)).isoformat()
    return [
        "record", "register-undring", "--child-ref", "Elev-17", "--child-birth-date",
        "2014-05-01", "--unit", "Fossen skole", "--service", "skole", "--noticed-at", noticed,
        "--observations", "Trekker seg unna i friminuttene.", "--tracks", "skolemiljo",
    ]


def init(url: str) -> None:
    result = bti(url, "init")
    assert result.exit_code == 0, result.output


def register(url: str, *extra: str) -> str:
    """Register an undring; returns the new case id (read from the event's JSON)."""
    result = bti(url, *undring_args(), *extra, "--json", "{}")
    assert result.exit_code == 0, result.output
    case_id: str = json.loads(result.stdout)["case_id"]
    return case_id


def history(url: str, case_id: str) -> list[dict[str, Any]]:
    result = bti(url, "case", "history", case_id, "--json")
    assert result.exit_code == 0, result.output
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


# ---- init ------------------------------------------------------------------------------


def test_init_creates_a_ledger_and_says_where_and_which_rulebook(sqlite_url: str) -> None:
    result = bti(sqlite_url, "init", "--rulebook", "sondre-land")

    assert result.exit_code == 0, result.output
    version = load_rulebook("sondre-land").version
    assert result.stdout.strip() == (
        f"Opprettet en BTI-logg på {sqlite_url} med regelboken sondre-land (versjon {version})."
    )
    with CaseLedger.open(sqlite_url, reader=TILSYN) as ledger:
        assert ledger.rulebook.name == "sondre-land"


def test_a_second_init_on_the_same_database_is_refused(database_url: str) -> None:
    init(database_url)

    result = bti(database_url, "init")

    assert result.exit_code == 1
    assert result.stderr.strip().endswith("[ledger_exists]")


def test_init_with_an_unknown_rulebook_names_the_shipped_ones(sqlite_url: str) -> None:
    result = bti(sqlite_url, "--lang", "en", "init", "--rulebook", "atlantis")

    assert result.exit_code == 1
    assert result.stderr == (
        "No rulebook “atlantis”. Shipped rulebooks: default, seed-001, sondre-land. "
        "[rulebook_not_found]\n"
    )


def test_init_without_a_person_says_which_option_or_variable_is_missing(sqlite_url: str) -> None:
    result = bti(sqlite_url, "init", BTI_PERSON=None)

    assert result.exit_code == 1
    assert result.stderr == (
        "Det må stå hvem som gjør dette. Gi --as-person eller sett BTI_PERSON. [actor_missing]\n"
    )
    with pytest.raises(LedgerNotFound):
        CaseLedger.open(sqlite_url, reader=TILSYN)


def test_a_command_on_a_database_without_a_ledger_says_to_run_init(sqlite_url: str) -> None:
    result = bti(sqlite_url, "case", "list")

    assert result.exit_code == 1
    assert result.stderr.strip().endswith("[ledger_not_initialised]")
    assert "bti init" in result.stderr


# ---- record ----------------------------------------------------------------------------


def test_a_teacher_registers_an_undring_and_shares_it_with_the_rektor(database_url: str) -> None:
    init(database_url)

    registered = bti(database_url, *undring_args())
    assert registered.exit_code == 0, registered.output
    first_line = registered.stdout.splitlines()[0]
    assert first_line.startswith("Ny sak: ")
    case_id = first_line.removeprefix("Ny sak: ")

    shared = bti(
        database_url, "record", "share-with-leader", "--case", case_id,
        "--leader", "Rita Rektor", "--how", "Muntlig på kontoret",
    )

    assert shared.exit_code == 0, shared.output
    assert shared.stdout.startswith("Ført: Delt med nærmeste leder (hendelse ")
    assert f"i sak {case_id}." in shared.stdout
    events = history(database_url, case_id)
    assert [e["type"] for e in events] == ["UndringRegistered", "SharedWithLeader"]
    assert events[1]["leader"] == "Rita Rektor"
    assert events[1]["actor"] == {
        "person": "Kari Lærer", "role": "staff", "service": "skole", "unit": "Fossen skole",
    }


def test_the_actor_options_win_over_the_environment(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)

    result = bti(
        sqlite_url, "record", "share-with-leader", "--case", case_id, "--leader", "Rita Rektor",
        "--how", "samtale", "--as-person", "Sigrid Spes", "--as-role", "staff",
    )

    assert result.exit_code == 0, result.output
    assert history(sqlite_url, case_id)[1]["actor"]["person"] == "Sigrid Spes"


def test_json_fields_are_merged_and_the_options_on_the_line_win(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)

    result = bti(
        sqlite_url, "record", "share-with-leader", "--case", case_id,
        "--json", '{"leader": "Rita Rektor", "how": "e-post"}', "--how", "telefon",
    )

    assert result.exit_code == 0, result.output
    event = json.loads(result.stdout)
    assert (event["type"], event["leader"], event["how"]) == (
        "SharedWithLeader", "Rita Rektor", "telefon",
    )
    assert event == history(sqlite_url, case_id)[1]


def test_json_fields_can_come_from_a_file(sqlite_url: str, tmp_path: Path) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)
    fields = tmp_path / "share.json"
    fields.write_text(json.dumps({"case_id": case_id, "leader": "Rita Rektor", "how": "brev"}))

    result = bti(sqlite_url, "record", "share-with-leader", "--json", f"@{fields}")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["how"] == "brev"


def test_the_case_option_wins_over_a_case_id_in_the_json(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)
    fields = {"case_id": str(uuid4()), "leader": "Rita Rektor", "how": "brev"}

    result = bti(
        sqlite_url, "record", "share-with-leader", "--case", case_id, "--json", json.dumps(fields)
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["case_id"] == case_id


def test_json_that_is_not_json_is_refused_as_json_and_nothing_is_stored(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)

    result = bti(
        sqlite_url, "record", "share-with-leader", "--case", case_id, "--json", '{"leader": ',
    )

    assert result.exit_code == 1
    refusal = json.loads(result.stderr)
    assert refusal["code"] == "json_invalid"
    assert refusal["option"] == "--json"
    assert len(history(sqlite_url, case_id)) == 1


def test_json_that_is_not_an_object_is_refused(sqlite_url: str) -> None:
    init(sqlite_url)

    result = bti(sqlite_url, "--lang", "en", "record", "share-with-leader", "--json", "[1, 2]")

    assert result.exit_code == 1
    assert json.loads(result.stderr)["message"] == "--json must be one JSON object ({…})."


def test_an_unknown_action_is_refused_and_the_known_ones_are_listed(sqlite_url: str) -> None:
    init(sqlite_url)

    result = bti(sqlite_url, "record", "write-essay", "--case", str(uuid4()))

    assert result.exit_code == 1
    assert result.stderr == (
        f"Ukjent handling «write-essay». Kjente handlinger: {', '.join(ACTIONS)}. "
        "[unknown_action]\n"
    )


def test_a_missing_field_is_named_with_exit_1_no_traceback_and_nothing_stored(
    database_url: str,
) -> None:
    init(database_url)
    without_observations = undring_args()[:-4] + undring_args()[-2:]

    result = bti(database_url, *without_observations)

    assert result.exit_code == 1
    assert result.stderr == (
        "Feltet «observations» er ikke gyldig: det mangler og må fylles ut. [invalid_field]\n"
    )
    assert "Traceback" not in result.output
    with CaseLedger.open(database_url, reader=TILSYN) as ledger:
        assert ledger.list_cases() == []


def test_a_time_without_a_zone_is_refused_and_nothing_is_stored(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)
    naive = a_while_ago(hours=1).replace(tzinfo=None).isoformat()

    result = bti(
        sqlite_url, "record", "share-with-leader", "--case", case_id, "--leader", "Rita Rektor",
        "--how", "samtale", "--occurred-at", naive,
    )

    assert result.exit_code == 1
    assert result.stderr == (
        "Feltet «occurred_at» er ikke gyldig: tidspunktet mangler tidssone; legg den til, "
        "f.eks. 2026-03-02T09:00+01:00 for norsk vintertid eller +02:00 for sommertid. "
        "[invalid_field]\n"
    )
    assert len(history(sqlite_url, case_id)) == 1


def test_a_time_that_is_not_a_time_is_refused(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)

    result = bti(
        sqlite_url, "record", "share-with-leader", "--case", case_id, "--leader", "R",
        "--how", "samtale", "--occurred-at", "i går",
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("Feltet «occurred_at» er ikke gyldig: ")
    assert result.stderr.endswith("[invalid_field]\n")


def test_a_time_one_day_ahead_is_refused_and_nothing_is_stored(database_url: str) -> None:
    init(database_url)
    case_id = register(database_url)
    tomorrow = datetime.now(UTC) + timedelta(days=1)

    result = bti(
        database_url, "record", "share-with-leader", "--case", case_id, "--leader", "Rita Rektor",
        "--how", "samtale", "--occurred-at", tomorrow.isoformat(),
    )

    assert result.exit_code == 1
    assert result.stderr.strip().endswith("(regel 2). [occurred_in_future]")
    assert len(history(database_url, case_id)) == 1


def test_a_given_time_is_stored_as_given(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)
    when = a_while_ago(hours=3)

    bti(
        sqlite_url, "record", "share-with-leader", "--case", case_id, "--leader", "Rita Rektor",
        "--how", "samtale", "--occurred-at", when.astimezone(OSLO).isoformat(),
    )

    stored = history(sqlite_url, case_id)[1]
    assert datetime.fromisoformat(stored["occurred_at"]) == when


def test_list_fields_are_repeatable_options(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)

    result = bti(
        sqlite_url, "record", "hold-samtale", "--case", case_id,
        "--participants", "guardians", "--participants", "child",
        "--child-view", "Vil ha en voksen i garderoben.", "--summary", "Enige om en plan.",
    )

    assert result.exit_code == 0, result.output
    assert history(sqlite_url, case_id)[1]["participants"] == ["guardians", "child"]


def test_a_yes_no_field_is_a_flag(sqlite_url: str) -> None:
    init(sqlite_url)

    case_id = register(sqlite_url, "--violence-suspected")

    shown = json.loads(bti(sqlite_url, "case", "show", case_id, "--json").stdout)
    assert shown["violence_suspected"] is True


def test_a_rule_of_the_ledger_is_refused_with_its_message(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url, "--violence-suspected")

    result = bti(
        sqlite_url, "record", "invite-to-samtale", "--case", case_id,
        "--with-whom", "guardians", "--planned-at", a_while_ago(hours=-24).isoformat(),
    )

    assert result.exit_code == 1
    assert result.stderr.strip().endswith("[guardians_excluded_violence]")
    assert len(history(sqlite_url, case_id)) == 1


def test_a_correction_takes_its_fields_as_json(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)
    shared = bti(
        sqlite_url, "record", "share-with-leader", "--case", case_id, "--leader", "Rita Rektor",
        "--how", "samtale", "--json", "{}",
    )
    shared_id = json.loads(shared.stdout)["event_id"]

    result = bti(
        sqlite_url, "record", "correct-entry", "--case", case_id, "--corrects", shared_id,
        "--fields", '{"how": "telefon"}', "--why", "Feil måte ført.",
    )
    bad = bti(
        sqlite_url, "record", "correct-entry", "--case", case_id, "--corrects", shared_id,
        "--fields", "how=telefon", "--why", "Feil måte ført.",
    )

    assert result.exit_code == 0, result.output
    assert history(sqlite_url, case_id)[2]["fields"] == {"how": "telefon"}
    assert bad.exit_code == 1
    assert bad.stderr.startswith("--fields er ikke gyldig JSON: ")
    assert bad.stderr.endswith("[json_invalid]\n")


def test_every_action_has_a_command_with_an_option_per_field() -> None:
    record = typer.main.get_group(build_app()).commands["record"]
    assert isinstance(record, typer.core.TyperGroup)

    for action, cls in ACTIONS.items():
        command = record.commands[action]
        options = {name for param in command.params for name in param.opts}
        own = {"--case", "--json", "--occurred-at", "--as-person", "--as-role", "--as-service",
               "--as-unit"}
        fields = set(cls.model_fields) - LEDGER_SET_FIELDS - {"actor", "occurred_at"}
        assert own | {option_name(f) for f in fields} <= options, action
        assert issubclass(cls, CaseEvent)


# ---- reading cases ---------------------------------------------------------------------


def test_case_list_show_and_history_print_json(database_url: str) -> None:
    init(database_url)
    case_id = register(database_url)
    bti(database_url, "record", "share-with-leader", "--case", case_id, "--leader", "Rita Rektor",
        "--how", "samtale")

    listed = json.loads(bti(database_url, "case", "list", "--json").stdout)
    shown = json.loads(bti(database_url, "case", "show", case_id, "--json").stdout)
    events = history(database_url, case_id)

    assert [c["case_id"] for c in listed] == [case_id]
    assert (shown["level"], shown["status"], shown["holder"]) == (0, "open", "Kari Lærer")
    assert shown["tracks"] == ["skolemiljo"]
    assert [e["sequence"] for e in events] == [1, 2]
    assert events[0]["child_ref"] == "Elev-17"


def test_case_list_filters_by_unit_and_status(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)

    def listed(*options: str) -> list[str]:
        result = bti(sqlite_url, "case", "list", "--json", *options)
        assert result.exit_code == 0, result.output
        return [c["case_id"] for c in json.loads(result.stdout)]

    assert listed("--unit", "Fossen skole", "--status", "open") == [case_id]
    assert listed("--unit", "Solsiden barnehage") == []
    assert listed("--status", "closed") == []


def test_case_list_as_a_table_shows_each_case(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)

    result = bti(sqlite_url, "--lang", "en", "case", "list")

    assert result.exit_code == 0, result.output
    assert case_id in result.stdout
    assert "Fossen skole" in result.stdout
    assert "1 case(s)." in result.stdout


def test_case_show_as_text_names_level_status_and_holder(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)

    result = bti(sqlite_url, "--lang", "en", "case", "show", case_id)

    assert result.exit_code == 0, result.output
    lines = {line.split("  ")[0]: line.rstrip() for line in result.stdout.splitlines()}
    assert lines["Level"].split()[-1] == "0"
    assert lines["Status"].split()[-1] == "open"
    assert lines["Stafettholder"].endswith("Kari Lærer (skole)")


def test_history_shows_oslo_local_time_who_and_a_label_per_event(sqlite_url: str) -> None:
    init(sqlite_url)
    noticed = a_while_ago(days=3)
    result = bti(sqlite_url, *undring_args(noticed), "--occurred-at", noticed.isoformat(),
                 "--json", "{}")
    case_id = json.loads(result.stdout)["case_id"]

    text = bti(sqlite_url, "--lang", "en", "case", "history", case_id).stdout

    assert noticed.astimezone(OSLO).strftime("%Y-%m-%d %H:%M") in text
    assert "Undring registered" in text
    assert "Kari Lærer" in text
    assert "(staff, skole)" in text
    assert "Elev-17" in text


def test_an_unknown_case_is_refused_in_english_with_lang_en(sqlite_url: str) -> None:
    init(sqlite_url)
    unknown = uuid4()

    result = bti(sqlite_url, "--lang", "en", "case", "show", str(unknown))

    assert result.exit_code == 1
    assert result.stderr == (
        f"There is no case with id {unknown}. A case begins when an undring is registered "
        "(rule 1). [case_unknown]\n"
    )


def test_the_language_can_come_from_bti_language(sqlite_url: str) -> None:
    init(sqlite_url)

    result = bti(sqlite_url, "case", "show", str(uuid4()), BTI_LANGUAGE="en")

    assert result.stderr.startswith("There is no case with id ")


def test_an_error_is_json_when_json_is_asked_for(sqlite_url: str) -> None:
    init(sqlite_url)
    unknown = str(uuid4())

    result = bti(sqlite_url, "case", "show", unknown, "--json")

    assert result.exit_code == 1
    assert result.stdout == ""
    refusal = json.loads(result.stderr)
    assert (refusal["code"], refusal["case"]) == ("case_unknown", unknown)


def test_every_event_type_has_a_label_in_both_languages() -> None:
    catalogue = messages.catalogue()

    for event_type in EVENT_TYPES:
        entry = catalogue.get(f"label.{event_type}")
        assert entry is not None, event_type
        assert set(entry) == {"nb", "en"}, event_type
        assert label(event_type) == entry["nb"]


# ---- schema and rulebooks ----------------------------------------------------------------


def test_schema_prints_the_json_schema_of_every_event_type(sqlite_url: str) -> None:
    result = bti(sqlite_url, "schema")

    assert result.exit_code == 0, result.output
    schemas = json.loads(result.stdout)
    assert set(schemas) == set(EVENT_TYPES)
    assert all("properties" in s for s in schemas.values())


def test_schema_of_one_type_by_name_or_action(sqlite_url: str) -> None:
    by_type = json.loads(bti(sqlite_url, "schema", "SamtaleHeld").stdout)
    by_action = json.loads(bti(sqlite_url, "schema", "hold-samtale").stdout)
    unknown = bti(sqlite_url, "schema", "Essay")

    assert by_type == by_action == EVENT_TYPES["SamtaleHeld"].model_json_schema()
    assert unknown.exit_code == 1
    assert unknown.stderr.strip().endswith("[unknown_event_type]")


def test_rulebook_list_and_show(sqlite_url: str) -> None:
    listed = json.loads(bti(sqlite_url, "rulebook", "list", "--json").stdout)
    shown = json.loads(bti(sqlite_url, "rulebook", "show", "sondre-land", "--json").stdout)
    table = bti(sqlite_url, "--lang", "en", "rulebook", "show", "default")

    assert [r["name"] for r in listed] == ["default", "seed-001", "sondre-land"]
    assert shown["name"] == "sondre-land"
    assert shown["digest"] == load_rulebook("sondre-land").digest
    assert table.exit_code == 0
    assert "Self-consent age" in table.stdout


# ---- import and export -------------------------------------------------------------------


def test_an_export_imported_into_an_empty_database_exports_the_same_bytes(
    sqlite_url: str, tmp_path: Path
) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)
    bti(sqlite_url, "record", "share-with-leader", "--case", case_id, "--leader", "Rita Rektor",
        "--how", "samtale")
    exported = tmp_path / "ledger.jsonl"
    copy_url = f"sqlite:///{tmp_path / 'copy.sqlite'}"

    written = bti(sqlite_url, "export", "--output", str(exported))
    imported = bti(copy_url, "import", str(exported))
    again = bti(copy_url, "import", str(exported), "--json")
    to_stdout = bti(copy_url, "export")

    assert written.exit_code == 0, written.output
    assert written.stderr == f"Skrev 3 hendelse(r) til {exported}.\n"
    assert imported.exit_code == 0, imported.output
    assert imported.stdout == (
        "Lagret 3 hendelse(r) i 1 sak(er); 0 fantes allerede og ble hoppet over.\n"
    )
    assert json.loads(again.stdout) == {"stored": 0, "skipped": 3, "cases": 0}
    assert to_stdout.stdout_bytes == exported.read_bytes()


def test_export_of_one_case(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url)
    register(sqlite_url)

    result = bti(sqlite_url, "export", "--case", case_id)
    unknown = bti(sqlite_url, "export", "--case", str(uuid4()))

    lines = result.stdout.splitlines()
    assert [json.loads(line)["case_id"] for line in lines] == [case_id]
    assert unknown.exit_code == 1
    assert unknown.stderr.strip().endswith("[case_unknown]")


def test_an_import_with_bad_lines_lists_every_problem_and_stores_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    init(sqlite_url)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "Essay"}\nnot json\n')

    result = bti(sqlite_url, "--lang", "en", "import", str(bad))

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "The import was rejected: 2 line(s) have errors. Nothing was stored. [import_rejected]"
    )
    assert lines[1] == (
        "line 1, field type: Unknown event type “Essay”. See docs/events.md or “bti schema”. "
        "[unknown_event_type]"
    )
    assert lines[2].startswith("line 2, field -: The line is not valid JSON: ")
    assert lines[2].endswith("[malformed_json]")
    with CaseLedger.open(sqlite_url, reader=TILSYN) as ledger:
        assert ledger.list_cases() == []


def test_importing_a_file_that_is_not_there_is_one_sentence(sqlite_url: str) -> None:
    init(sqlite_url)

    result = bti(sqlite_url, "import", "/nowhere/ledger.jsonl")

    assert result.exit_code == 1
    assert result.stderr == (
        "Kan ikke bruke filen /nowhere/ledger.jsonl: No such file or directory. [file_problem]\n"
    )


# ---- main(): the console script -------------------------------------------------------------


def test_main_chooses_the_language_before_building_the_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--lang", "en", "--help"])

    assert exit_.value.code == 0
    assert "The BTI ledger" in capsys.readouterr().out


def test_main_turns_an_unexpected_error_into_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> list[str]:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr("ledger.cli.rulebooks.shipped_rulebook_names", broken)
    monkeypatch.delenv("BTI_DEBUG", raising=False)

    with pytest.raises(SystemExit) as exit_:
        main(["--lang", "en", "rulebook", "list"])

    assert exit_.value.code == 1
    assert capsys.readouterr().err == (
        "Something went wrong that should not happen: RuntimeError: the disk is on fire. "
        "Run with BTI_DEBUG=1 for details, and report it. [unexpected]\n"
    )


def test_the_bti_console_script_runs_end_to_end_without_tracebacks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bti.sqlite'}"
    env = {k: v for k, v in TEACHER_ENV.items() if v is not None}
    env["PATH"] = str(BTI.parent)
    env["BTI_MASTER_KEY"] = os.environ["BTI_MASTER_KEY"]  # personal data is encrypted

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BTI), "--db", url, *args], capture_output=True, text=True, env=env,
            check=False, timeout=60,
        )

    created = run("init")
    registered = run(*undring_args(), "--json", "{}")
    missing = run("record", "register-undring", "--child-ref", "Elev-18")
    listed = run("case", "list", "--json")

    assert created.returncode == 0, created.stderr
    assert registered.returncode == 0, registered.stderr
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    assert missing.stderr.endswith("[invalid_field]\n")
    assert [c["case_id"] for c in json.loads(listed.stdout)] == [
        json.loads(registered.stdout)["case_id"]
    ]
