"""Events of the reminder daemon: a reminder issued for a deadline at one of its stages."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from ledger.events.base import CaseEvent, Name

Stage = Literal["upcoming", "due", "overdue"]


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
