"""Deadlines told as stories from the handlingsveiledere: kept, missed, done late, cancelled.

Each story builds a case's events directly with the event models (no database): sequence
numbers 1..n, `recorded_at` equal to `occurred_at` unless the story says otherwise. Times
are wall-clock times in Oslo. Unless a story names another, the rulebook is `default`:
share with leader 2 days, § 12 innkalling 1 week, samtale 3 weeks, § 42 5 working days,
decision 2 weeks, report to barnevern the end of the day, child talk 1 week, stalled case
8 weeks, handover 7 days; reminders 2 days before, on the day and the day after.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any, TypeVar
from uuid import uuid4

import pytest

from ledger.case import Case
from ledger.events import (
    Actor,
    CaseClosed,
    CaseEvent,
    CaseReopened,
    ChildConversationHeld,
    ConsentGiven,
    ConsentWithdrawn,
    DecisionRecorded,
    EntryCorrected,
    EvaluationRecorded,
    FlagCleared,
    InvestigationRecorded,
    LevelChanged,
    MeetingHeld,
    ReminderIssued,
    ReportedToBarnevern,
    SamtaleHeld,
    SamtaleInvited,
    SharedWithLeader,
    StafettHandoverAccepted,
    StafettHandoverDeclined,
    StafettHandoverProposed,
    StafettholderAssigned,
    TiltakCancelled,
    TiltakCompleted,
    TiltakPlanned,
    TrackFlagged,
    UndringRegistered,
)
from ledger.messages import text
from ledger.policies.calendar import OSLO, end_of_day
from ledger.policies.deadlines import (
    RULES,
    Deadline,
    Rule,
    case_deadlines,
    deadlines,
    due_after,
    reminder_due,
)
from ledger.policies.rulebook import (
    Duration,
    Rulebook,
    load_rulebook,
    parse_rulebook,
)
from tests.cast import HEALTH_NURSE, PEDAGOGUE, PPT_ADVISER, RECTOR, TEACHER

E = TypeVar("E", bound=CaseEvent)

DEFAULT = load_rulebook("default")
SONDRE_LAND = load_rulebook("sondre-land")


def oslo(text: str) -> datetime:
    """A wall-clock time in Oslo, written "2026-03-02 09:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=OSLO)


def same_instant(a: datetime | None, b: datetime) -> bool:
    """Equal as instants (Python never calls a time in the repeated autumn hour equal)."""
    return a is not None and a.astimezone(UTC) == b.astimezone(UTC)


def rulebook_with(rule: str, amount: int, unit: str) -> Rulebook:
    """The default rulebook's text with one duration changed, as a municipality would."""
    source = resources.files("ledger.policies").joinpath("rulebooks/default.toml")
    text_ = source.read_text(encoding="utf-8")
    block = f"[durations.{rule}]\n"
    start = text_.index(block) + len(block)
    end = text_.index("source =", start)
    changed = text_[:start] + f'amount = {amount}\nunit = "{unit}"\n' + text_[end:]
    return parse_rulebook(changed.replace('name = "default"', 'name = "custom"'), "custom")


MONDAY = oslo("2026-03-02 09:00")
"""Monday 2 March 2026, 09:00: the morning the stories begin."""


class Story:
    """One child's case, told event by event; each step records one event at a given time."""

    def __init__(
        self,
        noticed_at: datetime = MONDAY,
        *,
        tracks: tuple[str, ...] = (),
        violence_suspected: bool = False,
        actor: Actor = TEACHER,
        registered_at: datetime | None = None,
    ) -> None:
        self.case_id = uuid4()
        self.events: list[CaseEvent] = []
        self.undring = self.add(
            UndringRegistered,
            registered_at or noticed_at,
            actor=actor,
            child_ref="Elev-17",
            child_birth_date=date(2015, 5, 1),
            unit=actor.unit,
            service=actor.service,
            noticed_at=noticed_at,
            observations="Går alene i friminuttene og gikk inn igjen før ringeklokka.",
            tracks=tracks,
            violence_suspected=violence_suspected,
        )

    def add(
        self,
        event_type: type[E],
        at: datetime,
        /,
        *,
        actor: Actor = TEACHER,
        recorded_at: datetime | None = None,
        **fields: Any,
    ) -> E:
        event = event_type(
            event_id=uuid4(),
            case_id=self.case_id,
            sequence=len(self.events) + 1,
            actor=actor,
            occurred_at=at,
            recorded_at=recorded_at or at,
            **fields,
        )
        self.events.append(event)
        return event

    # ---- what people do -------------------------------------------------------------------

    def share_with_leader(self, at: datetime, **kw: Any) -> SharedWithLeader:
        return self.add(SharedWithLeader, at, leader="Rita Rektor", how="i person", **kw)

    def flag(self, at: datetime, flag: str) -> TrackFlagged:
        return self.add(TrackFlagged, at, flag=flag, reason="Det vi har sett siden sist.")

    def clear(self, at: datetime, flag: str) -> FlagCleared:
        return self.add(FlagCleared, at, flag=flag, reason="Barnevernet har konkludert.")

    def invite(self, at: datetime, *with_whom: str) -> SamtaleInvited:
        return self.add(
            SamtaleInvited,
            at,
            with_whom=with_whom or ("guardians",),
            planned_at=at + timedelta(days=3),
        )

    def hold_samtale(self, at: datetime, *participants: str) -> SamtaleHeld:
        return self.add(
            SamtaleHeld, at, participants=participants or ("guardians", "child"), summary="Samtale."
        )

    def investigate(self, at: datetime) -> InvestigationRecorded:
        return self.add(
            InvestigationRecorded,
            at,
            actor=PEDAGOGUE,
            looked_into="Leken i avdelingen",
            findings="Holdes utenfor av to barn.",
        )

    def report(self, at: datetime, to: str = "barnevern") -> ReportedToBarnevern:
        return self.add(ReportedToBarnevern, at, to=to)

    def decide(self, at: datetime) -> DecisionRecorded:
        return self.add(
            DecisionRecorded,
            at,
            actor=RECTOR,
            outcome="continue",
            decided_by="Rita Rektor",
            child_view_weighed="Eleven vil ha hjelp.",
            reason="Grunn til å gå videre.",
        )

    def change_level(self, at: datetime, from_level: int, to_level: int) -> LevelChanged:
        return self.add(
            LevelChanged, at, from_level=from_level, to_level=to_level, reason="Etter vedtak."
        )

    def meet(self, at: datetime, *, plans_tiltak: bool = True) -> MeetingHeld:
        return self.add(
            MeetingHeld,
            at,
            kind="ansvarsgruppe",
            participants=("Kari Lærer", "Per PPT", "Helga Helsesykepleier"),
            coordinator="Per PPT",
            plans_tiltak=plans_tiltak,
            summary="Koordinerte tiltak.",
        )

    def talk_with_child(self, at: datetime) -> ChildConversationHeld:
        return self.add(
            ChildConversationHeld, at, trusted_adult="Kari Lærer", summary="Hva skjer framover."
        )

    def plan_tiltak(self, at: datetime, evaluate_by: date | None) -> TiltakPlanned:
        return self.add(
            TiltakPlanned,
            at,
            tiltak_id=uuid4(),
            description="Voksen i friminuttene",
            goal="Eleven er med i leken",
            evaluate_by=evaluate_by,
        )

    def cancel_tiltak(self, at: datetime, tiltak: TiltakPlanned) -> TiltakCancelled:
        return self.add(TiltakCancelled, at, tiltak_id=tiltak.tiltak_id, reason="Ikke aktuelt.")

    def complete_tiltak(self, at: datetime, tiltak: TiltakPlanned) -> TiltakCompleted:
        return self.add(TiltakCompleted, at, tiltak_id=tiltak.tiltak_id)

    def evaluate(self, at: datetime, *tiltak: TiltakPlanned) -> EvaluationRecorded:
        return self.add(
            EvaluationRecorded,
            at,
            tiltak_ids=tuple(t.tiltak_id for t in tiltak),
            outcome="effect_not_there_yet",
            child_view="Det er bedre nå.",
        )

    def give_consent(
        self, at: datetime, *services: str, valid_until: date | None = None
    ) -> ConsentGiven:
        return self.add(
            ConsentGiven,
            at,
            consent_id=uuid4(),
            given_by="guardians",
            services=services,
            purpose="Samarbeid om tiltak",
            information="Undringsnotat og tiltaksplan",
            valid_until=valid_until,
        )

    def withdraw_consent(
        self, at: datetime, consent: ConsentGiven, *services: str
    ) -> ConsentWithdrawn:
        return self.add(
            ConsentWithdrawn,
            at,
            consent_id=consent.consent_id,
            withdrawn_by="guardians",
            services=services or None,
        )

    def assign(self, at: datetime, person: str = "Sigrid Spes") -> StafettholderAssigned:
        return self.add(StafettholderAssigned, at, actor=RECTOR, person=person, service="skole")

    def propose_handover(self, at: datetime, to: Actor = PPT_ADVISER) -> StafettHandoverProposed:
        return self.add(StafettHandoverProposed, at, to_person=to.person, to_service=to.service)

    def accept_handover(self, at: datetime, by: Actor = PPT_ADVISER) -> StafettHandoverAccepted:
        return self.add(StafettHandoverAccepted, at, actor=by)

    def decline_handover(self, at: datetime, by: Actor = PPT_ADVISER) -> StafettHandoverDeclined:
        return self.add(StafettHandoverDeclined, at, actor=by, reason="Har ikke kapasitet.")

    def close(self, at: datetime) -> CaseClosed:
        return self.add(
            CaseClosed, at, actor=RECTOR, reason="Ikke lenger bekymring.", closing_note="Bra nå."
        )

    def reopen(self, at: datetime) -> CaseReopened:
        return self.add(CaseReopened, at, actor=RECTOR, reason="Ny uro.")

    def correct(self, at: datetime, event: CaseEvent, **fields: Any) -> EntryCorrected:
        return self.add(EntryCorrected, at, corrects=event.event_id, fields=fields, why="Feil.")

    def remind(self, at: datetime, deadline: Deadline) -> ReminderIssued:
        return self.add(
            ReminderIssued,
            at,
            actor=Actor(person="BTI", role="system", service="kommune", unit="Oppvekst"),
            deadline_id=deadline.deadline_id,
            rule=deadline.rule,
            stage="upcoming",
            due_at=deadline.due_at,
            to=("Kari Lærer",),
        )

    # ---- what the ledger says ---------------------------------------------------------------

    def deadlines(self, now: datetime, rulebook: Rulebook = DEFAULT) -> list[Deadline]:
        return deadlines(self.events, rulebook, now)

    def all_of(self, rule: Rule, now: datetime, rulebook: Rulebook = DEFAULT) -> list[Deadline]:
        return [d for d in self.deadlines(now, rulebook) if d.rule == rule]

    def only(self, rule: Rule, now: datetime, rulebook: Rulebook = DEFAULT) -> Deadline:
        found = self.all_of(rule, now, rulebook)
        assert len(found) == 1, found
        return found[0]


