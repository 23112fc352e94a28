"""Statistics rebuilt from the events alone: for the BTI coordinator, never about one child.

Every figure is counted from the event log (read once, in order) with the same functions the
ledger uses — corrections laid over what they correct (`corrected_events`), deadlines by the
pure `deadlines` function — so the statistics can be rebuilt at any time and always agree
with the cases.

What is counted, for the period `[start, end]` (Oslo dates; only events recorded by the end
of the period):

- `cases_by_level` — per month (its last moment, or the period's end) and unit: the cases
  open then, by level. A case is open from its undring's `noticed_at` until a CaseClosed
  (and again from a CaseReopened); its level is the `to_level` of the last LevelChanged
  that had happened by then (0 before any).
- `new_cases` — per month and unit: undringer noticed that month.
- `undring_to_samtale` — per unit, for undringer noticed in the period that had their first
  samtale with the guardians in it: how many within one week, within three weeks, later,
  and the median number of days.
- `deadlines` — per rule: the deadlines due in the period, judged at its end: met, met
  late, missed (not done), cancelled, open.
- `stalled` — per unit: cases open at the end whose stalled-case deadline is missed then.
- `consents` — per unit: consents refused and consents withdrawn in the period.

No row names a case, a child or a person: only units, levels, rules and months. A count
from 1 to below the rulebook's `statistics_threshold` is suppressed (shown as "<N"), and so
is a median over fewer cases; no totals are given, so a suppressed count cannot be
worked out from the others.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import UUID

from ledger.application import CaseLedger
from ledger.case import corrected_events
from ledger.events import (
    CaseClosed,
    CaseEvent,
    CaseReopened,
    ConsentRefused,
    ConsentWithdrawn,
    Event,
    LevelChanged,
    SamtaleHeld,
    UndringRegistered,
)
from ledger.messages import text
from ledger.policies.calendar import OSLO, end_of_day, start_of_day
from ledger.policies.deadlines import deadlines
from ledger.policies.rulebook import Rulebook
from replay.asof import rulebook_as_of

Progress = Callable[[int], None]

DEADLINE_MEASURES = ("met", "met_late", "missed", "cancelled", "open")
SAMTALE_MEASURES = ("within_1_week", "within_3_weeks", "later", "median_days")


@dataclass(frozen=True)
class Cell:
    """One figure: which table, when, where, what; its value or that it is suppressed."""

    section: str
    period: str
    unit: str
    key: str
    measure: str
    value: float | None
    suppressed: bool = False

    def shown(self, threshold: int) -> str:
        """The value as a table shows it: the number, or "<threshold" when suppressed."""
        if self.suppressed:
            # A median over too few cases: say so, rather than a number that looks like days.
            return f"(n<{threshold})" if self.measure == "median_days" else f"<{threshold}"
        if self.value is None:
            return ""
        return f"{self.value:g}" if isinstance(self.value, float) else str(self.value)


@dataclass
class Statistics:
    """Every cell of the statistics for one period, suppression applied."""

    start: date
    end: date
    unit: str | None
    threshold: int
    rulebook: str
    cells: list[Cell] = field(default_factory=list)

    def section(self, name: str) -> list[Cell]:
        return [c for c in self.cells if c.section == name]

    def value(self, section: str, period: str, unit: str, key: str, measure: str) -> Cell | None:
        for c in self.cells:
            if (c.section, c.period, c.unit, c.key, c.measure) == (section, period, unit, key,
                                                                   measure):
                return c
        return None


def months(start: date, end: date) -> list[date]:
    """The first day of each month from `start`'s to `end`'s."""
    found, month = [], start.replace(day=1)
    while month <= end:
        found.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return found


def month_end(month: date, end: date) -> datetime:
    """The last moment of `month` in Oslo, or of `end` if that comes first."""
    last = min((month + timedelta(days=32)).replace(day=1) - timedelta(days=1), end)
    return end_of_day(last)


def cases_from(events: Iterable[Event], recorded_by: datetime) -> dict[UUID, list[CaseEvent]]:
    """Each case's events recorded by `recorded_by`, in recorded order."""
    cases: dict[UUID, list[CaseEvent]] = defaultdict(list)
    for event in events:
        if isinstance(event, CaseEvent) and event.recorded_at <= recorded_by:
            cases[event.case_id].append(event)
    return cases


def read_events(ledger: CaseLedger, progress: Progress | None) -> Iterator[Event]:
    """Every event of the ledger in recorded order, reporting each to `progress`."""
    for event in ledger.all_events():
        if progress is not None:
            progress(1)
        yield event


