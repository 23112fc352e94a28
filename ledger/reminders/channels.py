"""What a delivery channel is, the notice it delivers, and the simplest channel: the log.

A channel either returns (the receiver has the reminder) or raises `DeliveryError`; the
deliverer (delivery.py) records the outcome and retries. Every channel hands the receiver
the reminder's event id as its idempotency key, so a reminder delivered twice (at least
once, after a crash) is recognised as the same one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from ledger.case import Case
from ledger.events import ReminderIssued
from ledger.policies.steps import position
from ledger.reminders.config import ChannelKind, DaemonConfig
from ledger.reminders.logs import note


class DeliveryError(Exception):
    """A channel could not deliver; `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class ReminderNotice:
    """A reminder as a channel delivers it: the event, and where the case stands."""

    reminder: ReminderIssued
    unit: str
    level_key: str
    """The case's level in the catalogue (`step.level.n0`)."""
    step_key: str
    """The case's step in the catalogue (`step.n0.share`)."""

    @property
    def idempotency_key(self) -> str:
        """The reminder's event id: the same reminder always carries the same key."""
        return str(self.reminder.event_id)

    @property
    def case_id(self) -> UUID:
        return self.reminder.case_id


def notice_for(reminder: ReminderIssued, case: Case) -> ReminderNotice:
    """The notice of `reminder` on `case` as it stands now."""
    where = position(case)
    return ReminderNotice(
        reminder=reminder, unit=case.unit, level_key=where.level_key, step_key=where.catalogue_key
    )


class Channel(Protocol):
    """Delivers reminders somewhere; raises DeliveryError when it cannot."""

    name: str

    def deliver(self, notice: ReminderNotice) -> None:
        """Hand `notice` to the receiver, or raise DeliveryError."""

    def close(self) -> None:
        """Release connections."""


class LogChannel:
    """Writes each reminder as a structured log line: the default, and never fails."""

    name = "log"

    def deliver(self, notice: ReminderNotice) -> None:
        reminder = notice.reminder
        note(
            "reminder_logged", idempotency_key=notice.idempotency_key, case_id=reminder.case_id,
            deadline_id=reminder.deadline_id, rule=reminder.rule, stage=reminder.stage,
            due_at=reminder.due_at, to=list(reminder.to), unit=notice.unit,
            late_by_seconds=reminder.late_by_seconds,
        )

    def close(self) -> None:
        pass


def build_channels(config: DaemonConfig) -> Mapping[str, Channel]:
    """The channels the configuration lists, by name."""
    # Imported here so that a daemon with only the log channel never loads httpx or smtplib.
    from ledger.reminders.email import EmailChannel  # noqa: PLC0415
    from ledger.reminders.webhook import WebhookChannel  # noqa: PLC0415

    built: dict[str, Channel] = {}
    kind: ChannelKind
    for kind in config.daemon.channels:
        if kind == "log":
            built[kind] = LogChannel()
        elif kind == "webhook" and config.webhook is not None:
            built[kind] = WebhookChannel(config.webhook)
        elif kind == "email" and config.email is not None:
            built[kind] = EmailChannel(config.email)
    return built
