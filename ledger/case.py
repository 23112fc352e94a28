"""The Case aggregate: folds a case's events into its state and refuses what the rules forbid.

Rules are checked in `record` (the command side) and never when events are applied, so a
stricter rule or rulebook later never makes old events unreadable: replaying history only
folds state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, TypeVar
from uuid import UUID

from pydantic import ValidationError

from ledger import messages
from ledger.errors import AccessRefused, RuleViolation
from ledger.events import (
    LEDGER_SET_FIELDS,
    REMINDER_EVENTS,
    Actor,
    AnonymousConsultationHeld,
    CaseClosed,
    CaseErased,
    CaseEvent,
    CaseReopened,
    ConsentGiven,
    ConsentRefused,
    ConsentWithdrawn,
    DecisionRecorded,
    DeviationRecorded,
    EntryCorrected,
    EvaluationRecorded,
    FlagCleared,
    LevelChanged,
    MeetingHeld,
    ReportedToBarnevern,
    SamtaleHeld,
    SamtaleInvited,
    SchoolOwnerNotified,
    ServiceInvolved,
    ServiceReleased,
    SharedWithLeader,
    StafettHandoverAccepted,
    StafettHandoverDeclined,
    StafettHandoverProposed,
    StafettholderAssigned,
    TiltakCancelled,
    TiltakCompleted,
    TiltakPlanned,
    TiltakStarted,
    TrackFlagged,
    UndringRegistered,
)
from ledger.messages import Term
from ledger.policies import access
from ledger.policies.calendar import age_on, local_date
from ledger.policies.consent import ConsentState, covering_consent
from ledger.policies.identity import IdentityNumberInvalid, parse_identity_number
from ledger.policies.rulebook import Rulebook
from ledger.problems import problem_words

Status = Literal["new", "open", "closed"]
TiltakStatus = Literal["planned", "started", "completed", "cancelled"]
E = TypeVar("E", bound=CaseEvent)

# § 12-4's plan elements (000) that a tiltak may lack; the fifth, the tiltak itself
# (`description`), every TiltakPlanned must have.
_PLAN_ELEMENTS = (
    ("problem", "problem"),
    ("starts_at", "when"),
    ("responsible", "who"),
    ("evaluate_by", "evaluation"),
)


@dataclass
class Tiltak:
    """One tiltak as it stands."""

    tiltak_id: UUID
    description: str
    status: TiltakStatus
    planned_at: datetime
    evaluate_by: date | None
    responsible: str | None
    evaluations: int = 0


@dataclass
class Handover:
    """A proposed stafett handover, waiting for the proposed person."""

    to_person: str
    to_service: str
    proposed_by: str
    proposed_at: datetime


@dataclass
class Case:
    """One child's concern process (sak), from undring to closure."""

    id: UUID
    version: int = 0
    status: Status = "new"
    level: int = 0
    child_ref: str = ""
    child_birth_date: date | None = None
    unit: str = ""
    service: str = ""
    registered_by: str = ""
    leader: str | None = None
    noticed_at: datetime | None = None
    tracks: set[str] = field(default_factory=set)
    violence_suspected: bool = False
    reported_to_barnevern: bool = False
    holder: str | None = None
    holder_service: str | None = None
    pending_handover: Handover | None = None
    services_involved: dict[str, UUID | None] = field(default_factory=dict)
    consents: dict[UUID, ConsentState] = field(default_factory=dict)
    consents_refused: int = 0
    tiltak: dict[UUID, Tiltak] = field(default_factory=dict)
    decisions: list[DecisionRecorded] = field(default_factory=list)
    pending_level: int | None = None
    meetings: list[MeetingHeld] = field(default_factory=list)
    deviations: int = 0
    corrections: dict[UUID, list[UUID]] = field(default_factory=dict)
    last_activity: datetime | None = None
    closed_at: datetime | None = None
    erased_at: datetime | None = None
    events: list[CaseEvent] = field(default_factory=list)
    event_ids: set[UUID] = field(default_factory=set)
    pending: list[CaseEvent] = field(default_factory=list)

    # ---- reading history -------------------------------------------------------------

    @classmethod
    def replay(cls, case_id: UUID, events: Iterable[CaseEvent]) -> Case:
        """The case as its stored events make it; no rule is re-run."""
        case = cls(id=case_id)
        for event in events:
            case._apply(event)
        return case

    @classmethod
    def project(cls, case: Case | None, events: Iterable[Any]) -> Case | None:
        """A projector function for the eventsourcing Repository."""
        for event in events:
            if case is None:
                case = cls(id=event.case_id)
            case._apply(event)
        return case

    def collect_events(self) -> list[CaseEvent]:
        """Hand the events recorded since loading to the Application, once."""
        pending, self.pending = self.pending, []
        return pending

    # ---- the command side ------------------------------------------------------------

    def record(self, event: CaseEvent, rulebook: Rulebook, now: datetime) -> None:
        """Check `event` against the rules at moment `now`; if it passes, apply it."""
        self.check(event, rulebook, now)
        self._apply(event)
        self.pending.append(event)

    def check(self, event: CaseEvent, rulebook: Rulebook, now: datetime) -> None:
        """Raise RuleViolation if `event` may not be recorded on this case now."""
        self._check_stream(event)
        self._check_time(event, now)
        self._check_writer(event, now)
        rule = _RULES.get(type(event))
        if rule is not None:
            rule(self, event, rulebook)

    def _check_stream(self, event: CaseEvent) -> None:
        # Rule 1: no event on an unknown case; none on a closed one but reopen and correct.
        if event.case_id != self.id:
            raise RuleViolation("wrong_case", case=event.case_id)
        if event.event_id in self.event_ids:
            raise RuleViolation("duplicate_event", event_id=event.event_id)
        if event.sequence != self.version + 1:
            raise RuleViolation("out_of_order", sequence=event.sequence, expected=self.version + 1)
        if self.status == "new" and not isinstance(event, UndringRegistered):
            raise RuleViolation("case_unknown", case=self.id)
        if self.status != "new" and isinstance(event, UndringRegistered):
            raise RuleViolation("case_exists", case=self.id)
        if self.erased_at is not None:
            raise RuleViolation("case_erased", case=self.id)
        if self.status == "closed" and not isinstance(
            event, CaseReopened | EntryCorrected | CaseErased
        ):
            raise RuleViolation("case_closed", case=self.id)

    def _check_time(self, event: CaseEvent, now: datetime) -> None:
        # Rule 2: not in the future, not before the undring was noticed.
        if event.occurred_at > now:
            raise RuleViolation("occurred_in_future", occurred_at=event.occurred_at)
        if isinstance(event, UndringRegistered) and event.noticed_at > event.occurred_at:
            raise RuleViolation(
                "noticed_after_registered", noticed_at=event.noticed_at, occurred_at=event.occurred_at
            )
        noticed_at = event.noticed_at if isinstance(event, UndringRegistered) else self.noticed_at
        if noticed_at is not None and event.occurred_at < noticed_at:
            raise RuleViolation(
                "before_undring", occurred_at=event.occurred_at, noticed_at=noticed_at
            )

    def _check_writer(self, event: CaseEvent, now: datetime) -> None:
        # Rule 4 and who may write at all, by the one access policy: judged both when it
        # happened and now, so dating an event back to before a withdrawal or an expiry
        # does not let a service back in.
        if isinstance(event, UndringRegistered):
            return  # the person who notices owns the uro; the case begins with them
        if isinstance(event, ReportedToBarnevern) and event.actor.role not in access.OFFICE_ROLES:
            return  # anyone who works with the child reports, consent or not (004; rule 3)
        for moment in (event.occurred_at, now):
            refused = access.refusal(self, event.actor, moment, write=True, event_type=type(event))
            if refused is not None:
                raise AccessRefused(refused, service=event.actor.service, person=event.actor.person)

    # ---- queries on state ------------------------------------------------------------

    def consent_for(self, service: str, at: datetime) -> ConsentState | None:
        """The consent that lets `service` take part at `at`, if any."""
        return covering_consent(self.consents, service, at)

    def other_services_in_force(self, at: datetime) -> set[str]:
        """Involved services besides the own one that a consent still covers at `at`."""
        return {
            s for s in self.services_involved
            if s != self.service and self.consent_for(s, at) is not None
        }

    def services_relying_on_lost_consent(self, at: datetime) -> set[str]:
        """Involved services whose consent was withdrawn or has expired by `at` (rule 4)."""
        return {
            s for s in self.services_involved
            if s != self.service and self.consent_for(s, at) is None
        }

    def has_coordinated_ansvarsgruppe(self) -> bool:
        """An ansvarsgruppe with a koordinator has met (004, 002): enough for level 3."""
        return any(m.kind == "ansvarsgruppe" and m.coordinator for m in self.meetings)

    def event(self, event_id: UUID) -> CaseEvent | None:
        """The stored event with this id, as it was recorded (uncorrected)."""
        for event in self.events:
            if event.event_id == event_id:
                return event
        return None

    # ---- applying events: state changes only, never a rule ---------------------------

    def _apply(self, event: CaseEvent) -> None:
        self.version = event.sequence
        self.events.append(event)
        self.event_ids.add(event.event_id)
        if not isinstance(event, REMINDER_EVENTS):  # reminders are not work on the case
            self.last_activity = max(self.last_activity or event.occurred_at, event.occurred_at)
        if isinstance(event, EntryCorrected):
            self.corrections.setdefault(event.corrects, []).append(event.event_id)
            self._refold()
            return
        applier = _APPLIERS.get(type(event))
        if applier is not None:
            applier(self, event)

    def _refold(self) -> None:
        """Rebuild state from the events as corrected; the stored events stay as they were."""
        events, event_ids, corrections = self.events, self.event_ids, self.corrections
        version, last_activity = self.version, self.last_activity
        fresh = Case(id=self.id)
        for event in corrected_events(events):
            applier = _APPLIERS.get(type(event))
            if applier is not None:
                applier(fresh, event)
        pending = self.pending
        self.__dict__.update(fresh.__dict__)
        self.events, self.event_ids, self.corrections = events, event_ids, corrections
        self.version, self.last_activity, self.pending = version, last_activity, pending