def build_statistics(
    ledger: CaseLedger,
    start: date | None = None,
    end: date | None = None,
    unit: str | None = None,
    progress: Progress | None = None,
) -> Statistics:
    """The statistics of the ledger for `[start, end]` (default: its first day to today)."""
    today = ledger.clock().astimezone(OSLO).date()
    end = end or today
    end_moment = min(end_of_day(end), ledger.clock())
    cases = cases_from(read_events(ledger, progress), end_moment)
    corrected = {case_id: corrected_events(events) for case_id, events in cases.items()}
    registrations = {
        case_id: next(e for e in events if isinstance(e, UndringRegistered))
        for case_id, events in corrected.items()
        if any(isinstance(e, UndringRegistered) for e in events)
    }
    if unit is not None:
        registrations = {k: r for k, r in registrations.items() if r.unit == unit}
    if start is None:
        noticed = [r.noticed_at.astimezone(OSLO).date() for r in registrations.values()]
        start = min(noticed, default=end)
    rulebook = rulebook_as_of(ledger, end_moment)
    threshold = rulebook.statistics_threshold.value
    counts = _Counts()
    period_start = start_of_day(start)
    for case_id, registration in registrations.items():
        events = corrected[case_id]
        _count_levels(counts, registration, events, start, end)
        _count_samtale(counts, registration, events, period_start, end_moment)
        _count_consents(counts, registration, events, period_start, end_moment)
        _count_deadlines(counts, registration, cases[case_id], rulebook, start=period_start,
                         end=end_moment)
    result = Statistics(start, end, unit, threshold, f"{rulebook.name} {rulebook.version}")
    result.cells = counts.cells(threshold)
    return result


class _Counts:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str, str, str]] = Counter()
        self.days: dict[str, list[float]] = defaultdict(list)

    def add(self, section: str, period: str, unit: str, key: str, measure: str) -> None:
        self.counts[(section, period, unit, key, measure)] += 1

    def cells(self, threshold: int) -> list[Cell]:
        found = [
            Cell(*where, value=None if 0 < n < threshold else n, suppressed=0 < n < threshold)
            for where, n in self.counts.items()
        ]
        for unit, days in self.days.items():
            small = len(days) < threshold
            found.append(Cell(
                "undring_to_samtale", "", unit, "", "median_days",
                None if small else round(statistics.median(days), 1), suppressed=small,
            ))
        return sorted(found, key=lambda c: (c.section, c.period, c.unit, c.key, c.measure))


def _count_levels(
    counts: _Counts, registration: UndringRegistered, events: list[CaseEvent],
    start: date, end: date,
) -> None:
    noticed = registration.noticed_at.astimezone(OSLO)
    if start <= noticed.date() <= end:
        counts.add("new_cases", noticed.strftime("%Y-%m"), registration.unit, "", "count")
    for month in months(start, end):
        moment = month_end(month, end)
        if noticed > moment:
            continue
        happened = [e for e in events if e.occurred_at <= moment]
        closings = [e for e in happened if isinstance(e, CaseClosed | CaseReopened)]
        if closings and isinstance(max(closings, key=_when), CaseClosed):
            continue
        changes = [e for e in happened if isinstance(e, LevelChanged)]
        level = max(changes, key=_when).to_level if changes else 0
        counts.add("cases_by_level", month.strftime("%Y-%m"), registration.unit,
                   f"level_{level}", "open_cases")


def _when(event: CaseEvent) -> tuple[datetime, int]:
    # What happened last; among events at the same instant, the one recorded last.
    return (event.occurred_at, event.sequence)


def _count_samtale(
    counts: _Counts, registration: UndringRegistered, events: list[CaseEvent],
    start: datetime, end: datetime,
) -> None:
    noticed = registration.noticed_at
    if not start <= noticed <= end:
        return
    held = [
        e for e in events
        if isinstance(e, SamtaleHeld) and "guardians" in e.participants
        and noticed <= e.occurred_at <= end
    ]
    if not held:
        return
    first = min(held, key=_when)
    days = (first.occurred_at - noticed).total_seconds() / 86_400
    bucket = "within_1_week" if days <= 7 else "within_3_weeks" if days <= 21 else "later"
    counts.add("undring_to_samtale", "", registration.unit, "", bucket)
    counts.days[registration.unit].append(days)


def _count_consents(
    counts: _Counts, registration: UndringRegistered, events: list[CaseEvent],
    start: datetime, end: datetime,
) -> None:
    for e in events:
        if isinstance(e, ConsentRefused | ConsentWithdrawn) and start <= e.occurred_at <= end:
            kind = "refused" if isinstance(e, ConsentRefused) else "withdrawn"
            counts.add("consents", "", registration.unit, kind, "count")


def _count_deadlines(
    counts: _Counts, registration: UndringRegistered, events: list[CaseEvent],
    rulebook: Rulebook, *, start: datetime, end: datetime,
) -> None:
    for d in deadlines(events, rulebook, end):
        if d.rule == "stalled_case" and d.state == "missed" and _open_at(events, end):
            counts.add("stalled", "", registration.unit, "", "count")
        if not start <= d.due_at <= end:
            continue
        measure = "met_late" if d.met_late else d.state
        counts.add("deadlines", "", "", d.rule, measure)


def _open_at(events: list[CaseEvent], moment: datetime) -> bool:
    closings = [e for e in events if isinstance(e, CaseClosed | CaseReopened)
                and e.occurred_at <= moment]
    return not closings or not isinstance(max(closings, key=_when), CaseClosed)


# ---- CSV and HTML ------------------------------------------------------------------------


def to_csv(result: Statistics) -> str:
    """One row per cell: section, period, unit, key, measure, value ("<N" if suppressed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "period", "unit", "key", "measure", "value"])
    for c in result.cells:
        writer.writerow([c.section, c.period, c.unit, c.key, c.measure,
                         c.shown(result.threshold)])
    return out.getvalue()


def section_title(section: str) -> str:
    return text(f"stats.section.{section}")


def measure_title(measure: str) -> str:
    return text(f"stats.measure.{measure}")
