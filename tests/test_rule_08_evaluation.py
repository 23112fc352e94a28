"""Rule 8: an evaluation names tiltak of the case and records the child's view or why not.

000 Nivå 0 Trinn 3, 001: "Barnet har rett til å si sin mening i alt som vedkommer det, og
barnets meninger skal vektlegges."
"""

from __future__ import annotations

from uuid import uuid4

import pytest

from ledger.application import CaseLedger
from ledger.errors import RuleViolation
from ledger.events import EvaluationRecorded
from tests.cast import TEACHER, SetClock
from tests.stories import Reopen, plan_tiltak, read_history, register_s12_undring


def test_an_evaluation_of_a_tiltak_that_is_not_in_the_case_is_refused(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    plan_tiltak(ledger, case_id, clock)
    clock.advance(weeks=3)
    before = read_history(reopen, case_id)
    never_planned = uuid4()
    with pytest.raises(RuleViolation) as caught:
        ledger.record_evaluation(
            case_id,
            actor=TEACHER,
            tiltak_ids=[never_planned],
            outcome="goal_reached",
            child_view="Friminuttene er fine nå.",
        )
    assert caught.value.code == "tiltak_unknown"
    assert caught.value.params == {"tiltak": never_planned}
    assert read_history(reopen, case_id) == before


def test_a_tiltak_of_another_case_cannot_be_evaluated_in_this_one(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    other_case = register_s12_undring(ledger, clock)
    other_tiltak = plan_tiltak(ledger, other_case, clock)
    clock.advance(weeks=3)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ledger.record_evaluation(
            case_id,
            actor=TEACHER,
            tiltak_ids=[other_tiltak],
            outcome="no_effect",
            child_view="Det er like ille.",
        )
    assert caught.value.code == "tiltak_unknown"
    assert read_history(reopen, case_id) == before


def test_an_evaluation_without_the_childs_view_or_why_it_is_missing_is_refused(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    tiltak_id = plan_tiltak(ledger, case_id, clock)
    clock.advance(weeks=3)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ledger.record_evaluation(
            case_id,
            actor=TEACHER,
            tiltak_ids=[tiltak_id],
            outcome="effect_not_there_yet",
            guardians_view="Foresatte merker at han gruer seg mindre om morgenen.",
        )
    assert caught.value.code == "child_view_missing"
    assert str(caught.value) == (
        "Evalueringen må ta med barnets mening, eller hvorfor den ikke ble innhentet "
        "(regel 8; 000, 001: «barnets meninger skal vektlegges»). [child_view_missing]"
    )
    assert read_history(reopen, case_id) == before


def test_an_evaluation_with_the_childs_view_is_stored(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    tiltak_id = plan_tiltak(ledger, case_id, clock)
    clock.advance(weeks=3)
    evaluated = ledger.record_evaluation(
        case_id,
        actor=TEACHER,
        tiltak_ids=[tiltak_id],
        outcome="goal_reached",
        child_view="Jeg er med på fotballen nå, og det er gøy.",
        guardians_view="Han vil gjerne på skolen igjen.",
    )
    with reopen() as again:
        assert again.history(case_id)[-1] == evaluated
        assert again.case(case_id).tiltak[tiltak_id].evaluations == 1


def test_an_evaluation_that_says_why_the_childs_view_was_not_obtained_is_stored(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    tiltak_id = plan_tiltak(ledger, case_id, clock)
    clock.advance(weeks=3)
    evaluated = ledger.record_evaluation(
        case_id,
        actor=TEACHER,
        tiltak_ids=[tiltak_id],
        outcome="effect_not_there_yet",
        child_view_missing_reason="Eleven ønsket ikke å snakke om det nå; vi spør igjen neste uke.",
    )
    history = read_history(reopen, case_id)
    assert history[-1] == evaluated
    assert isinstance(evaluated, EvaluationRecorded)
    assert evaluated.child_view is None
