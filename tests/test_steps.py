"""Where a case stands (level and step) and what to do next (ledger/policies/steps.py).

Stories from seed 001's handlingsveileder, told with the event models and replayed (no
database): Elev-31's case at Fossen skole goes from an undring on nivå 0 through tiltak on
nivå 1, PPT on nivå 2, and a ressursteam on nivå 3; and the cases that need something
first: violence suspected, a § 12-sak, a stafett handover waiting, a consent withdrawn.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Self
from uuid import UUID, uuid4

import pytest

from ledger.case import Case
from ledger.events import (
    AnonymousConsultationHeld,
    CaseClosed,
    CaseReopened,
    ChildConversationHeld,
    DecisionRecorded,
    EntryCorrected,
    EvaluationRecorded,
    FlagCleared,
    LevelChanged,
    MeetingHeld,
    ReportedToBarnevern,
    SamtaleHeld,
    SamtaleInvited,
    ServiceInvolved,
    TiltakPlanned,
    TiltakStarted,
    TrackFlagged,
)
from ledger.messages import LANGUAGES, catalogue
from ledger.policies.calendar import OSLO
from ledger.policies.deadlines import RULES, deadlines
from ledger.policies.rulebook import load_rulebook
from ledger.policies.steps import STEP_KEYS, Advice, Position, position, render, what_now
from tests.cast import PPT_ADVISER, RECTOR, TEACHER
from tests.test_access_policy import NEXT_SCHOOL_TEACHER, Story


class LevelStory(Story):
    """Elev-31's case, with what the steps of each level are made of."""

    def __init__(self, **undring: Any) -> None:
        super().__init__()
        if undring:  # registered with tracks or a violence suspicion
            first = self.events[0]
            self.events[0] = first.model_copy(update=undring)

    # ---- nivå 0 ---------------------------------------------------------------------------

    def invite(self, *with_whom: str) -> Self:
        self.add(SamtaleInvited, with_whom=with_whom or ("guardians", "child"),
                 planned_at=self.now + timedelta(days=2))
        return self

    def hold_samtale(self, *participants: str) -> Self:
        self.add(SamtaleHeld, participants=participants or ("guardians", "child"),
                 child_view="Vil ha det bedre i friminuttene.", summary="Samtale holdt.")
        return self

    def decide(self, outcome: str, to_level: int | None = None) -> Self:
        self.add(DecisionRecorded, actor=RECTOR, outcome=outcome, to_level=to_level,
                 decided_by=RECTOR.person, child_view_weighed="Eleven vil ha hjelp.",
                 reason="Sammen med barnet og foreldrene.")
        return self

    def move(self, to_level: int) -> Self:
        """Decide to move to `to_level` and make the move."""
        from_level = self.case.level
        self.decide("level_up" if to_level > from_level else "level_down", to_level)
        self.add(LevelChanged, actor=RECTOR, from_level=from_level, to_level=to_level,
                 reason="Som besluttet.")
        return self

    def close(self) -> Self:
        self.add(CaseClosed, reason="Bekymringen er borte.", closing_note="Takk for samarbeidet.")
        return self

    def reopen(self) -> Self:
        self.add(CaseReopened, reason="Ny undring.")
        return self

    # ---- tiltak -------------------------------------------------------------------------------

    def plan(self, description: str = "Fast voksen ved fotballbanen i friminuttene") -> UUID:
        return self.add(TiltakPlanned, tiltak_id=uuid4(), description=description,
                        goal="Eleven er med i leken.", evaluate_by=date(2026, 4, 30)).tiltak_id

    def start(self, tiltak_id: UUID) -> Self:
        self.add(TiltakStarted, tiltak_id=tiltak_id)
        return self

    def evaluate(self, tiltak_id: UUID) -> Self:
        self.add(EvaluationRecorded, tiltak_ids=(tiltak_id,), outcome="effect_not_there_yet",
                 child_view="Det er bedre nå.")
        return self

    def meet(self, kind: str = "ressursteam", *, plans_tiltak: bool = True) -> MeetingHeld:
        return self.add(MeetingHeld, kind=kind, participants=(TEACHER.person, PPT_ADVISER.person),
                        plans_tiltak=plans_tiltak, summary="Familien forteller; tiltak avtalt.")

    def involve(self, *services: str) -> Self:
        self.consent(*services)
        for service in services:
            self.add(ServiceInvolved, service=service, contact=f"Kontakt i {service}")
        return self