def corrected_events(events: list[CaseEvent]) -> list[CaseEvent]:
    """The events with each correction's fields laid over the event it corrects, in order."""
    updates: dict[UUID, dict[str, Any]] = {}
    for event in events:
        if isinstance(event, EntryCorrected):
            updates.setdefault(event.corrects, {}).update(event.fields)
    result: list[CaseEvent] = []
    for event in events:
        fields = updates.get(event.event_id)
        result.append(
            type(event).model_validate({**event.model_dump(), **fields}) if fields else event
        )
    return result


# ---- appliers: one per event type that changes state ---------------------------------


def _registered(case: Case, e: UndringRegistered) -> None:
    case.status = "open"
    case.child_ref, case.child_birth_date = e.child_ref, e.child_birth_date
    case.unit, case.service, case.noticed_at = e.unit, e.service, e.noticed_at
    case.registered_by = e.actor.person
    case.tracks = set(e.tracks)
    case.violence_suspected = e.violence_suspected
    # On nivå 0 the person who registered holds the case (000: "det er DU som eier uroen").
    case.holder, case.holder_service = e.actor.person, e.service


def _shared(case: Case, e: SharedWithLeader) -> None:
    case.leader = e.leader


def _flagged(case: Case, e: TrackFlagged) -> None:
    if e.flag == "violence_suspected":
        case.violence_suspected = True
    else:
        case.tracks.add(e.flag)


