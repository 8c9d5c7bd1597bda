"""The monthly submission window: readings for a month are accepted between two days of it."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_WINDOW_RE = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$")


class WindowSpecError(ValueError):
    """A window setting such as ``15-26`` could not be understood."""


@dataclass(frozen=True)
class ReadingWindow:
    """Days of the month (inclusive) on which readings are accepted.

    An end day past the month's length (``1-31`` in February) means "to the last day".
    """

    start_day: int
    end_day: int

    def __post_init__(self) -> None:
        if not (1 <= self.start_day <= 31 and 1 <= self.end_day <= 31):
            raise WindowSpecError("window days must be between 1 and 31")
        if self.start_day > self.end_day:
            raise WindowSpecError("the window must start on or before the day it ends")

    @classmethod
    def parse(cls, spec: str) -> ReadingWindow:
        """Parse ``"15-26"`` into a window."""
        match = _WINDOW_RE.match(spec)
        if not match:
            raise WindowSpecError(f"expected a window like 15-26, got {spec!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def bounds(self, year: int, month: int) -> tuple[date, date]:
        """First and last day of the window in the given month (clamped to the month)."""
        last = calendar.monthrange(year, month)[1]
        return (
            date(year, month, min(self.start_day, last)),
            date(year, month, min(self.end_day, last)),
        )

    def is_open(self, today: date) -> bool:
        """Whether readings are accepted on ``today`` (a date in the utility's zone)."""
        start, end = self.bounds(today.year, today.month)
        return start <= today <= end

    def next_opening(self, today: date) -> date:
        """The first day, on or after ``today``, on which the window is open."""
        start, end = self.bounds(today.year, today.month)
        if today <= end:
            return max(start, today)
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        return self.bounds(year, month)[0]

    def covers_whole_month(self) -> bool:
        return self.start_day == 1 and self.end_day >= 31

    def __str__(self) -> str:
        return f"{self.start_day}-{self.end_day}"