def assert_met(deadline: Deadline, by: CaseEvent) -> None:
    assert (deadline.state, deadline.met_by, deadline.met_at) == (
        "met",
        by.event_id,
        by.occurred_at,
    )
    assert deadline.cancelled_by is None


def assert_met_late(deadline: Deadline, by: CaseEvent) -> None:
    assert (deadline.state, deadline.met_by, deadline.met_at) == (
        "missed",
        by.event_id,
        by.occurred_at,
    )
    assert deadline.met_late


def assert_missed(deadline: Deadline) -> None:
    assert (deadline.state, deadline.met_by, deadline.met_at) == ("missed", None, None)
    assert not deadline.met_late


def assert_cancelled(deadline: Deadline, by: CaseEvent, reason: str) -> None:
    assert (deadline.state, deadline.cancelled_by, deadline.cancelled_reason) == (
        "cancelled",
        by.event_id,
        reason,
    )
    assert deadline.met_by is None


LATER = oslo("2026-12-31 12:00")
"""Long after every story's deadlines: what is not met by now is missed."""


# ---- share with leader: "ved første anledning" (000 N0 T2) ---------------------------------


def test_an_undring_shared_with_the_leader_the_next_morning_meets_the_deadline() -> None:
    story = Story()
    shared = story.share_with_leader(oslo("2026-03-03 08:15"))

    deadline = story.only("share_with_leader", LATER)

    assert same_instant(deadline.due_at, oslo("2026-03-04 09:00"))
    assert deadline.basis_event_id == story.undring.event_id
    assert_met(deadline, shared)


def test_an_undring_shared_after_three_days_is_missed_and_met_late() -> None:
    story = Story()
    shared = story.share_with_leader(oslo("2026-03-05 09:00"))

    assert_met_late(story.only("share_with_leader", LATER), shared)


def test_an_undring_not_yet_shared_is_open_until_the_due_moment_and_missed_after_it() -> None:
    story = Story()
    due = oslo("2026-03-04 09:00")

    assert story.only("share_with_leader", due).state == "open"
    assert_missed(story.only("share_with_leader", due + timedelta(microseconds=1)))


def test_closing_the_case_before_sharing_with_the_leader_cancels_the_duty() -> None:
    story = Story()
    closed = story.close(oslo("2026-03-03 12:00"))

    deadline = story.only("share_with_leader", LATER)

    assert_cancelled(deadline, closed, "case_closed")
    assert same_instant(deadline.cancelled_at, closed.occurred_at)


def test_closing_the_case_after_the_deadline_passed_leaves_it_missed() -> None:
    story = Story()
    story.close(oslo("2026-03-10 12:00"))

    assert_missed(story.only("share_with_leader", LATER))


def test_the_clock_starts_when_the_undring_was_noticed_not_when_it_was_registered() -> None:
    story = Story(oslo("2026-03-02 09:00"), registered_at=oslo("2026-03-03 15:00"))
    story.share_with_leader(oslo("2026-03-04 10:00"))

    deadline = story.only("share_with_leader", LATER)

    assert same_instant(deadline.basis_at, oslo("2026-03-02 09:00"))
    assert deadline.state == "missed"


def test_sharing_before_the_undring_was_written_down_still_counts() -> None:
    story = Story(oslo("2026-03-02 09:00"), registered_at=oslo("2026-03-02 15:00"))
    # Recorded after the undring, but it happened at 10:00, between noticing and writing down.
    shared = story.share_with_leader(oslo("2026-03-02 10:00"))

    assert_met(story.only("share_with_leader", LATER), shared)


# ---- § 12 innkalling: one week (000 N0 T1 NB, T3) -------------------------------------------


