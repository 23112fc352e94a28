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
import heapq
import io
import statistics
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import TextIO

from eventsourcing.persistence import Notification

from ledger.application import CaseLedger
from ledger.case import corrected_events
from ledger.events import (
    CaseClosed,
    CaseEvent,
    CaseReopened,
    ConsentRefused,
    ConsentWithdrawn,
    LevelChanged,
    SamtaleHeld,
    UndringRegistered,
)
from ledger.heap import fewer_collections
from ledger.messages import text
from ledger.policies.calendar import OSLO, end_of_day, start_of_day
from ledger.policies.deadlines import deadlines
from ledger.policies.rulebook import Rulebook
from ledger.projections.sql import Database
from replay.asof import rulebook_as_of

Progress = Callable[[int], None]

DEADLINE_MEASURES = ("met", "met_late", "missed", "cancelled", "open")
SAMTALE_MEASURES = ("within_1_week", "within_3_weeks", "later", "median_days")


@dataclass(frozen=True, slots=True)
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
    """Every cell of the statistics for one period, suppression applied.

    The cells are made from the counts when they are asked for: `each_cell` one at a time
    (a CSV written as it is made), `cells` all at once (for the charts). A national ledger
    has millions of cells (unit × month × level), and holding them all as objects, then
    the CSV as one string, took more memory than reading every event did.
    """

    start: date
    end: date
    unit: str | None
    threshold: int
    rulebook: str
    figures: Callable[[], Iterable[Cell]] = field(default=tuple, repr=False, compare=False)
    """Makes the cells, in order, each time it is called."""
    _index: dict[tuple[str, str, str, str, str], Cell] | None = field(
        default=None, init=False, repr=False, compare=False)

    def each_cell(self) -> Iterator[Cell]:
        """The cells in order (section, period, unit, key, measure), made one at a time."""
        yield from self.figures()

    @cached_property
    def cells(self) -> list[Cell]:
        return list(self.figures())

    def section(self, name: str) -> list[Cell]:
        return [c for c in self.cells if c.section == name]

    def value(self, section: str, period: str, unit: str, key: str, measure: str) -> Cell | None:
        # The charts look up every unit, level and month: a scan of all cells each time took
        # minutes on a municipality's ledger.
        if self._index is None:
            self._index = {(c.section, c.period, c.unit, c.key, c.measure): c for c in self.cells}
        return self._index.get((section, period, unit, key, measure))


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


READ_BATCH = 1_000
"""Events read and decoded at a time (their cases' keys are read in one query per batch)."""


def case_histories(
    ledger: CaseLedger, recorded_by: datetime, progress: Progress | None = None
) -> Iterator[list[CaseEvent]]:
    """Each case's events recorded by `recorded_by`, in recorded order, one case at a time.

    The events are read in the order of the event store's primary key (case, version), so
    only one case's history is held at a time, however large the ledger: a case's events
    are spread over the whole log, and reading it in recorded order meant holding all of
    them. A case's versions are stored in the order they were recorded.
    """
    store = ledger.store
    db = Database(store)
    columns = (f"SELECT {db.position_column}, originator_id, originator_version, topic, state "
               f"FROM {db.events_table} ")
    order = "ORDER BY originator_id, originator_version LIMIT %s"
    history: list[CaseEvent] = []
    stream: object = None
    after: tuple[object, int] | None = None
    while True:
        with db.transaction() as cursor:
            if after is None:
                cursor.execute(columns + order, (READ_BATCH,))
            else:
                cursor.execute(columns + "WHERE (originator_id, originator_version) > (%s, %s) "
                               + order, (*after, READ_BATCH))
            rows = cursor.fetchall()
        if not rows:
            break
        after = (rows[-1][1], int(rows[-1][2]))
        events = store.decode_rows([
            Notification(id=int(r[0]), originator_id=r[1], originator_version=int(r[2]),
                         topic=str(r[3]), state=bytes(r[4]))
            for r in rows
        ])
        for row, event in zip(rows, events, strict=True):
            if row[1] != stream:
                if history:
                    yield history
                history, stream = [], row[1]
            if isinstance(event, CaseEvent) and event.recorded_at <= recorded_by:
                history.append(event)
        if progress is not None:
            progress(len(rows))
    if history:
        yield history


