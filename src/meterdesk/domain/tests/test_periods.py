"""Billing periods: calendar months identified by their first day."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterdesk.domain.periods import (
    add_months,
    iter_months,
    month_from_index,
    month_index,
    month_parse,
    month_start,
    months_between,
)

dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))


def test_month_start():
    assert month_start(date(2026, 11, 26)) == date(2026, 11, 1)
    assert month_start(date(2026, 11, 1)) == date(2026, 11, 1)
    assert month_start(date(2024, 2, 29)) == date(2024, 2, 1)


def test_month_index_counts_months():
    assert month_index(date(2026, 1, 15)) == 2026 * 12
    assert month_index(date(2026, 12, 31)) == 2026 * 12 + 11
    assert month_index(date(2027, 1, 1)) - month_index(date(2026, 12, 31)) == 1


def test_month_from_index():
    assert month_from_index(2026 * 12) == date(2026, 1, 1)
    assert month_from_index(2026 * 12 + 11) == date(2026, 12, 1)


def test_add_months_across_years_and_backwards():
    assert add_months(date(2026, 11, 20), 1) == date(2026, 12, 1)
    assert add_months(date(2026, 12, 20), 1) == date(2027, 1, 1)
    assert add_months(date(2026, 1, 31), -1) == date(2025, 12, 1)
    assert add_months(date(2026, 3, 31), -13) == date(2025, 2, 1)
    assert add_months(date(2026, 5, 5), 0) == date(2026, 5, 1)


def test_months_between():
    assert months_between(date(2026, 11, 30), date(2026, 11, 1)) == 0
    assert months_between(date(2026, 11, 30), date(2026, 12, 1)) == 1
    assert months_between(date(2024, 1, 10), date(2026, 11, 1)) == 34
    assert months_between(date(2026, 12, 1), date(2026, 10, 1)) == -2


def test_iter_months_inclusive_across_a_year():
    assert iter_months(date(2025, 11, 20), date(2026, 2, 3)) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert iter_months(date(2026, 5, 5), date(2026, 5, 31)) == [date(2026, 5, 1)]
    assert iter_months(date(2026, 6, 1), date(2026, 5, 1)) == []


@settings(max_examples=200, deadline=None)
@given(dates)
def test_index_round_trip(day):
    assert month_from_index(month_index(day)) == month_start(day)


@settings(max_examples=200, deadline=None)
@given(dates, st.integers(-600, 600))
def test_add_months_and_months_between_agree(day, months):
    later = add_months(day, months)
    assert later.day == 1
    assert months_between(day, later) == months
    assert add_months(later, -months) == month_start(day)


@settings(max_examples=200, deadline=None)
@given(dates, dates)
def test_iter_months_length_and_order(first, last):
    months = iter_months(first, last)
    assert len(months) == max(0, months_between(first, last) + 1)
    assert all(m.day == 1 for m in months)
    assert all(b == add_months(a, 1) for a, b in pairwise(months))
    if months:
        assert months[0] == month_start(first)
        assert months[-1] == month_start(last)


def test_month_parse():
    assert month_parse("2026-10") == date(2026, 10, 1)
    assert month_parse(" 2025-01 ") == date(2025, 1, 1)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-10", "2026/10", "2026-10-01", ""])
def test_month_parse_refuses_what_is_not_a_month(text):
    with pytest.raises(ValueError):
        month_parse(text)
