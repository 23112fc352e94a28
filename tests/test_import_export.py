"""Stories of moving a ledger: export, import into an empty database, and bad files refused whole."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import orjson
import pytest

from ledger.application import CaseLedger
from ledger.errors import ImportRejected
from ledger.store import open_store
from ledger.transfer import MAX_LINE_BYTES, export_events, import_events, import_into, read_lines
from tests.cast import PPT_ADVISER, TEACHER, TILSYN, SetClock


def a_s12_case(ledger: CaseLedger, clock: SetClock) -> UUID:
    """A teacher's undring about a pupil's school environment, followed up over a week."""
    undring = ledger.register_undring(
        actor=TEACHER, child_ref="Elev-17", child_birth_date="2014-05-01", unit="Fossen skole",
        service="skole", noticed_at=clock.now, observations="Står alene i friminuttene.",
        tracks=["skolemiljo"],
    )
    case = undring.case_id
    clock.advance(hours=3)
    ledger.share_with_leader(case, actor=TEACHER, leader="Rita Rektor", how="samtale")
    clock.advance(days=2)
    ledger.invite_to_samtale(
        case, actor=TEACHER, with_whom=["guardians", "child"], planned_at=clock.now + timedelta(days=3)
    )
    consent = ledger.give_consent(
        case, actor=TEACHER, given_by="guardians", services=["ppt"],
        purpose="Vurdering av behov", information="Undringsnotat og samtalereferat",
    )
    clock.advance(days=1)
    ledger.involve_service(case, actor=TEACHER, service="ppt", contact="Per PPT")
    ledger.log_bright_spot(case, actor=PPT_ADVISER, observation="Lo sammen med en medelev.")
    assert consent.type == "ConsentGiven"
    return case


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def exported(ledger: CaseLedger) -> list[bytes]:
    return list(export_events(ledger))


def test_an_export_imported_into_an_empty_database_exports_byte_for_byte_the_same(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path, other_database_url: str
) -> None:
    a_s12_case(ledger, clock)
    a_s12_case(ledger, clock)
    original = write_lines(tmp_path / "export.jsonl", exported(ledger))

    empty = open_store(other_database_url)
    report = import_into(empty, clock.now, read_lines(original))
    empty.close()
    with CaseLedger.open(other_database_url, clock=clock, reader=TILSYN) as copy:
        assert b"".join(line + b"\n" for line in exported(copy)) == original.read_bytes()
    assert report.stored == len(original.read_bytes().splitlines())
    assert report.cases == 2


def test_one_case_can_be_exported_alone(ledger: CaseLedger, clock: SetClock) -> None:
    first = a_s12_case(ledger, clock)
    a_s12_case(ledger, clock)
    lines = list(export_events(ledger, first))
    assert [orjson.loads(line)["case_id"] for line in lines] == [str(first)] * 6
    assert [orjson.loads(line)["sequence"] for line in lines] == [1, 2, 3, 4, 5, 6]


def test_importing_the_same_file_twice_stores_it_once(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path
) -> None:
    case = a_s12_case(ledger, clock)
    lines = list(export_events(ledger, case))
    # The same file into the same ledger: everything is already there.
    report = import_events(ledger, read_lines(write_lines(tmp_path / "again.jsonl", lines)))
    assert (report.stored, report.skipped, report.cases) == (0, len(lines), 0)
    assert len(ledger.history(case)) == len(lines)


def test_lines_without_ids_get_them_from_the_ledger(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path
) -> None:
    case = a_s12_case(ledger, clock)
    line = {
        "type": "BrightSpotLogged", "case_id": str(case),
        "actor": TEACHER.model_dump(), "occurred_at": clock.now.isoformat(),
        "observation": "Var med i fotballen.",
    }
    report = import_events(ledger, read_lines(write_lines(tmp_path / "new.jsonl", [orjson.dumps(line)])))
    assert report.stored == 1
    last = ledger.history(case)[-1]
    assert (last.type, last.sequence, last.recorded_at) == ("BrightSpotLogged", 7, clock.now)


BAD_LINES: list[tuple[str, Callable[[dict[str, object]], bytes], str, str]] = [
    ("malformed JSON", lambda good: b'{"type": "BrightSpotLogged", ', "-", "malformed_json"),
    ("not an object", lambda good: b"[1, 2, 3]", "-", "malformed_json"),
    ("unknown action", lambda good: orjson.dumps({**good, "type": "CaseDeleted"}), "type",
     "unknown_event_type"),
    ("missing field", lambda good: orjson.dumps({k: v for k, v in good.items() if k != "observation"}),
     "observation", "invalid_field"),
    ("wrong type", lambda good: orjson.dumps({**good, "observation": 42}), "observation",
     "invalid_field"),
    ("naive time", lambda good: orjson.dumps({**good, "occurred_at": "2026-03-02T10:00:00"}),
     "occurred_at", "invalid_field"),
    ("future time", lambda good: orjson.dumps({**good, "occurred_at": "2036-03-02T10:00:00+01:00"}),
     "-", "occurred_in_future"),
    ("unknown case", lambda good: orjson.dumps({**good, "case_id": "00000000-0000-4000-8000-000000000000"}),
     "-", "case_unknown"),
    ("unknown field", lambda good: orjson.dumps({**good, "mood": "glad"}), "mood", "invalid_field"),
]


@pytest.mark.parametrize(("story", "make_bad", "field", "code"), BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_a_file_with_one_bad_line_is_refused_whole_and_names_the_line(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path,
    story: str, make_bad: Callable[[dict[str, object]], bytes], field: str, code: str,
) -> None:
    case = a_s12_case(ledger, clock)
    before = exported(ledger)
    good = {
        "type": "BrightSpotLogged", "case_id": str(case), "actor": TEACHER.model_dump(),
        "occurred_at": clock.now.isoformat(), "observation": "Hjalp en yngre elev.",
    }
    file = write_lines(tmp_path / "half.jsonl", [orjson.dumps(good), make_bad(good), orjson.dumps(good)])
    with pytest.raises(ImportRejected) as caught:
        import_events(ledger, read_lines(file))
    problems = caught.value.problems
    assert [(p.line, p.field, p.code) for p in problems][:1] == [(2, field, code)]
    assert exported(ledger) == before


def test_a_fifty_megabyte_line_is_refused_without_being_read_whole(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path
) -> None:
    before = exported(ledger)
    file = tmp_path / "huge.jsonl"
    with file.open("wb") as out:
        out.write(b'{"type": "BrightSpotLogged", "observation": "')
        out.write(b"x" * 50_000_000)
        out.write(b'"}\n')
    with pytest.raises(ImportRejected) as caught:
        import_events(ledger, read_lines(file))
    [problem] = caught.value.problems
    assert (problem.line, problem.code) == (1, "line_too_long")
    assert str(MAX_LINE_BYTES) in problem.message
    assert exported(ledger) == before


def test_every_bad_line_is_reported_not_just_the_first(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path
) -> None:
    file = write_lines(tmp_path / "bad.jsonl", [b"{", b"", b'{"type": "Nope"}', b"[]"])
    with pytest.raises(ImportRejected) as caught:
        import_events(ledger, read_lines(file))
    assert [(p.line, p.code) for p in caught.value.problems] == [
        (1, "malformed_json"), (3, "unknown_event_type"), (4, "malformed_json"),
    ]
    assert "3 linje(r)" in caught.value.message


def test_a_rule_broken_inside_the_file_refuses_the_file(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path
) -> None:
    case = a_s12_case(ledger, clock)
    before = exported(ledger)
    involve_again = {
        "type": "ServiceInvolved", "case_id": str(case), "actor": TEACHER.model_dump(),
        "occurred_at": clock.now.isoformat(), "service": "barnevern", "contact": "Bodil",
    }
    file = write_lines(tmp_path / "rule.jsonl", [orjson.dumps(involve_again)])
    with pytest.raises(ImportRejected) as caught:
        import_events(ledger, read_lines(file))
    assert [(p.line, p.code) for p in caught.value.problems] == [(1, "consent_required")]
    assert exported(ledger) == before


def test_after_a_bulk_import_postgresql_knows_how_big_the_tables_are(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path, other_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A municipality moving its ledger in: until autovacuum runs, PostgreSQL would plan the
    # next commands as if the tables were empty (and scan an index backwards, ~4 ms a read).
    monkeypatch.setattr("ledger.transfer.BULK_ANALYZE", 1)
    a_s12_case(ledger, clock)
    original = write_lines(tmp_path / "export.jsonl", exported(ledger))
    empty = open_store(other_database_url)
    import_into(empty, clock.now, read_lines(original))
    datastore = empty.recorder.datastore  # type: ignore[attr-defined]
    schema = getattr(datastore, "schema", None)
    if schema is not None:
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = %s "
                "AND last_analyze IS NOT NULL ORDER BY relname", (schema,),
            )
            analysed = [row["relname"] for row in cursor.fetchall()]
        events_table = empty.recorder.events_table_name  # type: ignore[attr-defined]
        assert analysed == sorted(["bti_chain", events_table])
    empty.close()
