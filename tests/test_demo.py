"""The demo ledger: five stories from the handlingsveiledere, told in the weeks before now."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ledger import messages
from ledger.application import CaseLedger
from ledger.cli import build_app
from ledger.demo import STORIES, DemoReport, Timeline, build_demo
from ledger.events import (
    CaseClosed,
    CaseEvent,
    EvaluationRecorded,
    LevelChanged,
    MeetingHeld,
    ReportedToBarnevern,
    SamtaleHeld,
    SamtaleInvited,
    StafettHandoverAccepted,
    StafettHandoverProposed,
    TiltakPlanned,
    UndringRegistered,
)
from tests.cast import START, TILSYN, SetClock

NO_ENV = {"BTI_DATABASE_URL": None, "BTI_LANGUAGE": None}


@pytest.fixture(autouse=True)
def bokmal_again() -> Iterator[None]:
    yield
    messages.set_language("nb")


@pytest.fixture
def demo(database_url: str) -> DemoReport:
    return build_demo(database_url, SetClock(START))


@pytest.fixture
def stories(demo: DemoReport, database_url: str) -> dict[str, list[CaseEvent]]:
    """Each demo case's events, by the key of its story."""
    with CaseLedger.open(database_url, clock=SetClock(START), reader=TILSYN) as ledger:
        return {case.key: ledger.history(case.case_id) for case in demo.cases}


def test_the_demo_builds_five_cases_with_the_levels_the_stories_reach(
    demo: DemoReport, database_url: str
) -> None:
    with CaseLedger.open(database_url, clock=SetClock(START), reader=TILSYN) as ledger:
        summaries = {s.case_id: s for s in ledger.list_cases()}
    by_key = {case.key: summaries[case.case_id] for case in demo.cases}

    assert len(summaries) == 5
    assert sorted(by_key) == ["closed", "level2", "level3", "s12", "violence"]
    assert by_key["level2"].level == 2
    assert by_key["level3"].level == 3
    assert by_key["closed"].status == "closed"
    assert [k for k, s in by_key.items() if s.status == "open"] == [
        "s12", "level2", "violence", "level3",
    ]
    assert by_key["s12"].level == 1
    assert by_key["s12"].tracks == ("skolemiljo",)


def test_the_violence_case_is_reported_the_same_day_and_the_guardians_are_not_involved(
    demo: DemoReport, stories: dict[str, list[CaseEvent]]
) -> None:
    events = stories["violence"]
    undring = events[0]
    reports = [e for e in events if isinstance(e, ReportedToBarnevern)]

    assert isinstance(undring, UndringRegistered) and undring.violence_suspected
    assert len(reports) == 1
    assert reports[0].occurred_at.date() == undring.noticed_at.date()
    assert not [
        e for e in events
        if (isinstance(e, SamtaleHeld) and "guardians" in e.participants)
        or (isinstance(e, SamtaleInvited) and "guardians" in e.with_whom)
    ]
    assert demo.refusal.code == "guardians_excluded_violence"
    assert demo.refused_case == undring.case_id


def test_the_s12_case_invites_within_a_week_and_plans_with_all_five_elements(
    stories: dict[str, list[CaseEvent]],
) -> None:
    events = stories["s12"]
    undring = events[0]
    assert isinstance(undring, UndringRegistered)
    invited = next(e for e in events if isinstance(e, SamtaleInvited))
    held = next(e for e in events if isinstance(e, SamtaleHeld))
    plans = [e for e in events if isinstance(e, TiltakPlanned)]
    evaluated = next(e for e in events if isinstance(e, EvaluationRecorded))

    assert invited.occurred_at - undring.noticed_at <= timedelta(weeks=1)
    assert held.child_view
    assert plans
    for plan in plans:
        assert None not in (
            plan.problem, plan.description, plan.starts_at, plan.responsible, plan.evaluate_by
        )
    assert set(evaluated.tiltak_ids) == {p.tiltak_id for p in plans}
    assert "SharedWithLeader" in [e.type for e in events]
    assert "TiltakStarted" in [e.type for e in events]


def test_the_level_3_case_has_an_ansvarsgruppe_and_the_stafett_changes_hands(
    stories: dict[str, list[CaseEvent]],
) -> None:
    events = stories["level3"]
    proposed = next(e for e in events if isinstance(e, StafettHandoverProposed))
    accepted = next(e for e in events if isinstance(e, StafettHandoverAccepted))
    levels = [(e.from_level, e.to_level) for e in events if isinstance(e, LevelChanged)]

    assert any(
        isinstance(e, MeetingHeld) and e.kind == "ansvarsgruppe" and e.coordinator
        for e in events
    )
    assert accepted.actor.person == proposed.to_person
    assert levels == [(0, 2), (2, 3)]