# ---- stories that reach each step -----------------------------------------------------------


def at_samtale_held() -> LevelStory:
    return LevelStory().share_with_leader().invite().hold_samtale()


def on_level_1() -> LevelStory:
    return at_samtale_held().move(1)


def tiltak_started_on_level_1() -> LevelStory:
    story = on_level_1()
    return story.start(story.plan())


def evaluated_on_level_1() -> LevelStory:
    story = on_level_1()
    tiltak = story.plan()
    return story.start(tiltak).evaluate(tiltak)


def on_level_2() -> LevelStory:
    story = evaluated_on_level_1()
    story.decide("level_up", 2)
    story.involve("ppt")
    story.add(LevelChanged, actor=RECTOR, from_level=1, to_level=2, reason="Som besluttet.")
    return story


def on_level_3() -> LevelStory:
    story = on_level_2()
    story.decide("level_up", 3)
    story.involve("helsestasjon")
    story.add(LevelChanged, actor=RECTOR, from_level=2, to_level=3, reason="Som besluttet.")
    return story


def planned_in_ressursteam() -> LevelStory:
    story = on_level_3()
    story.meet()
    return story


def child_talked_with_after_the_meeting() -> LevelStory:
    story = planned_in_ressursteam()
    story.add(ChildConversationHeld, trusted_adult=TEACHER.person, summary="Om veien videre.")
    return story


def evaluated_on_level_3() -> LevelStory:
    story = child_talked_with_after_the_meeting()
    return story.evaluate(story.plan())


def _anonymous() -> LevelStory:
    story = LevelStory()
    story.add(AnonymousConsultationHeld, with_service="barnevern", guardians_told=False,
              summary="NN-drøfting.")
    return story


def _planned(story: LevelStory) -> LevelStory:
    story.plan()
    return story


def _started(story: LevelStory) -> LevelStory:
    return story.start(story.plan())


def _evaluated(story: LevelStory) -> LevelStory:
    tiltak = story.plan()
    return story.start(tiltak).evaluate(tiltak)


def _evaluated_again(story: LevelStory) -> LevelStory:
    return story.evaluate(next(iter(story.case.tiltak)))


def _met(story: LevelStory, kind: str, *, plans_tiltak: bool = True) -> LevelStory:
    story.meet(kind, plans_tiltak=plans_tiltak)
    return story