def test_a_s12_sak_where_the_guardians_are_invited_within_the_week_is_met() -> None:
    story = Story(tracks=("skolemiljo",))
    invited = story.invite(oslo("2026-03-06 14:00"), "guardians", "child")

    deadline = story.only("s12_innkalling", LATER)

    assert same_instant(deadline.due_at, oslo("2026-03-09 09:00"))
    assert_met(deadline, invited)


def test_a_s12_sak_where_the_samtale_with_guardians_is_held_within_the_week_is_met() -> None:
    story = Story(tracks=("skolemiljo",))
    held = story.hold_samtale(oslo("2026-03-09 09:00"), "guardians")

    assert_met(story.only("s12_innkalling", LATER), held)


def test_a_s12_sak_where_the_innkalling_comes_after_eight_days_is_missed_and_met_late() -> None:
    story = Story(tracks=("skolemiljo",))
    invited = story.invite(oslo("2026-03-10 09:00"))

    assert_met_late(story.only("s12_innkalling", LATER), invited)


def test_a_s12_sak_where_only_the_child_is_invited_has_not_called_in_the_guardians() -> None:
    story = Story(tracks=("skolemiljo",))
    story.invite(oslo("2026-03-03 09:00"), "child")
    story.hold_samtale(oslo("2026-03-04 09:00"), "child")

    assert_missed(story.only("s12_innkalling", LATER))


def test_a_case_without_the_skolemiljo_track_has_no_s12_deadline() -> None:
    assert Story().all_of("s12_innkalling", LATER) == []


def test_a_s12_track_flagged_later_starts_its_week_at_the_flag() -> None:
    story = Story()
    flagged = story.flag(oslo("2026-03-11 13:00"), "skolemiljo")
    invited = story.invite(oslo("2026-03-18 12:00"))

    deadline = story.only("s12_innkalling", LATER)

    assert deadline.basis_event_id == flagged.event_id
    assert same_instant(deadline.due_at, oslo("2026-03-18 13:00"))
    assert_met(deadline, invited)


def test_an_innkalling_sent_before_the_s12_flag_does_not_meet_it() -> None:
    story = Story()
    story.invite(oslo("2026-03-03 09:00"))
    story.flag(oslo("2026-03-11 13:00"), "skolemiljo")

    assert_missed(story.only("s12_innkalling", LATER))


def test_violence_suspected_at_registration_cancels_the_s12_innkalling() -> None:
    story = Story(tracks=("skolemiljo",), violence_suspected=True)

    assert_cancelled(story.only("s12_innkalling", LATER), story.undring, "violence_suspected")


def test_violence_flagged_within_the_week_cancels_the_innkalling_and_lifting_it_does_not_undo_that() -> (
    None
):
    story = Story(tracks=("skolemiljo",))
    flagged = story.flag(oslo("2026-03-04 11:00"), "violence_suspected")
    story.clear(oslo("2026-03-05 11:00"), "violence_suspected")
    story.invite(oslo("2026-03-06 11:00"))

    deadline = story.only("s12_innkalling", LATER)

    assert_cancelled(deadline, flagged, "violence_suspected")
    assert same_instant(deadline.cancelled_at, flagged.occurred_at)


def test_a_s12_flag_raised_while_violence_is_suspected_is_cancelled_from_its_start() -> None:
    story = Story(violence_suspected=True)
    flagged = story.flag(oslo("2026-03-04 11:00"), "skolemiljo")

    deadline = story.only("s12_innkalling", LATER)

    assert_cancelled(deadline, story.undring, "violence_suspected")
    assert same_instant(deadline.cancelled_at, flagged.occurred_at)


def test_clearing_the_skolemiljo_track_within_the_week_cancels_the_innkalling() -> None:
    story = Story(tracks=("skolemiljo",))
    cleared = story.clear(oslo("2026-03-04 11:00"), "skolemiljo")

    assert_cancelled(story.only("s12_innkalling", LATER), cleared, "track_cleared")


def test_a_s12_track_flagged_cleared_and_flagged_again_has_two_innkalling_deadlines() -> None:
    story = Story(tracks=("skolemiljo",))
    story.invite(oslo("2026-03-03 09:00"))
    story.clear(oslo("2026-03-12 09:00"), "skolemiljo")
    again = story.flag(oslo("2026-04-13 09:00"), "skolemiljo")
    invited = story.invite(oslo("2026-04-14 09:00"))

    first, second = story.all_of("s12_innkalling", LATER)

    assert (first.basis_event_id, first.state) == (story.undring.event_id, "met")
    assert second.basis_event_id == again.event_id
    assert_met(second, invited)


def test_an_innkalling_cancelled_by_closing_stays_cancelled_when_the_case_is_reopened() -> None:
    story = Story(tracks=("skolemiljo",))
    closed = story.close(oslo("2026-03-03 12:00"))
    story.reopen(oslo("2026-03-04 12:00"))
    story.invite(oslo("2026-03-05 12:00"))

    assert_cancelled(story.only("s12_innkalling", LATER), closed, "case_closed")


# ---- samtale with guardians: three weeks (000 N0 T3) ----------------------------------------


@pytest.mark.parametrize(
    ("held_at", "state"),
    [
        ("2026-03-20 10:00", "met"),
        ("2026-03-23 09:00", "met"),
        ("2026-03-23 09:01", "missed"),
        ("2026-04-01 10:00", "missed"),
    ],
    ids=["held after 18 days", "held to the minute", "held a minute late", "held after a month"],
)
def test_the_samtale_with_guardians_is_due_three_weeks_after_the_undring_was_noticed(
    held_at: str, state: str
) -> None:
    story = Story()
    held = story.hold_samtale(oslo(held_at), "guardians")

    deadline = story.only("samtale_with_guardians", LATER)

    assert same_instant(deadline.due_at, oslo("2026-03-23 09:00"))
    assert (deadline.state, deadline.met_by) == (state, held.event_id)


def test_an_invitation_alone_does_not_meet_the_samtale_with_guardians() -> None:
    story = Story()
    story.invite(oslo("2026-03-03 09:00"))

    assert story.only("samtale_with_guardians", oslo("2026-03-10 09:00")).state == "open"
    assert_missed(story.only("samtale_with_guardians", LATER))


def test_a_samtale_with_the_child_alone_does_not_meet_the_samtale_with_guardians() -> None:
    story = Story()
    story.hold_samtale(oslo("2026-03-03 09:00"), "child")

    assert_missed(story.only("samtale_with_guardians", LATER))


def test_violence_suspected_cancels_the_samtale_with_guardians() -> None:
    story = Story()
    flagged = story.flag(oslo("2026-03-10 09:00"), "violence_suspected")

    assert_cancelled(story.only("samtale_with_guardians", LATER), flagged, "violence_suspected")


def test_violence_suspected_after_the_samtale_was_held_leaves_it_met() -> None:
    story = Story()
    held = story.hold_samtale(oslo("2026-03-09 09:00"), "guardians")
    story.flag(oslo("2026-03-10 09:00"), "violence_suspected")

    assert_met(story.only("samtale_with_guardians", LATER), held)


def test_closing_the_case_before_the_samtale_cancels_it() -> None:
    story = Story()
    closed = story.close(oslo("2026-03-10 09:00"))

    assert_cancelled(story.only("samtale_with_guardians", LATER), closed, "case_closed")


# ---- § 42 barnehagemiljø: "snarest", 5 working days by default (000) ------------------------


def barnehage_story(noticed_at: datetime = MONDAY) -> Story:
    return Story(noticed_at, tracks=("barnehagemiljo",), actor=PEDAGOGUE)


