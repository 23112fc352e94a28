"""Rule 1: no event on an unknown case; none on a closed case except CaseReopened and EntryCorrected."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from ledger.application import CaseLedger
from ledger.errors import LedgerError, RuleViolation
from ledger.events import (
    CaseClosed,
    CaseEvent,
    CaseReopened,
    EntryCorrected,
    SharedWithLeader,
)
from tests.cast import RECTOR, TEACHER, SetClock
from tests.stories import Reopen, read_history, register_s12_undring, register_undring


def close_after_samtale(ledger: CaseLedger, clock: SetClock, case_id: UUID) -> CaseEvent:
    """The samtale showed no further concern: the rektor closes the case (001 Nivå 0 steg 5)."""
    clock.advance(days=6)
    ledger.hold_samtale(
        case_id,
        actor=TEACHER,
        participants=["guardians", "child"],
        child_view="Sier at det har blitt bedre etter at hun begynte på fotball.",
        summary="Foresatte kjenner seg igjen; det var en vanskelig periode som har gått over.",
    )
    clock.advance(days=1)
    return ledger.close_case(
        case_id,
        actor=RECTOR,
        reason="Ingen grunn til videre oppfølging etter samtalen.",
        closing_note="Takket foresatte og eleven; de er velkomne tilbake om noe skulle skje.",
    )


def test_nothing_can_be_recorded_on_a_case_that_was_never_registered(
    ledger: CaseLedger, reopen: Reopen
) -> None:
    never_registered = uuid4()
    with pytest.raises(RuleViolation) as caught:
        ledger.share_with_leader(
            never_registered, actor=TEACHER, leader=RECTOR.person, how="på teamrommet"
        )
    assert caught.value.code == "case_unknown"
    assert str(caught.value) == (
        f"Det finnes ingen sak med id {never_registered}. En sak begynner når en undring "
        "registreres (regel 1). [case_unknown]"
    )
    with reopen() as again:
        assert again.list_cases() == []
        with pytest.raises(LedgerError) as unknown:
            again.history(never_registered)
        assert unknown.value.code == "case_unknown"


def test_an_undring_cannot_be_registered_twice_with_the_same_case_id(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    before = read_history(reopen, case_id)
    clock.advance(hours=2)
    with pytest.raises(RuleViolation) as caught:
        ledger.register_undring(
            case_id=case_id,
            actor=TEACHER,
            child_ref="Elev-18",
            child_birth_date="2014-08-12",
            unit=TEACHER.unit,
            service="skole",
            noticed_at=clock.now,
            observations="Sitter alene i kantina.",
        )
    assert caught.value.code == "case_exists"
    assert read_history(reopen, case_id) == before


def test_a_closed_case_refuses_new_events(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    close_after_samtale(ledger, clock, case_id)
    before = read_history(reopen, case_id)
    clock.advance(days=3)
    with pytest.raises(RuleViolation) as caught:
        ledger.log_bright_spot(
            case_id, actor=TEACHER, observation="Lo høyt sammen med klassen i gymtimen."
        )
    assert caught.value.code == "case_closed"
    assert str(caught.value) == (
        f"Saken {case_id} er avsluttet. Gjenåpne saken før noe nytt føres, eller før en "
        "rettelse (regel 1). [case_closed]"
    )
    assert read_history(reopen, case_id) == before


def test_a_closed_case_can_be_reopened_and_then_takes_new_events(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    close_after_samtale(ledger, clock, case_id)
    clock.advance(weeks=5)
    reopened = ledger.reopen_case(
        case_id,
        actor=RECTOR,
        reason="Kontaktlæreren ser de samme tegnene igjen etter vinterferien.",
    )
    shared = ledger.share_with_leader(case_id, actor=TEACHER, leader=RECTOR.person, how="i møte")
    with reopen() as again:
        assert again.history(case_id)[-2:] == [reopened, shared]
        assert isinstance(reopened, CaseReopened)
        assert isinstance(shared, SharedWithLeader)
        assert again.summary(case_id).status == "open"


def test_a_closed_case_accepts_a_correction_and_stays_closed(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    closed = close_after_samtale(ledger, clock, case_id)
    clock.advance(days=1)
    corrected = ledger.correct_entry(
        case_id,
        actor=RECTOR,
        corrects=closed.event_id,
        fields={"closing_note": "Takket foresatte og eleven; ny samtale tilbys før sommeren."},
        why="Avslutningsnotatet manglet avtalen om en ny samtale.",
    )
    with reopen() as again:
        history = again.history(case_id)
        assert history[-2:] == [closed, corrected]
        assert isinstance(corrected, EntryCorrected)
        assert isinstance(closed, CaseClosed)
        assert again.summary(case_id).status == "closed"


def test_an_open_case_cannot_be_reopened(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    before = read_history(reopen, case_id)
    clock.advance(hours=1)
    with pytest.raises(RuleViolation) as caught:
        ledger.reopen_case(case_id, actor=RECTOR, reason="Ny uro.")
    assert caught.value.code == "case_not_closed"
    assert read_history(reopen, case_id) == before