def _cleared(case: Case, e: FlagCleared) -> None:
    if e.flag == "violence_suspected":
        case.violence_suspected = False
    else:
        case.tracks.discard(e.flag)


def _reported(case: Case, e: ReportedToBarnevern) -> None:
    case.reported_to_barnevern = True


def _consent_given(case: Case, e: ConsentGiven) -> None:
    case.consents[e.consent_id] = ConsentState(
        consent_id=e.consent_id, given_by=e.given_by, services=frozenset(e.services),
        purpose=e.purpose, given_at=e.occurred_at, valid_until=e.valid_until,
    )


def _consent_refused(case: Case, e: ConsentRefused) -> None:
    case.consents_refused += 1


def _consent_withdrawn(case: Case, e: ConsentWithdrawn) -> None:
    consent = case.consents.get(e.consent_id)
    if consent is None:
        return
    for service in e.services or consent.services:
        consent.withdrawn.setdefault(service, e.occurred_at)


def _involved(case: Case, e: ServiceInvolved) -> None:
    consent = e.consent_id
    if consent is None:
        found = case.consent_for(e.service, e.occurred_at)
        consent = found.consent_id if found else None
    case.services_involved[e.service] = consent


def _released(case: Case, e: ServiceReleased) -> None:
    case.services_involved.pop(e.service, None)