def build_statistics(
    ledger: CaseLedger,
    start: date | None = None,
    end: date | None = None,
    unit: str | None = None,
    progress: Progress | None = None,
) -> Statistics:
    """The statistics of the ledger for `[start, end]` (default: its first day to today).

    Cases are counted one at a time as they are read, so memory holds one case's events and
    the counts, not the ledger.
    """
    today = ledger.clock().astimezone(OSLO).date()
    end = end or today
    end_moment = min(end_of_day(end), ledger.clock())
    rulebook = rulebook_as_of(ledger, end_moment)
    threshold = rulebook.statistics_threshold.value
    counts = _Counts(start, end, end_moment, rulebook)
    with fewer_collections():
        for events in case_histories(ledger, end_moment, progress):
            corrected = corrected_events(events)
            registration = next((e for e in corrected if isinstance(e, UndringRegistered)), None)
            if registration is None or (unit is not None and registration.unit != unit):
                continue
            counts.add_case(registration, corrected, events)
    start = counts.finish()
    return Statistics(start, end, unit, threshold, f"{rulebook.name} {rulebook.version}",
                      figures=lambda: counts.cells(threshold))


Where = tuple[str, str, str, str, str]
"""A cell's place: section, period, unit, key, measure."""


class _Counts:
    """The counts of one period, added a case at a time.

    Without a given start the period begins on the earliest undring's day, known only when
    every case has been read. Most figures do not depend on it — each case's own undring
    comes on or after that day — but a deadline or a consent dated before its own case's
    undring might: those are kept by day (a handful) and counted once the start is known.
    """

    def __init__(self, start: date | None, end: date, end_moment: datetime,
                 rulebook: Rulebook) -> None:
        self.start, self.end, self.end_moment, self.rulebook = start, end, end_moment, rulebook
        self.period_start = None if start is None else start_of_day(start)
        self.counts: Counter[Where] = Counter()
        self.days: dict[str, array[float]] = {}
        """Days from undring to first samtale, by unit (as doubles: a float object each
        took four times the room, and there is one per case)."""
        self.earliest: date | None = None
        """The earliest undring's day in Oslo (the start, when none is given)."""
        self.undated: Counter[tuple[date, Where]] = Counter()
        """Counts that wait for the start: by the day they fall on."""
        self.stop = _ordinal(end) + 1
        """The month after the period's last (as an `_ordinal`)."""
        self.level_steps: dict[tuple[str, int], array[int]] = {}
        """Open cases by unit and level: +1 in the month a case starts counting there, −1
        in the month it stops, summed over months in `cells`. Indexed by months back from
        `stop` (0 is `stop` itself), so an earlier undring only lengthens the array."""
        self._shared: dict[str, str] = {}
        """One string object per unit name and month label, however many keys hold it."""

    def share(self, name: str) -> str:
        return self._shared.setdefault(name, name)

    def add(self, section: str, period: str, unit: str, key: str, measure: str) -> None:
        self.counts[(section, self.share(period), self.share(unit), key, measure)] += 1

    def add_in_period(self, moment: datetime, noticed: datetime, where: Where) -> None:
        """Count `where` if `moment` falls in the period (it is at or before its end)."""
        if self.period_start is not None:
            if self.period_start <= moment:
                self.counts[where] += 1
        elif moment >= start_of_day(noticed.astimezone(OSLO).date()):
            self.counts[where] += 1  # on or after its case's undring: after the start too
        else:
            self.undated[(moment.astimezone(OSLO).date(), where)] += 1

    def add_case(self, registration: UndringRegistered, corrected: list[CaseEvent],
                 events: list[CaseEvent]) -> None:
        """Count one case: its registration, its events corrected, and as recorded."""
        noticed_day = registration.noticed_at.astimezone(OSLO).date()
        if self.earliest is None or noticed_day < self.earliest:
            self.earliest = noticed_day
        unit = self.share(registration.unit)
        self._count_levels(registration, unit, corrected)
        self._count_samtale(registration, unit, corrected)
        self._count_consents(registration, unit, corrected)
        self._count_deadlines(registration, unit, events)

    def finish(self) -> date:
        """The period's start (given, or the earliest undring's day); the waiting counts in."""
        if self.start is None:
            self.start = self.earliest if self.earliest is not None else self.end
            for (day, where), n in self.undated.items():
                if day >= self.start:
                    self.counts[where] += n
            self.undated.clear()
        return self.start

    def cells(self, threshold: int) -> Iterator[Cell]:
        """Every cell, in order, suppression applied; made one at a time from the counts."""

        def cell(where: Where, n: int) -> Cell:
            small = 0 < n < threshold
            return Cell(*where, value=None if small else n, suppressed=small)

        def medians() -> Iterator[Cell]:
            for unit, days in self.days.items():
                small = len(days) < threshold
                yield Cell("undring_to_samtale", "", unit, "", "median_days",
                           None if small else round(statistics.median(days), 1),
                           suppressed=small)

        # Only the counts' keys are sorted (tuples already); the level cells, by far the
        # most, are made in order, and the two streams merged as they go.
        counted = (cell(where, n) for where, n in sorted(self.counts.items()))
        rest = heapq.merge(counted, sorted(medians(), key=_place), key=_place)
        return heapq.merge(self._levels(cell), rest, key=_place)

    def _levels(self, cell: Callable[[Where, int], Cell]) -> Iterator[Cell]:
        """The open cases of each month, unit and level, in order, summed from the steps."""
        assert self.start is not None  # `finish` has run
        first, last = _ordinal(self.start), _ordinal(self.end)
        places = sorted(self.level_steps)
        running = [self._running_before(self.level_steps[place], first) for place in places]
        level_keys = {level: f"level_{level}" for _, level in places}
        for month in range(first, last + 1):
            label = _month_label(month)
            back = self.stop - month
            for i, (unit, level) in enumerate(places):
                steps = self.level_steps[(unit, level)]
                if back < len(steps):
                    running[i] += steps[back]
                if running[i] > 0:
                    yield cell(("cases_by_level", label, unit, level_keys[level], "open_cases"),
                               running[i])

    def _running_before(self, steps: array[int], first: int) -> int:
        """The sum of the steps in the months before `first`."""
        return sum(steps[self.stop - first + 1:])

    def _step(self, unit: str, level: int, month: int, by: int) -> None:
        steps = self.level_steps.get((unit, level))
        if steps is None:
            steps = self.level_steps[(unit, level)] = array("q")
        back = self.stop - month
        if back >= len(steps):
            steps.extend([0] * (back + 1 - len(steps)))
        steps[back] += by

    def _count_levels(self, registration: UndringRegistered, unit: str,
                      events: list[CaseEvent]) -> None:
        # At each month's end, a case noticed by then counts under its unit and level unless
        # its last closing or reopening by then closed it. The state changes only in the
        # months of its closings and level changes, so it is counted once per stretch of
        # months (as steps), not once per month.
        noticed = registration.noticed_at.astimezone(OSLO)
        end = self.end
        if (self.start is None or self.start <= noticed.date()) and noticed.date() <= end:
            self.add("new_cases", noticed.strftime("%Y-%m"), unit, "", "count")
        if noticed.date() > end:
            return
        first = _ordinal(noticed.date())
        if self.start is not None:
            first = max(first, _ordinal(self.start))
        stop = self.stop
        changes = sorted(
            (e for e in events if isinstance(e, CaseClosed | CaseReopened | LevelChanged)
             and e.occurred_at.astimezone(OSLO).date() <= end),
            key=_when,
        )
        closing: CaseEvent | None = None
        change: LevelChanged | None = None
        since = first
        index = 0
        while since < stop:
            # Every change seen by the end of month `since` (a prefix: sorted by time).
            while index < len(changes):
                e = changes[index]
                seen = max(_ordinal(e.occurred_at.astimezone(OSLO).date()), first)
                if seen > since:
                    break
                # The first of equal times stays the latest, as `max` keeps it.
                if isinstance(e, LevelChanged):
                    if change is None or _when(e) > _when(change):
                        change = e
                elif closing is None or _when(e) > _when(closing):
                    closing = e
                index += 1
            until = stop
            if index < len(changes):
                until = min(stop, _ordinal(changes[index].occurred_at.astimezone(OSLO).date()))
            if not isinstance(closing, CaseClosed):
                level = change.to_level if change is not None else 0
                self._step(unit, level, since, +1)
                self._step(unit, level, until, -1)
            since = until

    def _count_samtale(self, registration: UndringRegistered, unit: str,
                       events: list[CaseEvent]) -> None:
        noticed = registration.noticed_at
        in_period = (self.period_start is None or self.period_start <= noticed)
        if not in_period or noticed > self.end_moment:
            return
        held = [
            e for e in events
            if isinstance(e, SamtaleHeld) and "guardians" in e.participants
            and noticed <= e.occurred_at <= self.end_moment
        ]
        if not held:
            return
        first = min(held, key=_when)
        days = (first.occurred_at - noticed).total_seconds() / 86_400
        bucket = "within_1_week" if days <= 7 else "within_3_weeks" if days <= 21 else "later"
        self.add("undring_to_samtale", "", unit, "", bucket)
        self.days.setdefault(unit, array("d")).append(days)

    def _count_consents(self, registration: UndringRegistered, unit: str,
                        events: list[CaseEvent]) -> None:
        for e in events:
            if isinstance(e, ConsentRefused | ConsentWithdrawn) and e.occurred_at <= self.end_moment:
                kind = "refused" if isinstance(e, ConsentRefused) else "withdrawn"
                self.add_in_period(e.occurred_at, registration.noticed_at,
                                   ("consents", "", unit, kind, "count"))

    def _count_deadlines(self, registration: UndringRegistered, unit: str,
                         events: list[CaseEvent]) -> None:
        end = self.end_moment
        open_at_end: bool | None = None
        for d in deadlines(events, self.rulebook, end):
            if d.rule == "stalled_case" and d.state == "missed":
                if open_at_end is None:
                    open_at_end = _open_at(events, end)
                if open_at_end:
                    self.add("stalled", "", unit, "", "count")
            if d.due_at > end:
                continue
            measure = "met_late" if d.met_late else d.state
            self.add_in_period(d.due_at, registration.noticed_at,
                               ("deadlines", "", "", d.rule, measure))