STORIES: list[tuple[str, Callable[[], LevelStory], tuple[int, int, str]]] = [
    # nivå 0: Undring
    ("an undring just registered stands at Undring oppstår",
     LevelStory, (0, 1, "n0.noticed")),
    ("an undring shared with the leader is being made concrete",
     lambda: LevelStory().share_with_leader(), (0, 2, "n0.concretise")),
    ("an innkalling to the samtale is Del undringen",
     lambda: LevelStory().share_with_leader().invite(), (0, 3, "n0.share")),
    ("an innkalling sent before the leader was told is still Del undringen",
     lambda: LevelStory().invite().share_with_leader(), (0, 3, "n0.share")),
    ("after the samtale the question is Grunn til å gå videre",
     at_samtale_held, (0, 4, "n0.decide")),
    ("an anonymous consultation with barnevern belongs to Grunn til å gå videre",
     _anonymous, (0, 4, "n0.decide")),
    ("a decision to go to nivå 1 not yet made is still Grunn til å gå videre",
     lambda: at_samtale_held().decide("level_up", 1), (0, 4, "n0.decide")),
    ("a decision to close is Avslutt", lambda: at_samtale_held().decide("close"),
     (0, 5, "n0.close")),
    ("a case closed on nivå 0 is Avslutt", lambda: at_samtale_held().decide("close").close(),
     (0, 5, "n0.close")),
    ("a case reopened on nivå 0 begins again at Undring oppstår",
     lambda: at_samtale_held().decide("close").close().reopen(), (0, 1, "n0.noticed")),
    # nivå 1: Fra bekymring til tiltak
    ("a case moved to nivå 1 is Konkretiser bekymringen", on_level_1, (1, 1, "n1.concretise")),
    ("a tiltak planned is Planlegg tiltak", lambda: _planned(on_level_1()), (1, 2, "n1.plan")),
    ("a tiltak started is Iverksett tiltak", tiltak_started_on_level_1, (1, 3, "n1.start")),
    ("a tiltak evaluated is Evaluer tiltak", evaluated_on_level_1, (1, 4, "n1.evaluate")),
    ("a decision to go to nivå 2 after the evaluation is Avklar og beslutt",
     lambda: evaluated_on_level_1().decide("level_up", 2), (1, 5, "n1.decide")),
    ("an evaluation after that decision is Evaluer tiltak again",
     lambda: _evaluated_again(evaluated_on_level_1().decide("level_up", 2)),
     (1, 4, "n1.evaluate")),
    ("a decision to change the tiltak goes back to Planlegg tiltak",
     lambda: evaluated_on_level_1().decide("change_tiltak"), (1, 2, "n1.plan")),
    ("a decision to continue the tiltak goes back to Iverksett tiltak",
     lambda: evaluated_on_level_1().decide("continue"), (1, 3, "n1.start")),
    # nivå 2: Tverrfaglig innsats
    ("a case moved to nivå 2 with PPT involved is Etabler kontakt med annen tjeneste",
     on_level_2, (2, 1, "n2.contact")),
    ("a samarbeidsmøte that plans tiltak is Planlegg tiltak",
     lambda: _met(on_level_2(), "stafettmote"), (2, 2, "n2.plan")),
    ("the tiltak started on nivå 2 is Iverksett tiltak",
     lambda: _started(on_level_2()), (2, 3, "n2.start")),
    ("the tiltak evaluated on nivå 2 is Evaluer tiltak",
     lambda: _evaluated(on_level_2()), (2, 4, "n2.evaluate")),
    ("a decision to close on nivå 2 is Avklar og beslutt",
     lambda: _evaluated(on_level_2()).decide("close"), (2, 5, "n2.decide")),
    ("the work with PPT ended, the case goes back to nivå 1 at its first step",
     lambda: _evaluated(on_level_2()).move(1), (1, 1, "n1.concretise")),
    # nivå 3: Samskape
    ("a case moved to nivå 3 is Forbered møte i tverrfaglig team",
     on_level_3, (3, 1, "n3.prepare")),
    ("a ressursteam meeting without a plan is still Forbered møte",
     lambda: _met(on_level_3(), "ressursteam", plans_tiltak=False), (3, 1, "n3.prepare")),
    ("the ressursteam meeting that plans tiltak is Skap felles forståelse og planlegg tiltak",
     planned_in_ressursteam, (3, 2, "n3.plan")),
    ("the talk with the child after the meeting is Iverksett koordinerte tiltak",
     child_talked_with_after_the_meeting, (3, 3, "n3.start")),
    ("an evaluation on nivå 3 is Evalueringsmøte", evaluated_on_level_3, (3, 4, "n3.evaluate")),
    ("a decision to close on nivå 3 is Felles beslutningsprosess",
     lambda: evaluated_on_level_3().decide("close"), (3, 5, "n3.decide")),
    ("a new round on nivå 3 begins again from trinn 2",
     lambda: evaluated_on_level_3().decide("new_round"), (3, 2, "n3.plan")),
    ("a case closed on nivå 3 is Felles beslutningsprosess",
     lambda: evaluated_on_level_3().decide("close").close(), (3, 5, "n3.decide")),
]


@pytest.mark.parametrize(
    ("story", "expected"),
    [pytest.param(story, expected, id=who) for who, story, expected in STORIES],
)
def test_the_case_stands_at_the_step_its_events_show(
    story: Callable[[], LevelStory], expected: tuple[int, int, str]
) -> None:
    assert position(story().case) == Position(*expected)


def test_every_step_of_every_level_is_reached_by_a_story() -> None:
    reached = {expected[2] for _, _, expected in STORIES}
    assert reached == {key for keys_ in STEP_KEYS.values() for key in keys_}


def test_a_correction_that_says_the_meeting_planned_tiltak_moves_the_step_on() -> None:
    story = on_level_3()
    meeting = story.meet(plans_tiltak=False)
    assert position(story.case).step_key == "n3.prepare"
    story.add(EntryCorrected, actor=RECTOR, corrects=meeting.event_id,
              fields={"plans_tiltak": True}, why="Møtet la en plan; feil i føringen.")
    assert position(story.case) == Position(3, 2, "n3.plan")


