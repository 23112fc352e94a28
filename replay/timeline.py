"""A case's timeline: its events in order, in plain words, for the people who read history.

Each entry says what happened (the catalogue's `label.<Type>` and a sentence from
`timeline.summary.<Type>`), who did it, when it happened (Europe/Oslo) and when it was
recorded. Corrections stand beside what they correct (both stay: rule 10), reminders beside
their deliveries, and each deadline (the pure `deadlines` function, judged now with the
ledger's rulebook) beside the event that met it; the deadlines themselves follow the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.application import CaseLedger
from ledger.case import Case
from ledger.events import (
    CaseEvent,
    DecisionRecorded,
    EntryCorrected,
    ReminderIssued,
    TiltakPlanned,
    UndringRegistered,
)
from ledger.messages import text
from ledger.policies.calendar import OSLO
from ledger.policies.deadlines import Deadline, deadlines
from ledger.policies.rulebook import Rulebook

_COMMON = frozenset(
    {"type", "schema_version", "event_id", "sequence", "actor", "occurred_at", "recorded_at",
     "case_id"}
)
_NONE = "–"


def oslo(moment: datetime) -> datetime:
    """A moment in Europe/Oslo time."""
    return moment.astimezone(OSLO)


def when(moment: datetime | None) -> str:
    """A moment as people in the municipality read it."""
    return _NONE if moment is None else oslo(moment).strftime("%Y-%m-%d %H:%M")


def spoken(value: object) -> str:
    """A field's value in plain words: known codes from the catalogue, times in Oslo."""
    if value is None or value in ((), [], ""):
        return _NONE
    if isinstance(value, bool):
        return text("timeline.word.yes") if value else text("timeline.word.no")
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(spoken(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {spoken(v)}" for k, v in value.items())
    word = str(value)
    translated = text(f"timeline.value.{word}")
    return word if translated == f"timeline.value.{word}" else translated


def rule_label(rule: str) -> str:
    """A deadline rule in plain words (the catalogue's `deadline.<rule>`)."""
    return text(f"deadline.{rule}")


@dataclass(frozen=True)
class Who:
    person: str
    role: str
    service: str
    unit: str

    def __str__(self) -> str:
        return f"{self.person} ({self.role}, {self.service}, {self.unit})"


@dataclass(frozen=True)
class DeadlineNote:
    """A deadline this event met, on time or late."""

    deadline_id: str
    rule: str
    label: str
    due_at: datetime
    late: bool


@dataclass
class Entry:
    """One event of the case, as the timeline shows it."""

    sequence: int
    event_id: UUID
    type: str
    label: str
    summary: str
    who: Who
    occurred_at: datetime
    recorded_at: datetime
    corrects: int | None = None
    """For a correction: the sequence of the event it corrects."""
    corrected_by: list[int] = field(default_factory=list)
    """The corrections of this event, by sequence: the original stays as it was recorded."""
    reminder_of: int | None = None
    """For a delivery: the sequence of the reminder it delivered (or failed to)."""
    deliveries: list[int] = field(default_factory=list)
    """For a reminder: the deliveries and failed attempts that followed, by sequence."""
    meets: list[DeadlineNote] = field(default_factory=list)


@dataclass(frozen=True)
class DeadlineLine:
    """One deadline of the case, with what met it or that it was missed."""

    deadline_id: str
    rule: str
    label: str
    basis_sequence: int | None
    basis_at: datetime
    due_at: datetime
    state: str
    state_label: str
    met_by_sequence: int | None
    met_at: datetime | None
    cancelled_by_sequence: int | None
    cancelled_reason: str | None


@dataclass
class Timeline:
    """A case's history in order, with its deadlines, at a moment."""

    case_id: UUID
    child_ref: str
    unit: str
    service: str
    status: str
    level: int
    holder: str | None
    now: datetime
    rulebook: str
    entries: list[Entry]
    deadlines: list[DeadlineLine]

    def entry(self, sequence: int) -> Entry:
        return self.entries[sequence - 1]

    def as_dict(self) -> dict[str, Any]:
        """A plain shape for `--json` (times in Oslo, ISO 8601)."""
        plain: dict[str, Any] = _plain(asdict(self))
        return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return oslo(value).isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def describe(event: CaseEvent, context: dict[UUID, CaseEvent]) -> str:
    """One sentence of what the event says, from `timeline.summary.<Type>`."""
    values: dict[str, object] = {
        name: spoken(getattr(event, name))
        for name in type(event).model_fields
        if name not in _COMMON
    }
    values["who"] = event.actor.person
    tiltak_ids = getattr(event, "tiltak_ids", None) or (
        (event.tiltak_id,) if hasattr(event, "tiltak_id") and not isinstance(event, TiltakPlanned)
        else ()
    )
    if tiltak_ids:
        values["tiltak"] = ", ".join(_tiltak_name(t, context) for t in tiltak_ids)
    if isinstance(event, EntryCorrected):
        target = context.get(event.corrects)
        values["corrects_sequence"] = target.sequence if target else _NONE
        values["corrects_label"] = text(f"label.{target.type}") if target else _NONE
    if isinstance(event, ReminderIssued):
        values["rule"] = rule_label(event.rule)
    reminder = getattr(event, "reminder_event_id", None)
    if isinstance(reminder, UUID):
        found = context.get(reminder)
        values["reminder_sequence"] = found.sequence if found else _NONE
    if isinstance(event, UndringRegistered):
        values["tracks"] = spoken(event.tracks)
    if isinstance(event, DecisionRecorded):
        values["to_level"] = (
            "" if event.to_level is None else text("timeline.to_level", level=event.to_level)
        )
    key = f"timeline.summary.{event.type}"
    sentence = text(key, **values)
    if sentence.startswith(key):  # an event type the catalogue has no sentence for yet
        sentence = "; ".join(f"{k}: {v}" for k, v in values.items() if v != _NONE and k != "who")
    return sentence[:1].upper() + sentence[1:]


def _tiltak_name(tiltak_id: UUID, context: dict[UUID, CaseEvent]) -> str:
    for event in context.values():
        if isinstance(event, TiltakPlanned) and event.tiltak_id == tiltak_id:
            return f"«{event.description}»"
    return str(tiltak_id)


def build_timeline(
    case_id: UUID, events: Sequence[CaseEvent], rulebook: Rulebook, now: datetime
) -> Timeline:
    """The timeline of a case from its events (recorded order), judged at `now`."""
    by_id: dict[UUID, CaseEvent] = {e.event_id: e for e in events}
    entries = [
        Entry(
            sequence=e.sequence,
            event_id=e.event_id,
            type=e.type,
            label=text(f"label.{e.type}"),
            summary=describe(e, by_id),
            who=Who(e.actor.person, e.actor.role, e.actor.service, e.actor.unit),
            occurred_at=oslo(e.occurred_at),
            recorded_at=oslo(e.recorded_at),
        )
        for e in events
    ]
    by_sequence = {entry.sequence: entry for entry in entries}
    sequence_of = {e.event_id: e.sequence for e in events}
    for event in events:
        if isinstance(event, EntryCorrected) and event.corrects in sequence_of:
            target = sequence_of[event.corrects]
            by_sequence[event.sequence].corrects = target
            by_sequence[target].corrected_by.append(event.sequence)
        reminder = getattr(event, "reminder_event_id", None)
        if isinstance(reminder, UUID) and reminder in sequence_of:
            by_sequence[event.sequence].reminder_of = sequence_of[reminder]
            by_sequence[sequence_of[reminder]].deliveries.append(event.sequence)
    found = deadlines(events, rulebook, now) if events else []
    lines = []
    for d in found:
        if d.met_by is not None and d.met_by in sequence_of:
            by_sequence[sequence_of[d.met_by]].meets.append(
                DeadlineNote(d.deadline_id, d.rule, rule_label(d.rule), oslo(d.due_at),
                             late=d.state == "missed")
            )
        lines.append(deadline_line(d, sequence_of))
    case = Case.replay(case_id, events)
    return Timeline(
        case_id=case_id, child_ref=case.child_ref, unit=case.unit, service=case.service,
        status=case.status, level=case.level, holder=case.holder, now=oslo(now),
        rulebook=f"{rulebook.name} {rulebook.version}", entries=entries, deadlines=lines,
    )


def deadline_state_label(deadline: Deadline) -> str:
    """met · met late · missed · open · cancelled, in plain words."""
    state = "met_late" if deadline.met_late else deadline.state
    return text(f"timeline.deadline_state.{state}")


def deadline_line(deadline: Deadline, sequence_of: dict[UUID, int]) -> DeadlineLine:
    return DeadlineLine(
        deadline_id=deadline.deadline_id,
        rule=deadline.rule,
        label=rule_label(deadline.rule),
        basis_sequence=sequence_of.get(deadline.basis_event_id),
        basis_at=oslo(deadline.basis_at),
        due_at=oslo(deadline.due_at),
        state="met_late" if deadline.met_late else deadline.state,
        state_label=deadline_state_label(deadline),
        met_by_sequence=None if deadline.met_by is None else sequence_of.get(deadline.met_by),
        met_at=None if deadline.met_at is None else oslo(deadline.met_at),
        cancelled_by_sequence=(
            None if deadline.cancelled_by is None else sequence_of.get(deadline.cancelled_by)
        ),
        cancelled_reason=deadline.cancelled_reason,
    )


def case_timeline(ledger: CaseLedger, case_id: UUID | str) -> Timeline:
    """The timeline of a case in `ledger`, now, with its rulebook."""
    events = ledger.history(case_id)
    return build_timeline(events[0].case_id, events, ledger.rulebook, ledger.clock())
