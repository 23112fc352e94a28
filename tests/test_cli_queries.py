"""`bti deadlines`, `bti stafett`, `bti case show`, `bti project`, `bti rebuild` and rulebooks,
as a rektor, a stafettholder and the municipality's operator would type them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from ledger import messages
from ledger.application import CaseLedger
from ledger.policies.calendar import OSLO
from ledger.policies.rulebook import load_rulebook
from ledger.projections import runner as runner_module
from ledger.projections.runner import ProjectionRunner
from tests.cast import TILSYN
from tests.test_cli import a_while_ago, bti, init

REPOSITORY = Path(__file__).resolve().parent.parent
RULEBOOKS = REPOSITORY / "ledger" / "policies" / "rulebooks"

PEDAGOGUE_ENV = {
    "BTI_PERSON": "Berit Pedagog", "BTI_SERVICE": "barnehage", "BTI_UNIT": "Solsiden barnehage",
}
RECTOR_ENV = {"BTI_PERSON": "Rita Rektor", "BTI_ROLE": "leader"}
SPECIAL_TEACHER_ENV = {"BTI_PERSON": "Sigrid Spes"}
TILSYN_ENV = {
    "BTI_PERSON": TILSYN.person, "BTI_ROLE": TILSYN.role, "BTI_SERVICE": TILSYN.service,
    "BTI_UNIT": TILSYN.unit,
}
"""Reads every case: for listings across units and services."""


@pytest.fixture(autouse=True)
def bokmal_again() -> Iterator[None]:
    """Each command sets the process-wide language; later tests start from bokmål."""
    yield
    messages.set_language("nb")


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def register(
    url: str, noticed_at: datetime, *, unit: str = "Fossen skole", service: str = "skole",
    tracks: tuple[str, ...] = ("skolemiljo",), **env: str | None,
) -> str:
    """Register an undring noticed at `noticed_at`; returns the new case id."""
    args = [
        "record", "register-undring", "--child-ref", "Elev-17", "--child-birth-date",
        "2014-05-01", "--unit", unit, "--service", service, "--noticed-at",
        noticed_at.isoformat(), "--observations", "Trekker seg unna i friminuttene.",
    ]
    for track in tracks:
        args += ["--tracks", track]
    event = as_json(bti(url, *args, "--json", "{}", **env))
    case_id: str = event["case_id"]
    return case_id


def deadlines(url: str, *options: str, **env: str | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = as_json(bti(url, "deadlines", "--json", *options, **env))
    return found


def status(url: str, **env: str | None) -> dict[str, Any]:
    found: dict[str, Any] = as_json(bti(url, "project", "--status", "--json", **env))
    return found


def projection_names(url: str) -> list[str]:
    """The projections the ledger keeps, in the order it applies them."""
    with CaseLedger.open(url, reader=TILSYN) as ledger:
        return list(ledger.read_models.runner.projections)


def local(moment: str) -> datetime:
    """A moment as Oslo wall-clock time (so a summer-time change does not count as a day)."""
    return datetime.fromisoformat(moment).astimezone(OSLO).replace(tzinfo=None)


def due_text(deadline: dict[str, Any]) -> str:
    """A deadline's due time as the table prints it (Oslo local time)."""
    return datetime.fromisoformat(deadline["due_at"]).astimezone(OSLO).strftime("%Y-%m-%d %H:%M")


# ---- bti deadlines ---------------------------------------------------------------------------


