"""Billing periods: calendar months, identified by their first day."""

from __future__ import annotations

from datetime import date


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_index(day: date) -> int:
    """A running month number (year * 12 + month - 1), for month arithmetic."""
    return day.year * 12 + day.month - 1


def month_from_index(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def add_months(day: date, months: int) -> date:
    return month_from_index(month_index(day) + months)


def months_between(earlier: date, later: date) -> int:
    """Whole months from the month of ``earlier`` to the month of ``later``."""
    return month_index(later) - month_index(earlier)


def iter_months(first: date, last: date) -> list[date]:
    """Every month from ``first``'s to ``last``'s, inclusive, as first days."""
    return [month_from_index(i) for i in range(month_index(first), month_index(last) + 1)]