def test_a_case_not_yet_begun_stands_at_the_first_step() -> None:
    assert position(Case(id=uuid4())) == Position(0, 1, "n0.noticed")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_level_and_step_has_its_name_in_the_catalogue(language: str) -> None:
    names = catalogue()
    for level, keys in STEP_KEYS.items():
        for step, key in enumerate(keys, start=1):
            where = Position(level, step, key)
            assert names[where.catalogue_key][language].strip(), where
            assert names[where.level_key][language].strip(), where


def seed_001_step_names() -> dict[int, list[str]]:
    """Seed 001's step names per level, as docs/seed-review.md § 7 quotes them."""
    review = (Path(__file__).resolve().parent.parent / "docs" / "seed-review.md").read_text("utf-8")
    start = review.index("**001** (five numbered steps")
    block = review[start:review.index("**002**", start)]
    flat = " ".join(line.strip() for line in block.splitlines()[1:])
    return {
        int(level): [re.sub(r"^\d ", "", step.strip()) for step in steps.split(" · ")]
        for level, steps in re.findall(r"- N(\d) \*[^*]+\*: (.*?)(?= - N\d|$)", flat)
    }


def test_the_step_names_are_seed_001_s_own_words_in_bokmal_and_glossed_in_english() -> None:
    names = catalogue()
    seed = seed_001_step_names()
    assert sorted(seed) == sorted(STEP_KEYS)
    for level, step_keys in STEP_KEYS.items():
        for key, seed_name in zip(step_keys, seed[level], strict=True):
            nb, en = names[f"step.{key}"]["nb"], names[f"step.{key}"]["en"]
            assert seed_name.startswith(nb), (key, seed_name)  # 001 N3 5 adds "(new round …)"
            assert nb.split(" (")[0] in en, key
    assert names["step.n0.share"] == {"nb": "Del undringen", "en": "Share the undring (Del undringen)"}


# ---- what now? -------------------------------------------------------------------------------

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=OSLO)


@dataclass(frozen=True)
class Due:
    """A deadline as `what_now` reads it (the shape of ledger.policies.deadlines.Deadline)."""

    rule: str
    due_at: datetime
    state: str = "open"
    met_by: UUID | None = None
    basis_event_id: UUID | None = None


def keys(advice: list[Advice]) -> list[str]:
    return [a.key for a in advice]


def test_violence_suspected_comes_first_report_today_and_leave_the_guardians_out() -> None:
    story = LevelStory(violence_suspected=True, tracks=("skolemiljo",))
    advice = what_now(story.case)
    assert advice[0] == Advice("what_now.report_violence", {})
    assert "what_now.s12_innkalling" not in keys(advice)  # guardians are not involved (rule 3)
    assert render(advice[0], "nb").startswith("Meld saken til barnevernet i dag.")
    assert "Do not involve the guardians" in render(advice[0], "en")


def test_the_violence_advice_comes_before_even_an_overdue_deadline_and_is_not_said_twice() -> None:
    story = LevelStory(violence_suspected=True)
    overdue = [
        Due("share_with_leader", MONDAY + timedelta(days=2), "missed"),
        Due("report_to_barnevern", MONDAY.replace(hour=23, minute=59), "missed"),
    ]
    advice = what_now(story.case, overdue)
    assert keys(advice)[:2] == ["what_now.report_violence", "what_now.overdue"]
    assert advice[1].params["duty"] == Advice("deadline.share_with_leader", {})
    assert keys(advice).count("what_now.overdue") == 1


def test_once_reported_the_advice_is_to_keep_the_guardians_out() -> None:
    story = LevelStory(violence_suspected=True)
    story.add(ReportedToBarnevern, to="barnevern")
    advice = keys(what_now(story.case))
    assert "what_now.report_violence" not in advice
    assert "what_now.guardians_excluded" in advice
    assert "what_now.next.n0.concretise" not in advice


def test_while_violence_is_suspected_no_step_is_advised_that_involves_the_guardians() -> None:
    story = evaluated_on_level_1()
    story.add(TrackFlagged, flag="violence_suspected", reason="Blåmerker på armene.")
    story.add(ReportedToBarnevern, to="barnevern")
    assert position(story.case).step_key == "n1.evaluate"
    assert keys(what_now(story.case)) == ["what_now.guardians_excluded"]


