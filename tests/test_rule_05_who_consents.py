"""Rule 5: guardians consent; a youth consents alone from the rulebook's self-consent age.

No seed gives the age; the default rulebook says 16 (pasient- og brukerrettighetsloven
§ 4-3). The age is judged from the child's birth date on the day the consent is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.application import CaseLedger
from ledger.errors import RuleViolation
from ledger.events import ConsentGiven
from tests.cast import SetClock
from tests.stories import (
    Reopen,
    birth_date_turning,
    give_consent,
    ledger_with_rulebook,
    read_history,
    register_youth_undring,
)


def test_a_fifteen_year_old_cannot_consent_alone_under_the_default_rulebook(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_youth_undring(ledger, clock, birth_date_turning(clock, 16, in_days=1))
    before = read_history(reopen, case_id)
    clock.advance(hours=2)
    with pytest.raises(RuleViolation) as caught:
        give_consent(ledger, case_id, "helsestasjon", given_by="child")
    assert caught.value.code == "consent_child_too_young"
    assert str(caught.value) == (
        "Barnet er 15 år. Barnet kan selv samtykke fra 16 år; ellers er det de foresatte som "
        "samtykker (regel 5). [consent_child_too_young]"
    )
    assert read_history(reopen, case_id) == before


def test_a_youth_who_turned_sixteen_today_consents_alone(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_youth_undring(ledger, clock, birth_date_turning(clock, 16))
    clock.advance(hours=2)
    consent_id = give_consent(ledger, case_id, "helsestasjon", given_by="child")
    last = read_history(reopen, case_id)[-1]
    assert isinstance(last, ConsentGiven)
    assert (last.consent_id, last.given_by) == (consent_id, "child")


def test_the_guardians_of_a_fifteen_year_old_consent_for_the_youth(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_youth_undring(ledger, clock, birth_date_turning(clock, 16, in_days=1))
    clock.advance(hours=2)
    consent_id = give_consent(ledger, case_id, "helsestasjon", given_by="guardians")
    last = read_history(reopen, case_id)[-1]
    assert isinstance(last, ConsentGiven)
    assert last.consent_id == consent_id


def test_a_fifteen_year_old_consents_alone_where_the_rulebook_says_fifteen(
    database_url: str, tmp_path: Path, clock: SetClock, reopen: Reopen
) -> None:
    with ledger_with_rulebook(database_url, tmp_path, clock, self_consent_age=15) as ledger:
        case_id = register_youth_undring(ledger, clock, birth_date_turning(clock, 16, in_days=1))
        clock.advance(hours=2)
        consent_id = give_consent(ledger, case_id, "helsestasjon", given_by="child")
    last = read_history(reopen, case_id)[-1]
    assert isinstance(last, ConsentGiven)
    assert last.consent_id == consent_id


def test_a_sixteen_year_old_is_refused_where_the_rulebook_says_seventeen_after_reopening(
    database_url: str, tmp_path: Path, clock: SetClock, reopen: Reopen
) -> None:
    with ledger_with_rulebook(database_url, tmp_path, clock, self_consent_age=17) as created:
        case_id = register_youth_undring(created, clock, birth_date_turning(clock, 16))
    before = read_history(reopen, case_id)
    clock.advance(hours=2)
    with reopen() as again, pytest.raises(RuleViolation) as caught:
        give_consent(again, case_id, "helsestasjon", given_by="child")
    assert caught.value.code == "consent_child_too_young"
    assert caught.value.params == {"age": 16, "minimum": 17}
    assert read_history(reopen, case_id) == before