def test_a_rektor_lists_this_weeks_deadlines_for_her_school_soonest_first(
    database_url: str,
) -> None:
    init(database_url)
    school_case = register(database_url, a_while_ago(days=1))
    register(database_url, a_while_ago(days=1), unit="Solsiden barnehage", service="barnehage",
             tracks=(), **PEDAGOGUE_ENV)

    this_week = deadlines(database_url, "--due-within", "7d", "--unit", "Fossen skole",
                          **RECTOR_ENV)
    table = ok(bti(database_url, "--lang", "en", "deadlines", "--due-within", "7d", "--unit",
                   "Fossen skole"))

    assert [(d["rule"], d["case_id"], d["state"]) for d in this_week] == [
        ("share_with_leader", school_case, "open"),
        ("s12_innkalling", school_case, "open"),
    ]
    rows = [line for line in table.stdout.splitlines() if school_case in line]
    assert len(rows) == 2
    for row, deadline in zip(rows, this_week, strict=True):
        assert due_text(deadline) in row
        assert messages.text(f"deadline.{deadline['rule']}", "en") in row
        assert "Kari Lærer" in row
    assert table.stdout.splitlines()[-1] == "2 deadline(s), 0 overdue."


def test_deadlines_filter_by_holder_case_and_window_and_all_shows_the_met_ones(
    sqlite_url: str,
) -> None:
    init(sqlite_url)
    school_case = register(sqlite_url, a_while_ago(days=1))
    other_case = register(sqlite_url, a_while_ago(days=1), unit="Solsiden barnehage",
                          service="barnehage", tracks=(), **PEDAGOGUE_ENV)
    ok(bti(sqlite_url, "record", "share-with-leader", "--case", school_case, "--leader",
           "Rita Rektor", "--how", "samtale"))

    # Across a school's and a barnehage's cases: tilsyn reads both.
    berits = deadlines(sqlite_url, "--holder", "Berit Pedagog", **TILSYN_ENV)
    in_two_days = deadlines(sqlite_url, "--due-within", "48h", **TILSYN_ENV)
    of_the_school_case = deadlines(sqlite_url, "--case", school_case)
    with_the_met = deadlines(sqlite_url, "--case", school_case, "--all")

    assert berits and {d["case_id"] for d in berits} == {other_case}
    assert [d["rule"] for d in in_two_days] == ["share_with_leader"]
    assert in_two_days[0]["case_id"] == other_case
    assert "share_with_leader" not in {d["rule"] for d in of_the_school_case}
    met = [d for d in with_the_met if d["rule"] == "share_with_leader"]
    assert [d["state"] for d in met] == ["met"]


def test_a_window_that_is_not_a_time_span_is_refused_with_an_example(sqlite_url: str) -> None:
    init(sqlite_url)

    result = bti(sqlite_url, "--lang", "en", "deadlines", "--due-within", "a week")

    assert result.exit_code == 1
    assert result.stderr == (
        "“a week” is not a span of time. Write for example 48h, 7d or 2w. [window_invalid]\n"
    )


def test_the_overdue_filter_shows_a_duty_that_ran_out_and_the_table_highlights_it(
    sqlite_url: str,
) -> None:
    init(sqlite_url)
    # Noticed two days ago less three seconds: sharing with the leader falls due in seconds.
    noticed = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2, seconds=-3)
    case_id = register(sqlite_url, noticed, tracks=())
    [share] = [d for d in deadlines(sqlite_url, "--case", case_id)
               if d["rule"] == "share_with_leader"]
    wait = (datetime.fromisoformat(share["due_at"]) - datetime.now(UTC)).total_seconds()
    if not 0 < wait < 10:
        pytest.skip("a summer-time change lies between noticed and due")
    assert deadlines(sqlite_url, "--overdue") == []
    time.sleep(wait + 0.5)

    overdue = deadlines(sqlite_url, "--overdue")
    table = ok(bti(sqlite_url, "--lang", "en", "deadlines", FORCE_COLOR="1"))

    assert [(d["rule"], d["state"]) for d in overdue] == [("share_with_leader", "missed")]
    red = [line for line in table.stdout.splitlines() if "\x1b[1;31m" in line]
    assert len(red) == 1
    assert "Share the undring with the nearest leader" in red[0]
    assert "overdue" in red[0]
    assert re.sub(r"\x1b\[[0-9;]*m", "", table.stdout).splitlines()[-1] == (
        "4 deadline(s), 1 overdue."
    )


