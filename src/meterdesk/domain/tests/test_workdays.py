"""Working days of the Russian production calendar, and the day a change of residents counts from."""

from __future__ import annotations

from datetime import date

import pytest

from meterdesk.domain.workdays import is_working_day, residents_effective, working_day_after


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 11, 1), True),  # a Saturday made a working day
        (date(2025, 11, 3), False),  # the Monday it moved
        (date(2025, 11, 4), False),  # Unity Day
        (date(2026, 1, 9), False),  # a moved day off of the New Year holidays
        (date(2026, 1, 12), True),
        (date(2026, 3, 9), False),  # 8 March on a Sunday
        (date(2026, 12, 5), False),  # an ordinary Saturday
        (date(2026, 12, 7), True),
    ],
)
def test_the_production_calendar(day, working):
    assert is_working_day(day) is working


def test_working_days_after():
    assert working_day_after(date(2026, 12, 4), 5) == date(2026, 12, 11)  # Fri + 5: skips a weekend
    assert working_day_after(date(2025, 12, 29), 5) == date(2026, 1, 15)  # 30 Dec, then 12-15 Jan
    assert working_day_after(date(2025, 10, 30), 2) == date(2025, 11, 1)  # the working Saturday counts
    with pytest.raises(ValueError, match="at least 1"):
        working_day_after(date(2026, 12, 4), 0)


def test_a_change_counts_from_its_day_if_reported_in_time():
    assert residents_effective(date(2026, 12, 4), date(2026, 12, 11), 5) == date(2026, 12, 4)
    assert residents_effective(date(2026, 12, 4), date(2026, 12, 14), 5) == date(2026, 12, 14)  # late
    with pytest.raises(ValueError, match="before it happened"):
        residents_effective(date(2026, 12, 4), date(2026, 12, 3), 5)
