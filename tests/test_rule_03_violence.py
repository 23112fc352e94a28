"""Rule 3: while violence, abuse or serious neglect is suspected, guardians are not involved.

000 Nivå 0 Trinn 3: "Ved mistanke om vold/overgrep skal ikke foresatte involveres";
001: "De foresatte blir ikke involvert"; 004: a report to barnevern is made "uavhengig av om
foreldrene samtykker".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from ledger import messages
from ledger.application import CaseLedger
from ledger.errors import RuleViolation
from ledger.events import ConsentWithdrawn, ReportedToBarnevern, SamtaleHeld, SamtaleInvited
from tests.cast import HEALTH_NURSE, RECTOR, TEACHER, SetClock
from tests.stories import (
    Reopen,
    give_consent,
    read_history,
    register_undring,
    register_violence_undring,
)

GUARDIANS_EXCLUDED_NB = (
    "Ved mistanke om vold, overgrep eller alvorlig omsorgssvikt skal de foresatte ikke "
    "involveres. Meld til barnevernet eller politiet (regel 3; 000, 001: «De foresatte blir "
    "ikke involvert»). [guardians_excluded_violence]"
)


@pytest.fixture
def english() -> Iterator[None]:
    """Messages in English for one test; bokmål again afterwards, whatever happens."""
    messages.set_language("en")
    try:
        yield
    finally:
        messages.set_language("nb")


def flag_violence(ledger: CaseLedger, clock: SetClock, case_id: UUID) -> None:
    """The child tells the teacher what happens at home: violence is suspected from now."""
    clock.advance(days=2)
    ledger.flag_track(
        case_id,
        actor=TEACHER,
        flag="violence_suspected",
        reason="Eleven forteller at pappa slår når han er sint.",
    )


def test_guardians_cannot_be_invited_to_a_samtale_while_violence_is_suspected(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_violence_undring(ledger, clock)
    before = read_history(reopen, case_id)
    clock.advance(hours=1)
    with pytest.raises(RuleViolation) as caught:
        ledger.invite_to_samtale(
            case_id,
            actor=TEACHER,
            with_whom=["guardians", "child"],
            planned_at=clock.now + timedelta(days=2),
        )
    assert caught.value.code == "guardians_excluded_violence"
    assert str(caught.value) == GUARDIANS_EXCLUDED_NB
    assert read_history(reopen, case_id) == before


def test_the_refusal_to_involve_guardians_reads_in_english_when_english_is_chosen(
    ledger: CaseLedger, clock: SetClock, english: None
) -> None:
    case_id = register_violence_undring(ledger, clock)
    with pytest.raises(RuleViolation) as caught:
        ledger.invite_to_samtale(
            case_id, actor=TEACHER, with_whom=["guardians"], planned_at=clock.now
        )
    assert str(caught.value) == (
        "When violence, abuse or serious neglect is suspected, the guardians are not "
        "involved. Report to barnevern or the police (rule 3; seeds 000, 001). "
        "[guardians_excluded_violence]"
    )


def test_a_samtale_with_guardians_cannot_be_recorded_as_held_while_violence_is_suspected(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_violence_undring(ledger, clock)
    before = read_history(reopen, case_id)
    clock.advance(hours=3)
    with pytest.raises(RuleViolation) as caught:
        ledger.hold_samtale(
            case_id,
            actor=TEACHER,
            participants=["guardians"],
            summary="Mor sier at blåmerkene er fra håndballtreningen.",
        )
    assert caught.value.code == "guardians_excluded_violence"
    assert read_history(reopen, case_id) == before


def test_guardians_cannot_give_consent_while_violence_is_suspected(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_violence_undring(ledger, clock)
    before = read_history(reopen, case_id)
    clock.advance(hours=2)
    with pytest.raises(RuleViolation) as caught:
        give_consent(ledger, case_id, "helsestasjon")
    assert caught.value.code == "guardians_excluded_violence"
    assert read_history(reopen, case_id) == before


def test_a_refusal_of_consent_by_guardians_is_not_recorded_while_violence_is_suspected(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_violence_undring(ledger, clock)
    before = read_history(reopen, case_id)
    clock.advance(hours=2)
    with pytest.raises(RuleViolation) as caught:
        ledger.refuse_consent(
            case_id,
            actor=TEACHER,
            refused_by="guardians",
            services=["helsestasjon"],
            purpose="Helsesykepleier snakker med eleven.",
        )
    assert caught.value.code == "guardians_excluded_violence"
    assert read_history(reopen, case_id) == before


def test_a_violence_suspicion_flagged_after_registration_keeps_guardians_out(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    flag_violence(ledger, clock, case_id)
    before = read_history(reopen, case_id)
    clock.advance(hours=1)
    with pytest.raises(RuleViolation) as caught:
        ledger.invite_to_samtale(
            case_id, actor=TEACHER, with_whom=["guardians"], planned_at=clock.now
        )
    assert caught.value.code == "guardians_excluded_violence"
    assert read_history(reopen, case_id) == before


def test_a_samtale_with_only_the_child_is_held_while_violence_is_suspected(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_violence_undring(ledger, clock)
    clock.advance(minutes=30)
    held = ledger.hold_samtale(
        case_id,
        actor=TEACHER,
        participants=["child"],
        child_view="Vil ikke hjem i dag; vil bo hos mormor.",
        summary="Samtale med eleven alene på grupperommet.",
    )
    history = read_history(reopen, case_id)
    assert history[-1] == held
    assert isinstance(held, SamtaleHeld)
    assert held.participants == ("child",)


def test_a_report_to_barnevern_needs_no_consent_even_from_another_service(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_violence_undring(ledger, clock)
    clock.advance(minutes=20)
    reported = ledger.report_to_barnevern(
        case_id, actor=HEALTH_NURSE, to="barnevern", reference="Bekymringsmelding 2026-114"
    )
    with reopen() as again:
        assert again.history(case_id)[-1] == reported
        assert isinstance(reported, ReportedToBarnevern)
        assert again.summary(case_id).consents_in_force == ()


def test_guardians_may_be_invited_again_once_the_flag_is_cleared(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_violence_undring(ledger, clock)
    ledger.report_to_barnevern(case_id, actor=RECTOR, to="barnevern")
    clock.advance(weeks=3)
    ledger.clear_flag(
        case_id,
        actor=RECTOR,
        flag="violence_suspected",
        reason="Barneverntjenesten har avsluttet undersøkelsen uten funn av vold.",
    )
    invited = ledger.invite_to_samtale(
        case_id,
        actor=TEACHER,
        with_whom=["guardians", "child"],
        planned_at=clock.now + timedelta(days=2),
    )
    with reopen() as again:
        assert again.history(case_id)[-1] == invited
        assert isinstance(invited, SamtaleInvited)
        assert again.summary(case_id).violence_suspected is False


def test_guardians_may_still_withdraw_a_consent_while_violence_is_suspected(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    consent_id = give_consent(ledger, case_id, "helsestasjon")
    flag_violence(ledger, clock, case_id)
    clock.advance(hours=4)
    withdrawn = ledger.withdraw_consent(
        case_id, actor=TEACHER, consent_id=consent_id, withdrawn_by="guardians"
    )
    with reopen() as again:
        assert again.history(case_id)[-1] == withdrawn
        assert isinstance(withdrawn, ConsentWithdrawn)
        assert again.summary(case_id).consents_in_force == ()


def test_a_correction_cannot_add_guardians_to_a_samtale_while_violence_is_suspected(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_violence_undring(ledger, clock)
    clock.advance(minutes=30)
    held = ledger.hold_samtale(
        case_id, actor=TEACHER, participants=["child"], summary="Samtale med eleven alene."
    )
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ledger.correct_entry(
            case_id,
            actor=TEACHER,
            corrects=held.event_id,
            fields={"participants": ["guardians", "child"]},
            why="Mor var også med.",
        )
    assert caught.value.code == "guardians_excluded_violence"
    assert read_history(reopen, case_id) == before
