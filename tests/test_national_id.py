"""Stories of the child's identity number through the ledger: checked, sealed, found by HMAC."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import CaseLedger
from ledger.errors import InvalidInput, RuleViolation
from ledger.policies.identity import with_check_digits
from tests.cast import RECTOR, TEACHER, SetClock
from tests.test_read_access import OTHER_SCHOOL_TEACHER

FODSELSNUMMER = with_check_digits("150514" + "490")
D_NUMMER = with_check_digits("550514" + "490")


def register(ledger: CaseLedger, clock: SetClock, national_id: str | None) -> UUID:
    return ledger.register_undring(
        actor=TEACHER, child_ref="Elev-12", child_birth_date="2014-05-15", unit=TEACHER.unit,
        service=TEACHER.service, noticed_at=clock.now - timedelta(hours=1),
        observations="Sover i timene.", national_id=national_id,
    ).case_id


def test_a_case_is_found_by_the_childs_fodselsnummer(ledger: CaseLedger, clock: SetClock) -> None:
    assert FODSELSNUMMER is not None
    case_id = register(ledger, clock, FODSELSNUMMER)
    register(ledger, clock, None)
    assert ledger.find_case_by_national_id(FODSELSNUMMER) == [case_id]
    spaced = f"{FODSELSNUMMER[:6]} {FODSELSNUMMER[6:]}"
    assert ledger.find_case_by_national_id(spaced) == [case_id]
    assert ledger.history(case_id)[0].national_id == FODSELSNUMMER  # type: ignore[attr-defined]


def test_the_search_is_a_read_of_the_case_written_to_its_access_log(
    ledger: CaseLedger, clock: SetClock
) -> None:
    # That a child has a BTI case is itself about the child: a teacher of another school who
    # types the number learns nothing, and tilsyn sees in the case's log that she looked.
    assert FODSELSNUMMER is not None
    case_id = register(ledger, clock, FODSELSNUMMER)
    curious = ledger.reading_as(OTHER_SCHOOL_TEACHER, purpose="nysgjerrig")
    assert curious.find_case_by_national_id(FODSELSNUMMER) == []
    teacher = ledger.reading_as(TEACHER, purpose="finne saken")
    assert teacher.find_case_by_national_id(FODSELSNUMMER) == [case_id]
    entries = ledger.read_audit.entries(case_id)
    assert [(e.person, e.what, e.outcome, e.purpose) for e in entries] == [
        (OTHER_SCHOOL_TEACHER.person, "find", "refused", "nysgjerrig"),
        (TEACHER.person, "find", "allowed", "finne saken"),
    ]


def test_a_d_nummer_is_accepted_and_found(ledger: CaseLedger, clock: SetClock) -> None:
    assert D_NUMMER is not None
    case_id = register(ledger, clock, D_NUMMER)
    assert ledger.find_case_by_national_id(D_NUMMER) == [case_id]


def test_a_child_with_two_cases_is_found_in_both(ledger: CaseLedger, clock: SetClock) -> None:
    assert FODSELSNUMMER is not None
    first, second = register(ledger, clock, FODSELSNUMMER), register(ledger, clock, FODSELSNUMMER)
    assert ledger.find_case_by_national_id(FODSELSNUMMER) == sorted([first, second])


def test_a_number_with_a_wrong_check_digit_is_refused_naming_the_rule(
    ledger: CaseLedger, clock: SetClock
) -> None:
    assert FODSELSNUMMER is not None
    wrong = FODSELSNUMMER[:10] + str((int(FODSELSNUMMER[10]) + 1) % 10)
    with pytest.raises(RuleViolation, match=r"kontrollsifrene.*\[national_id_invalid\]"):
        register(ledger, clock, wrong)
    with pytest.raises(RuleViolation, match=r"11 sifre.*\[national_id_invalid\]"):
        register(ledger, clock, "1234")
    assert ledger.list_cases() == []
    with pytest.raises(InvalidInput, match="national_id_invalid"):
        ledger.find_case_by_national_id(wrong)


def test_an_unknown_number_finds_nothing(ledger: CaseLedger, clock: SetClock) -> None:
    register(ledger, clock, FODSELSNUMMER)
    other = with_check_digits("010107" + "501")
    assert other is not None
    assert ledger.find_case_by_national_id(other) == []


def test_listings_show_the_pseudonymous_reference_only(ledger: CaseLedger, clock: SetClock) -> None:
    assert FODSELSNUMMER is not None
    register(ledger, clock, FODSELSNUMMER)
    (summary,) = ledger.list_cases()
    assert summary.child_ref == "Elev-12"
    assert FODSELSNUMMER not in summary.model_dump_json()


def test_an_erased_case_is_not_found_by_the_number_any_more(
    ledger: CaseLedger, clock: SetClock
) -> None:
    assert FODSELSNUMMER is not None
    case_id = register(ledger, clock, FODSELSNUMMER)
    ledger.close_case(case_id, actor=RECTOR, reason="Feilregistrert.", closing_note="Ingen uro.")
    clock.advance(days=10 * 366)
    ledger.erase_case(case_id, actor=RECTOR, reason="Oppbevaringstiden er ute.")
    assert ledger.find_case_by_national_id(FODSELSNUMMER) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(digits=st.text(alphabet="0123456789 ", min_size=0, max_size=14))
def test_any_typed_number_is_found_or_refused_never_a_crash(
    ledger: CaseLedger, digits: str
) -> None:
    try:
        found = ledger.find_case_by_national_id(digits)
    except InvalidInput:
        return
    assert found == []
