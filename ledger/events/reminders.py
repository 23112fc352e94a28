"""Events of the reminder daemon: a reminder issued for a deadline at one of its stages, and
what became of delivering it through each channel (ledger/daemon.py, ledger/reminders/)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints

from ledger.events.base import CaseEvent, Name

Stage = Literal["upcoming", "due", "overdue"]

Channel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
"""A delivery channel by its name in the daemon's configuration: `log`, `webhook`, `email`."""


class ReminderIssued(CaseEvent):
    """A reminder of a deadline at one stage; its event_id is derived from (deadline, stage)."""

    family = "reminders"
    type: Literal["ReminderIssued"] = "ReminderIssued"
    deadline_id: Name
    rule: Name
    stage: Stage
    due_at: AwareDatetime
    to: tuple[Name, ...] = Field(min_length=1)
    late_by_seconds: int | None = Field(
        default=None, ge=0, description="Set when the stage was reached while no daemon ran."
    )


class ReminderDelivered(CaseEvent):
    """A reminder reached its receiver through one channel; recorded once per reminder and channel."""

    family = "reminders"
    type: Literal["ReminderDelivered"] = "ReminderDelivered"
    reminder_event_id: UUID = Field(description="The ReminderIssued that was delivered.")
    channel: Channel = Field(description="The channel it went through: `log`, `webhook`, `email`.")
    attempt: int = Field(ge=1, description="The attempt that succeeded, counting from 1.")
    idempotency_key: Name = Field(
        description="What the receiver was given to recognise a repeat: the reminder's event id."
    )


class ReminderDeliveryFailed(CaseEvent):
    """An attempt to deliver a reminder through one channel failed; `retry_at` says if it is tried again."""

    family = "reminders"
    type: Literal["ReminderDeliveryFailed"] = "ReminderDeliveryFailed"
    reminder_event_id: UUID = Field(description="The ReminderIssued that was not delivered.")
    channel: Channel = Field(description="The channel that failed: `log`, `webhook`, `email`.")
    attempt: int = Field(ge=1, description="Which attempt failed, counting from 1.")
    idempotency_key: Name = Field(
        description="What the receiver was given to recognise a repeat: the reminder's event id."
    )
    error: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)] = (
        Field(description="What went wrong, as the channel reported it (no case content).")
    )
    retry_at: AwareDatetime | None = Field(
        default=None, description="When it is tried again; null: the daemon has given up."
    )


REMINDER_EVENTS: tuple[type[CaseEvent], ...] = (
    ReminderIssued,
    ReminderDelivered,
    ReminderDeliveryFailed,
)
"""The daemon's events: none of them is activity on the case (the stalled-case clock, the
case's last activity) and none needs a consent."""