def test_the_level_2_case_rests_on_a_consent(stories: dict[str, list[CaseEvent]]) -> None:
    types = [e.type for e in stories["level2"]]

    assert types.index("ConsentGiven") < types.index("ServiceInvolved") < types.index(
        "LevelChanged"
    )
    assert types.index("DecisionRecorded") < types.index("LevelChanged")


def test_the_closed_case_ends_with_an_avslutningsnotat(stories: dict[str, list[CaseEvent]]) -> None:
    last = stories["closed"][-1]

    assert isinstance(last, CaseClosed)
    assert last.closing_note.startswith("Avslutningsnotat")


def test_every_event_happened_before_it_was_recorded_and_after_its_undring(
    demo: DemoReport, database_url: str
) -> None:
    with CaseLedger.open(database_url, clock=SetClock(START), reader=TILSYN) as ledger:
        events = list(ledger.all_events())
    noticed = {e.case_id: e.noticed_at for e in events if isinstance(e, UndringRegistered)}
    recorded = [e.recorded_at for e in events]

    assert events[0].type == "RulebookAdopted"
    assert len(events) == demo.events + 1
    assert recorded == sorted(recorded)
    assert recorded[-1] <= START
    for event in events:
        assert event.occurred_at <= event.recorded_at
        if isinstance(event, CaseEvent):
            assert event.occurred_at >= noticed[event.case_id]
    # Written down as they went, over weeks, not all at once.
    assert recorded[-1] - recorded[1] > timedelta(weeks=4)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 3, 2, 0, 5, tzinfo=UTC),  # Monday just after midnight in Oslo
        datetime(2026, 3, 8, 22, 59, tzinfo=UTC),  # Sunday just before midnight in Oslo
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # the night summer time begins
        datetime(2026, 12, 31, 23, 0, tzinfo=UTC),  # new year's eve
    ],
)
def test_every_story_lies_in_the_past_whatever_the_day_and_hour(now: datetime) -> None:
    timeline = Timeline(now)

    for story in (tell(timeline) for tell in STORIES):
        times = [step.at for step in story.steps]
        assert times == sorted(times), story.key
        assert max(times) < now - timedelta(hours=1), story.key
        assert min(times) > now - timedelta(weeks=9), story.key


# ---- `bti demo` ------------------------------------------------------------------------------


def bti(*args: str, **env: str | None) -> Result:
    return CliRunner().invoke(build_app(), list(args), env={**NO_ENV, **env})


TILSYN_ENV = {
    "BTI_PERSON": TILSYN.person, "BTI_ROLE": TILSYN.role, "BTI_SERVICE": TILSYN.service,
    "BTI_UNIT": TILSYN.unit,
}
"""Tilsyn lists every case of the demo."""


def test_bti_demo_builds_the_demo_and_says_what_to_look_at_next(sqlite_url: str) -> None:
    result = bti("demo", "--db", sqlite_url)

    assert result.exit_code == 0, result.output
    listed = json.loads(bti("--db", sqlite_url, "case", "list", "--json", **TILSYN_ENV).stdout)
    assert len(listed) == 5
    assert sorted(c["level"] for c in listed) == [0, 0, 1, 2, 3]
    assert [c["status"] for c in listed].count("closed") == 1
    for case in listed:
        assert case["case_id"] in result.stdout
    assert "[guardians_excluded_violence]" in result.stdout
    assert f"bti --db {sqlite_url} case show " in result.stdout
    assert f"bti --db {sqlite_url} export" in result.stdout


def test_bti_demo_refuses_to_overwrite_unless_fresh(sqlite_url: str) -> None:
    bti("demo", "--db", sqlite_url)

    again = bti("--lang", "en", "demo", "--db", sqlite_url)
    fresh = bti("demo", "--db", sqlite_url, "--fresh")

    assert again.exit_code == 1
    assert again.stderr == (
        f"The demo already exists at {sqlite_url}. Use --fresh to build it again, or --db for "
        "another place. [demo_exists]\n"
    )
    assert fresh.exit_code == 0, fresh.output
    assert len(json.loads(bti("--db", sqlite_url, "case", "list", "--json", **TILSYN_ENV).stdout)) == 5


def test_bti_demo_builds_in_the_current_folder_and_never_in_the_configured_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    real = tmp_path / "real.sqlite"

    result = bti("demo", BTI_DATABASE_URL=f"sqlite:///{real}")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "bti-demo.sqlite").exists()
    assert not real.exists()
