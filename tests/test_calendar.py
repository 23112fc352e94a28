"""How the municipality counts time: Oslo wall-clock days, days running to midnight, virkedager."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.policies.calendar import (
    OSLO,
    _public_holidays,
    add_local_days,
    add_working_days,
    age_on,
    end_of_day,
    is_public_holiday,
    is_working_day,
    local_date,
    start_of_day,
)


def oslo(text: str) -> datetime:
    """A wall-clock time in Oslo, written as "2026-03-23 10:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=OSLO)


# ---- days and weeks keep the local wall-clock time ------------------------------------------


def test_one_week_across_the_start_of_summer_time_is_the_same_local_time() -> None:
    monday = oslo("2026-03-23 10:00")

    week_later = add_local_days(monday, 7)

    assert week_later == oslo("2026-03-30 10:00")
    assert week_later.utcoffset() == timedelta(hours=2)
    assert week_later.astimezone(UTC) - monday.astimezone(UTC) == timedelta(days=6, hours=23)


def test_one_week_across_the_end_of_summer_time_is_the_same_local_time() -> None:
    monday = oslo("2026-10-19 10:00")

    week_later = add_local_days(monday, 7)

    assert week_later == oslo("2026-10-26 10:00")
    assert week_later.utcoffset() == timedelta(hours=1)
    assert week_later.astimezone(UTC) - monday.astimezone(UTC) == timedelta(days=7, hours=1)


def test_a_time_given_in_utc_is_counted_on_the_oslo_clock() -> None:
    # 09:00 UTC is 10:00 in Oslo in winter; a week later it is 10:00 in Oslo, 08:00 UTC.
    assert add_local_days(datetime(2026, 3, 23, 9, 0, tzinfo=UTC), 7) == datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC
    )


def test_a_wall_time_the_spring_clocks_skip_moves_on_by_the_skipped_hour() -> None:
    # 02:30 does not exist on Sunday 29 March 2026: the clocks go from 02:00 to 03:00.
    assert add_local_days(oslo("2026-03-22 02:30"), 7) == oslo("2026-03-29 03:30")


def test_a_wall_time_the_autumn_clocks_repeat_is_the_first_of_the_two() -> None:
    reached = add_local_days(oslo("2026-10-18 02:30"), 7)

    assert reached.utcoffset() == timedelta(hours=2)
    # Compare in UTC: Python never calls a time in the repeated hour equal to another zone's.
    assert reached.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_days_across_new_year_are_plain_calendar_days() -> None:
    assert add_local_days(oslo("2026-12-30 14:00"), 3) == oslo("2027-01-02 14:00")


def test_a_moment_without_a_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_local_days(datetime(2026, 3, 23, 10, 0), 7)


@given(
    moment=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    days=st.integers(min_value=0, max_value=400),
)
def test_counting_days_moves_the_oslo_date_by_that_many_days_and_never_goes_back(
    moment: datetime, days: int
) -> None:
    reached = add_local_days(moment, days)

    assert local_date(reached) == local_date(moment) + timedelta(days=days)
    assert reached >= moment


# ---- a day runs to midnight in Oslo ---------------------------------------------------------


def test_the_end_of_a_summer_day_is_a_microsecond_before_midnight_in_summer_time() -> None:
    end = end_of_day(date(2026, 6, 30))

    assert end == datetime(2026, 6, 30, 21, 59, 59, 999999, tzinfo=UTC)
    assert local_date(end) == date(2026, 6, 30)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 12, 31), 24)],
    ids=["summer time begins", "summer time ends", "new year's eve"],
)
def test_a_day_lasts_from_its_start_to_its_end_whatever_the_clocks_do(
    day: date, hours: int
) -> None:
    # Subtract in UTC: Python subtracts two Oslo times on the wall clock, ignoring the shift.
    length = end_of_day(day).astimezone(UTC) - start_of_day(day).astimezone(UTC)

    assert length == timedelta(hours=hours, microseconds=-1)


def test_late_evening_utc_is_already_the_next_day_in_oslo() -> None:
    assert local_date(datetime(2026, 6, 30, 22, 30, tzinfo=UTC)) == date(2026, 7, 1)