def test_a_duty_already_missed_when_a_late_undring_is_registered_is_listed_as_overdue(
    sqlite_url: str,
) -> None:
    init(sqlite_url)
    # Written down ten days after it was noticed: the § 12 innkalling week has run out.
    case_id = register(sqlite_url, a_while_ago(days=10))

    overdue = deadlines(sqlite_url, "--overdue")

    assert [(d["rule"], d["case_id"]) for d in overdue] == [
        ("share_with_leader", case_id), ("s12_innkalling", case_id),
    ]


# ---- bti stafett ------------------------------------------------------------------------------


def test_a_stafettholder_sees_the_cases_they_hold_and_a_handover_waiting_for_them(
    database_url: str,
) -> None:
    init(database_url)
    case_id = register(database_url, a_while_ago(days=1))
    ok(bti(database_url, "record", "propose-handover", "--case", case_id, "--to-person",
           "Sigrid Spes", "--to-service", "skole", **RECTOR_ENV))

    karis = as_json(bti(database_url, "stafett", "--person", "Kari Lærer", "--json"))
    sigrids = as_json(bti(database_url, "stafett", "--person", "Sigrid Spes", "--json"))
    kari_text = ok(bti(database_url, "--lang", "en", "stafett", "--person", "Kari Lærer"))
    sigrid_text = ok(bti(database_url, "--lang", "en", "stafett", "--person", "Sigrid Spes"))

    assert [(r["case_id"], r["holder"], r["pending_to"]) for r in karis] == [
        (case_id, "Kari Lærer", "Sigrid Spes")
    ]
    assert [(r["case_id"], r["holder"], r["pending_to"]) for r in sigrids] == [
        (case_id, "Kari Lærer", "Sigrid Spes")
    ]
    assert "Kari Lærer holds the stafett in 1 case(s):" in kari_text.stdout
    assert "0 handover(s) waiting for Kari Lærer to answer:" in kari_text.stdout
    assert "Sigrid Spes holds the stafett in 0 case(s):" in sigrid_text.stdout
    assert "1 handover(s) waiting for Sigrid Spes to answer:" in sigrid_text.stdout
    assert case_id in sigrid_text.stdout

    ok(bti(database_url, "record", "accept-handover", "--case", case_id, **SPECIAL_TEACHER_ENV))
    after = as_json(bti(database_url, "stafett", "--json"))
    assert [(r["holder"], r["pending_to"]) for r in after] == [("Sigrid Spes", None)]


# ---- bti case show ------------------------------------------------------------------------------


def test_case_show_gives_the_step_the_open_deadlines_and_what_to_do_now(sqlite_url: str) -> None:
    init(sqlite_url)
    case_id = register(sqlite_url, a_while_ago(days=1))

    shown = as_json(bti(sqlite_url, "case", "show", case_id, "--json"))
    text = ok(bti(sqlite_url, "--lang", "en", "case", "show", case_id)).stdout

    assert (shown["level"], shown["position"]["level"], shown["position"]["step"]) == (0, 0, 1)
    assert shown["position"]["step_key"] == "n0.noticed"
    open_rules = [d["rule"] for d in shown["deadlines"]]
    assert open_rules[:2] == ["share_with_leader", "s12_innkalling"]
    assert [d["rule"] for d in deadlines(sqlite_url, "--case", case_id)] == open_rules
    assert shown["what_now"]
    assert {"key", "text"} == set(shown["what_now"][0])
    lines = {line.split("  ")[0]: line.rstrip() for line in text.splitlines()}
    assert lines["Step"].endswith(
        f"{messages.text('step.level.n0', 'en')} · step 1 of 5: "
        f"{messages.text('step.n0.noticed', 'en')}"
    )
    assert f"Open deadlines ({len(open_rules)})" in text
    assert "What now?" in text
    assert messages.text("deadline.s12_innkalling", "en") in text


# ---- bti project and bti rebuild ----------------------------------------------------------------


