"""Stories of a large import: written a batch at a time, yet in one transaction, all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks.generate import Scenario, now_of, write_jsonl
from ledger.application import CaseLedger
from ledger.errors import ImportRejected
from ledger.store import EventMapper, open_store
from ledger.transfer import export_events, import_into, read_lines
from replay.verify import verify
from tests.cast import TILSYN, SetClock
from tests.test_import_export import a_s12_case, write_lines


def a_migration_file(ledger: CaseLedger, clock: SetClock, tmp_path: Path) -> Path:
    """Three followed-up cases exported from the old system: 19 lines with the rulebook."""
    for _ in range(3):
        a_s12_case(ledger, clock)
    return write_lines(tmp_path / "migration.jsonl", list(export_events(ledger)))


def test_a_migration_written_in_many_batches_is_stored_whole_and_its_chain_holds(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path, other_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Batches of four events: the chain must run on from one batch to the next.
    monkeypatch.setattr("ledger.store.PUT_BATCH", 4)
    original = a_migration_file(ledger, clock, tmp_path)
    empty = open_store(other_database_url)
    report = import_into(empty, clock.now, read_lines(original))
    checked = verify(empty)
    empty.close()
    assert report.stored == len(original.read_bytes().splitlines()) == 19
    assert checked.ok and checked.events == 19
    with CaseLedger.open(other_database_url, clock=clock, reader=TILSYN) as copy:
        assert b"".join(line + b"\n" for line in export_events(copy)) == original.read_bytes()


def test_a_migration_that_fails_in_its_last_batch_leaves_the_ledger_empty(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path, other_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every line is valid; the write breaks off at the last event (a full disk, a lost
    # connection): the four batches already inserted must not stay behind.
    monkeypatch.setattr("ledger.store.PUT_BATCH", 4)
    original = a_migration_file(ledger, clock, tmp_path)
    seal = EventMapper.to_stored_event
    written: list[int] = []

    def breaks_at_the_last(self: EventMapper, event: Any) -> Any:
        written.append(1)
        if len(written) == 19:
            raise OSError("disk full")
        return seal(self, event)

    monkeypatch.setattr(EventMapper, "to_stored_event", breaks_at_the_last)
    empty = open_store(other_database_url)
    with pytest.raises(OSError, match="disk full"):
        import_into(empty, clock.now, read_lines(original))
    monkeypatch.setattr(EventMapper, "to_stored_event", seal)
    assert empty.recorder.max_notification_id() in (None, 0)
    assert verify(empty).events == 0
    empty.close()

NOW = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())


def a_municipality_file(tmp_path: Path) -> tuple[Path, datetime]:
    """Forty cases of a synthetic municipality, their events interleaved as the days went."""
    scenario = Scenario(cases=40, seed=5, now=NOW)
    path = tmp_path / "municipality.jsonl"
    write_jsonl(path, scenario)
    return path, now_of(scenario)


def test_a_file_with_more_cases_under_way_than_the_import_holds_imports_the_same(
    tmp_path: Path, other_database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two cases held at a time: nearly every line brings a case back from the spill file.
    path, now = a_municipality_file(tmp_path)
    monkeypatch.setattr("ledger.transfer.CASES_HELD", 2)
    held_few = open_store(other_database_url)
    report = import_into(held_few, now, read_lines(path))
    assert verify(held_few).ok
    held_few.close()
    assert report.stored == len(path.read_bytes().splitlines())
    assert report.cases == 40
    with CaseLedger.open(other_database_url, clock=SetClock(now), reader=TILSYN) as copy:
        assert b"".join(line + b"\n" for line in export_events(copy)) == path.read_bytes()


def test_a_line_given_again_after_its_case_was_let_go_is_still_refused(
    tmp_path: Path, other_database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first case's undring appears again at the end of the file, and a second line
    # claims its second place in the case's order: both are caught although the case was
    # let go (one case held) long before.
    path, now = a_municipality_file(tmp_path)
    lines = path.read_bytes().splitlines()
    undring = orjson.loads(lines[1])
    second = next(orjson.loads(line) for line in lines[2:]
                  if orjson.loads(line)["case_id"] == undring["case_id"])
    clash = {**second, "event_id": "00000000-0000-4000-8000-000000000001"}
    write_lines(path, [*lines, lines[1], orjson.dumps(clash)])
    monkeypatch.setattr("ledger.transfer.CASES_HELD", 1)
    empty = open_store(other_database_url)
    with pytest.raises(ImportRejected) as refused:
        import_into(empty, now, read_lines(path))
    assert [(p.line, p.code) for p in refused.value.problems] == [
        (len(lines) + 1, "event_id_conflict"), (len(lines) + 2, "out_of_order"),
    ]
    assert empty.recorder.max_notification_id() in (None, 0)
    empty.close()
