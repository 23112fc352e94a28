"""Rule 4: consent before other services.

Involving a service other than the case's own, and any event by a person of that service,
needs an active consent that covers it (000 Nivå 1 Trinn 4; 002 "stafettloggtilgang …
etter samtykke"). Anonymous consultation needs none. After withdrawal the service loses
access at once, and the case shows that it relies on a consent that is gone.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from ledger.application import CaseLedger
from ledger.errors import RuleViolation
from ledger.events import AnonymousConsultationHeld, MeetingHeld, ServiceInvolved
from ledger.policies.calendar import local_date
from tests.cast import HEALTH_NURSE, PPT_ADVISER, TEACHER, SetClock
from tests.stories import (
    Reopen,
    bring_in,
    give_consent,
    involve,
    read_history,
    read_summary,
    register_undring,
)


def ppt_observes_in_class(ledger: CaseLedger, case_id: UUID, **kw: object) -> MeetingHeld:
    """Per PPT meets the contact teacher after observing the pupil in class."""
    event = ledger.hold_meeting(
        case_id,
        actor=PPT_ADVISER,
        kind="stafettmote",
        participants=[PPT_ADVISER.person, TEACHER.person],
        summary="Per PPT observerte eleven i norsktimen; eleven trenger kortere økter.",
        **kw,
    )
    assert isinstance(event, MeetingHeld)
    return event


def test_ppt_cannot_be_involved_without_a_consent(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    before = read_history(reopen, case_id)
    clock.advance(days=3)
    with pytest.raises(RuleViolation) as caught:
        involve(ledger, case_id, "ppt")
    assert caught.value.code == "consent_required"
    assert str(caught.value) == (
        "Tjenesten ppt kan ikke være med i saken uten et gyldig samtykke som omfatter den. "
        "Innhent samtykke først, eller drøft saken anonymt (regel 4; 000 nivå 1 trinn 4, 002). "
        "[consent_required]"
    )
    assert read_history(reopen, case_id) == before


def test_ppt_is_involved_under_a_consent_that_covers_ppt(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(days=3)
    consent_id = give_consent(ledger, case_id, "ppt")
    involved = involve(ledger, case_id, "ppt")
    with reopen() as again:
        assert again.history(case_id)[-1] == involved
        assert isinstance(involved, ServiceInvolved)
        assert involved.consent_id is None
        assert again.case(case_id).services_involved == {"ppt": consent_id}
        assert again.summary(case_id).services_involved == ("ppt",)


def test_a_consent_for_the_health_station_does_not_let_ppt_in(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(days=3)
    give_consent(ledger, case_id, "helsestasjon")
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        involve(ledger, case_id, "ppt")
    assert caught.value.code == "consent_required"
    assert caught.value.params == {"service": "ppt"}
    assert read_history(reopen, case_id) == before


def test_a_ppt_adviser_cannot_record_anything_on_the_case_without_a_consent(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    before = read_history(reopen, case_id)
    clock.advance(days=5)
    with pytest.raises(RuleViolation) as caught:
        ppt_observes_in_class(ledger, case_id)
    assert caught.value.code == "consent_required"
    assert caught.value.params == {"service": "ppt", "person": "Per PPT"}
    assert read_history(reopen, case_id) == before


def test_a_ppt_adviser_records_on_the_case_under_a_consent_that_covers_ppt(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(days=3)
    bring_in(ledger, case_id, "ppt")
    clock.advance(days=7)
    meeting = ppt_observes_in_class(ledger, case_id)
    assert read_history(reopen, case_id)[-1] == meeting


def test_withdrawing_a_consent_for_ppt_alone_leaves_the_health_station_covered(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(days=3)
    consent_id = bring_in(ledger, case_id, "ppt", "helsestasjon")
    clock.advance(weeks=2)
    ledger.withdraw_consent(
        case_id, actor=TEACHER, consent_id=consent_id, withdrawn_by="guardians", services=["ppt"]
    )
    clock.advance(hours=1)
    nurse_talk = ledger.hold_child_conversation(
        case_id,
        actor=HEALTH_NURSE,
        trusted_adult=HEALTH_NURSE.person,
        summary="Snakket med eleven om søvn og mat; ny time om to uker.",
    )
    with reopen() as again:
        assert again.history(case_id)[-1] == nurse_talk
        summary = again.summary(case_id)
        assert [c.services for c in summary.consents_in_force] == [("helsestasjon",)]
        assert summary.services_relying_on_lost_consent == ("ppt",)


def test_after_withdrawal_the_ppt_adviser_is_refused_at_once_and_the_case_shows_it(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(days=3)
    consent_id = bring_in(ledger, case_id, "ppt")
    clock.advance(weeks=2)
    ledger.withdraw_consent(case_id, actor=TEACHER, consent_id=consent_id, withdrawn_by="guardians")
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ppt_observes_in_class(ledger, case_id)
    assert caught.value.code == "consent_withdrawn"
    assert read_history(reopen, case_id) == before
    summary = read_summary(reopen, case_id)
    assert summary.services_involved == ("ppt",)
    assert summary.services_relying_on_lost_consent == ("ppt",)
    assert summary.consents_in_force == ()


def test_an_expired_consent_no_longer_lets_ppt_record_and_the_case_shows_it(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(days=3)
    valid_until = local_date(clock.now) + timedelta(weeks=4)
    give_consent(ledger, case_id, "ppt", valid_until=valid_until)
    involve(ledger, case_id, "ppt")
    clock.advance(weeks=4)
    assert local_date(clock.now) == valid_until
    on_the_last_day = ppt_observes_in_class(ledger, case_id)
    clock.advance(days=1)
    before = read_history(reopen, case_id)
    assert before[-1] == on_the_last_day
    with pytest.raises(RuleViolation) as caught:
        ppt_observes_in_class(ledger, case_id)
    assert caught.value.code == "consent_expired"
    assert read_history(reopen, case_id) == before
    assert read_summary(reopen, case_id).services_relying_on_lost_consent == ("ppt",)


def test_an_anonymous_consultation_with_ppt_needs_no_consent_and_involves_no_one(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(days=2)
    consulted = ledger.hold_anonymous_consultation(
        case_id,
        actor=TEACHER,
        with_service="ppt",
        guardians_told=False,
        summary="Drøftet en elev på 6. trinn uten navn med PPT: forslag om kartlegging.",
    )
    with reopen() as again:
        assert again.history(case_id)[-1] == consulted
        assert isinstance(consulted, AnonymousConsultationHeld)
        summary = again.summary(case_id)
        assert summary.services_involved == ()
        assert summary.consents_in_force == ()


def test_after_withdrawal_the_ppt_adviser_cannot_write_by_dating_the_event_earlier(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(days=3)
    consent_id = bring_in(ledger, case_id, "ppt")
    clock.advance(weeks=2)
    while_it_stood = clock.now
    clock.advance(hours=2)
    ledger.withdraw_consent(case_id, actor=TEACHER, consent_id=consent_id, withdrawn_by="guardians")
    clock.advance(hours=1)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ppt_observes_in_class(ledger, case_id, occurred_at=while_it_stood)
    assert caught.value.code == "consent_withdrawn"
    assert read_history(reopen, case_id) == before
