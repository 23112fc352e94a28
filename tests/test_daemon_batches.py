"""The daemon issues and delivers in batches of cases (one save per batch, not per event); a
batch whose save clashes with another writer is done again case by case, and loses nothing.

Each test runs on a SQLite file and on PostgreSQL, the daemon in this process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ledger.application import CaseLedger
from ledger.case import Case
from ledger.events import ReminderDelivered, ReminderIssued
from ledger.reminders import delivery, issuing
from tests.cast import SetClock
from tests.daemon_support import outcomes, reminders, running_daemon
from tests.stories import register_s12_undring


def _copy(event: Any) -> dict[str, Any]:
    """The fields to record `event` again through `CaseLedger.record`."""
    skip = {"event_id", "case_id", "sequence", "actor", "occurred_at", "recorded_at",
            "type", "schema_version"}
    return {k: v for k, v in event.model_dump().items() if k not in skip}


@pytest.mark.parametrize("batch", [2, 200])
def test_a_clash_in_a_batch_falls_back_case_by_case_and_records_each_reminder_once(
    ledger: CaseLedger, database_url: str, clock: SetClock, monkeypatch: pytest.MonkeyPatch,
    batch: int,
) -> None:
    monkeypatch.setattr(issuing, "BATCH_CASES", batch)
    monkeypatch.setattr(delivery, "BATCH_ROWS", batch)
    cases = [register_s12_undring(ledger, clock) for _ in range(5)]
    clock.advance(days=8)  # every stage of several deadlines has fallen
    clashed: list[type] = []
    with running_daemon(database_url, clock) as daemon:
        save_cases = daemon.ledger.save_cases

        def another_writer_first(batch_cases: Sequence[Case]) -> None:
            # Another daemon records the first staged event of the batch's first case just
            # before this save: the save clashes on that case's version.
            if len(clashed) < 2:
                first = batch_cases[0].pending[0]
                kind = type(first)
                if kind not in clashed:
                    clashed.append(kind)
                    ledger.record(kind, first.case_id, actor=first.actor,
                                  occurred_at=first.occurred_at, event_id=first.event_id,
                                  **_copy(first))
            save_cases(batch_cases)

        daemon.ledger.save_cases = another_writer_first  # type: ignore[method-assign]
        report = daemon.tick()
        again = daemon.tick()
        rows = daemon.outbox.rows()

    assert clashed == [ReminderIssued, ReminderDelivered]
    assert report.issued is not None and report.delivered is not None
    assert report.issued.duplicates == 1 and report.issued.refused == 0
    issued = [r for case_id in cases for r in reminders(ledger, case_id)]
    assert report.issued.issued == len(issued) - 1 > 5
    assert len({r.event_id for r in issued}) == len(issued)
    delivered = [e for case_id in cases for e in outcomes(ledger, case_id)]
    assert all(isinstance(e, ReminderDelivered) for e in delivered)
    assert sorted(e.reminder_event_id for e in delivered) == sorted(r.event_id for r in issued)
    assert again.issued is not None and again.issued.issued == 0
    assert again.delivered is not None and again.delivered.delivered == 0
    assert len(rows) == len(issued) and {r.status for r in rows} == {"delivered"}


def test_a_case_that_cannot_be_read_does_not_stop_the_rest_of_its_batch(
    ledger: CaseLedger, database_url: str, clock: SetClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = [register_s12_undring(ledger, clock) for _ in range(3)]
    clock.advance(days=2)
    with running_daemon(database_url, clock) as daemon:
        read = daemon.ledger.case_for_daemon

        def unreadable_middle(case_id: Any) -> Case:
            if case_id == cases[1]:
                raise RuntimeError("a broken row")
            return read(case_id)

        monkeypatch.setattr(daemon.ledger, "case_for_daemon", unreadable_middle)
        report = daemon.tick()
    assert report.issued is not None and report.issued.refused > 0
    assert reminders(ledger, cases[1]) == []
    for case_id in (cases[0], cases[2]):
        assert reminders(ledger, case_id)
        assert len(outcomes(ledger, case_id)) == len(reminders(ledger, case_id))
