"""Dates and times as the municipality counts them: in Europe/Oslo, days running to midnight.

Three ways of counting forward, each in Oslo local time:

- calendar days and weeks keep the local wall-clock time (`add_local_days`): one week after
  Monday 23 March 2026 10:00 is Monday 30 March 2026 10:00, although summer time began in
  between and the two moments are 6 days 23 hours apart;
- a due *date* runs to the end of that day (`end_of_day`);
- working days (virkedager) are Monday to Friday except Norway's public holidays
  (`is_working_day`, `add_working_days`). The holidays come from the `holidays` library,
  never from a list written here.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")

_SATURDAY = 5


def local_date(moment: datetime) -> date:
    """The calendar day in Oslo on which `moment` falls."""
    return moment.astimezone(OSLO).date()


def end_of_day(day: date) -> datetime:
    """The last instant of `day` in Oslo: a due date "runs to the end of that day"."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=OSLO) - timedelta(
        microseconds=1
    )


def start_of_day(day: date) -> datetime:
    """The first instant of `day` in Oslo (midnight; summer time never shifts at midnight)."""
    return datetime.combine(day, time(0), tzinfo=OSLO)


def age_on(birth_date: date, day: date) -> int:
    """Completed years of age on `day` (a birthday on 29 February counts from 1 March)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def add_local_days(moment: datetime, days: int) -> datetime:
    """`moment` moved `days` calendar days on in Oslo, at the same local wall-clock time.

    A wall-clock time that does not exist on the day reached (02:30 on the last Sunday of
    March) moves on by the hour the clocks skip (03:30 summer time); one that occurs twice
    (02:30 on the last Sunday of October) is the first of the two (summer time).
    """
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    local = moment.astimezone(OSLO)
    if days == 0:
        return local
    wall = datetime.combine(local.date() + timedelta(days=days), local.timetz().replace(fold=0))
    # Round-trip through UTC to settle a wall time in the spring gap on a real instant.
    return wall.astimezone(UTC).astimezone(OSLO)


@cache
def _public_holidays(year: int) -> frozenset[date]:
    # Some versions of `holidays` count every Sunday as a Norwegian holiday ("which they are
    # in Norway"); ask without them, so only the real helligdager and høytidsdager remain.
    # A Sunday is never a working day anyway, so the answer does not depend on this.
    calendar = _norway()(years=year, include_sundays=False)
    return frozenset(day for day in calendar if day.year == year)


@cache
def _norway() -> Any:
    """The `holidays` library's calendar class for Norway, imported on first use.

    `holidays.country_holidays("NO")` imports the package of every country (about 280
    modules, 0.16 s), a pause felt by the first command of each process that counts working
    days; loading only Norway's module takes 0.01 s. Should the library move that module,
    the usual way still works.
    """
    import holidays  # noqa: PLC0415 (here, not at import: most commands never count working days)

    module = _load_alone("holidays.countries.norway", "countries/norway.py", holidays)
    norway = getattr(module, "Norway", None) if module is not None else None
    if norway is None:
        return lambda **options: holidays.country_holidays("NO", **options)
    return norway


def _load_alone(name: str, relative: str, package: ModuleType) -> ModuleType | None:
    """A module of `package` loaded without its parent package's __init__ (None if absent)."""
    path = Path(str(package.__file__)).parent / relative
    spec = importlib.util.spec_from_file_location(f"_bti_{name}", path) if path.exists() else None
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError:
        return None
    return module


def is_public_holiday(day: date) -> bool:
    """Whether `day` is a Norwegian public holiday (1 January, påske, 1 and 17 May, …).

    Julaften (24 December) and nyttårsaften (31 December) are not public holidays in law,
    and so count as working days here, as in the `holidays` library.
    """
    return day in _public_holidays(day.year)


def is_working_day(day: date) -> bool:
    """A virkedag: Monday to Friday and not a Norwegian public holiday."""
    return day.weekday() < _SATURDAY and not is_public_holiday(day)


@lru_cache(maxsize=4096)
def add_working_days(day: date, count: int) -> date:
    """The `count`-th working day after `day` (`day` itself is not counted); 0 gives `day`."""
    if count < 0:
        raise ValueError("count must not be negative")
    reached = day
    remaining = count
    while remaining:
        reached += timedelta(days=1)
        if is_working_day(reached):
            remaining -= 1
    return reached