def test_writers_without_inline_projections_leave_the_catching_up_to_bti_project(
    database_url: str,
) -> None:
    init(database_url)
    case_id = register(database_url, a_while_ago(days=1), BTI_INLINE_PROJECTIONS="0")
    ok(bti(database_url, "--no-inline-projections", "record", "share-with-leader", "--case",
           case_id, "--leader", "Rita Rektor", "--how", "samtale"))

    behind = status(database_url)
    unseen = as_json(bti(database_url, "--no-inline-projections", "case", "list", "--json"))
    caught_up = as_json(bti(database_url, "project", "--json"))
    after = status(database_url)

    assert behind["head"] >= 3
    assert {"case_summary", "deadlines", "stafett"} <= set(behind["positions"])
    assert all(p < behind["head"] for p in behind["positions"].values())
    assert unseen == []
    assert caught_up == {"applied": 2, "head": behind["head"]}
    assert set(after["positions"].values()) == {after["head"]} == {behind["head"]}
    assert [c["case_id"] for c in as_json(bti(database_url, "case", "list", "--json"))] == [
        case_id
    ]


def test_project_status_as_a_table_names_each_projection_and_the_head(sqlite_url: str) -> None:
    init(sqlite_url)
    register(sqlite_url, a_while_ago(days=1))

    table = ok(bti(sqlite_url, "--lang", "en", "project", "--status")).stdout
    head = status(sqlite_url)["head"]

    for name in ("case_summary", "deadlines", "stafett"):
        assert re.search(rf"│ {name} +│ {head} +│ 0 +│", table), table
    assert table.splitlines()[-1] == f"The log is at position {head}."


def test_a_rebuild_shows_its_progress_and_leaves_the_deadlines_as_they_were(
    database_url: str,
) -> None:
    init(database_url)
    for days in (1, 3, 5):
        case_id = register(database_url, a_while_ago(days=days))
        ok(bti(database_url, "record", "share-with-leader", "--case", case_id, "--leader",
               "Rita Rektor", "--how", "samtale"))
    before = deadlines(database_url, "--all")
    names = projection_names(database_url)
    head = status(database_url)["head"]

    rebuilt = ok(bti(database_url, "--lang", "en", "rebuild"))

    assert f"Rebuilding {', '.join(names)}" in rebuilt.stderr
    assert f"{head}/{head}" in rebuilt.stderr
    assert re.search(r"\d+ events/s", rebuilt.stderr)
    assert re.fullmatch(
        rf"Rebuilt {', '.join(names)}: {head} event\(s\) in \d+\.\d s \(\d+ events/s\)\.\n",
        rebuilt.stdout,
    )
    assert deadlines(database_url, "--all") == before
    assert set(status(database_url)["positions"].values()) == {head}


