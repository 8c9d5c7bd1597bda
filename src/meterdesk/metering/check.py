"""The rules a reading must pass to be accepted, applied with the reads they need and no writes:
``reading_rules`` gives the ``Ruling``. The errors carry stable codes (the channels' words for
them are in ``metering.messages``).

What a month's charge will be is billing's to say (``billing.preview``), and whether a month is
closed too: ``reading_rules`` is told (``month_closed``). The readings' core
(``meterdesk.core.readings``) puts them together for every channel.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from meterdesk.domain.periods import add_months
from meterdesk.domain.profiles import CLOSED_MONTH_NEXT, profile_load
from meterdesk.domain.readings import CheckedReading, Issue
from meterdesk.domain.window import ReadingWindow
from meterdesk.metering.models import Meter, MeterStatus, Reading, ReadingKind
from meterdesk.metering.selectors import PreviousValues, submission_check, submission_history
from meterdesk.utility.selectors import Reference, reading_window_get, rules_profile_get, utility_now


class ReadingError(Exception):
    """A reading was not accepted; nothing was stored. ``code`` is stable for the channels."""

    code = "reading_error"


class WindowClosed(ReadingError):
    code = "window_closed"

    def __init__(self, window: ReadingWindow, opens_on: date, closes_on: date) -> None:
        super().__init__(f"readings are accepted from day {window.start_day} to day {window.end_day}")
        self.window = window
        self.opens_on = opens_on
        self.closes_on = closes_on


class MeterNotInService(ReadingError):
    code = "meter_not_in_service"

    def __init__(self, meter: Meter) -> None:
        super().__init__(f"meter {meter.serial} is {meter.status}")
        self.meter = meter


class MonthClosed(ReadingError):
    """The month the reading is for is already closed (billed) for the meter's account."""

    code = "month_closed"

    def __init__(self, period: date) -> None:
        super().__init__(f"{period:%Y-%m} is already closed")
        self.period = period


class ReadingInvalid(ReadingError):
    code = "validation_error"

    def __init__(self, issues: Sequence[Issue], meter: Meter) -> None:
        super().__init__(", ".join(f"zone {i.zone}: {i.code}" for i in issues))
        self.issues = tuple(issues)
        self.meter = meter  # whose zones the issues name

    @property
    def codes(self) -> set[str]:
        return {i.code for i in self.issues}


class NeedsConfirmation(ReadingError):
    code = "needs_confirmation"

    def __init__(self, issues: Sequence[Issue], checked: CheckedReading, meter: Meter) -> None:
        super().__init__(", ".join(f"zone {i.zone}: {i.code}" for i in issues))
        self.issues = tuple(issues)
        self.checked = checked
        self.meter = meter  # whose zones the issues name

    @property
    def codes(self) -> set[str]:
        return {i.code for i in self.issues}


#: A meter in one of these states takes no reading.
OUT_OF_SERVICE = (MeterStatus.REMOVED, MeterStatus.LOST)


@dataclass(frozen=True)
class Ruling:
    """What the rules say of one reading of ``meter`` of ``kind`` given at ``at``.

    ``period`` is the month it counts for (the next open one when the rules profile moves a
    reading of a closed month: ``moved_from``). ``error`` is the rule it breaks (the meter, the
    month, the values), None if it breaks none; the window is reported apart
    (``window_closed``), because a preview of the charge does not depend on it. ``needed`` are
    the confirmations the submitter has not given yet. ``refusal`` is why a submission of it,
    now, is refused. ``history`` is what it was checked against (``submission_history``), which
    the charge and the store use too; ``replaces`` the month's reading of the kind it supersedes.
    """

    meter: Meter
    kind: str
    at: datetime
    period: date
    moved_from: date | None = None
    window_closed: WindowClosed | None = None
    error: ReadingError | None = None
    checked: CheckedReading | None = None
    previous: PreviousValues | None = None
    needed: tuple[Issue, ...] = ()
    history: tuple[list[Reading], list[Reading]] | None = None
    replaces: Reading | None = None

    @property
    def refusal(self) -> ReadingError | None:
        """The error a submission of it answers now, in the order every channel reports them:
        the window, the meter, the month, the values, then the confirmations still needed."""
        if self.window_closed is not None:
            return self.window_closed
        if self.error is not None:
            return self.error
        if self.needed:
            assert self.checked is not None  # noqa: S101 - confirmations come from the checked values
            return NeedsConfirmation(self.needed, self.checked, self.meter)
        return None

    @property
    def values(self) -> tuple[Decimal, ...]:
        """The values as they will be stored (empty when they break a rule)."""
        return () if self.checked is None or not self.checked.ok else self.checked.values


def _window_closed(kind: str, reference: Reference, today: date) -> WindowClosed | None:
    """A customer's reading outside the submission window (the others are taken any day)."""
    if kind != ReadingKind.CUSTOMER:
        return None
    window = reading_window_get(reference.utility)
    if window.is_open(today):
        return None
    opens_on = window.next_opening(today)
    return WindowClosed(window, opens_on, window.bounds(opens_on.year, opens_on.month)[1])


def _open_period(period: date, moves: bool, month_closed: Callable[[date], bool]) -> tuple[date, date | None]:
    """The month a reading given for ``period`` counts for, and the closed month it was moved
    from (None if ``period`` is open). A closed month is refused (MonthClosed) unless the rules
    profile ``moves`` such readings to the next open month."""
    if not month_closed(period):
        return period, None
    if not moves:
        raise MonthClosed(period)
    month = add_months(period, 1)
    while month_closed(month):  # closed ahead (a forced close of a future month)
        month = add_months(month, 1)
    return month, period


def reading_rules(
    *,
    meter: Meter,
    values: Sequence[str | int | Decimal | None],
    at: datetime,
    reference: Reference,
    month_closed: Callable[[date], bool],
    kind: str = ReadingKind.CUSTOMER,
    confirmed: Collection[str] = (),
) -> Ruling:
    """Every rule of a reading of ``meter`` (with its account) given at ``at``, and the reads they
    need (the meter's recent readings: one query, two for a meter without a reading in the last
    year); nothing is written. ``reference``: the reference data to judge by (the window, the
    time zone, the rules profile). ``month_closed``: whether a month is closed for the meter's
    account (``billing.selectors.month_closed``, or what the caller read with the meter).
    ``confirmed``: the confirmation tokens the submitter sent (``CheckedReading.token``)."""
    utility = reference.utility
    today = utility_now(utility, at).date()
    ruling = Ruling(
        meter, kind, at, today.replace(day=1), window_closed=_window_closed(kind, reference, today)
    )
    if meter.status in OUT_OF_SERVICE:
        return replace(ruling, error=MeterNotInService(meter))
    moves = profile_load(rules_profile_get(utility, today)).closed_month_readings == CLOSED_MONTH_NEXT
    try:
        period, moved_from = _open_period(ruling.period, moves, month_closed)
    except MonthClosed as error:
        return replace(ruling, error=error)
    # Read once: the previous values, the average, the month's reading it replaces, the charge.
    history = submission_history(meter, period)
    checked, previous = submission_check(
        meter=meter, values=values, period=period, at=at, kind=kind, history=history
    )
    ruling = replace(
        ruling, period=period, moved_from=moved_from, checked=checked, previous=previous, history=history
    )
    if not checked.ok:
        return replace(ruling, error=ReadingInvalid(checked.errors, meter))
    return replace(
        ruling,
        needed=checked.unconfirmed(frozenset(confirmed)),
        replaces=next((r for r in history[0] if r.period == period and r.kind == kind), None),
    )