def test_a_s42_sak_investigated_on_the_fifth_working_day_is_met() -> None:
    story = barnehage_story()
    investigated = story.investigate(oslo("2026-03-09 15:30"))

    deadline = story.only("s42_barnehagemiljo", LATER)

    assert deadline.due_at == end_of_day(date(2026, 3, 9))
    assert deadline.unit == "Solsiden barnehage"
    assert_met(deadline, investigated)


def test_a_samtale_held_within_the_working_week_meets_the_s42_deadline() -> None:
    story = barnehage_story()
    held = story.hold_samtale(oslo("2026-03-05 08:00"), "guardians")

    assert_met(story.only("s42_barnehagemiljo", LATER), held)


def test_a_s42_sak_investigated_on_the_sixth_working_day_is_missed_and_met_late() -> None:
    story = barnehage_story()
    investigated = story.investigate(oslo("2026-03-10 08:00"))

    assert_met_late(story.only("s42_barnehagemiljo", LATER), investigated)


def test_a_s42_flag_on_the_wednesday_before_easter_is_due_after_the_easter_days() -> None:
    # Skjærtorsdag, Langfredag and 2. påskedag 2026 are not working days.
    story = barnehage_story()
    story.investigate(oslo("2026-03-03 09:00"))
    story.clear(oslo("2026-03-20 09:00"), "barnehagemiljo")
    flagged = story.flag(oslo("2026-04-01 14:00"), "barnehagemiljo")
    investigated = story.investigate(oslo("2026-04-13 16:00"))

    deadline = story.all_of("s42_barnehagemiljo", LATER)[-1]

    assert deadline.basis_event_id == flagged.event_id
    assert deadline.due_at == end_of_day(date(2026, 4, 13))
    assert_met(deadline, investigated)


def test_a_s42_sak_across_christmas_is_due_on_new_years_eve() -> None:
    story = barnehage_story(oslo("2026-12-23 10:00"))

    assert story.only("s42_barnehagemiljo", LATER).due_at == end_of_day(date(2026, 12, 31))


@pytest.mark.parametrize("how", ["case closed", "track cleared"])
def test_a_s42_deadline_is_cancelled_when_the_case_closes_or_the_track_is_cleared(how: str) -> None:
    story = barnehage_story()
    at = oslo("2026-03-04 12:00")
    event = story.close(at) if how == "case closed" else story.clear(at, "barnehagemiljo")

    deadline = story.only("s42_barnehagemiljo", LATER)

    reason = "case_closed" if how == "case closed" else "track_cleared"
    assert_cancelled(deadline, event, reason)


def test_violence_suspected_does_not_cancel_the_s42_investigation() -> None:
    story = barnehage_story()
    story.flag(oslo("2026-03-03 12:00"), "violence_suspected")

    assert_missed(story.only("s42_barnehagemiljo", LATER))


# ---- decision on nivå 0: two weeks (001 N0 step 4) -----------------------------------------


def test_a_decision_within_two_weeks_meets_the_niva_0_deadline() -> None:
    story = Story()
    decided = story.decide(oslo("2026-03-13 14:00"))

    deadline = story.only("decision_level0", LATER)

    assert same_instant(deadline.due_at, oslo("2026-03-16 09:00"))
    assert_met(deadline, decided)


def test_a_decision_after_three_weeks_is_missed_and_met_late() -> None:
    story = Story()
    decided = story.decide(oslo("2026-03-23 14:00"))

    assert_met_late(story.only("decision_level0", LATER), decided)


def test_a_case_closed_and_reopened_gets_a_new_decision_deadline_from_the_reopening() -> None:
    story = Story()
    closed = story.close(oslo("2026-03-05 12:00"))
    reopened = story.reopen(oslo("2026-04-20 10:00"))
    decided = story.decide(oslo("2026-04-30 10:00"))

    first, second = story.all_of("decision_level0", LATER)

    assert_cancelled(first, closed, "case_closed")
    assert second.basis_event_id == reopened.event_id
    assert same_instant(second.due_at, oslo("2026-05-04 10:00"))
    assert_met(second, decided)


def test_a_decision_taken_before_the_case_was_reopened_does_not_meet_the_new_deadline() -> None:
    story = Story()
    decided = story.decide(oslo("2026-03-04 12:00"))
    story.close(oslo("2026-03-05 12:00"))
    story.reopen(oslo("2026-04-20 10:00"))

    first, second = story.all_of("decision_level0", LATER)

    assert_met(first, decided)
    assert_missed(second)


def test_a_decision_deadline_missed_before_closing_stays_missed_after_reopening() -> None:
    story = Story()
    story.close(oslo("2026-03-25 12:00"))
    story.reopen(oslo("2026-04-20 10:00"))

    first, second = story.all_of("decision_level0", oslo("2026-04-21 10:00"))

    assert_missed(first)
    assert second.state == "open"


def test_an_undring_noticed_before_christmas_is_decided_by_the_first_tuesday_of_the_new_year() -> (
    None
):
    story = Story(oslo("2026-12-22 09:00"))
    decided = story.decide(oslo("2027-01-04 15:00"))

    deadline = story.only("decision_level0", LATER + timedelta(days=30))

    assert same_instant(deadline.due_at, oslo("2027-01-05 09:00"))
    assert_met(deadline, decided)


# ---- report to barnevern: by the end of the day (000, 001) ---------------------------------


def test_violence_suspected_at_registration_is_reported_the_same_day() -> None:
    story = Story(violence_suspected=True)
    reported = story.report(oslo("2026-03-02 15:00"))

    deadline = story.only("report_to_barnevern", LATER)

    assert deadline.basis_event_id == story.undring.event_id
    assert deadline.due_at == end_of_day(date(2026, 3, 2))
    assert_met(deadline, reported)


def test_a_report_to_the_police_meets_the_duty_too() -> None:
    story = Story(violence_suspected=True)
    reported = story.report(oslo("2026-03-02 15:00"), to="police")

    assert_met(story.only("report_to_barnevern", LATER), reported)


def test_a_report_the_next_morning_is_missed_and_met_late() -> None:
    story = Story(violence_suspected=True)
    reported = story.report(oslo("2026-03-03 08:00"))

    assert_met_late(story.only("report_to_barnevern", LATER), reported)


def test_a_violence_flag_set_later_is_due_at_the_end_of_that_day() -> None:
    story = Story()
    flagged = story.flag(oslo("2026-03-12 13:00"), "violence_suspected")

    deadline = story.only("report_to_barnevern", oslo("2026-03-12 23:00"))

    assert deadline.basis_event_id == flagged.event_id
    assert deadline.due_at == end_of_day(date(2026, 3, 12))
    assert deadline.state == "open"


def test_a_report_made_first_and_flagged_afterwards_meets_the_duty() -> None:
    story = Story()
    reported = story.report(oslo("2026-03-12 12:00"))
    story.flag(oslo("2026-03-12 12:30"), "violence_suspected")

    assert_met(story.only("report_to_barnevern", LATER), reported)


def test_a_suspicion_lifted_and_raised_again_needs_a_new_report() -> None:
    story = Story(violence_suspected=True)
    reported = story.report(oslo("2026-03-02 15:00"))
    story.clear(oslo("2026-04-01 10:00"), "violence_suspected")
    again = story.flag(oslo("2026-05-05 10:00"), "violence_suspected")

    first, second = story.all_of("report_to_barnevern", LATER)

    assert_met(first, reported)
    assert second.basis_event_id == again.event_id
    assert_missed(second)