def test_age_counts_completed_years() -> None:
    assert age_on(date(2010, 5, 17), date(2026, 5, 16)) == 15
    assert age_on(date(2010, 5, 17), date(2026, 5, 17)) == 16


# ---- virkedager: Monday to Friday, not a public holiday ------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 4, 2), "Skjærtorsdag"),
        (date(2026, 4, 3), "Langfredag"),
        (date(2026, 4, 6), "2. påskedag"),
        (date(2026, 5, 1), "1. mai"),
        (date(2026, 5, 14), "Kristi himmelfartsdag"),
        (date(2026, 5, 25), "2. pinsedag"),
        (date(2028, 5, 17), "17. mai on a Wednesday"),
        (date(2026, 12, 25), "1. juledag"),
        (date(2027, 1, 1), "1. nyttårsdag"),
    ],
)
def test_a_norwegian_public_holiday_on_a_weekday_is_not_a_working_day(day: date, name: str) -> None:
    assert day.weekday() < 5, name
    assert is_public_holiday(day)
    assert not is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [date(2026, 4, 1), date(2026, 4, 7), date(2026, 12, 24), date(2026, 12, 31)],
    ids=["onsdag før påske", "tirsdag etter påske", "julaften", "nyttårsaften"],
)
def test_the_days_around_the_holidays_are_working_days(day: date) -> None:
    assert is_working_day(day)


def test_an_ordinary_sunday_is_no_public_holiday_but_no_working_day_either() -> None:
    # Some versions of `holidays` list every Norwegian Sunday as a holiday; we do not.
    sunday = date(2026, 3, 8)

    assert not is_public_holiday(sunday)
    assert not is_working_day(sunday)


def test_17_mai_on_a_sunday_costs_no_working_day() -> None:
    assert date(2026, 5, 17).weekday() == 6
    assert is_public_holiday(date(2026, 5, 17))
    assert add_working_days(date(2026, 5, 15), 1) == date(2026, 5, 18)


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2028])
def test_working_days_follow_the_holidays_library_for_the_whole_year(year: int) -> None:
    library = holidays.country_holidays("NO", years=year)
    day = date(year, 1, 1)
    while day.year == year:
        assert is_working_day(day) == (day.weekday() < 5 and day not in library), day
        day += timedelta(days=1)


def test_norways_calendar_loaded_on_its_own_gives_the_librarys_holidays() -> None:
    # Loaded alone for speed (not the package of every country); the days must not change.
    for year in range(2000, 2051):
        library = holidays.country_holidays("NO", years=year, include_sundays=False)
        assert _public_holidays(year) == frozenset(d for d in library if d.year == year), year


def test_five_working_days_from_the_wednesday_before_easter_end_on_the_monday_after_the_next() -> (
    None
):
    # Skjærtorsdag 2, Langfredag 3 and 2. påskedag 6 April 2026 are skipped with the weekend.
    assert add_working_days(date(2026, 4, 1), 5) == date(2026, 4, 13)


def test_working_days_across_christmas_and_new_year() -> None:
    # 25 December 2026 is a Friday, 1 January 2027 a Friday; 24 and 31 December count.
    assert add_working_days(date(2026, 12, 23), 5) == date(2026, 12, 31)
    assert add_working_days(date(2026, 12, 23), 6) == date(2027, 1, 4)


def test_working_days_counted_from_a_saturday_start_on_monday() -> None:
    assert add_working_days(date(2026, 3, 7), 1) == date(2026, 3, 9)


def test_zero_working_days_is_the_day_itself() -> None:
    assert add_working_days(date(2026, 4, 3), 0) == date(2026, 4, 3)


def test_a_negative_count_of_working_days_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_days(date(2026, 4, 3), -1)


@given(
    day=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    count=st.integers(min_value=1, max_value=30),
)
def test_the_nth_working_day_is_a_working_day_with_n_working_days_up_to_it(
    day: date, count: int
) -> None:
    reached = add_working_days(day, count)
    between = [day + timedelta(days=i) for i in range(1, (reached - day).days + 1)]

    assert is_working_day(reached)
    assert sum(is_working_day(d) for d in between) == count


def test_zero_days_is_the_same_moment_even_in_the_repeated_autumn_hour() -> None:
    second_0230 = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 winter time, the second one

    assert add_local_days(second_0230, 0).astimezone(UTC) == second_0230
