"""Rule 2: `occurred_at` is not in the future and not before the undring's `noticed_at`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.application import CaseLedger
from ledger.errors import RuleViolation
from tests.cast import RECTOR, TEACHER, SetClock
from tests.stories import Reopen, read_cases, read_history, read_summary, register_s12_undring


def test_an_action_cannot_be_dated_after_the_ledger_clock(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    before = read_history(reopen, case_id)
    tomorrow = clock.now + timedelta(days=1)
    with pytest.raises(RuleViolation) as caught:
        ledger.share_with_leader(
            case_id, actor=TEACHER, leader=RECTOR.person, how="på teamrommet", occurred_at=tomorrow
        )
    assert caught.value.code == "occurred_in_future"
    assert caught.value.params == {"occurred_at": tomorrow}
    assert read_history(reopen, case_id) == before


def test_one_second_ahead_of_the_ledger_clock_is_already_the_future(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ledger.invite_to_samtale(
            case_id,
            actor=TEACHER,
            with_whom=["guardians", "child"],
            planned_at=clock.now + timedelta(days=3),
            occurred_at=clock.now + timedelta(seconds=1),
        )
    assert caught.value.code == "occurred_in_future"
    assert read_history(reopen, case_id) == before


def test_an_action_at_exactly_the_ledger_clock_is_stored(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    clock.advance(hours=3)
    shared = ledger.share_with_leader(
        case_id, actor=TEACHER, leader=RECTOR.person, how="på teamrommet", occurred_at=clock.now
    )
    history = read_history(reopen, case_id)
    assert history[-1] == shared
    assert history[-1].occurred_at == clock.now


def test_an_undring_cannot_be_registered_as_happening_in_the_future(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    later = clock.now + timedelta(hours=2)
    with pytest.raises(RuleViolation) as caught:
        ledger.register_undring(
            actor=TEACHER,
            child_ref="Elev-17",
            child_birth_date="2014-05-01",
            unit=TEACHER.unit,
            service="skole",
            noticed_at=clock.now,
            occurred_at=later,
            observations="Går alene i friminuttene.",
        )
    assert caught.value.code == "occurred_in_future"
    assert read_cases(reopen) == []


def test_an_action_cannot_be_dated_before_the_undring_was_noticed(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    noticed_at = read_summary(reopen, case_id).noticed_at
    assert noticed_at is not None
    before = read_history(reopen, case_id)
    a_day_earlier = noticed_at - timedelta(days=1)
    with pytest.raises(RuleViolation) as caught:
        ledger.share_with_leader(
            case_id,
            actor=TEACHER,
            leader=RECTOR.person,
            how="på teamrommet",
            occurred_at=a_day_earlier,
        )
    assert caught.value.code == "before_undring"
    assert caught.value.params == {"occurred_at": a_day_earlier, "noticed_at": noticed_at}
    assert read_history(reopen, case_id) == before


def test_an_action_at_the_moment_the_undring_was_noticed_is_stored(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    noticed_at = read_summary(reopen, case_id).noticed_at
    shared = ledger.share_with_leader(
        case_id, actor=TEACHER, leader=RECTOR.person, how="i gangen", occurred_at=noticed_at
    )
    assert read_history(reopen, case_id)[-1] == shared


def test_an_undring_cannot_have_happened_before_it_was_noticed(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    with pytest.raises(RuleViolation) as caught:
        ledger.register_undring(
            actor=TEACHER,
            child_ref="Elev-17",
            child_birth_date="2014-05-01",
            unit=TEACHER.unit,
            service="skole",
            noticed_at=clock.now - timedelta(hours=1),
            occurred_at=clock.now - timedelta(hours=2),
            observations="Går alene i friminuttene.",
        )
    assert caught.value.code == "noticed_after_registered"
    assert read_cases(reopen) == []