def test_closing_the_case_never_cancels_the_report_to_barnevern() -> None:
    story = Story(violence_suspected=True)
    story.close(oslo("2026-03-02 12:00"))

    assert story.only("report_to_barnevern", oslo("2026-03-02 13:00")).state == "open"
    assert_missed(story.only("report_to_barnevern", LATER))


def test_lifting_the_suspicion_never_cancels_the_report_to_barnevern() -> None:
    story = Story(violence_suspected=True)
    story.clear(oslo("2026-03-02 12:00"), "violence_suspected")

    assert_missed(story.only("report_to_barnevern", LATER))


def test_a_rulebook_giving_a_day_more_makes_the_report_due_at_the_end_of_the_next_day() -> None:
    rulebook = rulebook_with("report_to_barnevern", 1, "end_of_day")
    story = Story(violence_suspected=True)
    reported = story.report(oslo("2026-03-03 20:00"))

    deadline = story.only("report_to_barnevern", LATER, rulebook)

    assert deadline.due_at == end_of_day(date(2026, 3, 3))
    assert_met(deadline, reported)


# ---- evaluation of each tiltak: its evaluate_by date (000, 001) ------------------------------


@pytest.mark.parametrize(
    ("evaluated_at", "state"),
    [("2026-04-17 22:30", "met"), ("2026-04-18 00:00", "missed")],
    ids=["the evening of the day", "midnight after"],
)
def test_a_tiltak_is_evaluated_by_the_end_of_its_evaluation_day(
    evaluated_at: str, state: str
) -> None:
    story = Story()
    tiltak = story.plan_tiltak(oslo("2026-03-10 12:00"), evaluate_by=date(2026, 4, 17))
    evaluated = story.evaluate(oslo(evaluated_at), tiltak)

    deadline = story.only("tiltak_evaluation", LATER)

    assert deadline.basis_event_id == tiltak.event_id
    assert deadline.due_at == end_of_day(date(2026, 4, 17))
    assert (deadline.state, deadline.met_by) == (state, evaluated.event_id)


def test_each_tiltak_has_its_own_evaluation_deadline() -> None:
    story = Story()
    first = story.plan_tiltak(oslo("2026-03-10 12:00"), evaluate_by=date(2026, 4, 17))
    second = story.plan_tiltak(oslo("2026-03-10 12:05"), evaluate_by=date(2026, 4, 24))
    evaluated = story.evaluate(oslo("2026-04-16 12:00"), second)

    by_tiltak = {d.basis_event_id: d for d in story.all_of("tiltak_evaluation", LATER)}

    assert_missed(by_tiltak[first.event_id])
    assert_met(by_tiltak[second.event_id], evaluated)


def test_a_tiltak_without_an_evaluation_date_has_no_evaluation_deadline() -> None:
    story = Story()
    story.plan_tiltak(oslo("2026-03-10 12:00"), evaluate_by=None)

    assert story.all_of("tiltak_evaluation", LATER) == []


def test_a_cancelled_tiltak_needs_no_evaluation() -> None:
    story = Story()
    tiltak = story.plan_tiltak(oslo("2026-03-10 12:00"), evaluate_by=date(2026, 4, 17))
    cancelled = story.cancel_tiltak(oslo("2026-03-20 12:00"), tiltak)

    assert_cancelled(story.only("tiltak_evaluation", LATER), cancelled, "tiltak_cancelled")


def test_a_completed_tiltak_is_still_to_be_evaluated() -> None:
    story = Story()
    tiltak = story.plan_tiltak(oslo("2026-03-10 12:00"), evaluate_by=date(2026, 4, 17))
    story.complete_tiltak(oslo("2026-04-01 12:00"), tiltak)

    assert_missed(story.only("tiltak_evaluation", LATER))


def test_closing_the_case_cancels_the_evaluation_of_its_tiltak() -> None:
    story = Story()
    story.plan_tiltak(oslo("2026-03-10 12:00"), evaluate_by=date(2026, 4, 17))
    closed = story.close(oslo("2026-04-01 12:00"))

    assert_cancelled(story.only("tiltak_evaluation", LATER), closed, "case_closed")


def test_a_corrected_evaluation_date_moves_the_deadline_and_keeps_its_id() -> None:
    story = Story()
    tiltak = story.plan_tiltak(oslo("2026-03-10 12:00"), evaluate_by=date(2026, 4, 17))
    before = story.only("tiltak_evaluation", LATER)
    story.correct(oslo("2026-03-11 12:00"), tiltak, evaluate_by="2026-05-08")

    after = story.only("tiltak_evaluation", LATER)

    assert after.deadline_id == before.deadline_id
    assert after.due_at == end_of_day(date(2026, 5, 8))


# ---- child talk a week after a nivå-3 meeting (001 N3 step 3) -------------------------------


def level3_story() -> Story:
    story = Story()
    story.change_level(oslo("2026-03-16 10:00"), 0, 2)
    story.change_level(oslo("2026-04-20 10:00"), 2, 3)
    return story


@pytest.mark.parametrize(
    ("talked_at", "state"),
    [("2026-04-28 12:00", "met"), ("2026-04-28 12:01", "missed")],
    ids=["within the week", "a minute late"],
)
def test_a_trusted_adult_talks_with_the_child_within_a_week_of_the_niva_3_meeting(
    talked_at: str, state: str
) -> None:
    story = level3_story()
    meeting = story.meet(oslo("2026-04-21 12:00"))
    talked = story.talk_with_child(oslo(talked_at))

    deadline = story.only("child_talk_after_level3_meeting", LATER)

    assert deadline.basis_event_id == meeting.event_id
    assert same_instant(deadline.due_at, oslo("2026-04-28 12:00"))
    assert (deadline.state, deadline.met_by) == (state, talked.event_id)


def test_a_meeting_on_niva_2_starts_no_child_talk_deadline() -> None:
    story = Story()
    story.change_level(oslo("2026-03-16 10:00"), 0, 2)
    story.meet(oslo("2026-03-17 12:00"))

    assert story.all_of("child_talk_after_level3_meeting", LATER) == []


def test_a_niva_3_meeting_that_plans_no_tiltak_starts_no_child_talk_deadline() -> None:
    story = level3_story()
    story.meet(oslo("2026-04-21 12:00"), plans_tiltak=False)

    assert story.all_of("child_talk_after_level3_meeting", LATER) == []


def test_a_meeting_after_the_case_went_back_to_niva_2_starts_no_child_talk_deadline() -> None:
    story = level3_story()
    story.change_level(oslo("2026-05-04 10:00"), 3, 2)
    story.meet(oslo("2026-05-05 12:00"))

    assert story.all_of("child_talk_after_level3_meeting", LATER) == []


def test_a_child_talk_before_the_meeting_does_not_count_for_it() -> None:
    story = level3_story()
    story.talk_with_child(oslo("2026-04-20 12:00"))
    story.meet(oslo("2026-04-21 12:00"))

    assert_missed(story.only("child_talk_after_level3_meeting", LATER))


def test_closing_the_case_cancels_the_child_talk() -> None:
    story = level3_story()
    story.meet(oslo("2026-04-21 12:00"))
    closed = story.close(oslo("2026-04-22 12:00"))

    assert_cancelled(story.only("child_talk_after_level3_meeting", LATER), closed, "case_closed")


