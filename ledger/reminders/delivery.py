"""Delivering: every reminder the outbox holds goes out through its channels, at least once.

For each outbox row whose time has come:

- the ReminderIssued must be in the case (an `intended` row whose event is missing is looked
  at again an interval later; the issuer records it if the deadline still needs it);
- a ReminderDelivered already in the case (recorded before a crash) settles the row;
- a case closed since the reminder was issued gets nothing more: the row is `dropped` (a
  closed case takes no more events, DOMAIN.md rule 1, and its deadlines are cancelled);
- otherwise the channel is tried. Success records ReminderDelivered (its id derived from the
  reminder and the channel, so it is recorded once even if delivered twice); failure records
  ReminderDeliveryFailed for that attempt with `retry_at` (the backoff doubles, up to
  `max_backoff`), or without one once `max_attempts` are used or the error is permanent.

The attempt number is counted from the ReminderDeliveryFailed events in the case, so it
survives restarts and is the same whichever daemon tries next.

Rows go a batch at a time (`BATCH_ROWS`): each delivered, then the batch's outcomes stored
in one save, then its rows updated in one transaction (`Deliverer._deliver_batch`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.application import CaseLedger
from ledger.case import Case
from ledger.errors import LedgerError
from ledger.events import (
    Actor,
    CaseEvent,
    ReminderDelivered,
    ReminderDeliveryFailed,
    ReminderIssued,
)
from ledger.reminders.channels import Channel, DeliveryError, notice_for
from ledger.reminders.config import DeliverySettings
from ledger.reminders.due import delivered_id, failed_id
from ledger.reminders.logs import note
from ledger.reminders.outbox import Outbox, OutboxRow
from ledger.reminders.staging import stage_event

_MAX_ERROR = 500


@dataclass
class DeliveryReport:
    """What one round of delivery did."""

    delivered: int = 0
    failed: int = 0
    """Attempts that failed and will be tried again."""
    gave_up: int = 0
    dropped: int = 0
    waiting: int = 0
    """Rows whose ReminderIssued is not (yet) in the case."""


class Deliverer:
    """Delivers what the outbox holds and records the outcome in the case."""

    def __init__(
        self,
        ledger: CaseLedger,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        *,
        settings: DeliverySettings,
        actor: Actor,
        look_again_after: timedelta,
    ) -> None:
        self.ledger = ledger
        self.outbox = outbox
        self.channels = channels
        self.settings = settings
        self.actor = actor
        self.look_again_after = look_again_after

    def deliver(self, now: datetime) -> DeliveryReport:
        """One round: every row due for an attempt at `now`."""
        report = DeliveryReport()
        cases: dict[UUID, Case] = {}
        seen: set[tuple[UUID, str]] = set()
        # In batches until nothing is due: each row handled leaves the work list (delivered,
        # given up, or due later), and a row seen twice ends the round rather than loop.
        while batch := [r for r in self.outbox.work(now) if (r.reminder_id, r.channel) not in seen]:
            seen.update((row.reminder_id, row.channel) for row in batch)
            for first in range(0, len(batch), BATCH_ROWS):
                self._deliver_batch(batch[first:first + BATCH_ROWS], cases, now, report)
        return report

    def _deliver_batch(
        self, rows: list[OutboxRow], cases: dict[UUID, Case], now: datetime,
        report: DeliveryReport,
    ) -> None:
        """Deliver a batch of rows, store their outcomes in one save and update their rows in
        one transaction.

        The order per row is as it was one row at a time: delivered through the channel, the
        outcome stored in the case, then the row updated. A crash before the save delivers the
        batch's reminders again (at least once, with the same idempotency keys) and records
        each once; a crash after it finds the ReminderDelivered in the case and settles the
        row; a row still `intended` whose event is in the case is marked pending then.
        """
        plans: list[_Plan] = []
        for row in rows:
            try:
                case = cases.get(row.case_id) or self.ledger.case_for_daemon(row.case_id)
                cases[row.case_id] = case
                plans.append(self._plan(row, case, now, report))
            except Exception:  # one bad row never stops the others
                self._row_failed(row, now)
        staged = [p for p in plans if p.event is not None]
        touched = list({cases[p.row.case_id].id: cases[p.row.case_id] for p in staged}.values())
        if touched:
            try:
                self.ledger.save_cases([case for case in touched if case.pending])
            except Exception as error:
                # A clash (another writer on one of the cases) or a failed save: the cases in
                # memory are not what is stored. Each outcome is recorded on its own instead.
                note("batch_failed", step="record", cases=len(touched), now=now,
                     error=f"{type(error).__name__}: {error}", level=logging.WARNING)
                for case in touched:
                    cases.pop(case.id, None)
                plans = [p for p in plans if self._record_alone(p, now)]
        updates = [(p.row, p.changes) for p in plans if p.changes]
        self.outbox.update_many(updates)
        for plan in plans:
            plan.done()

    def _row_failed(self, row: OutboxRow, now: datetime) -> None:
        note("delivery_error", reminder_id=row.reminder_id, channel=row.channel,
             case_id=row.case_id, now=now, level=logging.ERROR, exc_info=True)
        try:
            self.outbox.update(row, next_attempt_at=now + self.look_again_after)
        except Exception:  # looked at again when next due; nothing is lost
            note("delivery_error", reminder_id=row.reminder_id, channel=row.channel,
                 case_id=row.case_id, now=now, level=logging.ERROR, exc_info=True)

    def _record_alone(self, plan: _Plan, now: datetime) -> bool:
        """Record one outcome through `CaseLedger.record` (the case read again); False and
        the row looked at again later if that fails too."""
        if plan.event is None:
            return True
        kind, event_id, fields = plan.event
        try:
            self._record(plan.row.case_id, kind, event_id, now, **fields)
        except Exception:
            self._row_failed(plan.row, now)
            return False
        return True

    def _plan(self, row: OutboxRow, case: Case, now: datetime, report: DeliveryReport) -> _Plan:
        """Look at one row: deliver it if its time has come, and stage the outcome on `case`."""
        plan = _Plan(row)
        reminder = case.event(row.reminder_id)
        if not isinstance(reminder, ReminderIssued):
            plan.changes = {"next_attempt_at": now + self.look_again_after}
            plan.after = lambda: _count(report, "waiting")
            return plan
        if row.status == "intended":
            plan.changes = {"status": "pending", "issued_at": reminder.recorded_at}
        done = case.event(delivered_id(row.reminder_id, row.channel))
        if done is not None:
            plan.changes.update(status="delivered", delivered_at=done.recorded_at)
            return plan
        if case.status == "closed":
            plan.changes.update(status="dropped", last_error="case_closed")

            def dropped() -> None:
                report.dropped += 1
                note("reminder_dropped", reason="case_closed", reminder_id=row.reminder_id,
                     channel=row.channel, case_id=row.case_id, now=now)
            plan.after = dropped
            return plan
        channel = self.channels.get(row.channel)
        if channel is None:
            plan.changes.update(next_attempt_at=now + self.look_again_after,
                                last_error="channel not configured")
            plan.after = lambda: note("channel_not_configured", channel=row.channel,
                                      reminder_id=row.reminder_id)
            return plan
        attempt = 1 + sum(
            1 for e in case.events
            if isinstance(e, ReminderDeliveryFailed)
            and e.reminder_event_id == row.reminder_id and e.channel == row.channel
        )
        facts: dict[str, Any] = {"reminder_id": row.reminder_id, "channel": row.channel,
                                 "case_id": row.case_id, "attempt": attempt, "now": now}
        try:
            channel.deliver(notice_for(reminder, case))
        except DeliveryError as error:
            return self._failed(plan, case, attempt, error, now=now, report=report, facts=facts)
        except Exception as error:  # a channel's own bug: tried again, never lost
            return self._failed(plan, case, attempt,
                                DeliveryError(f"{type(error).__name__}: {error}"),
                                now=now, report=report, facts=facts)
        self._stage(plan, case, ReminderDelivered, delivered_id(row.reminder_id, row.channel),
                    now, reminder_event_id=row.reminder_id, channel=row.channel, attempt=attempt,
                    idempotency_key=str(row.reminder_id))
        plan.changes.update(status="delivered", attempts=attempt, delivered_at=now,
                            next_attempt_at=None, last_error=None)

        def delivered() -> None:
            report.delivered += 1
            note("reminder_delivered", **facts)
        plan.after = delivered
        return plan

    def _failed(
        self, plan: _Plan, case: Case, attempt: int, error: DeliveryError, *, now: datetime,
        report: DeliveryReport, facts: dict[str, Any],
    ) -> _Plan:
        row = plan.row
        reason = error.reason.strip()[:_MAX_ERROR] or "unknown error"
        again = not error.permanent and attempt < self.settings.max_attempts
        retry_at = now + self.settings.retry_delay(attempt) if again else None
        self._stage(plan, case, ReminderDeliveryFailed,
                    failed_id(row.reminder_id, row.channel, attempt), now,
                    reminder_event_id=row.reminder_id, channel=row.channel, attempt=attempt,
                    idempotency_key=str(row.reminder_id), error=reason, retry_at=retry_at)
        plan.changes.update(status="pending" if again else "failed", attempts=attempt,
                            next_attempt_at=retry_at, last_error=reason)

        def failed() -> None:
            if again:
                report.failed += 1
            else:
                report.gave_up += 1
            note("reminder_delivery_failed", error=reason, retry_at=retry_at,
                 permanent=error.permanent, level=logging.WARNING, **facts)
        plan.after = failed
        return plan

    def _stage(
        self, plan: _Plan, case: Case, kind: type[CaseEvent], event_id: UUID, now: datetime,
        **fields: Any,
    ) -> None:
        """Put the outcome on the case in memory, to be stored with the batch."""
        plan.event = (kind, event_id, fields)
        try:
            stage_event(self.ledger, case, kind, event_id, actor=self.actor, occurred_at=now,
                        **fields)
        except LedgerError as error:
            plan.event = None  # the case refuses it: nothing to store, as one at a time
            _not_recorded(error, kind, case.id, event_id)

    def _record(
        self, case_id: UUID, kind: type[CaseEvent], event_id: UUID, now: datetime, **fields: Any
    ) -> None:
        try:
            self.ledger.record(kind, case_id, actor=self.actor, occurred_at=now,
                               event_id=event_id, **fields)
        except LedgerError as error:
            _not_recorded(error, kind, case_id, event_id)


BATCH_ROWS = 100
"""Rows delivered before their outcomes are stored together: at most this many are delivered
again after a crash in between (with the same idempotency keys)."""


@dataclass
class _Plan:
    """What handling one row comes to: the row's changes, the outcome to store, and what to
    count and log once both are done."""

    row: OutboxRow
    changes: dict[str, object] = field(default_factory=dict)
    event: tuple[type[CaseEvent], UUID, dict[str, Any]] | None = None
    after: Callable[[], None] = lambda: None

    def done(self) -> None:
        self.after()


def _count(report: DeliveryReport, name: str) -> None:
    setattr(report, name, getattr(report, name) + 1)


def _not_recorded(error: LedgerError, kind: type[CaseEvent], case_id: UUID, event_id: UUID) -> None:
    if error.code != "duplicate_event":
        note("outcome_not_recorded", code=error.code, event=kind.__name__,
             case_id=case_id, event_id=event_id, level=logging.WARNING)