def _assigned(case: Case, e: StafettholderAssigned) -> None:
    case.holder, case.holder_service = e.person, e.service
    case.pending_handover = None


def _proposed(case: Case, e: StafettHandoverProposed) -> None:
    case.pending_handover = Handover(e.to_person, e.to_service, e.actor.person, e.occurred_at)


def _accepted(case: Case, e: StafettHandoverAccepted) -> None:
    if case.pending_handover is not None:
        case.holder = case.pending_handover.to_person
        case.holder_service = case.pending_handover.to_service
    case.pending_handover = None


def _declined(case: Case, e: StafettHandoverDeclined) -> None:
    case.pending_handover = None


def _meeting(case: Case, e: MeetingHeld) -> None:
    case.meetings.append(e)


def _planned(case: Case, e: TiltakPlanned) -> None:
    case.tiltak[e.tiltak_id] = Tiltak(
        tiltak_id=e.tiltak_id, description=e.description, status="planned",
        planned_at=e.occurred_at, evaluate_by=e.evaluate_by, responsible=e.responsible,
    )


def _tiltak_status(status: TiltakStatus) -> Callable[[Case, Any], None]:
    def apply(case: Case, e: Any) -> None:
        tiltak = case.tiltak.get(e.tiltak_id)
        if tiltak is not None:
            tiltak.status = status

    return apply


def _evaluated(case: Case, e: EvaluationRecorded) -> None:
    for tiltak_id in e.tiltak_ids:
        tiltak = case.tiltak.get(tiltak_id)
        if tiltak is not None:
            tiltak.evaluations += 1


def _decided(case: Case, e: DecisionRecorded) -> None:
    case.decisions.append(e)
    # The latest decision is the one in force: a later "continue" withdraws a move not yet made.
    case.pending_level = e.to_level


def _level_changed(case: Case, e: LevelChanged) -> None:
    case.level = e.to_level
    if case.pending_level == e.to_level:
        case.pending_level = None


def _closed(case: Case, e: CaseClosed) -> None:
    case.status, case.closed_at = "closed", e.occurred_at


def _reopened(case: Case, e: CaseReopened) -> None:
    case.status, case.closed_at = "open", None


def _erased(case: Case, e: CaseErased) -> None:
    case.erased_at = e.recorded_at


def _deviation(case: Case, e: DeviationRecorded) -> None:
    case.deviations += 1


