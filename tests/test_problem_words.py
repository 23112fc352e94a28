"""When a field is filled in wrong, the teacher reads what is wrong in the catalogue's words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from pydantic_core import ErrorDetails

from ledger import messages
from ledger.application import CaseLedger
from ledger.errors import ImportRejected, InvalidInput, RuleViolation
from ledger.events import Actor
from ledger.messages import catalogue
from ledger.problems import KEYS, problem_words
from ledger.transfer import import_events, read_lines
from tests.cast import RECTOR, TEACHER, SetClock
from tests.stories import decide_level, register_s12_undring, register_undring


@pytest.fixture(autouse=True)
def bokmal_again() -> Iterator[None]:
    yield
    messages.set_language("nb")


def problem_of(caught: pytest.ExceptionInfo[InvalidInput]) -> tuple[object, object]:
    return caught.value.params["field"], caught.value.params["problem"]


def test_every_problem_the_ledger_words_has_a_text_in_bokmal_and_english() -> None:
    texts = {key: value for key, value in catalogue().items() if key.startswith("problem.")}

    assert set(texts) == KEYS
    for key, value in texts.items():
        assert value.get("nb") and value.get("en"), key


def test_an_undring_without_observations_says_they_must_be_filled_in(
    ledger: CaseLedger, clock: SetClock
) -> None:
    with pytest.raises(InvalidInput) as caught:
        register_undring(ledger, clock, observations="   ")

    assert problem_of(caught) == ("observations", "det kan ikke stå tomt")
    assert ledger.list_cases() == []


def test_a_service_written_with_capitals_is_explained_in_english_too(
    ledger: CaseLedger, clock: SetClock
) -> None:
    messages.set_language("en")
    capital = Actor(person="Kari Lærer", role="staff", service="skole", unit="Fossen skole")

    with pytest.raises(InvalidInput) as caught:
        ledger.register_undring(
            actor=capital, child_ref="Elev-31", child_birth_date="2014-05-01",
            unit="Fossen skole", service="Skole", noticed_at=clock.now,
            observations="Sliten og ukonsentrert.",
        )

    field, problem = problem_of(caught)
    assert field == "service"
    assert str(problem).startswith("write it with lower-case letters a–z (no æ, ø or å)")
    assert ledger.list_cases() == []


def test_a_role_outside_the_list_names_the_roles_there_are(
    ledger: CaseLedger, clock: SetClock
) -> None:
    rektor = {**TEACHER.model_dump(), "role": "rektor"}

    with pytest.raises(InvalidInput) as caught:
        ledger.register_undring(
            actor=rektor, child_ref="Elev-31", child_birth_date="2014-05-01",
            unit="Fossen skole", service="skole", noticed_at=clock.now,
            observations="Sliten og ukonsentrert.",
        )

    assert problem_of(caught) == (
        "actor.role",
        "det kan bare være staff, leader, coordinator, tilsyn eller system",
    )


def test_a_level_decision_that_names_no_level_says_which_field_is_missing(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)

    with pytest.raises(InvalidInput) as caught:
        ledger.record_decision(
            case_id, actor=RECTOR, occurred_at=clock.now, outcome="level_up",
            decided_by="Rita Rektor", child_view_weighed="Eleven vil ha hjelp.",
            reason="Tiltak på nivå 0 har ikke hjulpet.",
        )

    assert caught.value.params["problem"] == (
        "når beslutningen flytter saken opp eller ned, må den si hvilket nivå saken skal til "
        "(to_level)"
    )


def test_a_correction_to_a_level_that_does_not_exist_is_refused_in_words(
    ledger: CaseLedger, clock: SetClock
) -> None:
    case_id = register_s12_undring(ledger, clock)
    decision = decide_level(ledger, case_id, 1)

    with pytest.raises(RuleViolation) as caught:
        ledger.correct_entry(
            case_id, actor=RECTOR, corrects=decision.event_id, fields={"to_level": 4},
            why="Skrev feil nivå.",
        )

    assert caught.value.params == {"field": "to_level", "problem": "det må være 3 eller mindre"}


def test_an_import_line_with_a_time_without_zone_is_reported_in_words(
    ledger: CaseLedger, clock: SetClock, tmp_path: Path
) -> None:
    case_id = register_s12_undring(ledger, clock)
    line = {
        "type": "BrightSpotLogged", "case_id": str(case_id), "actor": TEACHER.model_dump(),
        "occurred_at": "2026-03-02T09:00", "observation": "Hjalp en yngre elev.",
    }
    file = tmp_path / "lines.jsonl"
    file.write_bytes(orjson.dumps(line) + b"\n")

    with pytest.raises(ImportRejected) as caught:
        import_events(ledger, read_lines(file))

    [problem] = caught.value.problems
    assert (problem.line, problem.field) == (1, "occurred_at")
    assert "tidspunktet mangler tidssone" in problem.message
    assert "Input should" not in problem.message


def test_a_problem_the_catalogue_has_no_words_for_is_never_shown_in_pydantic_english() -> None:
    detail: ErrorDetails = {
        "type": "url_parsing", "loc": ("webhook",), "msg": "Input should be a valid URL",
        "input": "x",
    }

    assert problem_words(detail) == "det har feil form"
    messages.set_language("en")
    assert problem_words(detail) == "it is not in the right form"
