"""Deadlines: when each duty in DOMAIN.md's deadline table falls due, and whether it was kept.

`deadlines(case_events, rulebook, now)` is the one truth about deadlines (ARCHITECTURE.md,
"The way data flows", 3): the deadline projection, `replay` (as of a date: fewer events and
an earlier `now`) and the tests all call it. It is pure: no clock, no I/O; the same events,
rulebook and `now` always give the same list.

How it judges (DOMAIN.md, "Deadlines")
---------------------------------------
- On `occurred_at`, never `recorded_at`; corrections (EntryCorrected) are laid over the
  events they correct first, so a corrected `noticed_at`, track or `evaluate_by` moves the
  deadline while its id stays the same.
- A duty's clock starts at its *basis*: `noticed_at` for the rules that start at the
  UndringRegistered ("its noticed_at starts the clocks", DOMAIN.md's vocabulary), else the
  basis event's `occurred_at`. Only an event at or after the basis meets it (a decision taken
  before a CaseReopened does not meet the new decision deadline). One exception: a report to
  barnevern made since the last time the suspicion was lifted meets a suspicion recorded
  after it, because in an emergency one reports first and records the flag afterwards
  (000 N0 T1 "ta direktekontakt"; DOMAIN.md rule 3 "due at once").
- **met** if the meeting event occurred at or before `due_at` (and not after a cancellation);
  **cancelled** if a cancelling event came first and no later than `due_at`; **missed** if
  `now` is past `due_at` otherwise, with `met_by`/`met_at` set when it was done late;
  **open** otherwise. A met and a cancelling event at the same instant: met (the duty was done).
- A cancelling event after `due_at` does not cancel: a duty already missed stays missed when
  the case is closed, so closing never hides a missed duty from tilsyn (DOMAIN.md: avvik are
  "seen, never hidden").
- A cancellation is final. "A deadline cancelled by closing stays cancelled if the case is
  reopened" (DOMAIN.md); the same holds for the violence flag: lifting it (FlagCleared) does
  not bring back the § 12 innkalling or the samtale with guardians. DOMAIN.md is silent on
  that case; a leader who still needs the samtale sees it in the case, not as a deadline.

Choices where the table is silent (each one in the rule's builder below)
-------------------------------------------------------------------------
- Closing the case cancels every deadline still open, except the report to barnevern
  ("—" in the table), including consent expiry and handover (a closed case takes no new
  consent and no handover, rule 1, so they could never be met).
- Clearing a track (FlagCleared `skolemiljo`/`barnehagemiljo`) cancels that track's § 12 or
  § 42 deadline: it belongs to the track. Once missed it stays missed.
- The samtale with guardians applies to every case, § 12 and § 42 ones too. 000 N0 T3 says
  "Ellers innen 3 uker" (the § 12-sak has its shorter one-week rule), but three weeks is an
  outer bound a § 12-sak keeps anyway, so keeping the rule never asks for more than the seed.
- § 42 is met by InvestigationRecorded or SamtaleHeld, as DOMAIN.md says; the seed review
  (docs/seed-review.md § 1) notes that 000's duty is to *investigate* ("snarest undersøke").
- The report to barnevern is met by a report to barnevern, the police or both, as DOMAIN.md
  says (000: "Politi 112 eller Barneverntjenesten"); under 001/004 only barnevern counts
  (seed review § 3) — a rulebook setting for that does not exist yet.
- Each time the violence suspicion is set (at registration, or by TrackFlagged after a
  FlagCleared) a new report deadline starts; it is never cancelled, not even by closing or by
  lifting the suspicion before a report was made. Set at registration, it runs from
  `noticed_at` like every clock of the undring: the end of the day it was *noticed*.
- An innkalling or samtale from before a later `skolemiljo` flag does not meet that flag's
  § 12 innkalling: the § 12-4 duty starts with the flag.
- Tiltak evaluation: a TiltakCompleted does not end the duty to evaluate; TiltakCancelled does.
- Consent expiry is met by later ConsentGiven events that together cover the services still
  in force (a consent partly withdrawn needs renewing only for what is left); it is cancelled
  when every service of it has been withdrawn. Purpose and who gave it are not compared.
- Handover: the answer is the first StafettHandoverAccepted/Declined recorded after the
  proposal (only one proposal is pending at a time, rule 9); a StafettholderAssigned before
  any answer supersedes the proposal and cancels the deadline.
- Stalled case: one deadline per case, its basis the latest event by `occurred_at` that is
  not a reminder or its delivery; it is open or missed (any new event moves the basis, giving a new
  id), and cancelled while the case is closed.
- Decision on nivå 0: one from the undring, and a new one from each CaseReopened, whatever
  the level the case was closed on (DOMAIN.md: "CaseReopened starts the nivå-0 decision
  clock again").

Times are compared as instants (UTC) and returned in Europe/Oslo. `now` does not filter
the events: the caller passes the events it knows of (all of them, or those recorded by a
date for a replay). When reminders fall is `reminder_due`'s choice, documented there.

The deadline id is `"{rule}:{case_id}:{basis_event_id}"`: it depends on neither `now` nor the
rulebook's values, so a reminder recorded for it still names the same deadline after a
rulebook change (DOMAIN.md, "Changing rulebook never rewrites history").
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from operator import itemgetter
from typing import Literal, NamedTuple, assert_never, get_args
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ledger.case import Case, corrected_events
from ledger.events import (
    REMINDER_EVENTS,
    CaseClosed,
    CaseEvent,
    CaseReopened,
    ChildConversationHeld,
    ConsentGiven,
    ConsentWithdrawn,
    DecisionRecorded,
    EvaluationRecorded,
    FlagCleared,
    InvestigationRecorded,
    LevelChanged,
    MeetingHeld,
    ReportedToBarnevern,
    SamtaleHeld,
    SamtaleInvited,
    SharedWithLeader,
    StafettHandoverAccepted,
    StafettHandoverDeclined,
    StafettHandoverProposed,
    StafettholderAssigned,
    TiltakCancelled,
    TiltakPlanned,
    TrackFlagged,
    UndringRegistered,
)
from ledger.policies.calendar import (
    OSLO,
    add_local_days,
    add_working_days,
    end_of_day,
    local_date,
    start_of_day,
)
from ledger.policies.rulebook import Duration, ReminderStage, Rulebook

Rule = Literal[
    "share_with_leader",
    "s12_innkalling",
    "samtale_with_guardians",
    "s42_barnehagemiljo",
    "decision_level0",
    "report_to_barnevern",
    "tiltak_evaluation",
    "child_talk_after_level3_meeting",
    "consent_expiry",
    "stalled_case",
    "handover_not_accepted",
]
"""The rules of DOMAIN.md's deadline table, by their stable ids."""