_APPLIERS: dict[type[Any], Callable[[Case, Any], None]] = {
    UndringRegistered: _registered,
    SharedWithLeader: _shared,
    TrackFlagged: _flagged,
    FlagCleared: _cleared,
    ReportedToBarnevern: _reported,
    ConsentGiven: _consent_given,
    ConsentRefused: _consent_refused,
    ConsentWithdrawn: _consent_withdrawn,
    ServiceInvolved: _involved,
    ServiceReleased: _released,
    StafettholderAssigned: _assigned,
    StafettHandoverProposed: _proposed,
    StafettHandoverAccepted: _accepted,
    StafettHandoverDeclined: _declined,
    MeetingHeld: _meeting,
    TiltakPlanned: _planned,
    TiltakStarted: _tiltak_status("started"),
    TiltakCompleted: _tiltak_status("completed"),
    TiltakCancelled: _tiltak_status("cancelled"),
    EvaluationRecorded: _evaluated,
    DecisionRecorded: _decided,
    LevelChanged: _level_changed,
    CaseClosed: _closed,
    CaseReopened: _reopened,
    CaseErased: _erased,
    DeviationRecorded: _deviation,
}
"""Events not listed here (shared with leader, samtale, investigation …) change no folded
state beyond the case's history and last activity; deadlines read them from the events."""


# ---- rules: one per event type that has one -------------------------------------------


def _rule_registered(case: Case, e: UndringRegistered, rulebook: Rulebook) -> None:
    if e.child_birth_date > local_date(e.occurred_at):
        raise RuleViolation("birth_date_in_future", birth_date=e.child_birth_date)
    if e.national_id is not None:
        try:
            parse_identity_number(e.national_id)
        except IdentityNumberInvalid as error:
            raise RuleViolation(
                "national_id_invalid", problem=messages.text(f"national_id.{error.reason}")
            ) from None


def _rule_erased(case: Case, e: CaseErased, rulebook: Rulebook) -> None:
    # Erasure (docs/privacy.md): a closed case, by its leader, once the retention period
    # counted from the closing has passed; the event states the closing and period it used.
    if case.status != "closed" or case.closed_at is None:
        raise RuleViolation("erase_case_open", case=case.id)
    if e.actor.role != "leader":
        raise RuleViolation("erase_not_allowed", role=e.actor.role)
    years = rulebook.retention_years.value
    if e.closed_at != case.closed_at or e.retention_years != years:
        raise RuleViolation("erase_facts_mismatch", closed_at=case.closed_at, years=years)
    ends = retention_ends(case.closed_at, years)
    if e.recorded_at < ends:
        raise RuleViolation("retention_not_ended", until=local_date(ends), years=years)


def retention_ends(closed_at: datetime, years: int) -> datetime:
    """When a case closed at `closed_at` may be erased: `years` calendar years later."""
    try:
        return closed_at.replace(year=closed_at.year + years)
    except ValueError:  # 29 February into a year without one
        return closed_at.replace(year=closed_at.year + years, day=28)


def _rule_flag(case: Case, e: TrackFlagged, rulebook: Rulebook) -> None:
    is_set = case.violence_suspected if e.flag == "violence_suspected" else e.flag in case.tracks
    if is_set:
        raise RuleViolation("flag_already_set", flag=e.flag)


def _rule_clear(case: Case, e: FlagCleared, rulebook: Rulebook) -> None:
    is_set = case.violence_suspected if e.flag == "violence_suspected" else e.flag in case.tracks
    if not is_set:
        raise RuleViolation("flag_not_set", flag=e.flag)


def _rule_guardians(case: Case, parties: Iterable[str]) -> None:
    # Rule 3: while violence, abuse or serious neglect is suspected, guardians are not
    # involved (000; 001 "De foresatte blir ikke involvert").
    if case.violence_suspected and "guardians" in parties:
        raise RuleViolation("guardians_excluded_violence")


def _rule_samtale(case: Case, e: SamtaleInvited | SamtaleHeld, rulebook: Rulebook) -> None:
    _rule_guardians(case, e.with_whom if isinstance(e, SamtaleInvited) else e.participants)


def _rule_anonymous(case: Case, e: AnonymousConsultationHeld, rulebook: Rulebook) -> None:
    # Telling the guardians about the consultation involves them (001 asks it in a ressursteam).
    if e.guardians_told:
        _rule_guardians(case, ["guardians"])