def test_a_rebuild_with_two_workers_leaves_the_deadlines_as_they_were(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    init(sqlite_url)
    for days in (1, 3):
        register(sqlite_url, a_while_ago(days=days))
    before = deadlines(sqlite_url, "--all")
    monkeypatch.setattr(runner_module, "PARALLEL_FROM", 0)  # workers from the first event
    handed: list[int] = []
    monkeypatch.setattr(runner_module.RowMakers, "rows", counting(runner_module.RowMakers.rows, handed))

    ok(bti(sqlite_url, "rebuild", "--workers", "2"))
    with_workers = len(handed)
    ok(bti(sqlite_url, "rebuild", "--workers", "0"))
    refused = bti(sqlite_url, "--lang", "en", "rebuild", "--workers", "-1")

    assert with_workers  # the batches went to the workers
    assert len(handed) == with_workers  # with --workers 0, this process made every row
    assert deadlines(sqlite_url, "--all") == before
    assert refused.exit_code == 2
    assert "--workers" in refused.stderr


def counting(method: Any, calls: list[int]) -> Any:
    """`method`, noting each call in `calls`."""

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return method(*args, **kwargs)

    return counted


def test_rebuild_takes_the_names_of_projections_and_refuses_an_unknown_one(
    sqlite_url: str,
) -> None:
    init(sqlite_url)
    register(sqlite_url, a_while_ago(days=1))
    before = deadlines(sqlite_url, "--all")

    one = ok(bti(sqlite_url, "--lang", "en", "rebuild", "deadlines"))
    unknown = bti(sqlite_url, "--lang", "en", "rebuild", "deadlines", "reports")

    assert one.stdout.startswith("Rebuilt deadlines: ")
    assert deadlines(sqlite_url, "--all") == before
    assert unknown.exit_code == 1
    known = ", ".join(projection_names(sqlite_url))
    assert unknown.stderr == (
        f"There is no read model called “reports”. Known: {known}. [projection_unknown]\n"
    )


def test_an_interrupted_rebuild_says_so_and_the_next_run_finishes_it(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    init(sqlite_url)
    for days in (1, 2, 3):
        register(sqlite_url, a_while_ago(days=days))
    before = deadlines(sqlite_url, "--all")
    rebuild = ProjectionRunner.rebuild

    def ctrl_c_after_the_first_batch(
        self: ProjectionRunner, names: Any = None, progress: Any = None
    ) -> int:
        self.batch_size = 2

        def then_ctrl_c(count: int) -> None:
            if progress is not None:
                progress(count)
            raise KeyboardInterrupt

        return rebuild(self, names, then_ctrl_c)

    monkeypatch.setattr(ProjectionRunner, "rebuild", ctrl_c_after_the_first_batch)
    stopped = bti(sqlite_url, "--lang", "en", "rebuild")
    monkeypatch.undo()
    halfway = status(sqlite_url)["positions"]
    serving = deadlines(sqlite_url, "--all")
    finished = ok(bti(sqlite_url, "rebuild"))

    assert stopped.exit_code == 130
    assert stopped.stderr.splitlines()[-1] == (
        "Interrupted. The old read models still serve; run “bti rebuild” again to continue "
        "where it stopped."
    )
    assert {n: p for n, p in halfway.items() if n.endswith("_rebuild")}
    assert serving == before
    assert finished.stdout.startswith("Bygde ")
    assert not any(n.endswith("_rebuild") for n in status(sqlite_url)["positions"])
    assert deadlines(sqlite_url, "--all") == before


@pytest.mark.slow
def test_a_follower_catches_up_what_writers_store_and_stops_cleanly_on_sigterm(
    database_url: str,
) -> None:
    init(database_url)
    follower = subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", "--db", database_url, "project", "--follow",
         "--interval", "0.05"],
        cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PATH": str(Path(sys.executable).parent), "BTI_LANGUAGE": "en",
             "BTI_MASTER_KEY": os.environ["BTI_MASTER_KEY"]},
    )
    try:
        case_id = register(database_url, a_while_ago(days=1), BTI_INLINE_PROJECTIONS="0")
        head = status(database_url)["head"]
        deadline = time.monotonic() + 30
        while set(status(database_url)["positions"].values()) != {head}:
            assert time.monotonic() < deadline, "the follower did not catch up"
            time.sleep(0.05)
        follower.send_signal(signal.SIGTERM)
        _, stderr = follower.communicate(timeout=30)
    finally:
        follower.kill()

    assert follower.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1].startswith("Stopped after applying ")
    assert stderr.splitlines()[-1].endswith(f"the log is at position {head}.")
    assert [c["case_id"] for c in as_json(bti(database_url, "case", "list", "--json"))] == [
        case_id
    ]


# ---- bti rulebook validate and adopt ------------------------------------------------------------


def test_validate_says_a_shipped_rulebook_file_is_valid(sqlite_url: str) -> None:
    default = load_rulebook("default")

    text = bti(sqlite_url, "--lang", "en", "rulebook", "validate", str(RULEBOOKS / "default.toml"))
    as_json_output = as_json(bti(sqlite_url, "rulebook", "validate",
                                 str(RULEBOOKS / "default.toml"), "--json"))

    assert text.exit_code == 0
    assert text.stdout.startswith(
        f"{RULEBOOKS / 'default.toml'} is a valid rulebook: default {default.version}, "
    )
    assert text.stdout.endswith("; 9 deadlines and 3 reminder stages.\n")
    assert as_json_output == {
        "valid": True, "path": str(RULEBOOKS / "default.toml"), "name": "default",
        "version": default.version, "digest": default.digest,
    }


