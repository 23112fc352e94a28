"""Rule 7: a § 12-sak's tiltak plan states all five elements of opplæringslova § 12-4.

000: "I planen skal det stå 1. Hva slags problem tiltaket skal løse 2. Hvilke tiltak skolen
har planlagt 3. Når tiltaka skal gjennomføres 4. Hvem som skal gjennomføre tiltakene
5. Når tiltakene skal evalueres". A plan missing one is refused with the element named.
"""

from __future__ import annotations

import pytest

from ledger.application import CaseLedger
from ledger.errors import InvalidInput, RuleViolation
from ledger.events import TiltakPlanned
from ledger.messages import text
from tests.cast import TEACHER, SetClock
from tests.stories import Reopen, read_history, register_s12_undring, register_undring, s12_plan

ELEMENT_OF_FIELD = {
    "problem": "problem",
    "starts_at": "when",
    "responsible": "who",
    "evaluate_by": "evaluation",
}
"""The § 12-4 elements the ledger's rule checks, by the field that carries each."""


@pytest.mark.parametrize("left_out", list(ELEMENT_OF_FIELD))
def test_a_s12_plan_missing_an_element_is_refused_with_the_element_named(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen, left_out: str
) -> None:
    case_id = register_s12_undring(ledger, clock)
    before = read_history(reopen, case_id)
    clock.advance(days=2)
    plan = s12_plan(clock)
    del plan[left_out]
    with pytest.raises(RuleViolation) as caught:
        ledger.plan_tiltak(case_id, actor=TEACHER, **plan)
    assert caught.value.code == "plan_missing_element"
    element = text(f"plan_element.{ELEMENT_OF_FIELD[left_out]}")
    assert f"«{element}»" in caught.value.message
    assert caught.value.params["field"] == left_out
    assert read_history(reopen, case_id) == before


def test_a_s12_plan_that_does_not_say_which_tiltak_is_refused_naming_the_field(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    # The second element, the tiltak itself, is its `description`: every tiltak must have
    # one, so the event's shape refuses it before rule 7 is asked.
    case_id = register_s12_undring(ledger, clock)
    before = read_history(reopen, case_id)
    clock.advance(days=2)
    plan = s12_plan(clock)
    del plan["description"]
    with pytest.raises(InvalidInput) as caught:
        ledger.plan_tiltak(case_id, actor=TEACHER, **plan)
    assert caught.value.code == "invalid_field"
    assert caught.value.params["field"] == "description"
    assert read_history(reopen, case_id) == before


def test_the_refusal_of_a_plan_without_its_problem_says_what_the_plan_must_state(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    clock.advance(days=2)
    plan = s12_plan(clock)
    del plan["problem"]
    with pytest.raises(RuleViolation) as caught:
        ledger.plan_tiltak(case_id, actor=TEACHER, **plan)
    assert str(caught.value) == (
        "Tiltaksplanen i en § 12-sak mangler «hvilket problem tiltaket skal løse». Planen skal "
        "si hvilket problem tiltaket skal løse, hvilket tiltak, når det gjennomføres, hvem som "
        "gjennomfører det og når det evalueres (regel 7; 000 opplæringslova § 12-4). "
        "[plan_missing_element]"
    )


def test_a_s12_plan_with_all_five_elements_is_stored(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    clock.advance(days=2)
    planned = ledger.plan_tiltak(case_id, actor=TEACHER, **s12_plan(clock))
    with reopen() as again:
        assert again.history(case_id)[-1] == planned
        assert isinstance(planned, TiltakPlanned)
        assert [t.tiltak_id for t in again.summary(case_id).open_tiltak] == [planned.tiltak_id]


def test_a_tiltak_outside_a_s12_case_may_leave_out_the_s12_elements(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    planned = ledger.plan_tiltak(
        case_id,
        actor=TEACHER,
        description="Eleven får frokost på skolen de tre første dagene i uka.",
        goal="Eleven orker å følge med i de første timene.",
    )
    assert read_history(reopen, case_id)[-1] == planned


def test_a_case_flagged_as_s12_after_registration_needs_the_full_plan(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(days=1)
    ledger.flag_track(
        case_id,
        actor=TEACHER,
        flag="skolemiljo",
        reason="Eleven forteller at noen i klassen kaller ham «matpakkeløs» hver dag.",
    )
    before = read_history(reopen, case_id)
    plan = s12_plan(clock)
    del plan["evaluate_by"]
    with pytest.raises(RuleViolation) as caught:
        ledger.plan_tiltak(case_id, actor=TEACHER, **plan)
    assert caught.value.code == "plan_missing_element"
    assert caught.value.params["field"] == "evaluate_by"
    assert read_history(reopen, case_id) == before