def _rule_who_consents(case: Case, party: str, at: datetime, rulebook: Rulebook) -> None:
    # Rule 5: guardians, or a youth at or above the rulebook's self-consent age.
    if party != "child" or case.child_birth_date is None:
        return
    age = age_on(case.child_birth_date, local_date(at))
    if age < rulebook.self_consent_age.value:
        raise RuleViolation(
            "consent_child_too_young", age=age, minimum=rulebook.self_consent_age.value
        )


def _rule_consent_given(case: Case, e: ConsentGiven, rulebook: Rulebook) -> None:
    _rule_guardians(case, [e.given_by])
    _rule_who_consents(case, e.given_by, e.occurred_at, rulebook)
    if e.consent_id in case.consents:
        raise RuleViolation("consent_exists", consent=e.consent_id)
    if e.valid_until is not None and e.valid_until < local_date(e.occurred_at):
        raise RuleViolation("consent_already_expired", valid_until=e.valid_until)


def _rule_consent_refused(case: Case, e: ConsentRefused, rulebook: Rulebook) -> None:
    _rule_guardians(case, [e.refused_by])
    _rule_who_consents(case, e.refused_by, e.occurred_at, rulebook)


def _rule_consent_withdrawn(case: Case, e: ConsentWithdrawn, rulebook: Rulebook) -> None:
    # Guardians may always withdraw, even while violence is suspected: it is their right.
    _rule_who_consents(case, e.withdrawn_by, e.occurred_at, rulebook)
    consent = case.consents.get(e.consent_id)
    if consent is None:
        raise RuleViolation("consent_unknown", consent=e.consent_id)
    asked = set(e.services or consent.services)
    if not asked <= consent.services:
        raise RuleViolation(
            "consent_service_not_covered", services=", ".join(sorted(asked - consent.services))
        )
    if asked <= set(consent.withdrawn):
        raise RuleViolation("consent_already_withdrawn", consent=e.consent_id)


def _rule_involved(case: Case, e: ServiceInvolved, rulebook: Rulebook) -> None:
    if e.service == case.service:
        raise RuleViolation("service_is_own", service=e.service)
    if e.service in case.services_involved:
        raise RuleViolation("service_already_involved", service=e.service)
    # Rule 4: involving another service needs an active consent that covers it.
    if e.consent_id is not None:
        consent = case.consents.get(e.consent_id)
        if consent is None or not consent.covers(e.service, e.occurred_at):
            raise RuleViolation("consent_required", service=e.service)
    elif case.consent_for(e.service, e.occurred_at) is None:
        raise RuleViolation("consent_required", service=e.service)


def _rule_released(case: Case, e: ServiceReleased, rulebook: Rulebook) -> None:
    if e.service not in case.services_involved:
        raise RuleViolation("service_not_involved", service=e.service)


def _leads_or_holds(case: Case, actor: Actor) -> bool:
    """The leader of the case's own unit, or the person who holds the stafett."""
    return (actor.role == "leader" and actor.unit == case.unit) or actor.person == case.holder


def _rule_assigned(case: Case, e: StafettholderAssigned, rulebook: Rulebook) -> None:
    if not _leads_or_holds(case, e.actor):
        raise RuleViolation("assign_not_allowed", person=e.actor.person)
    _rule_service_may_hold(case, e.service, e.occurred_at)


def _rule_service_may_hold(case: Case, service: str, at: datetime) -> None:
    if service != case.service and case.consent_for(service, at) is None:
        raise RuleViolation("consent_required", service=service)


def _rule_proposed(case: Case, e: StafettHandoverProposed, rulebook: Rulebook) -> None:
    # Rule 9: proposed by the holder or the leader; one proposal at a time.
    if not _leads_or_holds(case, e.actor):
        raise RuleViolation("handover_not_allowed", person=e.actor.person, holder=case.holder)
    if e.to_person == case.holder:
        raise RuleViolation("handover_to_holder", person=e.to_person)
    if case.pending_handover is not None:
        raise RuleViolation("handover_pending", person=case.pending_handover.to_person)
    _rule_service_may_hold(case, e.to_service, e.occurred_at)