# ---- consent expiry: valid_until (practice, no seed) ----------------------------------------


def test_a_consent_renewed_before_it_runs_out_is_met() -> None:
    story = Story()
    consent = story.give_consent(
        oslo("2026-03-05 10:00"), "helsestasjon", "ppt", valid_until=date(2026, 6, 30)
    )
    renewed = story.give_consent(
        oslo("2026-06-30 16:00"), "ppt", "helsestasjon", valid_until=date(2026, 12, 31)
    )

    first, _second = story.all_of("consent_expiry", LATER)

    assert first.basis_event_id == consent.event_id
    assert first.due_at == end_of_day(date(2026, 6, 30))
    assert_met(first, renewed)


def test_a_consent_renewed_the_day_after_it_ran_out_is_missed_and_met_late() -> None:
    story = Story()
    story.give_consent(oslo("2026-03-05 10:00"), "ppt", valid_until=date(2026, 6, 30))
    renewed = story.give_consent(oslo("2026-07-01 09:00"), "ppt")

    assert_met_late(story.only("consent_expiry", LATER), renewed)


def test_a_new_consent_for_only_some_of_the_services_does_not_renew_it() -> None:
    story = Story()
    story.give_consent(
        oslo("2026-03-05 10:00"), "helsestasjon", "ppt", valid_until=date(2026, 6, 30)
    )
    story.give_consent(oslo("2026-06-01 09:00"), "ppt")

    assert_missed(story.only("consent_expiry", LATER))


def test_two_new_consents_that_together_cover_the_services_renew_it() -> None:
    story = Story()
    story.give_consent(
        oslo("2026-03-05 10:00"), "helsestasjon", "ppt", valid_until=date(2026, 6, 30)
    )
    story.give_consent(oslo("2026-06-01 09:00"), "ppt")
    completed = story.give_consent(oslo("2026-06-02 09:00"), "helsestasjon")

    assert_met(story.all_of("consent_expiry", LATER)[0], completed)


def test_a_consent_withdrawn_in_part_needs_renewing_only_for_what_is_left() -> None:
    story = Story()
    consent = story.give_consent(
        oslo("2026-03-05 10:00"), "helsestasjon", "ppt", valid_until=date(2026, 6, 30)
    )
    story.withdraw_consent(oslo("2026-04-01 10:00"), consent, "helsestasjon")
    renewed = story.give_consent(oslo("2026-06-01 09:00"), "ppt")

    assert_met(story.all_of("consent_expiry", LATER)[0], renewed)


def test_a_consent_withdrawn_for_every_service_is_cancelled() -> None:
    story = Story()
    consent = story.give_consent(oslo("2026-03-05 10:00"), "ppt", valid_until=date(2026, 6, 30))
    withdrawn = story.withdraw_consent(oslo("2026-04-01 10:00"), consent)

    assert_cancelled(story.only("consent_expiry", LATER), withdrawn, "consent_withdrawn")


def test_a_consent_without_an_end_date_has_no_expiry_deadline() -> None:
    story = Story()
    story.give_consent(oslo("2026-03-05 10:00"), "ppt")

    assert story.all_of("consent_expiry", LATER) == []


def test_closing_the_case_cancels_the_consent_expiry() -> None:
    story = Story()
    story.give_consent(oslo("2026-03-05 10:00"), "ppt", valid_until=date(2026, 6, 30))
    closed = story.close(oslo("2026-04-01 10:00"))

    assert_cancelled(story.only("consent_expiry", LATER), closed, "case_closed")


# ---- stalled case: 8 weeks without activity (004 N2) ----------------------------------------


def test_a_case_has_one_stalled_deadline_from_its_latest_activity() -> None:
    story = Story()
    shared = story.share_with_leader(oslo("2026-03-03 10:00"))

    deadline = story.only("stalled_case", oslo("2026-03-04 10:00"))

    assert deadline.basis_event_id == shared.event_id
    assert same_instant(deadline.due_at, oslo("2026-04-28 10:00"))
    assert deadline.state == "open"


def test_a_case_without_activity_for_eight_weeks_is_stalled() -> None:
    story = Story()

    assert_missed(story.only("stalled_case", oslo("2026-04-27 09:01")))


def test_new_activity_gives_the_stalled_case_deadline_a_new_basis_and_id() -> None:
    story = Story()
    before = story.only("stalled_case", LATER)
    story.share_with_leader(oslo("2026-04-01 10:00"))

    after = story.only("stalled_case", LATER)

    assert after.deadline_id != before.deadline_id
    assert same_instant(after.due_at, oslo("2026-05-27 10:00"))


def test_a_reminder_is_no_activity() -> None:
    story = Story()
    story.remind(oslo("2026-04-25 00:00"), story.only("stalled_case", LATER))

    deadline = story.only("stalled_case", LATER)

    assert deadline.basis_event_id == story.undring.event_id
    assert_missed(deadline)


def test_an_event_recorded_late_counts_from_when_it_happened() -> None:
    story = Story()
    story.share_with_leader(oslo("2026-03-20 10:00"))
    story.add(
        SamtaleHeld,
        oslo("2026-03-10 10:00"),
        recorded_at=oslo("2026-03-25 10:00"),
        participants=("guardians",),
        summary="Ført inn i ettertid.",
    )

    deadline = story.only("stalled_case", LATER)

    assert same_instant(deadline.basis_at, oslo("2026-03-20 10:00"))


def test_a_closed_case_is_not_stalled() -> None:
    story = Story()
    closed = story.close(oslo("2026-03-10 10:00"))

    assert_cancelled(story.only("stalled_case", LATER), closed, "case_closed")


def test_a_reopened_case_can_stall_again() -> None:
    story = Story()
    story.close(oslo("2026-03-10 10:00"))
    reopened = story.reopen(oslo("2026-04-01 10:00"))

    deadline = story.only("stalled_case", LATER)

    assert deadline.basis_event_id == reopened.event_id
    assert_missed(deadline)


# ---- handover not accepted: 7 days (practice, no seed) --------------------------------------


@pytest.mark.parametrize(
    ("answer", "answered_at", "state"),
    [
        ("accept", "2026-03-13 09:00", "met"),
        ("decline", "2026-03-12 09:00", "met"),
        ("accept", "2026-03-17 09:00", "missed"),
    ],
    ids=["accepted in four days", "declined in three days", "accepted after a week"],
)
def test_the_proposed_stafettholder_answers_within_seven_days(
    answer: str, answered_at: str, state: str
) -> None:
    story = Story()
    proposed = story.propose_handover(oslo("2026-03-09 10:00"))
    at = oslo(answered_at)
    answered = story.accept_handover(at) if answer == "accept" else story.decline_handover(at)

    deadline = story.only("handover_not_accepted", LATER)

    assert deadline.basis_event_id == proposed.event_id
    assert same_instant(deadline.due_at, oslo("2026-03-16 10:00"))
    assert (deadline.state, deadline.met_by) == (state, answered.event_id)


def test_an_unanswered_handover_is_open_for_a_week_and_missed_after() -> None:
    story = Story()
    story.propose_handover(oslo("2026-03-09 10:00"))

    assert story.only("handover_not_accepted", oslo("2026-03-16 10:00")).state == "open"
    assert_missed(story.only("handover_not_accepted", oslo("2026-03-16 10:01")))


