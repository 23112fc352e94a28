"""A case as the ledger knew it on a date: what tilsyn sees when it asks "what did you know then?"."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.application import CaseLedger
from ledger.errors import LedgerError
from ledger.policies.calendar import OSLO
from ledger.policies.deadlines import deadlines
from replay.asof import (
    all_deadlines_as_of,
    case_as_of,
    case_summary_as_of,
    deadlines_as_of,
)
from tests.cast import RECTOR, TEACHER, SetClock
from tests.stories import register_undring


def test_a_correction_recorded_later_is_not_applied_as_of_before_it_and_is_after(
    ledger: CaseLedger, clock: SetClock
) -> None:
    # Kari registers an undring for Elev-31 without the § 12 track; a week later she
    # corrects it: it was a school-environment case all along, and the pupil is Elev-13.
    case_id = register_undring(ledger, clock)
    registered = ledger.history(case_id)[0]
    clock.advance(days=2)
    ledger.share_with_leader(case_id, actor=TEACHER, leader=RECTOR.person, how="samtale")
    before_correction = clock.advance(days=5)
    clock.advance(hours=1)
    ledger.correct_entry(
        case_id, actor=TEACHER, corrects=registered.event_id,
        fields={"child_ref": "Elev-13", "tracks": ["skolemiljo"]},
        why="Feil elevnummer, og det gjelder skolemiljøet.",
    )
    after_correction = clock.advance(hours=1)

    then = case_as_of(ledger, case_id, before_correction)
    assert (then.child_ref, then.tracks, then.version) == ("Elev-31", set(), 2)
    now = case_as_of(ledger, case_id, after_correction)
    assert (now.child_ref, now.tracks, now.version) == ("Elev-13", {"skolemiljo"}, 3)
    assert case_summary_as_of(ledger, case_id, before_correction).child_ref == "Elev-31"

    rules_then = {d.rule for d in deadlines_as_of(ledger, case_id, before_correction)}
    rules_now = {d.rule: d for d in deadlines_as_of(ledger, case_id, after_correction)}
    assert "s12_innkalling" not in rules_then
    # Known only now, and judged on occurred_at: the § 12 week ran out days ago.
    assert rules_now["s12_innkalling"].state == "missed"
    # One truth: the same as the pure function over all events, judged at that moment.
    assert deadlines_as_of(ledger, case_id, after_correction) == deadlines(
        ledger.history(case_id), ledger.rulebook, after_correction
    )


def test_an_event_entered_afterwards_about_an_earlier_day_was_not_known_that_day(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = register_undring(ledger, clock)
    noticed = ledger.history(case_id)[0]
    thursday = clock.advance(days=3)
    clock.advance(days=1)
    # On Friday Kari writes down that she shared the undring with the rektor on Tuesday.
    ledger.share_with_leader(
        case_id, actor=TEACHER, leader=RECTOR.person, how="samtale",
        occurred_at=noticed.occurred_at + timedelta(days=1),
    )
    known_thursday = {d.rule: d.state for d in deadlines_as_of(ledger, case_id, thursday)}
    known_friday = {d.rule: d.state for d in deadlines_as_of(ledger, case_id, clock.now)}
    assert known_thursday["share_with_leader"] == "missed"
    assert known_friday["share_with_leader"] == "met"
    assert case_as_of(ledger, case_id, thursday).leader is None


def test_a_moment_without_a_time_zone_is_oslo_time_and_before_the_case_it_is_unknown(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = register_undring(ledger, clock)
    registered_at = ledger.history(case_id)[0].recorded_at.astimezone(OSLO)
    naive = registered_at.replace(tzinfo=None)
    assert case_as_of(ledger, case_id, naive).child_ref == "Elev-31"
    with pytest.raises(LedgerError) as refused:
        case_as_of(ledger, case_id, naive - timedelta(minutes=1))
    assert refused.value.code == "case_unknown"


def test_the_deadlines_of_every_case_as_of_a_date_leave_out_cases_registered_later(
    ledger: CaseLedger, clock: SetClock
) -> None:
    first = register_undring(ledger, clock)
    monday = clock.now
    clock.advance(days=1)
    register_undring(ledger, clock, child_ref="Elev-40")
    listed = all_deadlines_as_of(ledger, monday)
    assert {d.case_id for d in listed} == {first}
    assert all(d.state in ("open", "missed") for d in listed)