def _rule_answered(
    case: Case, e: StafettHandoverAccepted | StafettHandoverDeclined, rulebook: Rulebook
) -> None:
    # Rule 9: only the person proposed accepts or declines.
    pending = case.pending_handover
    if pending is None:
        raise RuleViolation("no_pending_handover")
    if e.actor.person != pending.to_person:
        raise RuleViolation("handover_not_yours", person=e.actor.person, proposed=pending.to_person)


def _rule_planned(case: Case, e: TiltakPlanned, rulebook: Rulebook) -> None:
    if e.tiltak_id in case.tiltak:
        raise RuleViolation("tiltak_exists", tiltak=e.tiltak_id)
    # Rule 7: a § 12-sak's plan states all five elements of § 12-4 (000).
    if "skolemiljo" in case.tracks:
        for field_name, element in _PLAN_ELEMENTS:
            if getattr(e, field_name) is None:
                raise RuleViolation(
                    "plan_missing_element", element=Term(f"plan_element.{element}"), field=field_name
                )
    if e.starts_at and e.evaluate_by and e.evaluate_by < e.starts_at:
        raise RuleViolation("evaluation_before_start", evaluate_by=e.evaluate_by)


def _tiltak_in(case: Case, tiltak_id: UUID, allowed: tuple[TiltakStatus, ...]) -> None:
    tiltak = case.tiltak.get(tiltak_id)
    if tiltak is None:
        raise RuleViolation("tiltak_unknown", tiltak=tiltak_id)
    if tiltak.status not in allowed:
        raise RuleViolation("tiltak_wrong_state", tiltak=tiltak_id, status=tiltak.status)


def _rule_started(case: Case, e: TiltakStarted, rulebook: Rulebook) -> None:
    _tiltak_in(case, e.tiltak_id, ("planned",))


def _rule_finished(case: Case, e: TiltakCompleted | TiltakCancelled, rulebook: Rulebook) -> None:
    _tiltak_in(case, e.tiltak_id, ("planned", "started"))


def _rule_evaluated(case: Case, e: EvaluationRecorded, rulebook: Rulebook) -> None:
    # Rule 8: names tiltak of this case, and the child's view or why it was not obtained.
    for tiltak_id in e.tiltak_ids:
        if tiltak_id not in case.tiltak:
            raise RuleViolation("tiltak_unknown", tiltak=tiltak_id)
    if e.child_view is None and e.child_view_missing_reason is None:
        raise RuleViolation("child_view_missing")


def _rule_decided(case: Case, e: DecisionRecorded, rulebook: Rulebook) -> None:
    if e.outcome == "level_up" and (e.to_level is None or e.to_level <= case.level):
        raise RuleViolation("decision_level_direction", level=case.level, to_level=e.to_level)
    if e.outcome == "level_down" and (e.to_level is None or e.to_level >= case.level):
        raise RuleViolation("decision_level_direction", level=case.level, to_level=e.to_level)


def _rule_level(case: Case, e: LevelChanged, rulebook: Rulebook) -> None:
    if e.from_level != case.level:
        raise RuleViolation("level_mismatch", level=case.level, from_level=e.from_level)
    if e.to_level == e.from_level:
        raise RuleViolation("level_unchanged", level=case.level)
    if case.pending_level != e.to_level:
        raise RuleViolation("level_change_without_decision", to_level=e.to_level)
    # Rule 6: level 2 needs another service; level 3 the rulebook's minimum counting the
    # own one (001 "tre eller flere tjenester") or an ansvarsgruppe with koordinator (004).
    others = len(case.other_services_in_force(e.occurred_at))
    if e.to_level == 2 and others < 1:
        raise RuleViolation("level2_needs_service")
    minimum = rulebook.level3_min_services.value
    if e.to_level == 3 and others + 1 < minimum and not case.has_coordinated_ansvarsgruppe():
        raise RuleViolation("level3_needs_services", minimum=minimum, count=others + 1)


def _rule_reopened(case: Case, e: CaseReopened, rulebook: Rulebook) -> None:
    if case.status != "closed":
        raise RuleViolation("case_not_closed", case=case.id)