def test_validate_lists_every_problem_of_a_bad_rulebook_and_exits_1(
    sqlite_url: str, tmp_path: Path
) -> None:
    text = (RULEBOOKS / "default.toml").read_text(encoding="utf-8")
    text = text.replace('name = "default"', 'name = "Fossen Kommune"')
    text = re.sub(r"\[self_consent_age\]\nvalue = 16\n", "[self_consent_age]\n", text)
    bad = tmp_path / "fossen.toml"
    bad.write_text(text, encoding="utf-8")

    result = bti(sqlite_url, "--lang", "en", "rulebook", "validate", str(bad))
    as_json_error = bti(sqlite_url, "rulebook", "validate", str(bad), "--json")
    missing = bti(sqlite_url, "--lang", "en", "rulebook", "validate", str(tmp_path / "no.toml"))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"The rulebook {bad} cannot be used: 2 problem(s). [rulebook_invalid]",
        "  - name: it has characters or a form that is not allowed here (it must match the "
        "pattern ^[a-z0-9][a-z0-9-]*$)",
        "  - self_consent_age.value: it is missing and must be filled in",
    ]
    assert as_json_error.exit_code == 1
    refusal = json.loads(as_json_error.stderr)
    assert (refusal["code"], len(refusal["problems"])) == ("rulebook_invalid", 2)
    assert missing.exit_code == 1
    assert missing.stderr.endswith("No such file or directory. [file_problem]\n")


def test_adopting_a_rulebook_moves_the_due_dates_but_not_the_history(
    database_url: str, tmp_path: Path
) -> None:
    init(database_url)
    case_id = register(database_url, a_while_ago(days=1))
    history = as_json(bti(database_url, "case", "history", case_id, "--json"))
    before = {d["rule"]: d for d in deadlines(database_url, "--case", case_id)}
    two_weeks = '[durations.decision_level0]\namount = 2\nunit = "weeks"\n'
    text = (RULEBOOKS / "default.toml").read_text(encoding="utf-8")
    assert two_weeks in text
    text = text.replace(two_weeks, '[durations.decision_level0]\namount = 10\nunit = "days"\n')
    text = text.replace('name = "default"', 'name = "fossen"').replace(
        f'version = "{load_rulebook("default").version}"', 'version = "2026.9"'
    )
    custom = tmp_path / "fossen.toml"
    custom.write_text(text, encoding="utf-8")

    adopted = bti(database_url, "--lang", "en", "rulebook", "adopt", str(custom), **RECTOR_ENV)

    assert ok(adopted).stdout == (
        f"The rulebook changed: default {load_rulebook('default').version} → fossen 2026.9. "
        "Deadlines are recomputed from the same events.\n"
    )
    after = {d["rule"]: d for d in deadlines(database_url, "--case", case_id)}
    assert set(after) == set(before)
    moved = {rule: local(before[rule]["due_at"]) - local(after[rule]["due_at"]) for rule in before}
    assert moved.pop("decision_level0") == timedelta(days=4)
    assert set(moved.values()) == {timedelta(0)}
    assert {r: d["deadline_id"] for r, d in after.items()} == {
        r: d["deadline_id"] for r, d in before.items()
    }
    assert as_json(bti(database_url, "case", "history", case_id, "--json")) == history
    with CaseLedger.open(database_url, reader=TILSYN) as ledger:
        assert (ledger.rulebook.name, ledger.rulebook.version) == ("fossen", "2026.9")


def test_adopting_needs_to_know_who_does_it(sqlite_url: str) -> None:
    init(sqlite_url)

    result = bti(sqlite_url, "rulebook", "adopt", "sondre-land", BTI_PERSON=None)

    assert result.exit_code == 1
    assert result.stderr.strip().endswith("[actor_missing]")
    with CaseLedger.open(sqlite_url, reader=TILSYN) as ledger:
        assert ledger.rulebook.name == "default"

