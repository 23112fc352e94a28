"""Rule 9: a stafett handover is proposed by the holder or the leader, answered by the person
proposed; until it is accepted the old holder keeps the baton (001 Nivå 1 steg 2; 003).

On nivå 0 the person who registered the undring holds the case (000: "det er DU som eier
uroen"): here Kari Lærer.
"""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.application import CaseLedger
from ledger.errors import RuleViolation
from ledger.events import Actor
from tests.cast import HEALTH_NURSE, RECTOR, SPECIAL_TEACHER, TEACHER, SetClock
from tests.stories import Reopen, bring_in, read_history, read_summary, register_undring

OTHER_SCHOOLS_RECTOR = Actor(
    person="Ola Rektor", role="leader", service="skole", unit="Bakken skole"
)


def propose_to_special_teacher(ledger: CaseLedger, case_id: UUID, by: Actor = TEACHER) -> None:
    """The special-needs teacher is to hold the stafett from now on."""
    ledger.propose_handover(
        case_id, actor=by, to_person=SPECIAL_TEACHER.person, to_service=SPECIAL_TEACHER.service
    )


def test_the_holder_proposes_a_handover_and_the_proposed_person_accepts_it(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    propose_to_special_teacher(ledger, case_id)
    clock.advance(days=1)
    accepted = ledger.accept_handover(case_id, actor=SPECIAL_TEACHER)
    with reopen() as again:
        assert again.history(case_id)[-1] == accepted
        summary = again.summary(case_id)
        assert (summary.holder, summary.pending_handover_to) == (SPECIAL_TEACHER.person, None)


def test_the_leader_proposes_a_handover(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    propose_to_special_teacher(ledger, case_id, by=RECTOR)
    assert read_summary(reopen, case_id).pending_handover_to == SPECIAL_TEACHER.person


def test_someone_who_neither_holds_nor_leads_cannot_propose_a_handover(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        propose_to_special_teacher(ledger, case_id, by=SPECIAL_TEACHER)
    assert caught.value.code == "handover_not_allowed"
    assert str(caught.value) == (
        "Sigrid Spes kan ikke foreslå å overlevere stafetten; det gjør stafettholderen "
        "(Kari Lærer) eller lederen (regel 9). [handover_not_allowed]"
    )
    assert read_history(reopen, case_id) == before


def test_only_the_proposed_person_can_accept_the_handover(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    propose_to_special_teacher(ledger, case_id)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ledger.accept_handover(case_id, actor=RECTOR)
    assert caught.value.code == "handover_not_yours"
    assert str(caught.value) == (
        "Bare Sigrid Spes, som overleveringen er foreslått til, kan ta imot eller avslå den "
        "(regel 9). [handover_not_yours]"
    )
    assert read_history(reopen, case_id) == before


def test_only_the_proposed_person_can_decline_the_handover(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    propose_to_special_teacher(ledger, case_id)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ledger.decline_handover(case_id, actor=TEACHER, reason="Jeg vil heller beholde den.")
    assert caught.value.code == "handover_not_yours"
    assert read_history(reopen, case_id) == before


def test_until_the_handover_is_accepted_the_old_holder_keeps_the_baton(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    propose_to_special_teacher(ledger, case_id)
    summary = read_summary(reopen, case_id)
    assert summary.holder == TEACHER.person
    assert summary.pending_handover_to == SPECIAL_TEACHER.person


def test_a_declined_handover_leaves_the_old_holder_with_the_baton(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    propose_to_special_teacher(ledger, case_id)
    clock.advance(days=2)
    declined = ledger.decline_handover(
        case_id, actor=SPECIAL_TEACHER, reason="Har fem stafetter fra før; ta det opp med rektor."
    )
    with reopen() as again:
        assert again.history(case_id)[-1] == declined
        summary = again.summary(case_id)
        assert (summary.holder, summary.pending_handover_to) == (TEACHER.person, None)


def test_a_handover_to_another_service_needs_a_consent_that_covers_it(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ledger.propose_handover(
            case_id, actor=TEACHER, to_person=HEALTH_NURSE.person, to_service="helsestasjon"
        )
    assert caught.value.code == "consent_required"
    assert caught.value.params == {"service": "helsestasjon"}
    assert read_history(reopen, case_id) == before


def test_the_health_nurse_takes_the_baton_under_a_consent(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    bring_in(ledger, case_id, "helsestasjon")
    ledger.propose_handover(
        case_id, actor=TEACHER, to_person=HEALTH_NURSE.person, to_service="helsestasjon"
    )
    clock.advance(days=1)
    ledger.accept_handover(case_id, actor=HEALTH_NURSE)
    summary = read_summary(reopen, case_id)
    assert (summary.holder, summary.holder_service) == (HEALTH_NURSE.person, "helsestasjon")


def test_the_rektor_of_another_school_cannot_propose_a_handover(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        propose_to_special_teacher(ledger, case_id, by=OTHER_SCHOOLS_RECTOR)
    assert caught.value.code == "other_unit"
    assert read_history(reopen, case_id) == before