def _rule_corrected(case: Case, e: EntryCorrected, rulebook: Rulebook) -> None:
    # Rule 10: corrections point at an earlier event of the case and say what it should be.
    target = case.event(e.corrects)
    if target is None:
        raise RuleViolation("correction_target_unknown", event_id=e.corrects)
    protected = set(e.fields) & (LEDGER_SET_FIELDS | {"actor", "occurred_at"})
    unknown = set(e.fields) - set(type(target).model_fields)
    if protected or unknown:
        raise RuleViolation(
            "correction_field_not_allowed", fields=", ".join(sorted(protected | unknown))
        )
    if isinstance(target, EntryCorrected):
        raise RuleViolation("correction_of_correction", event_id=e.corrects)
    as_corrected = corrected_events(case.events)
    position = case.events.index(target)
    try:
        fixed = type(target).model_validate({**as_corrected[position].model_dump(), **e.fields})
    except ValidationError as error:
        first = error.errors()[0]
        raise RuleViolation(
            "correction_invalid",
            field=".".join(str(p) for p in first["loc"]) or "-",
            problem=problem_words(first),
        ) from None
    # The corrected event must keep the rules the original was held to, judged on the case
    # as it stood then: a correction is not a way around a rule.
    rule = _RULES.get(type(target))
    if rule is not None:
        rule(Case.replay(case.id, as_corrected[:position]), fixed, rulebook)
    if isinstance(fixed, UndringRegistered):
        if fixed.noticed_at > fixed.occurred_at:
            raise RuleViolation(
                "noticed_after_registered", noticed_at=fixed.noticed_at, occurred_at=fixed.occurred_at
            )
        earliest = min(x.occurred_at for x in case.events)
        if fixed.noticed_at > earliest:
            raise RuleViolation("before_undring", occurred_at=earliest, noticed_at=fixed.noticed_at)


def _rule_deviation(case: Case, e: DeviationRecorded, rulebook: Rulebook) -> None:
    if e.actor.role != "leader":
        raise RuleViolation("deviation_needs_leader")
    if e.about_event is not None and case.event(e.about_event) is None:
        raise RuleViolation("correction_target_unknown", event_id=e.about_event)


def _rule_school_owner(case: Case, e: SchoolOwnerNotified, rulebook: Rulebook) -> None:
    if "skolemiljo" not in case.tracks:
        raise RuleViolation("not_a_s12_case")


_RULES: dict[type[Any], Callable[[Case, Any, Rulebook], None]] = {
    UndringRegistered: _rule_registered,
    TrackFlagged: _rule_flag,
    FlagCleared: _rule_clear,
    SamtaleInvited: _rule_samtale,
    SamtaleHeld: _rule_samtale,
    AnonymousConsultationHeld: _rule_anonymous,
    ConsentGiven: _rule_consent_given,
    ConsentRefused: _rule_consent_refused,
    ConsentWithdrawn: _rule_consent_withdrawn,
    ServiceInvolved: _rule_involved,
    ServiceReleased: _rule_released,
    StafettholderAssigned: _rule_assigned,
    StafettHandoverProposed: _rule_proposed,
    StafettHandoverAccepted: _rule_answered,
    StafettHandoverDeclined: _rule_answered,
    TiltakPlanned: _rule_planned,
    TiltakStarted: _rule_started,
    TiltakCompleted: _rule_finished,
    TiltakCancelled: _rule_finished,
    EvaluationRecorded: _rule_evaluated,
    DecisionRecorded: _rule_decided,
    LevelChanged: _rule_level,
    CaseReopened: _rule_reopened,
    CaseErased: _rule_erased,
    EntryCorrected: _rule_corrected,
    DeviationRecorded: _rule_deviation,
    SchoolOwnerNotified: _rule_school_owner,
}
"""Events not listed here (shared with leader, investigation, bright spot, child
conversation, meetings, reports to barnevern, reminders, closing) have only the rules every
event has: 1, 2 and 4."""

