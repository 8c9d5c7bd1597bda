"""Working days, for the deadlines the rules count in them (a change in the number of residents is
reported within the rules profile's ``residents_report_days``, 5 working days).

The calendar is Russia's production calendar as python-holidays keeps it: the public holidays,
the days off moved by the government's yearly decree, and the Saturdays made working days
(docs/adr/0022). Plain functions over dates; the calendar is built once per year range."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays


@cache
def _calendar(first_year: int, last_year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("RU", years=range(first_year, last_year + 1))


def is_working_day(day: date) -> bool:
    """Whether ``day`` is a working day in Russia (a moved Saturday is; a moved Monday is not)."""
    return bool(_calendar(day.year - 1, day.year + 1).is_working_day(day))


def working_day_after(day: date, n: int) -> date:
    """The ``n``-th working day after ``day`` (``day`` itself not counted)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    current, counted = day, 0
    while counted < n:
        current += timedelta(days=1)
        if is_working_day(current):
            counted += 1
    return current


def residents_effective(changed_on: date, reported_on: date, within: int) -> date:
    """The day a change in the number of residents counts from: the day it happened, when it was
    reported within ``within`` working days of it; else the day it was reported."""
    if reported_on < changed_on:
        raise ValueError("a change cannot be reported before it happened")
    return changed_on if reported_on <= working_day_after(changed_on, within) else reported_on
