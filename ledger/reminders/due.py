"""Which reminders are due: for a deadline still not done, each rulebook stage whose time has come.

Pure: no clock, no I/O. The daemon (ledger/reminders/issuing.py) and the tests call it.

- A reminder is one (deadline, stage); its id is `uuid5(REMINDER_NAMESPACE, "{deadline_id}:{stage}")`,
  so the ledger itself refuses a second one (`duplicate_event`), whoever tries.
- A deadline is reminded while it is not done: open, or missed and not done since. One met,
  cancelled or done late gets no reminder, whatever stage passed before (DOMAIN.md,
  "Reminders").
- When a stage falls is `ledger.policies.deadlines.reminder_due`'s choice.
- The reminder goes to the stafettholder, and for a stage with `to_leader` also to the
  leader the undring was shared with, if it was.
- **Late**: a stage is issued late when the daemon was not there to issue it on time. It
  counts from when the stage fell, or from when the ledger first knew of the deadline (its
  basis event was recorded) if that is later: a stage that fell before anyone recorded the
  case was not missed by the daemon. It is late when that moment lies more than
  `on_time_within` before the tick that issues it; the daemon passes one interval plus a
  minute's slack, so a running daemon is never late and one that was down is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.policies.deadlines import Deadline, reminder_due
from ledger.policies.rulebook import ReminderStage, Rulebook

REMINDER_NAMESPACE = uuid5(NAMESPACE_URL, "urn:bti-ledger:reminders")
"""The namespace of every reminder id: a (deadline, stage) gives the same id in any process."""


def reminder_id(deadline_id: str, stage: str) -> UUID:
    """The event id of the reminder of `deadline_id` at `stage`."""
    return uuid5(REMINDER_NAMESPACE, f"{deadline_id}:{stage}")


def delivered_id(reminder: UUID, channel: str) -> UUID:
    """The event id of the ReminderDelivered for `reminder` through `channel`: recorded once."""
    return uuid5(reminder, f"delivered:{channel}")


def failed_id(reminder: UUID, channel: str, attempt: int) -> UUID:
    """The event id of the ReminderDeliveryFailed for one attempt: each attempt recorded once."""
    return uuid5(reminder, f"failed:{channel}:{attempt}")


@dataclass(frozen=True)
class DueReminder:
    """One stage of one deadline whose time has come."""

    deadline: Deadline
    stage: ReminderStage
    falls_at: datetime
    """When the stage fell (`reminder_due`)."""

    @property
    def reminder_id(self) -> UUID:
        return reminder_id(self.deadline.deadline_id, self.stage.name)


def reached_stages(deadline: Deadline, rulebook: Rulebook, now: datetime) -> list[DueReminder]:
    """The stages of `deadline` that have fallen by `now`, if it is still not done."""
    if not deadline.not_done:
        return []
    found = []
    for stage in rulebook.reminder_stages:
        falls_at = reminder_due(deadline, stage, rulebook)
        if _utc(falls_at) <= _utc(now):
            found.append(DueReminder(deadline, stage, falls_at))
    return found


def recipients(stage: ReminderStage, holder: str | None, leader: str | None) -> tuple[str, ...]:
    """The stafettholder, and the leader too for a stage that goes to the leader."""
    people = [holder] if holder else []
    if stage.to_leader and leader and leader not in people:
        people.append(leader)
    return tuple(people)


def late_by(
    falls_at: datetime, known_at: datetime, now: datetime, on_time_within: timedelta
) -> int | None:
    """Seconds late, counted from the later of the stage and the deadline's recording; None
    when the reminder is issued within `on_time_within` of that moment."""
    since = max(_utc(falls_at), _utc(known_at))
    late = _utc(now) - since
    if late <= on_time_within:
        return None
    return int(late.total_seconds())


def _utc(moment: datetime) -> datetime:
    # Two Oslo times compare on the wall clock; instants must compare as UTC.
    return moment.astimezone(UTC)
