"""What counts in the programme, month by month: the rules of a ``Programme`` applied to the data.

A month counts for an account when it was billed for it (its ``AccountClose`` exists) and
* ``on_time_readings``: every meter it had through the month's window has a customer's reading for
  the month, given inside that window (in the utility's time zone);
* ``no_debt``: what it owed when the month began was paid within the month (``opening_balance +
  payments <= 0``: payments are negative in the ledger) and no penalty was charged.

``eligible`` finds, for a draw, every account whose last ``months`` months all count, by a few
grouped queries (one per month and rule); ``month_flags`` gives one account's months for its page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q

from meterdesk.billing.models import AccountClose
from meterdesk.domain.periods import add_months
from meterdesk.metering.models import Meter, Reading, ReadingKind
from meterdesk.programme.models import Programme
from meterdesk.utility.selectors import reading_window_get, utility_zone


@dataclass(frozen=True)
class MonthFlags:
    period: date
    billed: bool
    readings: bool | None  # None: the programme does not ask it
    paid: bool | None

    @property
    def counts(self) -> bool:
        return self.billed and self.readings is not False and self.paid is not False


def months_of(programme: Programme, last: date) -> list[date]:
    """The months a draw for ``last`` looks at, oldest first."""
    return [add_months(last, -n) for n in range(programme.months - 1, -1, -1)]


def _window(period: date) -> tuple[date, datetime, datetime]:
    """The window's last day, and its start and end as moments (the end exclusive)."""
    start, end = reading_window_get().bounds(period.year, period.month)
    zone = utility_zone()
    return (
        end,
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def _meters_due(period: date, accounts: Iterable[int] | None = None) -> dict[int, int]:
    """Per account, the number of meters it had through the month's window."""
    end, _start, _stop = _window(period)
    meters = Meter.objects.filter(installed_on__lte=end).filter(
        Q(removed_on__isnull=True) | Q(removed_on__gt=end)
    )
    if accounts is not None:
        meters = meters.filter(account_id__in=list(accounts))
    return dict(meters.values("account_id").annotate(n=Count("id")).values_list("account_id", "n"))


def _meters_read(period: date, accounts: Iterable[int] | None = None) -> dict[int, int]:
    """Per account, the number of its meters with a customer's reading for the month given inside
    the month's window."""
    _end, start, stop = _window(period)
    readings = Reading.objects.filter(
        period=period, kind=ReadingKind.CUSTOMER, submitted_at__gte=start, submitted_at__lt=stop
    )
    if accounts is not None:
        readings = readings.filter(account_id__in=list(accounts))
    return dict(
        readings.values("account_id")
        .annotate(n=Count("meter_id", distinct=True))
        .values_list("account_id", "n")
    )


def _closes(periods: list[date], accounts: Iterable[int] | None = None) -> dict[tuple[int, date], bool]:
    """(account, month) → whether the month's opening debt was paid within it with no penalty."""
    rows = AccountClose.objects.filter(period__in=periods)
    if accounts is not None:
        rows = rows.filter(account_id__in=list(accounts))
    return {
        (account_id, period): opening + payments <= 0 and penalty == 0
        for account_id, period, opening, payments, penalty in rows.values_list(
            "account_id", "period", "opening_balance", "payments", "penalty"
        )
    }


def _readings_ok(period: date, accounts: Iterable[int] | None = None) -> set[int]:
    due = _meters_due(period, accounts)
    read = _meters_read(period, accounts)
    return {account for account, n in due.items() if n > 0 and read.get(account, 0) >= n}


def eligible(programme: Programme, last: date) -> list[int]:
    """The ids of the accounts all of whose months of a draw for ``last`` count, in order."""
    periods = months_of(programme, last)
    closes = _closes(periods)
    counted: dict[int, int] = {}
    for (account, _period), paid in closes.items():
        if paid or not programme.no_debt:
            counted[account] = counted.get(account, 0) + 1
    chosen = {account for account, n in counted.items() if n == len(periods)}
    if programme.on_time_readings:
        for period in periods:
            chosen &= _readings_ok(period)
    return sorted(chosen)


def month_flags(programme: Programme, account_id: int, last: date, count: int = 12) -> list[MonthFlags]:
    """One account's ``count`` months up to ``last``, newest first, each with what counted."""
    periods = [add_months(last, -n) for n in range(count)]
    closes = _closes(periods, [account_id])
    flags = []
    for period in periods:
        billed = (account_id, period) in closes
        readings = account_id in _readings_ok(period, [account_id]) if programme.on_time_readings else None
        paid = closes.get((account_id, period), False) if programme.no_debt else None
        flags.append(MonthFlags(period, billed, readings, paid))
    return flags


def streak(flags: list[MonthFlags]) -> int:
    """The months in a row that counted, from the newest back."""
    n = 0
    for month in flags:
        if not month.counts:
            break
        n += 1
    return n