def test_a_leader_assigning_another_stafettholder_cancels_the_pending_handover() -> None:
    story = Story()
    story.propose_handover(oslo("2026-03-09 10:00"))
    assigned = story.assign(oslo("2026-03-10 10:00"))

    assert_cancelled(story.only("handover_not_accepted", LATER), assigned, "stafettholder_assigned")


def test_each_handover_is_answered_by_the_answer_that_follows_it() -> None:
    story = Story()
    story.propose_handover(oslo("2026-03-09 10:00"))
    declined = story.decline_handover(oslo("2026-03-10 10:00"))
    story.propose_handover(oslo("2026-03-11 10:00"), to=HEALTH_NURSE)
    accepted = story.accept_handover(oslo("2026-03-12 10:00"), by=HEALTH_NURSE)

    first, second = story.all_of("handover_not_accepted", LATER)

    assert_met(first, declined)
    assert_met(second, accepted)


def test_closing_the_case_cancels_a_pending_handover() -> None:
    story = Story()
    story.propose_handover(oslo("2026-03-09 10:00"))
    closed = story.close(oslo("2026-03-10 10:00"))

    assert_cancelled(story.only("handover_not_accepted", LATER), closed, "case_closed")


# ---- every rule, one truth ------------------------------------------------------------------


def busy_story() -> Story:
    """A case that starts every kind of deadline once."""
    story = Story(tracks=("skolemiljo", "barnehagemiljo"))
    story.share_with_leader(oslo("2026-03-02 12:00"))
    story.invite(oslo("2026-03-03 09:00"))
    story.investigate(oslo("2026-03-03 10:00"))
    story.hold_samtale(oslo("2026-03-06 09:00"), "guardians", "child")
    story.decide(oslo("2026-03-09 09:00"))
    story.give_consent(
        oslo("2026-03-09 10:00"), "ppt", "helsestasjon", valid_until=date(2026, 12, 31)
    )
    story.propose_handover(oslo("2026-03-10 09:00"))
    story.accept_handover(oslo("2026-03-11 09:00"))
    story.change_level(oslo("2026-03-12 09:00"), 0, 3)
    story.meet(oslo("2026-03-13 09:00"))
    story.plan_tiltak(oslo("2026-03-13 10:00"), evaluate_by=date(2026, 4, 24))
    story.talk_with_child(oslo("2026-03-16 09:00"))
    story.flag(oslo("2026-03-17 09:00"), "violence_suspected")
    story.report(oslo("2026-03-17 11:00"))
    return story


def test_a_busy_case_has_a_deadline_for_every_rule() -> None:
    assert {d.rule for d in busy_story().deadlines(LATER)} == set(RULES)


def test_the_rulebook_has_a_duration_for_every_rule_but_the_dated_ones() -> None:
    dated = {"tiltak_evaluation", "consent_expiry"}

    assert set(type(DEFAULT.durations).model_fields) == set(RULES) - dated


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_has_a_label_in_both_languages(rule: Rule) -> None:
    key = f"deadline.{rule}"

    assert text(key, "nb") != key
    assert text(key, "en") != key
    assert text(key, "nb") != text(key, "en")


def test_the_same_events_and_rulebook_give_the_same_ids() -> None:
    story = busy_story()

    first = story.deadlines(LATER)
    second = deadlines(list(story.events), load_rulebook("default"), LATER)

    assert [d.deadline_id for d in first] == [d.deadline_id for d in second]
    assert first == second


def test_a_different_now_gives_the_same_ids() -> None:
    story = busy_story()
    early, late = oslo("2026-03-17 12:00"), LATER

    assert {d.deadline_id for d in story.deadlines(early)} == {
        d.deadline_id for d in story.deadlines(late)
    }


def test_another_rulebook_moves_the_due_dates_but_keeps_the_ids() -> None:
    story = busy_story()
    custom = rulebook_with("samtale_with_guardians", 10, "working_days")

    default_ids = {d.deadline_id: d for d in story.deadlines(LATER)}
    custom_ids = {d.deadline_id: d for d in story.deadlines(LATER, custom)}

    assert default_ids.keys() == custom_ids.keys()
    samtale = next(d for d in custom_ids.values() if d.rule == "samtale_with_guardians")
    assert samtale.due_at == end_of_day(date(2026, 3, 16))
    assert default_ids[samtale.deadline_id].due_at != samtale.due_at


def test_every_deadline_of_a_case_has_its_own_id() -> None:
    found = busy_story().deadlines(LATER)

    assert len({d.deadline_id for d in found}) == len(found)


def test_the_id_names_the_rule_the_case_and_the_basis_event() -> None:
    story = Story()

    deadline = story.only("share_with_leader", LATER)

    assert deadline.deadline_id == f"share_with_leader:{story.case_id}:{story.undring.event_id}"


def test_deadlines_come_sorted_by_due_time() -> None:
    found = busy_story().deadlines(LATER)

    dues = [d.due_at.astimezone(UTC) for d in found]
    assert dues == sorted(dues)


def test_deadlines_are_judged_on_when_things_happened_not_when_they_were_recorded() -> None:
    story = Story()
    shared = story.share_with_leader(oslo("2026-03-03 10:00"), recorded_at=oslo("2026-03-20 10:00"))

    assert_met(story.only("share_with_leader", LATER), shared)


def test_a_replay_as_of_a_date_sees_the_deadline_open_that_was_met_later() -> None:
    story = Story(tracks=("skolemiljo",))
    invited = story.invite(oslo("2026-03-06 14:00"))
    as_of = oslo("2026-03-05 12:00")
    recorded_by_then = [e for e in story.events if e.recorded_at <= as_of]

    then = deadlines(recorded_by_then, DEFAULT, as_of)
    now = story.deadlines(LATER)

    def innkalling(found: list[Deadline]) -> Deadline:
        return next(d for d in found if d.rule == "s12_innkalling")

    assert innkalling(then).state == "open"
    assert_met(innkalling(now), invited)
    assert innkalling(then).deadline_id == innkalling(now).deadline_id


def test_a_corrected_noticed_at_moves_the_deadlines_that_start_from_it() -> None:
    story = Story(oslo("2026-03-02 09:00"))
    story.correct(oslo("2026-03-02 12:00"), story.undring, noticed_at="2026-02-27T09:00:00+01:00")

    deadline = story.only("samtale_with_guardians", LATER)

    assert same_instant(deadline.due_at, oslo("2026-03-20 09:00"))


def test_a_correction_adding_the_skolemiljo_track_starts_the_s12_innkalling() -> None:
    story = Story()
    story.correct(oslo("2026-03-02 12:00"), story.undring, tracks=["skolemiljo"])

    assert story.only("s12_innkalling", LATER).basis_event_id == story.undring.event_id


def test_a_folded_case_gives_the_same_deadlines_as_its_events_corrections_and_all() -> None:
    story = Story(tracks=("skolemiljo",))
    story.correct(oslo("2026-03-02 12:00"), story.undring, noticed_at="2026-02-27T09:00:00+01:00")
    case = Case.replay(story.case_id, story.events)

    assert case_deadlines(case, DEFAULT, LATER) == deadlines(story.events, DEFAULT, LATER)
    assert case_deadlines(Case(id=story.case_id), DEFAULT, LATER) == []


def test_each_deadline_carries_the_unit_and_the_stafettholder_at_now() -> None:
    story = Story()
    assert {(d.unit, d.holder) for d in story.deadlines(LATER)} == {("Fossen skole", "Kari Lærer")}

    story.propose_handover(oslo("2026-03-09 10:00"))
    story.accept_handover(oslo("2026-03-10 10:00"))

    assert {d.holder for d in story.deadlines(LATER)} == {"Per PPT"}


