"""Rule 10: corrections, never edits.

A mistake is fixed by an EntryCorrected pointing at the original; both stay visible, and
no API deletes or rewrites a stored event. Tilsyn reads the complete, unaltered history.
"""

from __future__ import annotations

import inspect
from datetime import date
from typing import Any
from uuid import uuid4

import pytest

from ledger.application import CaseLedger
from ledger.errors import RuleViolation
from ledger.events import EntryCorrected, UndringRegistered
from tests.cast import RECTOR, TEACHER, SetClock
from tests.stories import Reopen, decide_level, plan_tiltak, read_history, register_s12_undring


def test_a_correction_keeps_the_original_and_the_case_shows_the_corrected_value(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    registered = read_history(reopen, case_id)[0]
    clock.advance(days=1)
    corrected = ledger.correct_entry(
        case_id,
        actor=TEACHER,
        corrects=registered.event_id,
        fields={"child_ref": "Elev-71"},
        why="Byttet om sifrene i elevnummeret.",
    )
    with reopen() as again:
        assert again.history(case_id) == [registered, corrected]
        assert isinstance(registered, UndringRegistered)
        assert registered.child_ref == "Elev-17"
        assert isinstance(corrected, EntryCorrected)
        assert corrected.corrects == registered.event_id
        assert again.summary(case_id).child_ref == "Elev-71"


def test_a_later_correction_of_the_same_field_wins(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    tiltak_id = plan_tiltak(ledger, case_id, clock)
    planned = read_history(reopen, case_id)[-1]
    for evaluate_by in ("2026-03-30", "2026-04-13"):
        clock.advance(hours=1)
        ledger.correct_entry(
            case_id,
            actor=TEACHER,
            corrects=planned.event_id,
            fields={"evaluate_by": evaluate_by},
            why="Evalueringsmøtet ble flyttet.",
        )
    with reopen() as again:
        assert again.history(case_id)[-3] == planned
        [tiltak] = again.summary(case_id).open_tiltak
        assert tiltak.tiltak_id == tiltak_id
        assert tiltak.evaluate_by == date(2026, 4, 13)


def test_correcting_an_event_that_is_not_in_the_case_is_refused(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    before = read_history(reopen, case_id)
    missing = uuid4()
    with pytest.raises(RuleViolation) as caught:
        ledger.correct_entry(
            case_id, actor=TEACHER, corrects=missing, fields={"child_ref": "Elev-71"}, why="Feil."
        )
    assert caught.value.code == "correction_target_unknown"
    assert caught.value.params == {"event_id": missing}
    assert read_history(reopen, case_id) == before


def test_an_event_of_another_case_cannot_be_corrected_through_this_one(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    other_case = register_s12_undring(ledger, clock)
    other_registered = read_history(reopen, other_case)[0]
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ledger.correct_entry(
            case_id,
            actor=TEACHER,
            corrects=other_registered.event_id,
            fields={"child_ref": "Elev-71"},
            why="Feil elev.",
        )
    assert caught.value.code == "correction_target_unknown"
    assert read_history(reopen, case_id) == before


UNCORRECTABLE: dict[str, Any] = {
    "case_id": "8b6f3c1e-4c1a-4d7e-9a53-0d1f2a3b4c5d",
    "sequence": 7,
    "recorded_at": "2026-03-01T08:00:00+00:00",
    "actor": RECTOR.model_dump(),
    "occurred_at": "2026-03-02T07:30:00+00:00",
    "pupil_number": "17",
}
"""Fields the ledger sets, who and when the event was done, and a field the event lacks."""


@pytest.mark.parametrize("field", list(UNCORRECTABLE))
def test_fields_the_ledger_sets_or_the_event_does_not_have_cannot_be_corrected(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen, field: str
) -> None:
    case_id = register_s12_undring(ledger, clock)
    registered = read_history(reopen, case_id)[0]
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ledger.correct_entry(
            case_id,
            actor=TEACHER,
            corrects=registered.event_id,
            fields={field: UNCORRECTABLE[field]},
            why="Feil.",
        )
    assert caught.value.code == "correction_field_not_allowed"
    assert str(caught.value) == (
        f"Disse feltene kan ikke rettes: {field}. [correction_field_not_allowed]"
    )
    assert read_history(reopen, case_id) == before


def test_a_correction_that_makes_the_event_invalid_is_refused(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    clock.advance(weeks=1)
    decision = decide_level(ledger, case_id, 1)
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ledger.correct_entry(
            case_id,
            actor=RECTOR,
            corrects=decision.event_id,
            fields={"to_level": 4},
            why="Skrev feil nivå.",
        )
    assert caught.value.code == "correction_invalid"
    assert caught.value.params == {
        "field": "to_level",
        "problem": "det må være 3 eller mindre",
    }
    assert read_history(reopen, case_id) == before


def test_the_ledger_offers_no_way_to_delete_or_rewrite_an_event() -> None:
    public = [name for name, _ in inspect.getmembers(CaseLedger) if not name.startswith("_")]
    forbidden = ("delete", "update", "edit", "remove", "rewrite", "erase", "purge", "replace")
    # erase_case deletes no event either: it destroys a closed case's key (docs/privacy.md).
    assert [name for name in public if any(word in name for word in forbidden)] == ["erase_case"]
    assert "correct_entry" in public


def test_a_correction_cannot_take_an_element_out_of_a_s12_plan(
    ledger: CaseLedger, clock: SetClock, reopen: Reopen
) -> None:
    case_id = register_s12_undring(ledger, clock)
    plan_tiltak(ledger, case_id, clock)
    planned = read_history(reopen, case_id)[-1]
    before = read_history(reopen, case_id)
    with pytest.raises(RuleViolation) as caught:
        ledger.correct_entry(
            case_id,
            actor=TEACHER,
            corrects=planned.event_id,
            fields={"problem": None},
            why="Problemet skal ikke stå i planen.",
        )
    assert caught.value.code == "plan_missing_element"
    assert read_history(reopen, case_id) == before
