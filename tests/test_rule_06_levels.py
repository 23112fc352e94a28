"""Rule 6: level 2 needs another service; level 3 the rulebook's minimum or an ansvarsgruppe.

Level 2 needs at least one other service involved (with consent) besides the case's own;
level 3 needs the rulebook's minimum of services counting the own one (001: "tre eller
flere tjenester") or an ansvarsgruppe with a koordinator (004, 002). The decision may come
first; the LevelChanged waits until the services are involved. Levels may jump and go down.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from ledger.application import CaseLedger
from ledger.errors import RuleViolation
from ledger.events import LevelChanged
from tests.cast import TEACHER, SetClock
from tests.stories import (
    Reopen,
    bring_in,
    change_level,
    decide_level,
    ledger_with_rulebook,
    read_history,
    register_undring,
)


def to_level_1(ledger: CaseLedger, clock: SetClock, case_id: UUID) -> None:
    """After the samtale the school decides to try tiltak within its own service (nivå 1)."""
    clock.advance(weeks=1)
    decide_level(ledger, case_id, 1)
    change_level(ledger, case_id, 0, 1)


def ansvarsgruppe(ledger: CaseLedger, case_id: UUID, coordinator: str | None) -> None:
    """The services around the child meet as an ansvarsgruppe (004, 002)."""
    ledger.hold_meeting(
        case_id,
        actor=TEACHER,
        kind="ansvarsgruppe",
        participants=[TEACHER.person, "Per PPT", "Foresatte"],
        coordinator=coordinator,
        summary="Ansvarsgruppen ble etablert; møtes hver sjette uke.",
    )


def test_level_2_needs_another_service_involved(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    decide_level(ledger, case_id, 2)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        change_level(ledger, case_id, 0, 2)
    assert caught.value.code == "level2_needs_service"
    assert str(caught.value) == (
        "Nivå 2 krever at minst én tjeneste til er involvert, med samtykke (regel 6; 001 nivå 2)."
        " [level2_needs_service]"
    )
    assert read_history(reopen, case_id) == before


def test_the_decision_comes_first_and_the_case_jumps_from_0_to_2_once_ppt_is_involved(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    decide_level(ledger, case_id, 2)
    clock.advance(weeks=1)
    bring_in(ledger, case_id, "ppt")
    changed = change_level(ledger, case_id, 0, 2)
    with reopen() as again:
        assert again.history(case_id)[-1] == changed
        assert again.summary(case_id).level == 2


def test_a_level_change_without_a_decision_is_refused(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    bring_in(ledger, case_id, "ppt")
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        change_level(ledger, case_id, 0, 2)
    assert caught.value.code == "level_change_without_decision"
    assert caught.value.params == {"to_level": 2}
    assert read_history(reopen, case_id) == before


def test_a_service_whose_consent_was_withdrawn_does_not_count_for_level_2(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    consent_id = bring_in(ledger, case_id, "ppt")
    decide_level(ledger, case_id, 2)
    clock.advance(days=2)
    ledger.withdraw_consent(case_id, actor=TEACHER, consent_id=consent_id, withdrawn_by="guardians")
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        change_level(ledger, case_id, 0, 2)
    assert caught.value.code == "level2_needs_service"
    assert read_history(reopen, case_id) == before


def test_level_3_needs_three_services_counting_the_own_one(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    to_level_1(ledger, clock, case_id)
    clock.advance(weeks=4)
    bring_in(ledger, case_id, "ppt")
    decide_level(ledger, case_id, 3)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        change_level(ledger, case_id, 1, 3)
    assert caught.value.code == "level3_needs_services"
    assert str(caught.value) == (
        "Nivå 3 krever 3 tjenester (nå 2) eller en ansvarsgruppe med koordinator "
        "(regel 6; 001 «tre eller flere tjenester», 002, 004). [level3_needs_services]"
    )
    assert read_history(reopen, case_id) == before


def test_a_case_jumps_from_1_to_3_with_three_services_counting_the_own_one(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    to_level_1(ledger, clock, case_id)
    clock.advance(weeks=4)
    bring_in(ledger, case_id, "ppt", "helsestasjon")
    decide_level(ledger, case_id, 3)
    changed = change_level(ledger, case_id, 1, 3)
    with reopen() as again:
        assert again.history(case_id)[-1] == changed
        assert again.summary(case_id).level == 3


def test_an_ansvarsgruppe_with_a_koordinator_is_enough_for_level_3(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    bring_in(ledger, case_id, "ppt")
    decide_level(ledger, case_id, 3)
    clock.advance(weeks=2)
    ansvarsgruppe(ledger, case_id, coordinator="Per PPT")
    changed = change_level(ledger, case_id, 0, 3)
    with reopen() as again:
        assert again.history(case_id)[-1] == changed
        assert again.summary(case_id).level == 3


def test_an_ansvarsgruppe_without_a_koordinator_is_not_enough_for_level_3(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    bring_in(ledger, case_id, "ppt")
    decide_level(ledger, case_id, 3)
    clock.advance(weeks=2)
    ansvarsgruppe(ledger, case_id, coordinator=None)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        change_level(ledger, case_id, 0, 3)
    assert caught.value.code == "level3_needs_services"
    assert caught.value.params == {"minimum": 3, "count": 2}
    assert read_history(reopen, case_id) == before


def test_the_level_3_minimum_is_the_rulebooks(
    database_url: str, tmp_path: Path, clock: SetClock, reopen: Reopen
) -> None:
    with ledger_with_rulebook(database_url, tmp_path, clock, level3_min_services=2) as ledger:
        case_id = register_undring(ledger, clock)
        clock.advance(weeks=1)
        bring_in(ledger, case_id, "ppt")
        decide_level(ledger, case_id, 3)
        changed = change_level(ledger, case_id, 0, 3)
    with reopen() as again:
        assert again.history(case_id)[-1] == changed
        assert again.summary(case_id).level == 3


def test_a_case_goes_down_a_level_again_after_a_decision(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    bring_in(ledger, case_id, "ppt")
    decide_level(ledger, case_id, 2)
    change_level(ledger, case_id, 0, 2)
    clock.advance(weeks=10)
    decide_level(ledger, case_id, 1, outcome="level_down")
    down = change_level(ledger, case_id, 2, 1)
    with reopen() as again:
        assert again.history(case_id)[-1] == down
        assert isinstance(down, LevelChanged)
        assert again.summary(case_id).level == 1


def test_a_level_change_must_start_from_the_level_the_case_is_on(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    clock.advance(weeks=1)
    bring_in(ledger, case_id, "ppt")
    decide_level(ledger, case_id, 2)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        change_level(ledger, case_id, 1, 2)
    assert caught.value.code == "level_mismatch"
    assert caught.value.params == {"level": 0, "from_level": 1}
    assert read_history(reopen, case_id) == before


def test_a_later_decision_to_continue_on_the_level_replaces_the_decision_to_move_up(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_undring(ledger, clock)
    to_level_1(ledger, clock, case_id)
    clock.advance(weeks=2)
    decide_level(ledger, case_id, 2)
    clock.advance(weeks=1)
    ledger.record_decision(
        case_id,
        actor=TEACHER,
        outcome="continue",
        decided_by=TEACHER.person,
        child_view_weighed="Eleven vil helst at skolen prøver litt til før andre kobles inn.",
        reason="Foresatte og skolen fortsetter tiltakene på nivå 1 i seks uker til.",
    )
    clock.advance(weeks=1)
    bring_in(ledger, case_id, "helsestasjon")
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        change_level(ledger, case_id, 1, 2)
    assert caught.value.code == "level_change_without_decision"
    assert read_history(reopen, case_id) == before