def test_no_events_give_no_deadlines() -> None:
    assert deadlines([], DEFAULT, LATER) == []


def test_a_now_without_a_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Story().deadlines(datetime(2026, 3, 2, 9, 0))


def test_events_of_two_cases_are_refused() -> None:
    with pytest.raises(ValueError, match="more than one case"):
        deadlines([*Story().events, *Story().events], DEFAULT, LATER)


# ---- rulebooks ------------------------------------------------------------------------------


def test_sondre_land_gives_a_s12_sak_one_week_and_the_samtale_three() -> None:
    story = Story(tracks=("skolemiljo",))

    innkalling = story.only("s12_innkalling", LATER, SONDRE_LAND)
    samtale = story.only("samtale_with_guardians", LATER, SONDRE_LAND)

    assert same_instant(innkalling.due_at, oslo("2026-03-09 09:00"))
    assert same_instant(samtale.due_at, oslo("2026-03-23 09:00"))


def test_a_municipality_counting_the_innkalling_in_working_days_gives_room_over_easter() -> None:
    working_week = rulebook_with("s12_innkalling", 5, "working_days")
    story = Story(oslo("2026-03-31 10:00"), tracks=("skolemiljo",))
    invited = story.invite(oslo("2026-04-09 14:00"))

    counted_in_weeks = story.only("s12_innkalling", LATER, SONDRE_LAND)
    counted_in_working_days = story.only("s12_innkalling", LATER, working_week)

    assert same_instant(counted_in_weeks.due_at, oslo("2026-04-07 10:00"))
    assert_met_late(counted_in_weeks, invited)
    assert counted_in_working_days.due_at == end_of_day(date(2026, 4, 10))
    assert_met(counted_in_working_days, invited)
    assert counted_in_weeks.deadline_id == counted_in_working_days.deadline_id


# ---- due dates in Oslo ----------------------------------------------------------------------


def duration(amount: int, unit: str) -> Duration:
    return Duration.model_validate({"amount": amount, "unit": unit, "source": "test"})


@pytest.mark.parametrize(
    ("basis", "amount", "unit", "due"),
    [
        ("2026-03-23 10:00", 1, "weeks", "2026-03-30 10:00"),
        ("2026-10-19 10:00", 1, "weeks", "2026-10-26 10:00"),
        ("2026-03-28 10:00", 2, "days", "2026-03-30 10:00"),
        ("2026-12-22 09:00", 2, "weeks", "2027-01-05 09:00"),
        ("2026-12-30 10:00", 2, "days", "2027-01-01 10:00"),
        ("2026-05-13 12:00", 3, "working_days", "2026-05-19 23:59:59.999999"),
        ("2028-05-16 12:00", 1, "working_days", "2028-05-18 23:59:59.999999"),
        ("2026-12-23 10:00", 6, "working_days", "2027-01-04 23:59:59.999999"),
        ("2026-03-02 23:30", 0, "end_of_day", "2026-03-02 23:59:59.999999"),
        ("2026-12-31 10:00", 1, "end_of_day", "2027-01-01 23:59:59.999999"),
    ],
    ids=[
        "a week across the start of summer time",
        "a week across the end of summer time",
        "two days across the start of summer time",
        "two weeks across new year",
        "two days into new year's day",
        "three working days across Kristi himmelfart and 17. mai on a Sunday",
        "a working day across 17. mai on a Wednesday",
        "six working days across Christmas and new year",
        "the end of the same day",
        "the end of the next day across new year",
    ],
)
def test_due_dates_are_counted_on_the_oslo_calendar(
    basis: str, amount: int, unit: str, due: str
) -> None:
    assert same_instant(due_after(oslo(basis), duration(amount, unit)), oslo(due))


def test_a_due_time_keeps_the_local_hour_across_summer_time() -> None:
    due = due_after(oslo("2026-03-23 10:00"), duration(1, "weeks"))

    assert (due.hour, due.utcoffset()) == (10, timedelta(hours=2))


# ---- reminders ------------------------------------------------------------------------------


def stage(name: str) -> Any:
    return next(s for s in DEFAULT.reminder_stages if s.name == name)


def test_the_reminders_of_the_samtale_fall_on_the_mornings_of_their_days() -> None:
    deadline = Story().only("samtale_with_guardians", LATER)  # due Monday 23 March 09:00

    assert same_instant(
        reminder_due(deadline, stage("upcoming"), DEFAULT), oslo("2026-03-21 00:00")
    )
    assert same_instant(reminder_due(deadline, stage("due"), DEFAULT), oslo("2026-03-23 00:00"))
    assert same_instant(reminder_due(deadline, stage("overdue"), DEFAULT), oslo("2026-03-24 00:00"))


def test_the_due_reminder_comes_before_a_duty_due_at_the_end_of_the_day_runs_out() -> None:
    story = Story()
    story.plan_tiltak(oslo("2026-03-10 12:00"), evaluate_by=date(2026, 4, 17))
    deadline = story.only("tiltak_evaluation", LATER)

    due = reminder_due(deadline, stage("due"), DEFAULT)
    overdue = reminder_due(deadline, stage("overdue"), DEFAULT)

    assert same_instant(due, oslo("2026-04-17 00:00"))
    assert overdue.astimezone(UTC) - deadline.due_at.astimezone(UTC) == timedelta(microseconds=1)


def test_a_reminder_across_summer_time_falls_at_local_midnight() -> None:
    story = Story(oslo("2026-03-23 10:00"), tracks=("skolemiljo",))
    deadline = story.only("s12_innkalling", LATER)  # due Monday 30 March 10:00, summer time

    upcoming = reminder_due(deadline, stage("upcoming"), DEFAULT)
    due = reminder_due(deadline, stage("due"), DEFAULT)

    assert (upcoming.hour, upcoming.utcoffset()) == (0, timedelta(hours=1))
    assert same_instant(upcoming, oslo("2026-03-28 00:00"))
    assert (due.hour, due.utcoffset()) == (0, timedelta(hours=2))


def test_a_reminder_never_falls_before_the_deadline_began() -> None:
    story = Story(oslo("2026-03-02 14:00"), violence_suspected=True)
    deadline = story.only("report_to_barnevern", LATER)

    assert same_instant(reminder_due(deadline, stage("upcoming"), DEFAULT), deadline.basis_at)
    assert same_instant(reminder_due(deadline, stage("due"), DEFAULT), deadline.basis_at)


@pytest.mark.parametrize("rulebook", [DEFAULT, SONDRE_LAND], ids=["default", "sondre-land"])
def test_the_overdue_reminder_always_comes_after_the_due_moment(rulebook: Rulebook) -> None:
    for deadline in busy_story().deadlines(LATER, rulebook):
        moments = {s.name: reminder_due(deadline, s, rulebook) for s in rulebook.reminder_stages}
        assert moments["overdue"].astimezone(UTC) > deadline.due_at.astimezone(UTC)
        assert moments["upcoming"] <= moments["due"] <= moments["overdue"]


def test_reminders_and_deadlines_are_given_in_oslo_time() -> None:
    deadline = Story().only("samtale_with_guardians", LATER)

    assert deadline.due_at.tzinfo == OSLO
    assert reminder_due(deadline, stage("due"), DEFAULT).tzinfo == OSLO
