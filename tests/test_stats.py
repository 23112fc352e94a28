"""Statistics for the BTI coordinator equal what one counts by hand from the same events."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

import replay.stats
from ledger.application import CaseLedger
from ledger.events import (
    CaseClosed,
    CaseEvent,
    ConsentRefused,
    ConsentWithdrawn,
    LevelChanged,
    SamtaleHeld,
    UndringRegistered,
)
from ledger.policies.calendar import OSLO, end_of_day
from ledger.policies.deadlines import deadlines
from replay.stats import Statistics, build_statistics, to_csv
from replay.stats_html import render_stats_html
from tests.cast import PEDAGOGUE, RECTOR, TEACHER, SetClock
from tests.stories import (
    change_level,
    decide_level,
    give_consent,
    ledger_with_rulebook,
    register_undring,
)

START, END = date(2026, 3, 1), date(2026, 5, 31)


def a_spring_of_cases(ledger: CaseLedger, clock: SetClock) -> list[UUID]:
    """Fossen skole and Solsiden barnehage from March to May."""
    school = [register_undring(ledger, clock, child_ref=f"Elev-{n}") for n in range(3)]
    clock.advance(days=5)
    ledger.hold_samtale(school[0], actor=TEACHER, participants=["guardians"], summary="Samtale.")
    ledger.refuse_consent(school[1], actor=TEACHER, refused_by="guardians", services=["ppt"],
                          purpose="Drøfte lesing med PPT.")
    clock.advance(days=5)
    ledger.hold_samtale(school[1], actor=TEACHER, participants=["guardians", "child"],
                        summary="Samtale.", child_view="Vil ha hjelp.")
    decide_level(ledger, school[1], 1)
    change_level(ledger, school[1], 0, 1)
    clock.advance(days=30)  # April
    kids = [register_undring(ledger, clock, child_ref=f"Barn-{n}", actor=PEDAGOGUE)
            for n in range(2)]
    consent = give_consent(ledger, kids[0], "helsestasjon", actor=PEDAGOGUE)
    clock.advance(days=2)
    ledger.withdraw_consent(kids[0], actor=PEDAGOGUE, consent_id=consent, withdrawn_by="guardians")
    ledger.hold_samtale(kids[1], actor=PEDAGOGUE, participants=["guardians"], summary="Samtale.")
    clock.advance(days=10)
    ledger.close_case(kids[1], actor=PEDAGOGUE, reason="Ingen videre bekymring.",
                      closing_note="Barnet trives igjen.")
    clock.advance(days=40)  # June
    return school + kids


def by_hand(ledger: CaseLedger, start: date, end: date) -> dict[str, Counter[tuple[str, ...]]]:
    """The same figures counted straight from the event log, without replay.stats."""
    end_moment = end_of_day(end)
    cases: dict[UUID, list[CaseEvent]] = {}
    for event in ledger.all_events():
        if isinstance(event, CaseEvent):
            cases.setdefault(event.case_id, []).append(event)
    counted: dict[str, Counter[tuple[str, ...]]] = {
        k: Counter() for k in ("new", "level", "samtale", "consents", "deadlines", "stalled")
    }
    for events in cases.values():
        undring = events[0]
        assert isinstance(undring, UndringRegistered)
        unit, noticed = undring.unit, undring.noticed_at
        counted["new"][(noticed.astimezone(OSLO).strftime("%Y-%m"), unit)] += 1
        month = start
        while month <= end:
            following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
            moment = end_of_day(min(following - timedelta(days=1), end))
            closed = any(isinstance(e, CaseClosed) and e.occurred_at <= moment for e in events)
            if noticed <= moment and not closed:
                levels = [e.to_level for e in events
                          if isinstance(e, LevelChanged) and e.occurred_at <= moment]
                level = levels[-1] if levels else 0
                counted["level"][(month.strftime("%Y-%m"), unit, f"level_{level}")] += 1
            month = following
        samtaler = [e for e in events if isinstance(e, SamtaleHeld) and "guardians" in e.participants]
        if samtaler:
            days = (samtaler[0].occurred_at - noticed).days
            counted["samtale"][(unit, "within_1_week" if days <= 7 else "within_3_weeks")] += 1
        for e in events:
            if isinstance(e, ConsentRefused):
                counted["consents"][(unit, "refused")] += 1
            if isinstance(e, ConsentWithdrawn):
                counted["consents"][(unit, "withdrawn")] += 1
        closed_at_end = any(isinstance(e, CaseClosed) for e in events)
        for d in deadlines(events, ledger.rulebook, end_moment):
            if d.due_at <= end_moment:
                state = "met_late" if d.met_late else d.state
                counted["deadlines"][(d.rule, state)] += 1
            if d.rule == "stalled_case" and d.state == "missed" and not closed_at_end:
                counted["stalled"][(unit,)] += 1
    return counted


def cells(result: Statistics, section: str) -> dict[tuple[str, ...], float | None]:
    found: dict[tuple[str, ...], float | None] = {}
    for c in result.section(section):
        key = {
            "new_cases": (c.period, c.unit),
            "cases_by_level": (c.period, c.unit, c.key),
            "undring_to_samtale": (c.unit, c.measure),
            "consents": (c.unit, c.key),
            "deadlines": (c.key, c.measure),
            "stalled": (c.unit,),
        }[section]
        found[key] = c.value
    return found


def test_statistics_rebuilt_from_events_equal_the_counts_by_hand(
    database_url: str, tmp_path: Path, clock: SetClock
) -> None:
    with ledger_with_rulebook(database_url, tmp_path, clock, statistics_threshold=1) as ledger:
        a_spring_of_cases(ledger, clock)
        result = build_statistics(ledger, START, END)
        expected = by_hand(ledger, START, END)
    assert result.threshold == 1 and not any(c.suppressed for c in result.cells)
    assert cells(result, "new_cases") == dict(expected["new"])
    assert cells(result, "cases_by_level") == dict(expected["level"])
    samtale = cells(result, "undring_to_samtale")
    assert {k: v for k, v in samtale.items() if k[1] != "median_days"} == dict(expected["samtale"])
    assert samtale[("Fossen skole", "median_days")] == pytest.approx(7.5, abs=0.1)
    assert cells(result, "consents") == dict(expected["consents"])
    assert cells(result, "deadlines") == dict(expected["deadlines"])
    assert cells(result, "stalled") == dict(expected["stalled"])
    # The story's own numbers, so that the hand count is not wrong the same way.
    assert expected["new"] == Counter({("2026-03", "Fossen skole"): 3,
                                       ("2026-04", "Solsiden barnehage"): 2})
    assert expected["consents"] == Counter({("Fossen skole", "refused"): 1,
                                            ("Solsiden barnehage", "withdrawn"): 1})
    assert expected["level"][("2026-05", "Fossen skole", "level_1")] == 1
    assert expected["level"][("2026-05", "Solsiden barnehage", "level_0")] == 1


def test_small_counts_are_suppressed_and_no_child_is_named(
    ledger: CaseLedger, clock: SetClock
) -> None:
    ids = a_spring_of_cases(ledger, clock)
    result = build_statistics(ledger, START, END)
    assert result.threshold == 5
    assert all(c.suppressed for c in result.cells if c.value is None)
    assert not any(c.value is not None and 0 < c.value < 5 and c.measure != "median_days"
                   for c in result.cells)
    text = to_csv(result)
    page = render_stats_html(result)
    for secret in ("Elev-0", "Elev-1", "Barn-0", "Kari Lærer", "Berit Pedagog",
                   *(str(i) for i in ids)):
        assert secret not in text and secret not in page
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {"section", "period", "unit", "key", "measure", "value"} == set(rows[0])
    assert any(r["value"] == "<5" for r in rows)
    assert "<svg" in page and "http" not in page.split("<svg", 1)[0]


def test_a_unit_sees_only_its_own_figures(ledger: CaseLedger, clock: SetClock) -> None:
    a_spring_of_cases(ledger, clock)
    result = build_statistics(ledger, START, END, unit="Solsiden barnehage")
    assert {c.unit for c in result.cells if c.unit} == {"Solsiden barnehage"}


def test_a_case_closed_and_reopened_counts_in_the_months_it_was_open_at_its_level_then(
    database_url: str, tmp_path: Path, clock: SetClock
) -> None:
    with ledger_with_rulebook(database_url, tmp_path, clock, statistics_threshold=1) as ledger:
        case_id = register_undring(ledger, clock)  # 2 March
        clock.advance(days=35)  # April
        decide_level(ledger, case_id, 1)
        change_level(ledger, case_id, 0, 1)
        clock.advance(days=3)
        ledger.close_case(case_id, actor=RECTOR, reason="Ingen videre bekymring.",
                          closing_note="Eleven trives igjen.")
        clock.advance(days=30)  # May
        ledger.reopen_case(case_id, actor=RECTOR, reason="Ny uro.")
        clock.advance(days=40)  # June
        result = build_statistics(ledger, date(2026, 2, 1), END)
    assert cells(result, "cases_by_level") == {
        ("2026-03", "Fossen skole", "level_0"): 1,
        ("2026-05", "Fossen skole", "level_1"): 1,
    }
    assert cells(result, "new_cases") == {("2026-03", "Fossen skole"): 1}


@pytest.mark.parametrize("start", [None, START, date(2026, 4, 15)])
def test_statistics_read_a_few_events_at_a_time_are_those_read_at_once(
    ledger: CaseLedger, clock: SetClock, monkeypatch: pytest.MonkeyPatch, start: date | None
) -> None:
    # The ledger is read in batches of the event store's rows; a case's events that span two
    # batches, or more, are still counted together, once.
    a_spring_of_cases(ledger, clock)
    at_once = to_csv(build_statistics(ledger, start, END))
    monkeypatch.setattr(replay.stats, "READ_BATCH", 2)
    assert to_csv(build_statistics(ledger, start, END)) == at_once


def test_without_a_start_the_figures_are_those_with_the_first_undring_as_start(
    ledger: CaseLedger, clock: SetClock
) -> None:
    a_spring_of_cases(ledger, clock)
    for unit in (None, "Solsiden barnehage"):
        found = build_statistics(ledger, end=END, unit=unit)
        assert found.start == (date(2026, 3, 2) if unit is None else date(2026, 4, 11))
        assert to_csv(build_statistics(ledger, found.start, END, unit=unit)) == to_csv(found)


def test_a_figure_dated_before_its_own_undring_waits_for_the_start_to_be_known(
    ledger: CaseLedger,
) -> None:
    # The ledger's rules keep a case's events after its undring, but an imported history
    # might not: such a figure counts only if the first undring of all came before it.
    counts = replay.stats._Counts(None, END, end_of_day(END), ledger.rulebook)
    where = ("consents", "", "Fossen skole", "refused", "count")
    noticed = datetime(2026, 3, 10, 9, tzinfo=OSLO)
    counts.add_in_period(datetime(2026, 3, 5, 9, tzinfo=OSLO), noticed, where)
    counts.add_in_period(datetime(2026, 3, 1, 9, tzinfo=OSLO), noticed, where)
    counts.add_in_period(datetime(2026, 3, 12, 9, tzinfo=OSLO), noticed, where)
    assert counts.counts[where] == 1  # after its own undring: after the start, whatever it is
    counts.earliest = date(2026, 3, 3)
    assert counts.finish() == date(2026, 3, 3)
    assert counts.counts[where] == 2  # 5 March is in the period; 1 March is not


def test_the_cells_come_in_order_as_they_are_made_one_at_a_time(
    database_url: str, tmp_path: Path, clock: SetClock
) -> None:
    # The CSV is written as the cells are made (a national ledger has millions): the level
    # cells are made month by month and merged with the other counts, never sorted whole.
    with ledger_with_rulebook(database_url, tmp_path, clock, statistics_threshold=1) as ledger:
        a_spring_of_cases(ledger, clock)
        result = build_statistics(ledger, START, END)
        by_month = by_hand(ledger, START, END)["level"]
    made = list(result.each_cell())
    places = [(c.section, c.period, c.unit, c.key, c.measure) for c in made]
    assert places == sorted(places) and len(set(places)) == len(places)
    assert made == result.cells
    assert {c.section for c in made} >= {"cases_by_level", "consents", "deadlines",
                                         "new_cases", "undring_to_samtale"}
    levels = [p[1:4] for p in places if p[0] == "cases_by_level"]
    assert levels == sorted(by_month) and {p[0] for p in levels} == {"2026-03", "2026-04",
                                                                      "2026-05"}