RULES: tuple[Rule, ...] = get_args(Rule)

DeadlineState = Literal["open", "met", "missed", "cancelled"]

CancelReason = Literal[
    "case_closed",
    "violence_suspected",
    "track_cleared",
    "tiltak_cancelled",
    "consent_withdrawn",
    "stafettholder_assigned",
]
"""Why a deadline was cancelled: the kind of event that cancelled it."""

_LEVEL_WITH_CHILD_TALK = 3


class Deadline(BaseModel):
    """One deadline of one case as it stands at `now`.

    `state == "missed"` with `met_by` set means the duty was done, but late.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    deadline_id: str = Field(description="Stable: the rule, the case and the basis event.")
    case_id: UUID
    rule: Rule
    basis_event_id: UUID = Field(description="The event that started the clock.")
    basis_at: AwareDatetime = Field(
        description="When the clock started: noticed_at for the undring's duties, else when "
        "the basis event occurred."
    )
    due_at: AwareDatetime
    state: DeadlineState
    met_by: UUID | None = Field(default=None, description="The event that did the duty.")
    met_at: AwareDatetime | None = Field(default=None, description="When that event occurred.")
    cancelled_by: UUID | None = None
    cancelled_at: AwareDatetime | None = None
    cancelled_reason: CancelReason | None = None
    unit: str = Field(description="The case's unit (from the undring).")
    holder: str | None = Field(description="The case's stafettholder at `now`.")

    @property
    def met_late(self) -> bool:
        """Missed, but done afterwards."""
        return self.state == "missed" and self.met_by is not None

    @property
    def not_done(self) -> bool:
        """Open, or missed and still not done: the deadlines reminders are for (one met,
        cancelled or done late gets none, whatever stage passed before)."""
        return self.met_by is None and self.state in ("open", "missed")


def deadline_id(case_id: UUID, rule: Rule, basis_event_id: UUID) -> str:
    """The stable id of a deadline: the same case, rule and basis always give the same id."""
    return f"{rule}:{case_id}:{basis_event_id}"


def due_after(basis_at: datetime, duration: Duration) -> datetime:
    """When a duty that starts at `basis_at` falls due, counted in Europe/Oslo.

    days/weeks: the same local wall-clock time `amount` (×7) calendar days later, across a
    summer-time change too; end_of_day: the end of the basis day plus `amount` days;
    working_days: the end of the `amount`-th working day after the basis day.
    """
    day = local_date(basis_at)
    if duration.unit == "days":
        return add_local_days(basis_at, duration.amount)
    if duration.unit == "weeks":
        return add_local_days(basis_at, 7 * duration.amount)
    if duration.unit == "end_of_day":
        return end_of_day(day + timedelta(days=duration.amount))
    if duration.unit == "working_days":
        return end_of_day(add_working_days(day, duration.amount))
    assert_never(duration.unit)


def reminder_due(deadline: Deadline, stage: ReminderStage, rulebook: Rulebook) -> datetime:
    """When `stage` of the rulebook's reminders falls for `deadline` (Europe/Oslo).

    At the start (00:00) of the due day plus `stage.offset_days` in Oslo: the upcoming
    reminder comes the morning of the day it names, the "due" one on the morning of the due
    day — before the duty runs out, also for a duty due at the end of the day — and the
    overdue one (offset 1) once the due day is over, always after `due_at`. Offsets are
    calendar days, like the rulebook's "2 days before".

    Never before the deadline began (`basis_at`): for a duty due the same day (the report to
    barnevern) the upcoming and due stages fall at the moment it began, so a daemon that
    issues them then is on time, not late.

    `rulebook` is taken so that the daemon's call stays the same when a rulebook comes to
    shape reminders further (an hour of the day, working days); today the stage says it all.
    """
    del rulebook
    day: date = local_date(deadline.due_at) + timedelta(days=stage.offset_days)
    return max(start_of_day(day), deadline.basis_at, key=_instant).astimezone(OSLO)


# ---- the case's history, as the rules read it --------------------------------------------


Kinds = tuple[type[CaseEvent], ...]
"""The event types a rule looks for."""

Fits = Callable[[CaseEvent], bool]
"""Whether an event of those types is the one that meets or cancels a deadline."""


# Named tuples, not frozen dataclasses: as immutable, and several times cheaper to make
# (a rebuild makes a few of each per deadline of every case).


class _Cancel(NamedTuple):
    event_id: UUID
    at: datetime
    reason: CancelReason


class _Clock(NamedTuple):
    """A duty that started: its basis, when it is due, what met and what cancelled it."""

    rule: Rule
    basis: CaseEvent
    basis_at: datetime
    due_at: datetime
    met_by: CaseEvent | None
    cancel: _Cancel | None


class _Suspicion(NamedTuple):
    """One stretch of `violence_suspected`: set by an event, perhaps lifted later."""

    set_by: CaseEvent
    set_at: datetime
    lifted_at: datetime | None
    since: datetime
    """Reports from this moment on count for it: the end of the suspicion before it."""


class _History:
    """A case's events, corrected, in recorded order and on the timeline of `occurred_at`.

    Indexed once: each event's instant, and where each kind of event stands on the
    timeline, so a rule's "first such event since" is a bisection, not a scan.
    """

    def __init__(self, events: list[CaseEvent], registration: UndringRegistered) -> None:
        self.events = events
        # Stable sort: events that occurred at the same instant keep their recorded order.
        placed = sorted(((e.occurred_at.astimezone(UTC), e) for e in events), key=itemgetter(0))
        self.timeline = [event for _, event in placed]
        self.instants = [instant for instant, _ in placed]
        self.registration = registration
        self.noticed_at = registration.noticed_at
        self._by_kind: dict[type[CaseEvent], list[int]] = {}
        for index, event in enumerate(self.timeline):
            for kind in _kinds_of(type(event)):
                self._by_kind.setdefault(kind, []).append(index)
        self._merged: dict[Kinds, list[int]] = {}
        self._suspicions: list[_Suspicion] | None = None

    def since(self, moment: datetime) -> int:
        """The index of the first event on the timeline at or after `moment`."""
        return bisect_left(self.instants, _instant(moment))

    def _of(self, kinds: Kinds) -> list[int]:
        """Where the events of `kinds` stand on the timeline, in order."""
        if len(kinds) == 1:
            return self._by_kind.get(kinds[0], [])
        found = self._merged.get(kinds)
        if found is None:
            found = sorted({i for kind in kinds for i in self._by_kind.get(kind, ())})
            self._merged[kinds] = found
        return found

    def first(
        self, kinds: Kinds, since: datetime, where: Fits | None = None
    ) -> CaseEvent | None:
        """The first event on the timeline at or after `since` of one of `kinds` (and `where`)."""
        indices = self._of(kinds)
        for index in indices[bisect_left(indices, self.since(since)):]:
            event = self.timeline[index]
            if where is None or where(event):
                return event
        return None

    def closing(self, since: datetime) -> _Cancel | None:
        """The first closing of the case at or after `since`."""
        closed = self.first((CaseClosed,), since)
        return (
            None if closed is None else _Cancel(closed.event_id, closed.occurred_at, "case_closed")
        )

    def suspicions(self) -> list[_Suspicion]:
        """Each stretch of time during which violence, abuse or neglect was suspected."""
        if self._suspicions is None:
            self._suspicions = self._find_suspicions()
        return self._suspicions

    def _find_suspicions(self) -> list[_Suspicion]:
        found: list[_Suspicion] = []
        since = self.noticed_at
        current: tuple[CaseEvent, datetime] | None = None
        if self.registration.violence_suspected:
            current = (self.registration, self.noticed_at)
        for index in self._of((TrackFlagged, FlagCleared)):
            event = self.timeline[index]
            if not isinstance(event, TrackFlagged | FlagCleared):
                continue
            if event.flag != "violence_suspected":
                continue
            # Rule checks keep set and lifted alternating; a repeat changes nothing.
            if isinstance(event, TrackFlagged) and current is None:
                current = (event, event.occurred_at)
            elif isinstance(event, FlagCleared) and current is not None:
                found.append(_Suspicion(*current, event.occurred_at, since))
                since, current = event.occurred_at, None
        if current is not None:
            found.append(_Suspicion(*current, None, since))
        return found

    def suspicion_from(self, basis_at: datetime) -> _Cancel | None:
        """The violence flag standing at `basis_at` or set after it: guardians are out (rule 3)."""
        for suspicion in self.suspicions():
            lifted_at = suspicion.lifted_at
            if lifted_at is not None and _instant(lifted_at) <= _instant(basis_at):
                continue
            at = max(suspicion.set_at, basis_at, key=_instant)
            return _Cancel(suspicion.set_by.event_id, at, "violence_suspected")
        return None

    def track_starts(self, track: str) -> Iterator[tuple[CaseEvent, datetime]]:
        """Each time `track` was set: at registration (from noticed_at) or by TrackFlagged."""
        if track in self.registration.tracks:
            yield self.registration, self.noticed_at
        for index in self._of((TrackFlagged,)):
            event = self.timeline[index]
            if isinstance(event, TrackFlagged) and event.flag == track:
                yield event, event.occurred_at


@cache
def _kinds_of(event_type: type[CaseEvent]) -> tuple[type[CaseEvent], ...]:
    """The case event classes an event of this type is an instance of (itself, its bases)."""
    return tuple(k for k in event_type.__mro__ if isinstance(k, type) and issubclass(k, CaseEvent))


def _instant(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _earliest(*cancels: _Cancel | None) -> _Cancel | None:
    present = [c for c in cancels if c is not None]
    return min(present, key=lambda c: _instant(c.at)) if present else None


def _evaluates(tiltak_id: UUID) -> Fits:
    return lambda event: isinstance(event, EvaluationRecorded) and tiltak_id in event.tiltak_ids


def _cancels_tiltak(tiltak_id: UUID) -> Fits:
    return lambda event: isinstance(event, TiltakCancelled) and event.tiltak_id == tiltak_id


def _clears(flag: str) -> Fits:
    return lambda event: isinstance(event, FlagCleared) and event.flag == flag


def _held_with_guardians(event: CaseEvent) -> bool:
    return isinstance(event, SamtaleHeld) and "guardians" in event.participants


def _with_guardians(event: CaseEvent) -> bool:
    if isinstance(event, SamtaleInvited):
        return "guardians" in event.with_whom
    if isinstance(event, SamtaleHeld):
        return "guardians" in event.participants
    return False


# ---- one builder per rule: each yields the clocks the rule starts -------------------------


def _share_with_leader(history: _History, rulebook: Rulebook) -> Iterator[_Clock]:
    # 000 N0 T2: "ved første anledning", before the guardians are told.
    basis, at = history.registration, history.noticed_at
    yield _Clock(
        "share_with_leader",
        basis,
        at,
        due_after(at, rulebook.durations.share_with_leader),
        history.first((SharedWithLeader,), at),
        history.closing(at),
    )


def _s12_innkalling(history: _History, rulebook: Rulebook) -> Iterator[_Clock]:
    # 000 N0 T1 NB: "fristen på en uke for innkalling av foresatte til samtale".
    for basis, at in history.track_starts("skolemiljo"):
        yield _Clock(
            "s12_innkalling",
            basis,
            at,
            due_after(at, rulebook.durations.s12_innkalling),
            history.first((SamtaleInvited, SamtaleHeld), at, _with_guardians),
            _earliest(
                history.suspicion_from(at),
                history.closing(at),
                _track_cleared(history, "skolemiljo", at),
            ),
        )


def _samtale_with_guardians(history: _History, rulebook: Rulebook) -> Iterator[_Clock]:
    # 000 N0 T3: "innen 3 uker etter at undringen har oppstått".
    basis, at = history.registration, history.noticed_at
    yield _Clock(
        "samtale_with_guardians",
        basis,
        at,
        due_after(at, rulebook.durations.samtale_with_guardians),
        history.first((SamtaleHeld,), at, _held_with_guardians),
        _earliest(history.suspicion_from(at), history.closing(at)),
    )


def _s42_barnehagemiljo(history: _History, rulebook: Rulebook) -> Iterator[_Clock]:
    # 000 N0 T1 NB: "barnehagen snarest skal undersøke saken".
    for basis, at in history.track_starts("barnehagemiljo"):
        yield _Clock(
            "s42_barnehagemiljo",
            basis,
            at,
            due_after(at, rulebook.durations.s42_barnehagemiljo),
            history.first((InvestigationRecorded, SamtaleHeld), at),
            _earliest(
                history.closing(at),
                _track_cleared(history, "barnehagemiljo", at),
            ),
        )


def _track_cleared(history: _History, track: str, since: datetime) -> _Cancel | None:
    cleared = history.first((FlagCleared,), since, _clears(track))
    return (
        None if cleared is None else _Cancel(cleared.event_id, cleared.occurred_at, "track_cleared")
    )


def _decision_level0(history: _History, rulebook: Rulebook) -> Iterator[_Clock]:
    # 001 N0 step 4: "Innen to uker ta beslutningen"; CaseReopened starts the clock again.
    starts: list[tuple[CaseEvent, datetime]] = [(history.registration, history.noticed_at)]
    reopened = (history.timeline[i] for i in history._of((CaseReopened,)))
    starts += [(e, e.occurred_at) for e in reopened]
    for basis, at in starts:
        yield _Clock(
            "decision_level0",
            basis,
            at,
            due_after(at, rulebook.durations.decision_level0),
            history.first((DecisionRecorded,), at),
            history.closing(at),
        )


def _report_to_barnevern(history: _History, rulebook: Rulebook) -> Iterator[_Clock]:
    # 000, 001: report at once; never needs consent (004) and nothing cancels it.
    for suspicion in history.suspicions():
        yield _Clock(
            "report_to_barnevern",
            suspicion.set_by,
            suspicion.set_at,
            due_after(suspicion.set_at, rulebook.durations.report_to_barnevern),
            history.first((ReportedToBarnevern,), suspicion.since),
            None,
        )


def _tiltak_evaluation(history: _History, rulebook: Rulebook) -> Iterator[_Clock]:
    # 000, 001: each tiltak is evaluated by its own evaluate_by date.
    for index in history._of((TiltakPlanned,)):
        basis = history.timeline[index]
        if not isinstance(basis, TiltakPlanned) or basis.evaluate_by is None:
            continue
        tiltak_id, at = basis.tiltak_id, basis.occurred_at
        cancelled = history.first((TiltakCancelled,), at, _cancels_tiltak(tiltak_id))
        yield _Clock(
            "tiltak_evaluation",
            basis,
            at,
            end_of_day(basis.evaluate_by),
            history.first((EvaluationRecorded,), at, _evaluates(tiltak_id)),
            _earliest(
                None
                if cancelled is None
                else _Cancel(cancelled.event_id, cancelled.occurred_at, "tiltak_cancelled"),
                history.closing(at),
            ),
        )


def _child_talk_after_level3_meeting(history: _History, rulebook: Rulebook) -> Iterator[_Clock]:
    # 001 N3 step 3: "Senest en uke etter møtet snakker en tillitsperson med barnet".
    level = 0
    for basis in history.timeline:
        if isinstance(basis, LevelChanged):
            level = basis.to_level
        elif (
            isinstance(basis, MeetingHeld)
            and basis.plans_tiltak
            and level == _LEVEL_WITH_CHILD_TALK
        ):
            at = basis.occurred_at
            yield _Clock(
                "child_talk_after_level3_meeting",
                basis,
                at,
                due_after(at, rulebook.durations.child_talk_after_level3_meeting),
                history.first((ChildConversationHeld,), at),
                history.closing(at),
            )


def _consent_expiry(history: _History, rulebook: Rulebook) -> Iterator[_Clock]:
    # Practice (Stafettloggen), no seed: renew before valid_until, or the services lose access.
    for index in history._of((ConsentGiven,)):
        basis = history.timeline[index]
        if not isinstance(basis, ConsentGiven) or basis.valid_until is None:
            continue
        at = basis.occurred_at
        remaining, renewed = set(basis.services), set[str]()
        met_by: CaseEvent | None = None
        withdrawn: _Cancel | None = None
        for event in history.timeline[history.since(at):]:
            if event is basis:
                continue
            if isinstance(event, ConsentWithdrawn) and event.consent_id == basis.consent_id:
                remaining -= set(event.services or basis.services)
                if not remaining:
                    withdrawn = _Cancel(event.event_id, event.occurred_at, "consent_withdrawn")
                    break
            elif isinstance(event, ConsentGiven):
                renewed |= set(event.services)
                if remaining <= renewed:
                    met_by = event
                    break
        yield _Clock(
            "consent_expiry",
            basis,
            at,
            end_of_day(basis.valid_until),
            met_by,
            _earliest(withdrawn, history.closing(at)),
        )


def _handover_not_accepted(history: _History, rulebook: Rulebook) -> Iterator[_Clock]:
    # Practice, no seed: the proposed person answers within the rulebook's days (rule 9).
    for index, basis in enumerate(history.events):
        if not isinstance(basis, StafettHandoverProposed):
            continue
        at = basis.occurred_at
        answer = next(
            (
                e
                for e in history.events[index + 1 :]
                if isinstance(
                    e, StafettHandoverAccepted | StafettHandoverDeclined | StafettholderAssigned
                )
            ),
            None,
        )
        superseded = (
            _Cancel(answer.event_id, answer.occurred_at, "stafettholder_assigned")
            if isinstance(answer, StafettholderAssigned)
            else None
        )
        yield _Clock(
            "handover_not_accepted",
            basis,
            at,
            due_after(at, rulebook.durations.handover_not_accepted),
            None if isinstance(answer, StafettholderAssigned) else answer,
            _earliest(superseded, history.closing(at)),
        )


def _stalled_case(history: _History, rulebook: Rulebook, closed_by: CaseEvent | None) -> _Clock:
    # 004 N2: "Har saken «stoppet opp»"; activity is any event but a reminder.
    activity = [e for e in history.timeline if not isinstance(e, REMINDER_EVENTS)]
    basis = activity[-1]  # the registration at least; the timeline keeps recorded order on ties
    at = basis.occurred_at
    cancel = (
        None
        if closed_by is None
        else _Cancel(closed_by.event_id, closed_by.occurred_at, "case_closed")
    )
    return _Clock(
        "stalled_case", basis, at, due_after(at, rulebook.durations.stalled_case), None, cancel
    )


_BUILDERS: tuple[Callable[[_History, Rulebook], Iterator[_Clock]], ...] = (
    _share_with_leader,
    _s12_innkalling,
    _samtale_with_guardians,
    _s42_barnehagemiljo,
    _decision_level0,
    _report_to_barnevern,
    _tiltak_evaluation,
    _child_talk_after_level3_meeting,
    _consent_expiry,
    _handover_not_accepted,
)


# ---- judging ------------------------------------------------------------------------------


def _judge(clock: _Clock, now: datetime) -> tuple[DeadlineState, CaseEvent | None, _Cancel | None]:
    # Compared as instants (UTC): Python compares two Oslo times on the wall clock, which
    # is wrong by an hour in the night summer time ends.
    met, cancel, due = clock.met_by, clock.cancel, _instant(clock.due_at)
    # `now` is already an instant (UTC): `_deadlines` converts it once for every clock.
    if cancel is not None and _instant(cancel.at) > due:
        cancel = None  # already missed: closing does not hide it
    if cancel is not None and (met is None or _instant(cancel.at) < _instant(met.occurred_at)):
        return "cancelled", None, cancel
    if met is not None and _instant(met.occurred_at) <= due:
        return "met", met, None
    if now > due:
        return "missed", met, None
    return "open", None, None


def deadlines(
    case_events: Sequence[CaseEvent], rulebook: Rulebook, now: datetime
) -> list[Deadline]:
    """Every deadline of one case at moment `now`, sorted by due time.

    `case_events` are all the case's events in recorded order (for a replay as of a date:
    those recorded by then, with that date as `now`). `now` only decides whether a duty not
    yet done is open or missed; it never changes an id.
    """
    _check_now(now)
    if not case_events:
        return []
    case_id = case_events[0].case_id
    if any(event.case_id != case_id for event in case_events):
        raise ValueError("the events belong to more than one case")
    return _deadlines(Case.replay(case_id, case_events), rulebook, now)


def case_deadlines(case: Case, rulebook: Rulebook, now: datetime) -> list[Deadline]:
    """`deadlines(case.events, rulebook, now)` for a case already folded from its events.

    The projections hold the folded case; folding it again here would only repeat work.
    """
    _check_now(now)
    return _deadlines(case, rulebook, now) if case.events else []


def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


def _deadlines(case: Case, rulebook: Rulebook, now: datetime) -> list[Deadline]:
    case_id = case.id
    events = corrected_events(case.events) if case.corrections else list(case.events)
    registration = next((e for e in events if isinstance(e, UndringRegistered)), None)
    if registration is None:
        return []
    history = _History(events, registration)
    closed_by = (
        next(e for e in reversed(events) if isinstance(e, CaseClosed))
        if case.status == "closed"
        else None
    )
    clocks = [clock for build in _BUILDERS for clock in build(history, rulebook)]
    clocks.append(_stalled_case(history, rulebook, closed_by))

    now_instant = _instant(now)
    found: list[tuple[datetime, Deadline]] = []
    for clock in clocks:
        state, met, cancel = _judge(clock, now_instant)
        due_at = clock.due_at.astimezone(OSLO)
        found.append((_instant(due_at), Deadline(
            deadline_id=deadline_id(case_id, clock.rule, clock.basis.event_id),
            case_id=case_id,
            rule=clock.rule,
            basis_event_id=clock.basis.event_id,
            basis_at=clock.basis_at.astimezone(OSLO),
            due_at=due_at,
            state=state,
            met_by=None if met is None else met.event_id,
            met_at=None if met is None else met.occurred_at.astimezone(OSLO),
            cancelled_by=None if cancel is None else cancel.event_id,
            cancelled_at=None if cancel is None else cancel.at.astimezone(OSLO),
            cancelled_reason=None if cancel is None else cancel.reason,
            unit=case.unit,
            holder=case.holder,
        )))
    found.sort(key=lambda pair: (pair[0], pair[1].rule, pair[1].deadline_id))
    return [deadline for _, deadline in found]