def _ordinal(day: date) -> int:
    """The month of `day` as a number that counts months."""
    return day.year * 12 + day.month - 1


def _place(cell: Cell) -> Where:
    return (cell.section, cell.period, cell.unit, cell.key, cell.measure)


def _month_label(ordinal: int) -> str:
    return date(ordinal // 12, ordinal % 12 + 1, 1).strftime("%Y-%m")


def _when(event: CaseEvent) -> tuple[datetime, int]:
    # What happened last; among events at the same instant, the one recorded last.
    return (event.occurred_at, event.sequence)


def _open_at(events: list[CaseEvent], moment: datetime) -> bool:
    closings = [e for e in events if isinstance(e, CaseClosed | CaseReopened)
                and e.occurred_at <= moment]
    return not closings or not isinstance(max(closings, key=_when), CaseClosed)


# ---- CSV and HTML ------------------------------------------------------------------------


def write_csv(result: Statistics, out: TextIO) -> None:
    """One row per cell: section, period, unit, key, measure, value ("<N" if suppressed),
    written as each cell is made."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "period", "unit", "key", "measure", "value"])
    for c in result.each_cell():
        writer.writerow([c.section, c.period, c.unit, c.key, c.measure,
                         c.shown(result.threshold)])


def to_csv(result: Statistics) -> str:
    """The CSV of `write_csv`, as one string."""
    out = io.StringIO()
    write_csv(result, out)
    return out.getvalue()


def section_title(section: str) -> str:
    return text(f"stats.section.{section}")


def measure_title(measure: str) -> str:
    return text(f"stats.measure.{measure}")