def test_a_suspicion_set_again_after_it_was_lifted_needs_a_new_report() -> None:
    story = LevelStory(violence_suspected=True)
    story.add(ReportedToBarnevern, to="barnevern")
    story.add(FlagCleared, flag="violence_suspected", reason="Barnevernet har konkludert.")
    story.add(TrackFlagged, flag="violence_suspected", reason="Nye blåmerker.")
    assert keys(what_now(story.case))[0] == "what_now.report_violence"


def test_a_s12_case_without_innkalling_asks_for_it_and_for_rektor_to_be_told() -> None:
    story = LevelStory(tracks=("skolemiljo",))
    assert keys(what_now(story.case)) == [
        "what_now.s12_innkalling",
        "what_now.s12_investigate",
        "what_now.share_with_rektor",
    ]


def test_a_s12_case_with_the_guardians_invited_no_longer_asks_for_the_innkalling() -> None:
    story = LevelStory(tracks=("skolemiljo",)).share_with_leader().invite()
    assert keys(what_now(story.case)) == ["what_now.s12_investigate", "what_now.next.n0.share"]


def test_an_innkalling_to_the_child_alone_is_not_the_innkalling_of_the_guardians() -> None:
    story = LevelStory(tracks=("skolemiljo",)).share_with_leader().invite("child")
    assert keys(what_now(story.case))[0] == "what_now.s12_innkalling"


def test_a_s12_track_flagged_after_a_samtale_needs_a_new_innkalling() -> None:
    story = at_samtale_held()
    story.add(TrackFlagged, flag="skolemiljo", reason="Eleven sier han blir holdt utenfor.")
    assert "what_now.s12_innkalling" in keys(what_now(story.case))


def test_the_s12_innkalling_deadline_says_the_duty_with_its_date_in_place_of_the_plain_advice() -> None:
    story = LevelStory(tracks=("skolemiljo",)).share_with_leader()
    due = MONDAY + timedelta(weeks=1)
    advice = what_now(story.case, [Due("s12_innkalling", due)])
    assert advice[0] == Advice(
        "what_now.upcoming", {"due": due, "duty": Advice("deadline.s12_innkalling", {})}
    )
    assert "what_now.s12_innkalling" not in keys(advice)
    assert "what_now.next.n0.concretise" not in keys(advice)
    assert render(advice[0], "en") == (
        "Due 2026-03-09 09:00: Invite the guardians to a samtale (§ 12 case)."
    )


def test_overdue_deadlines_come_first_oldest_first_then_the_open_ones_soonest_first() -> None:
    story = at_samtale_held()
    story.plan("Samtalegruppe")
    deadlines = [
        Due("decision_level0", MONDAY + timedelta(weeks=2), "open"),
        Due("tiltak_evaluation", MONDAY + timedelta(days=20), "missed",
            basis_event_id=story.events[-1].event_id),
        Due("samtale_with_guardians", MONDAY + timedelta(days=1), "missed"),
        Due("share_with_leader", MONDAY + timedelta(days=2), "missed", met_by=uuid4()),
        Due("stalled_case", MONDAY + timedelta(weeks=8), "cancelled"),
        Due("consent_expiry", MONDAY + timedelta(weeks=5), "met"),
    ]
    advice = what_now(story.case, deadlines)
    assert [(a.key, a.params.get("due")) for a in advice] == [
        ("what_now.overdue", MONDAY + timedelta(days=1)),
        ("what_now.overdue", MONDAY + timedelta(days=20)),
        ("what_now.upcoming", MONDAY + timedelta(weeks=2)),
    ]
    assert advice[1].params["duty"] == Advice(
        "what_now.duty.tiltak_evaluation", {"tiltak": "Samtalegruppe"}
    )
    assert render(advice[1], "nb") == (
        "For sent (frist 2026-03-22 09:00): Evaluere tiltaket «Samtalegruppe»."
    )


def test_the_deadlines_the_ledger_computes_are_advised_as_they_are() -> None:
    story = LevelStory(tracks=("skolemiljo",)).share_with_leader()
    now = MONDAY + timedelta(days=10)
    computed = deadlines(story.events, load_rulebook("default"), now)
    advice = what_now(story.case, computed)
    assert advice[0].key == "what_now.overdue"
    assert advice[0].params["duty"] == Advice("deadline.s12_innkalling", {})


