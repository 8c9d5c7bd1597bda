"""The monthly submission window (DOMAIN.md "Meters and readings": the 15th to the 26th)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterdesk.domain.window import ReadingWindow, WindowSpecError

CURRENT = ReadingWindow(15, 26)


class TestParse:
    @pytest.mark.parametrize(
        ("spec", "start", "end"),
        [
            ("15-26", 15, 26),
            ("23-26", 23, 26),
            (" 23 - 26 ", 23, 26),
            ("1-31", 1, 31),
            ("5-5", 5, 5),
            ("01-09", 1, 9),
        ],
    )
    def test_valid_specs(self, spec, start, end):
        window = ReadingWindow.parse(spec)
        assert (window.start_day, window.end_day) == (start, end)

    @pytest.mark.parametrize(
        "spec",
        [
            "",
            "15",
            "15-",
            "-26",
            "15–26",  # an en dash, not a hyphen
            "15..26",
            "a-b",
            "15-26-27",
            "115-26",
            "26-15",  # ends before it starts
            "0-26",
            "15-32",
            "0-0",
            "1.5-26",
        ],
    )
    def test_bad_specs_are_refused(self, spec):
        with pytest.raises(WindowSpecError):
            ReadingWindow.parse(spec)

    def test_spec_error_is_a_value_error(self):
        with pytest.raises(ValueError):
            ReadingWindow.parse("whenever")

    def test_str_round_trips(self):
        assert str(CURRENT) == "15-26"
        assert ReadingWindow.parse(str(ReadingWindow(23, 26))) == ReadingWindow(23, 26)

    @pytest.mark.parametrize(("start", "end"), [(0, 5), (1, 32), (27, 26), (-1, 3), (32, 32)])
    def test_constructor_checks_the_days(self, start, end):
        with pytest.raises(WindowSpecError):
            ReadingWindow(start, end)


class TestIsOpen:
    @pytest.mark.parametrize(
        ("day", "is_open"),
        [(1, False), (14, False), (15, True), (20, True), (26, True), (27, False), (30, False)],
    )
    def test_edges_of_15_26(self, day, is_open):
        assert CURRENT.is_open(date(2026, 11, day)) is is_open

    @pytest.mark.parametrize(("day", "is_open"), [(22, False), (23, True), (26, True), (27, False)])
    def test_edges_of_the_older_23_26(self, day, is_open):
        assert ReadingWindow(23, 26).is_open(date(2025, 3, day)) is is_open

    def test_1_31_in_february_runs_to_the_last_day(self):
        window = ReadingWindow(1, 31)
        assert window.bounds(2026, 2) == (date(2026, 2, 1), date(2026, 2, 28))
        assert window.is_open(date(2026, 2, 1))
        assert window.is_open(date(2026, 2, 28))
        assert window.covers_whole_month()

    def test_1_31_in_a_leap_february(self):
        window = ReadingWindow(1, 31)
        assert window.bounds(2028, 2) == (date(2028, 2, 1), date(2028, 2, 29))
        assert window.is_open(date(2028, 2, 29))

    def test_end_past_a_30_day_month(self):
        window = ReadingWindow(20, 31)
        assert window.bounds(2026, 4) == (date(2026, 4, 20), date(2026, 4, 30))
        assert window.is_open(date(2026, 4, 30))
        assert not window.is_open(date(2026, 4, 19))
        assert window.is_open(date(2026, 5, 31))

    def test_window_entirely_past_february_is_clamped_to_its_last_day(self):
        window = ReadingWindow(29, 31)
        assert window.bounds(2026, 2) == (date(2026, 2, 28), date(2026, 2, 28))
        assert window.is_open(date(2026, 2, 28))
        assert not window.is_open(date(2026, 2, 27))

    def test_single_day_window(self):
        window = ReadingWindow(10, 10)
        assert window.is_open(date(2026, 6, 10))
        assert not window.is_open(date(2026, 6, 9))
        assert not window.is_open(date(2026, 6, 11))

    def test_covers_whole_month_only_for_1_to_31(self):
        assert not CURRENT.covers_whole_month()
        assert not ReadingWindow(1, 30).covers_whole_month()
        assert not ReadingWindow(2, 31).covers_whole_month()


class TestNextOpening:
    def test_before_the_window_it_is_the_15th_of_this_month(self):
        assert CURRENT.next_opening(date(2026, 11, 1)) == date(2026, 11, 15)
        assert CURRENT.next_opening(date(2026, 11, 14)) == date(2026, 11, 15)

    def test_inside_the_window_it_is_today(self):
        assert CURRENT.next_opening(date(2026, 11, 15)) == date(2026, 11, 15)
        assert CURRENT.next_opening(date(2026, 11, 20)) == date(2026, 11, 20)
        assert CURRENT.next_opening(date(2026, 11, 26)) == date(2026, 11, 26)

    def test_after_the_window_it_is_the_15th_of_next_month(self):
        assert CURRENT.next_opening(date(2026, 11, 27)) == date(2026, 12, 15)
        assert CURRENT.next_opening(date(2026, 11, 30)) == date(2026, 12, 15)

    def test_across_december_to_january(self):
        assert CURRENT.next_opening(date(2026, 12, 27)) == date(2027, 1, 15)
        assert CURRENT.next_opening(date(2026, 12, 31)) == date(2027, 1, 15)
        assert ReadingWindow(23, 26).next_opening(date(2025, 12, 30)) == date(2026, 1, 23)

    def test_after_january_window_into_february_clamped(self):
        assert ReadingWindow(29, 31).next_opening(date(2026, 2, 1)) == date(2026, 2, 28)
        assert ReadingWindow(29, 31).next_opening(date(2026, 1, 31)) == date(2026, 1, 31)


windows = st.tuples(st.integers(1, 31), st.integers(1, 31)).map(sorted).map(lambda d: ReadingWindow(*d))
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@settings(max_examples=200, deadline=None)
@given(windows, days)
def test_next_opening_is_the_first_open_day_on_or_after_today(window, today):
    opening = window.next_opening(today)
    assert opening >= today
    assert window.is_open(opening)
    assert opening - today < timedelta(days=62)
    day = today
    while day < opening:
        assert not window.is_open(day)
        day += timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(windows, days)
def test_open_days_are_exactly_the_clamped_bounds(window, today):
    start, end = window.bounds(today.year, today.month)
    assert start.month == end.month == today.month
    assert start <= end
    assert window.is_open(today) is (start <= today <= end)
    assert window.is_open(today) is (window.next_opening(today) == today)
