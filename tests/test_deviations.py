"""Deviations (avvik): what already happened against a duty is recorded by a leader, never hidden.

A refused command is for what is about to be done; a duty that was not kept is recorded by
a leader as a DeviationRecorded, which tilsyn reports show (DOMAIN.md, after the rules).
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from ledger.application import CaseLedger
from ledger.errors import RuleViolation
from ledger.events import Actor, DeviationRecorded, SamtaleHeld
from tests.cast import RECTOR, TEACHER, SetClock
from tests.stories import Reopen, read_history, register_s12_undring


def late_samtale(ledger: CaseLedger, clock: SetClock, case_id: UUID) -> SamtaleHeld:
    """The § 12 samtale with the guardians is held after ten days, not within one week."""
    clock.advance(days=10)
    held = ledger.hold_samtale(
        case_id,
        actor=TEACHER,
        participants=["guardians", "child"],
        child_view="Vil at de voksne passer på ved fotballbanen.",
        summary="Foresatte ble kjent med saken først nå; innkallingen ble liggende i en skuff.",
    )
    assert isinstance(held, SamtaleHeld)
    return held


def deviation_about(
    ledger: CaseLedger, case_id: UUID, about: UUID, actor: Actor = RECTOR
) -> DeviationRecorded:
    event = ledger.record_deviation(
        case_id,
        actor=actor,
        rule="s12_innkalling",
        what_happened="Foresatte ble innkalt og samtalen holdt ti dager etter undringen.",
        why="Kontaktlæreren var syk og saken ble ikke fulgt opp av andre.",
        about_event=about,
    )
    assert isinstance(event, DeviationRecorded)
    return event


def test_a_leader_records_a_deviation_about_a_late_samtale(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    samtale = late_samtale(ledger, clock, case_id)
    clock.advance(hours=2)
    deviation = deviation_about(ledger, case_id, samtale.event_id)
    with reopen() as again:
        assert again.history(case_id)[-2:] == [samtale, deviation]
        assert deviation.about_event == samtale.event_id
        assert deviation.actor == RECTOR
        assert again.case(case_id).deviations == 1


def test_a_teacher_cannot_record_a_deviation(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    samtale = late_samtale(ledger, clock, case_id)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        deviation_about(ledger, case_id, samtale.event_id, actor=TEACHER)
    assert caught.value.code == "deviation_needs_leader"
    assert str(caught.value) == "Avvik føres av en leder. [deviation_needs_leader]"
    assert read_history(reopen, case_id) == before


def test_a_deviation_about_an_event_that_is_not_in_the_case_is_refused(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    clock.advance(days=10)
    before = read_history(reopen, case_id)
    missing = uuid4()
    with pytest.raises(RuleViolation) as caught:
        deviation_about(ledger, case_id, missing)
    assert caught.value.code == "correction_target_unknown"
    assert read_history(reopen, case_id) == before


def test_a_deviation_may_be_recorded_without_pointing_at_an_event(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    # The innkalling that should have come within a week never came: there is no event.
    case_id = register_s12_undring(ledger, clock)
    clock.advance(weeks=1, days=1)
    deviation = ledger.record_deviation(
        case_id,
        actor=RECTOR,
        rule="s12_innkalling",
        what_happened="Ingen innkalling av foresatte innen en uke.",
        why="Undringen ble ikke delt med rektor før fristen var ute.",
        occurred_at=clock.now - timedelta(hours=1),
    )
    assert read_history(reopen, case_id)[-1] == deviation