def test_a_pending_handover_says_who_the_case_is_waiting_for() -> None:
    story = on_level_1().propose(NEXT_SCHOOL_TEACHER)
    advice = what_now(story.case)
    assert Advice(
        "what_now.handover_waiting",
        {"person": "Unni Ungdomsskole", "service": "skole"},
    ) in advice
    assert render(advice[keys(advice).index("what_now.handover_waiting")], "en") == (
        "Waiting for Unni Ungdomsskole (skole) to accept the stafett. "
        "Until then the current stafettholder keeps it (rule 9)."
    )


def test_a_withdrawn_consent_asks_for_a_new_one_or_the_service_released() -> None:
    story = on_level_2()
    consent_id = next(iter(story.case.consents))
    story.withdraw(consent_id)
    advice = what_now(story.case)
    assert advice[0] == Advice("what_now.consent_lost", {"service": "ppt"})
    assert render(advice[0], "nb") == (
        "Samtykket som ppt er med i saken på, gjelder ikke lenger. "
        "Be om nytt samtykke, eller løs ppt fra saken (regel 4)."
    )


def test_an_expired_consent_is_seen_when_the_moment_is_given() -> None:
    story = evaluated_on_level_1()
    story.decide("level_up", 2)
    story.consent("ppt", valid_until=date(2026, 3, 31))
    story.add(ServiceInvolved, service="ppt", contact="Per PPT")
    story.add(LevelChanged, actor=RECTOR, from_level=1, to_level=2, reason="Som besluttet.")
    april = datetime(2026, 4, 1, 9, 0, tzinfo=OSLO)
    assert "what_now.consent_lost" not in keys(what_now(story.case))
    assert keys(what_now(story.case, at=april))[0] == "what_now.consent_lost"


def test_a_level_decided_but_not_made_says_so_and_nothing_about_the_step() -> None:
    story = evaluated_on_level_1().decide("level_up", 2)
    assert keys(what_now(story.case)) == ["what_now.pending_level"]
    assert what_now(story.case)[0].params == {"level": 2}


def test_a_decision_to_close_asks_for_the_closing_note_and_the_closing() -> None:
    story = at_samtale_held().decide("close")
    assert keys(what_now(story.case)) == ["what_now.close_case"]


def test_a_closed_case_asks_for_nothing_but_a_report_still_due() -> None:
    story = at_samtale_held().decide("close").close()
    assert what_now(story.case, [Due("stalled_case", MONDAY, "open")]) == []
    violent = LevelStory(violence_suspected=True).close()
    assert keys(what_now(violent.case)) == ["what_now.report_violence"]


@pytest.mark.parametrize(
    ("story", "expected"),
    [
        pytest.param(LevelStory, "what_now.share_with_leader", id="a new undring: share it"),
        pytest.param(lambda: LevelStory().share_with_leader(), "what_now.next.n0.concretise",
                     id="shared: invite to den nødvendige samtalen"),
        pytest.param(at_samtale_held, "what_now.next.n0.decide",
                     id="after the samtale: decide whether to go on"),
        pytest.param(on_level_1, "what_now.next.n1.concretise", id="on nivå 1: plan tiltak"),
        pytest.param(tiltak_started_on_level_1, "what_now.next.n1.start",
                     id="a tiltak running: evaluate it"),
        pytest.param(on_level_3, "what_now.next.n3.prepare",
                     id="on nivå 3: prepare the ressursteam"),
        pytest.param(planned_in_ressursteam, "what_now.next.n3.plan",
                     id="after the ressursteam: talk with the child within a week"),
    ],
)
def test_the_next_step_is_what_the_handlingsveileder_asks_for_there(
    story: Callable[[], LevelStory], expected: str
) -> None:
    assert keys(what_now(story().case))[-1] == expected


def test_every_advice_what_now_gives_has_a_text_in_bokmal_and_english() -> None:
    texts = catalogue()
    fixed = [
        "report_violence", "overdue", "upcoming", "duty.tiltak_evaluation", "consent_lost",
        "guardians_excluded", "s12_innkalling", "s12_investigate", "s42_investigate",
        "share_with_leader", "share_with_rektor", "handover_waiting", "pending_level",
        "close_case",
    ]
    steps = [f"next.{key}" for keys_ in STEP_KEYS.values() for key in keys_[:4]]
    for key in (f"what_now.{k}" for k in fixed + steps):
        assert all(texts.get(key, {}).get(language, "").strip() for language in LANGUAGES), key


def test_every_deadline_rule_has_a_label_to_be_advised_with() -> None:
    texts = catalogue()
    assert all(f"deadline.{rule}" in texts for rule in RULES)
