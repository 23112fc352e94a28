"""Dates and times as the municipality counts them: in Europe/Oslo, days running to midnight."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")


def local_date(moment: datetime) -> date:
    """The calendar day in Oslo on which `moment` falls."""
    return moment.astimezone(OSLO).date()


def end_of_day(day: date) -> datetime:
    """The last instant of `day` in Oslo: a due date "runs to the end of that day"."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=OSLO) - timedelta(
        microseconds=1
    )


def age_on(birth_date: date, day: date) -> int:
    """Completed years of age on `day` (a birthday on 29 February counts from 1 March)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years
