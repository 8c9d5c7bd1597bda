"""Billing periods: calendar months, identified by their first day."""

from __future__ import annotations

import re
from datetime import date

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def month_parse(text: str) -> date:
    """``YYYY-MM`` as the month's first day. Raises ValueError for anything else."""
    match = _MONTH.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expected a month YYYY-MM, got {text!r}")
    return date(int(match[1]), int(match[2]), 1)  # ValueError for month 00 or 13


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
