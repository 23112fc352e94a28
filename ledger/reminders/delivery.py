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
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
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
            for row in batch:
                seen.add((row.reminder_id, row.channel))
                try:
                    case = cases.get(row.case_id) or self.ledger.case_for_daemon(row.case_id)
                    cases[row.case_id] = case
                    self._deliver_row(row, case, now, report)
                except Exception:  # one bad row never stops the others
                    note("delivery_error", reminder_id=row.reminder_id, channel=row.channel,
                         case_id=row.case_id, now=now, level=logging.ERROR, exc_info=True)
                    self.outbox.update(row, next_attempt_at=now + self.look_again_after)
        return report

    def _deliver_row(self, row: OutboxRow, case: Case, now: datetime, report: DeliveryReport) -> None:
        reminder = case.event(row.reminder_id)
        if not isinstance(reminder, ReminderIssued):
            self.outbox.update(row, next_attempt_at=now + self.look_again_after)
            report.waiting += 1
            return
        if row.status == "intended":
            self.outbox.update(row, status="pending", issued_at=reminder.recorded_at)
        done = case.event(delivered_id(row.reminder_id, row.channel))
        if done is not None:
            self.outbox.update(row, status="delivered", delivered_at=done.recorded_at)
            return
        if case.status == "closed":
            self.outbox.update(row, status="dropped", last_error="case_closed")
            report.dropped += 1
            note("reminder_dropped", reason="case_closed", reminder_id=row.reminder_id,
                 channel=row.channel, case_id=row.case_id, now=now)
            return
        channel = self.channels.get(row.channel)
        if channel is None:
            self.outbox.update(row, next_attempt_at=now + self.look_again_after,
                               last_error="channel not configured")
            note("channel_not_configured", channel=row.channel, reminder_id=row.reminder_id)
            return
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
            self._failed(row, case, attempt, error, now=now, report=report, facts=facts)
            return
        except Exception as error:  # a channel's own bug: tried again, never lost
            self._failed(row, case, attempt, DeliveryError(f"{type(error).__name__}: {error}"),
                         now=now, report=report, facts=facts)
            return
        self._record(case, ReminderDelivered, delivered_id(row.reminder_id, row.channel), now,
                     reminder_event_id=row.reminder_id, channel=row.channel, attempt=attempt,
                     idempotency_key=str(row.reminder_id))
        self.outbox.update(row, status="delivered", attempts=attempt, delivered_at=now,
                           next_attempt_at=None, last_error=None)
        report.delivered += 1
        note("reminder_delivered", **facts)

    def _failed(
        self, row: OutboxRow, case: Case, attempt: int, error: DeliveryError, *, now: datetime,
        report: DeliveryReport, facts: dict[str, Any],
    ) -> None:
        reason = error.reason.strip()[:_MAX_ERROR] or "unknown error"
        again = not error.permanent and attempt < self.settings.max_attempts
        retry_at = now + self.settings.retry_delay(attempt) if again else None
        self._record(case, ReminderDeliveryFailed, failed_id(row.reminder_id, row.channel, attempt),
                     now, reminder_event_id=row.reminder_id, channel=row.channel, attempt=attempt,
                     idempotency_key=str(row.reminder_id), error=reason, retry_at=retry_at)
        self.outbox.update(row, status="pending" if again else "failed", attempts=attempt,
                           next_attempt_at=retry_at, last_error=reason)
        if again:
            report.failed += 1
        else:
            report.gave_up += 1
        note("reminder_delivery_failed", error=reason, retry_at=retry_at,
             permanent=error.permanent, level=logging.WARNING, **facts)

    def _record(
        self, case: Case, kind: type[CaseEvent], event_id: UUID, now: datetime, **fields: Any
    ) -> None:
        try:
            self.ledger.record(kind, case.id, actor=self.actor, occurred_at=now,
                               event_id=event_id, **fields)
        except LedgerError as error:
            if error.code != "duplicate_event":
                note("outcome_not_recorded", code=error.code, event=kind.__name__,
                     case_id=case.id, event_id=event_id, level=logging.WARNING)
