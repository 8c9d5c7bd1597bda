"""The late-payment penalty (пени), Housing Code art. 155 p. 14, as pure functions.

The numbers of the rule (grace days, divisors, the rate cap and the moratoria) come from the rules
profile (``PenaltyRules``); the Bank of Russia key-rate history is data
(``domain/data/key_rates.json``). docs/penalties.md states the rule precisely, with a worked example.

In short, for the calendar month being closed:

* a debt of a billing month is due on ``due_date`` (the profile's due day of the next month);
* a payment made for a month already billed (a stated period) pays that month's debt first; the
  rest of it, the payments that state no month and credits from recalculations pay the oldest
  debts first (by billing month): ``payments_allocate``;
* a day ``t`` accrues a penalty on a debt's overdue amount when ``t - due_date`` is at least
  ``grace_days + 1`` days (the 31st day after the due date), at ``rate / 100 / first_divisor``, and
  from day ``second_from_day`` (the 91st) at ``rate / 100 / second_divisor``; never on a day inside
  a moratorium;
* the rate of a day is the key rate on the *calculation day* -- the day of payment for the part of
  the debt paid within the month, the last day of the month for the part still unpaid -- lowered to
  the cap in force on that day, if any;
* a payment on day ``d`` stops the accrual on the part it pays from ``d`` inclusive.

When a debt is paid off, ``penalty_settlements`` recomputes its penalty over its whole overdue
period with every part at the rate of the day it was paid, and gives the difference from what was
accrued month by month: the correction the next bill posts (``penalty_settled``).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal, InvalidOperation, localcontext
from functools import cache, lru_cache
from itertools import pairwise
from operator import itemgetter
from pathlib import Path
from typing import Any

from meterdesk.domain.money import round_money
from meterdesk.domain.periods import add_months, month_start
from meterdesk.domain.profiles import PenaltyRules

KEY_RATES_PATH = Path(__file__).with_name("data") / "key_rates.json"

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
# Every amount is computed in this context, whatever the caller's thread context is.
_CONTEXT = Context(prec=34)


class KeyRateError(ValueError):
    """The key-rate table is malformed, or has no rate for the day asked."""


class KeyRateTable:
    """The Bank of Russia key rate by the day from which each value applies.

    ``entries`` are ``(from_day, percent)`` pairs with strictly increasing days and positive
    percents. A value applies from its day until the day before the next one; the last value applies
    to every later day, so the table must be kept up to date (docs/penalties.md).
    """

    __slots__ = ("_entries", "_ordinals")

    def __init__(self, entries: Iterable[tuple[date, Decimal]]) -> None:
        checked: list[tuple[date, Decimal]] = []
        for day, percent in entries:
            if not isinstance(day, date):
                raise KeyRateError(f"key rates: expected a date, got {day!r}")
            if not isinstance(percent, Decimal) or not percent.is_finite() or percent <= 0:
                raise KeyRateError(
                    f"key rates: the rate from {day} must be a positive Decimal, got {percent!r}"
                )
            if checked and day <= checked[-1][0]:
                raise KeyRateError(f"key rates: {day} does not follow {checked[-1][0]}; dates must increase")
            checked.append((day, percent))
        if not checked:
            raise KeyRateError("key rates: the table is empty")
        self._entries = tuple(checked)
        self._ordinals = tuple(day.toordinal() for day, _ in checked)

    @property
    def entries(self) -> tuple[tuple[date, Decimal], ...]:
        return self._entries

    @property
    def first_day(self) -> date:
        """The first day the table knows a rate for."""
        return self._entries[0][0]

    @property
    def last_change(self) -> date:
        """The day of the latest change the table knows of."""
        return self._entries[-1][0]

    def rate_on(self, day: date) -> Decimal:
        """The key rate, in percent a year, in force on ``day``."""
        return self._rate_on_ordinal(day.toordinal())

    def _rate_on_ordinal(self, ordinal: int) -> Decimal:
        index = bisect_right(self._ordinals, ordinal) - 1
        if index < 0:
            raise KeyRateError(f"no key rate before {self.first_day} (asked for {date.fromordinal(ordinal)})")
        return self._entries[index][1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyRateTable) and self._entries == other._entries

    def __hash__(self) -> int:
        return hash(self._entries)

    def __repr__(self) -> str:
        return f"KeyRateTable({len(self._entries)} values, {self.first_day}..{self.last_change})"


def key_rates_parse(data: Any) -> KeyRateTable:
    """Build the table from its JSON data: a list of ``{"from": "YYYY-MM-DD", "percent": "x.xx"}``."""
    if not isinstance(data, list):
        raise KeyRateError("key rates: expected a JSON list of {from, percent}")
    entries: list[tuple[date, Decimal]] = []
    for position, item in enumerate(data, start=1):
        if not isinstance(item, dict) or set(item) != {"from", "percent"}:
            raise KeyRateError(f"key rates, item {position}: expected exactly the keys 'from' and 'percent'")
        try:
            day = date.fromisoformat(str(item["from"]))
        except ValueError as exc:
            raise KeyRateError(f"key rates, item {position}: expected a date YYYY-MM-DD") from exc
        raw = item["percent"]
        if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
            raise KeyRateError(f'key rates, item {position}: the percent must be a string such as "9.50"')
        try:
            percent = Decimal(raw)
        except InvalidOperation as exc:
            raise KeyRateError(f"key rates, item {position}: {raw!r} is not a number") from exc
        entries.append((day, percent))
    return KeyRateTable(entries)


def key_rates_load(path: Path | str | None = None) -> KeyRateTable:
    """The key-rate table from ``path`` (default: the table shipped with meterdesk).

    A file is read once per process; a process that runs for a long time sees an appended rate
    after a restart.
    """
    return _key_rates_read(Path(path) if path is not None else KEY_RATES_PATH)


@cache
def _key_rates_read(path: Path) -> KeyRateTable:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyRateError(f"key rates: cannot read {path}: {exc}") from exc
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise KeyRateError(f"key rates: {path} is not valid JSON: {exc}") from exc
    return key_rates_parse(data)


@dataclass(frozen=True)
class Debt:
    """A month's charge: ``period`` is the first day of the billed month. A negative amount is a
    credit (a recalculation in the customer's favour): it counts as paid on the first day of the
    month after ``period`` -- the day its bill is issued -- and pays the oldest debts."""

    period: date
    due_date: date
    amount: Decimal

    def __post_init__(self) -> None:
        if self.period.day != 1:
            raise ValueError(f"a debt's period is the first day of its month, got {self.period}")
        if not self.amount.is_finite():
            raise ValueError(f"a debt's amount must be a finite Decimal, got {self.amount!r}")


@dataclass(frozen=True)
class Payment:
    paid_on: date
    amount: Decimal
    #: the billing month whose statement shows the payment (the ledger's period: a payment recorded
    #: after its month was closed is posted to a later one); None: the month of ``paid_on``. Only
    #: ``penalty_settlements`` asks: it tells which close first sees a debt paid off.
    posted: date | None = None
    #: the month the payer said it pays (the first day of it: a bank registry's or an import's
    #: ``period``); None: not said. It pays that month's debt first if that month was billed by
    #: the day of payment (``stated_month``), else it is as if no month were said.
    paid_for: date | None = None

    def __post_init__(self) -> None:
        if not self.amount.is_finite() or self.amount < 0:
            raise ValueError(f"a payment's amount must be a Decimal >= 0, got {self.amount!r}")
        if self.paid_for is not None and self.paid_for.day != 1:
            raise ValueError(f"the month a payment is for is its first day, got {self.paid_for}")


@dataclass(frozen=True)
class PenaltyPart:
    """A run of consecutive days on which one debt's penalty had the same base.

    ``amount = overdue * rate_percent / 100 / divisor * days``, NOT rounded (round the total, not the
    parts: ``PenaltyResult.amount``). ``first_day``..``last_day`` (inclusive) are the run's days.
    """

    period: date
    days: int
    overdue: Decimal
    rate_percent: Decimal
    divisor: int
    amount: Decimal
    first_day: date
    last_day: date


@dataclass(frozen=True)
class PenaltyResult:
    """The month's penalty, rounded half up to the kopeck, and the parts it is the sum of."""

    amount: Decimal
    parts: tuple[PenaltyPart, ...]


NO_PENALTY = PenaltyResult(Decimal("0.00"), ())


def due_date_for(period: date, due_day: int) -> date:
    """The due date of the bill for ``period``'s month: ``due_day`` of the next month."""
    if not 1 <= due_day <= 28:
        raise ValueError(f"due_day must be between 1 and 28, got {due_day}")
    return add_months(month_start(period), 1).replace(day=due_day)


@dataclass(frozen=True)
class _Calendar:
    """A profile's caps and moratoria as day ordinals (``end`` exclusive), and every day on which
    either changes."""

    caps: tuple[tuple[int, int, Decimal], ...]
    moratoria: tuple[tuple[int, int], ...]
    boundaries: tuple[int, ...]

    def cap_on(self, ordinal: int) -> Decimal | None:
        found: Decimal | None = None
        for start, end, percent in self.caps:
            if start <= ordinal < end and (found is None or percent < found):
                found = percent
        return found

    def in_moratorium(self, ordinal: int) -> bool:
        return any(start <= ordinal < end for start, end in self.moratoria)


@lru_cache(maxsize=32)
def _calendar(rules: PenaltyRules) -> _Calendar:
    caps = tuple((c.start.toordinal(), c.end.toordinal() + 1, c.max_percent) for c in rules.rate_caps)
    moratoria = tuple((start.toordinal(), end.toordinal() + 1) for start, end in rules.moratoria)
    boundaries = sorted({b for c in caps for b in c[:2]} | {b for m in moratoria for b in m})
    return _Calendar(caps, moratoria, tuple(boundaries))


@dataclass(slots=True)
class _Run:
    """Consecutive days (ordinals ``first``..``last``) of one debt with the same base."""

    first: int
    last: int
    overdue: Decimal
    rate: Decimal
    divisor: int


def _overdue_runs(
    cuts: Iterable[int],
    slices: Sequence[tuple[int, Decimal]],
    due: int,
    rules: PenaltyRules,
    calendar: _Calendar,
    rate_on: Callable[[int], Decimal],
    unpaid: Decimal = _ZERO,
    unpaid_rate_day: int = 0,
) -> list[_Run]:
    """The runs of days between ``cuts`` over which the same amount is overdue at the same rate and
    divisor: each slice (day paid, amount) is overdue on the days before it was paid, at the key
    rate of that day (capped where a cap is in force), ``unpaid`` at the rate of
    ``unpaid_rate_day``; moratorium days count nothing."""
    runs: list[_Run] = []
    open_runs: dict[tuple[Decimal, int, Decimal], _Run] = {}
    for seg_start, seg_end in pairwise(sorted(cuts)):
        if calendar.in_moratorium(seg_start):
            continue
        divisor = rules.first_divisor if seg_start - due < rules.second_from_day else rules.second_divisor
        cap = calendar.cap_on(seg_start)
        overdue_by_rate: dict[Decimal, Decimal] = {}
        owed = [(day, amount) for day, amount in slices if day > seg_start]
        if unpaid > 0:
            owed.append((unpaid_rate_day, unpaid))
        for day, amount in owed:
            rate = rate_on(day)
            if cap is not None and cap < rate:
                rate = cap
            overdue_by_rate[rate] = overdue_by_rate.get(rate, _ZERO) + amount
        for rate, overdue in overdue_by_rate.items():
            key = (rate, divisor, overdue)
            run = open_runs.get(key)
            if run is not None and run.last == seg_start - 1:
                run.last = seg_end - 1
            else:
                run = open_runs[key] = _Run(seg_start, seg_end - 1, overdue, rate, divisor)
                runs.append(run)
    return runs


def _credit_day(debt: Debt) -> date:
    """The day a credit (a negative debt) starts paying older debts."""
    return add_months(debt.period, 1)


#: (day ordinal, amount, the month it pays first or None): something that pays debts.
_Event = tuple[int, Decimal, date | None]


def stated_month(payment: Payment) -> date | None:
    """The month whose debt ``payment`` pays first: the month it was made for (``paid_for``) if
    that month's bill was issued by the day of payment (on the first day of the next month), that
    is if the month is before the month of payment; otherwise None (no month said, or a month not
    billed yet): it pays the oldest debts first."""
    paid_for, day = payment.paid_for, payment.paid_on
    if paid_for is not None and (paid_for.year, paid_for.month) < (day.year, day.month):
        return paid_for
    return None


def _events(
    debts: Iterable[Debt], payments: Iterable[Payment], last: int, posted_by: date | None = None
) -> list[_Event]:
    """What pays debts up to the day ``last`` (an ordinal), by day: the payments made by then
    (with ``posted_by``, only those posted to that month or before: what its close sees) and the
    credits (negative debts) issued by then (``_credit_day``)."""
    events: list[_Event] = []
    # Posted to ``posted_by``'s month or before: posted before the first day of the month after it.
    until = None if posted_by is None else add_months(month_start(posted_by), 1)
    for payment in payments:
        day = payment.paid_on.toordinal()
        if day > last or not payment.amount:
            continue
        if until is not None and (payment.posted or payment.paid_on) >= until:
            continue
        events.append((day, payment.amount, None if payment.paid_for is None else stated_month(payment)))
    for debt in debts:
        if debt.amount < 0:
            day = _credit_day(debt).toordinal()
            if day <= last:
                events.append((day, -debt.amount, None))
    events.sort(key=itemgetter(0))
    return events


def _allocate(
    periods: Sequence[date], amounts: Sequence[Decimal], events: Iterable[_Event]
) -> list[list[tuple[int, Decimal]]]:
    """What paid each debt (the month ``periods[i]``, ``amounts[i]`` > 0; oldest first), as
    (day, amount) slices, one a day at most, by day.

    The rule (DOMAIN.md rule 7): each event, in the order of the days, pays first the debts of the
    month it states still owed (in order), then the oldest debts still owed; what is left when
    every debt is paid pays none of these (a credit for the debts still to come). What each debt
    is paid does not depend on the order of the events of one day (nor, in sum, on the order of
    any events: a property test checks it, and the close sums the payments before the month)."""
    count = len(amounts)
    left = list(amounts)
    slices: list[list[tuple[int, Decimal]]] = [[] for _ in range(count)]
    months: dict[date, list[int]] | None = None
    oldest = 0

    def pay(index: int, day: int, amount: Decimal) -> Decimal:
        take = left[index] if left[index] < amount else amount
        left[index] -= take
        paid = slices[index]
        if paid and paid[-1][0] == day:
            paid[-1] = (day, paid[-1][1] + take)
        else:
            paid.append((day, take))
        return amount - take

    for day, amount, month in events:
        if month is not None:
            if months is None:
                months = {}
                for index, period in enumerate(periods):
                    months.setdefault(period, []).append(index)
            for index in months.get(month, ()):
                if amount <= 0:
                    break
                if left[index] > 0:
                    amount = pay(index, day, amount)
        while amount > 0 and oldest < count:
            if left[oldest] > 0:
                amount = pay(oldest, day, amount)
            else:
                oldest += 1
    return slices


def payments_allocate(
    debts: Sequence[Debt], payments: Sequence[Payment], last: date | None = None
) -> list[tuple[Debt, list[tuple[date, Decimal]]]]:
    """Which debts the payments and credits made by the day ``last`` (default: all of them) pay,
    and when: for each positive debt, oldest first (by ``(period, due_date)``), the (day, amount)
    slices that paid it, one a day at most. A payment for a month billed by its day
    (``stated_month``) pays that month's debt first; the rest of it, a payment for no month or
    for a month not billed yet, and credits pay the oldest debts first. Nothing pays more than a
    debt: what is left after every debt given is not in the result."""
    owed = sorted((d for d in debts if d.amount > 0), key=lambda d: (d.period, d.due_date))
    until = last.toordinal() if last is not None else date.max.toordinal()
    with localcontext(_CONTEXT):
        paid = _allocate([d.period for d in owed], [d.amount for d in owed], _events(debts, payments, until))
    return [
        (d, [(date.fromordinal(day), x) for day, x in slices]) for d, slices in zip(owed, paid, strict=True)
    ]


def debts_for_month(
    rows: Iterable[tuple[date, date, Decimal]], payments: Sequence[Payment], month: date
) -> list[Debt]:
    """The debts to give ``penalty_for_month`` for ``month``, from an account's (period, due date,
    amount) rows: a Debt per row, except that the oldest positive debts which the payments and
    credits made before the month pay off entirely are one Debt -- their sum, with the period and
    due date of the newest of them.

    Such debts accrue nothing in the month, and only move the debts after them along by their
    sum: a payment for one of their months finds nothing owed there (nor in their sum) and pays
    the oldest debts, as it would with every row on its own. So ``penalty_for_month`` gives the
    same result with these debts as with every row on its own (a property test checks it for any
    history). For the close, which reads every month of an account's history: most of an account's
    debts were paid long ago, and they become one.
    """
    first = month_start(month)
    positive: list[tuple[date, date, Decimal]] = []
    others: list[Debt] = []
    for row in rows:
        period, _due, amount = row
        if period.day != 1 or not amount.is_finite():
            Debt(*row)  # raises the ValueError that names what is wrong
        if amount > 0:
            positive.append(row)
        else:
            others.append(Debt(*row))
    positive.sort(key=itemgetter(0, 1))  # by (period, due date), as penalty_for_month pays them
    events = _events(others, payments, first.toordinal() - 1)
    paid_off = 0
    total = _ZERO
    with localcontext(_CONTEXT):
        if any(event[2] is not None for event in events):
            paid = _allocate([row[0] for row in positive], [row[2] for row in positive], events)
            for (_period, _due, amount), slices in zip(positive, paid, strict=True):
                if _sum(slices) < amount:
                    break
                total += amount
                paid_off += 1
        else:  # no payment for a month: all of it pays the oldest first, as a running sum
            before = sum((event[1] for event in events), _ZERO)
            for _period, _due, amount in positive:
                if total + amount > before:
                    break
                total += amount
                paid_off += 1
    if paid_off < 2:
        return [Debt(*row) for row in positive] + others
    newest = positive[paid_off - 1]
    merged = Debt(newest[0], newest[1], total)
    return [merged, *(Debt(*row) for row in positive[paid_off:]), *others]


def penalty_for_month(
    debts: Sequence[Debt],
    payments: Sequence[Payment],
    month: date,
    rates: KeyRateTable,
    rules: PenaltyRules,
) -> PenaltyResult:
    """The penalty accrued on the days of ``month``'s calendar month.

    ``debts`` and ``payments`` are all of the account's, in any order; payments after the month
    are ignored. Which debts a payment pays: ``payments_allocate``.
    """
    first = month_start(month)
    first_ord = first.toordinal()
    last_ord = add_months(first, 1).toordinal() - 1
    # A debt can accrue in this month only if its first penalty day is not after the month's end.
    latest_due = last_ord - rules.grace_days - 1
    latest: date | None = None  # the latest month of such a debt
    for debt in debts:
        if (
            debt.amount > 0
            and debt.due_date.toordinal() <= latest_due
            and (latest is None or debt.period > latest)
        ):
            latest = debt.period
    if latest is None:
        return NO_PENALTY
    # Nothing accrues either when what was paid before the month covers every debt of the months
    # up to that one -- provided nothing of it paid a later month first: a payment for a later
    # month does; the rest and credits pay the oldest debts first.
    owed = _ZERO
    for debt in debts:
        if debt.amount > 0 and debt.period <= latest:
            owed += debt.amount
    paid = _ZERO
    for debt in debts:
        if debt.amount < 0 and _credit_day(debt) < first:
            paid -= debt.amount
    for payment in payments:
        if payment.paid_on < first:
            stated = stated_month(payment)
            if stated is not None and stated > latest:
                paid = _ZERO  # cannot tell without the allocation
                break
            paid += payment.amount
    if paid >= owed:
        return NO_PENALTY
    with localcontext(_CONTEXT):
        return _penalty(debts, payments, first_ord, last_ord, rates, rules)


def _penalty(
    debts: Sequence[Debt],
    payments: Sequence[Payment],
    first_ord: int,
    last_ord: int,
    rates: KeyRateTable,
    rules: PenaltyRules,
) -> PenaltyResult:
    calendar = _calendar(rules)
    rate_cache: dict[int, Decimal] = {}

    def key_rate(ordinal: int) -> Decimal:
        rate = rate_cache.get(ordinal)
        if rate is None:
            rate = rate_cache[ordinal] = rates._rate_on_ordinal(ordinal)
        return rate

    owed = sorted((debt for debt in debts if debt.amount > 0), key=lambda debt: (debt.period, debt.due_date))
    paid = _allocate([d.period for d in owed], [d.amount for d in owed], _events(debts, payments, last_ord))
    parts: list[PenaltyPart] = []
    total = _ZERO
    for debt, paid_slices in zip(owed, paid, strict=True):
        before = _ZERO
        for day, amount in paid_slices:
            if day < first_ord:
                before += amount
        if before >= debt.amount:
            continue  # paid off before the month
        due = debt.due_date.toordinal()
        start = max(first_ord, due + rules.grace_days + 1)
        if start > last_ord:
            continue
        # The debt still owed at `start`, in slices by the day they are paid in the month.
        slices: list[tuple[int, Decimal]] = []  # (day paid, amount): overdue on the days before
        unpaid = debt.amount - before  # still owed at the end of the month
        for day, amount in paid_slices:
            if day >= first_ord:
                if day > start:
                    slices.append((day, amount))
                unpaid -= amount

        cuts = {start, last_ord + 1}
        second = due + rules.second_from_day
        if start < second <= last_ord:
            cuts.add(second)
        cuts.update(day for day, _ in slices)
        cuts.update(b for b in calendar.boundaries if start < b <= last_ord)
        runs = _overdue_runs(cuts, slices, due, rules, calendar, key_rate, unpaid, last_ord)
        for run in runs:
            days = run.last - run.first + 1
            amount = run.overdue * run.rate * days / (_HUNDRED * run.divisor)
            total += amount
            parts.append(
                PenaltyPart(
                    period=debt.period,
                    days=days,
                    overdue=run.overdue,
                    rate_percent=run.rate,
                    divisor=run.divisor,
                    amount=amount,
                    first_day=date.fromordinal(run.first),
                    last_day=date.fromordinal(run.last),
                )
            )
    if not parts:
        return NO_PENALTY
    return PenaltyResult(round_money(total), tuple(parts))


# --- the settlement of a debt paid off -----------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """The penalty of one debt paid off, settled over its whole overdue period.

    ``settled`` is that penalty with each part of the debt at the rate of the day it was paid
    (``parts``), ``accrued`` what the monthly bills charged on the debt (both unrounded), and
    ``amount = settled - accrued`` rounded half up to the kopeck: the correction to post."""

    period: date  # the debt's month
    paid_off: date  # the day its last part was paid
    key_rate: Decimal  # the key rate on that day, percent a year (before any cap)
    settled: Decimal
    accrued: Decimal
    amount: Decimal
    parts: tuple[PenaltyPart, ...]


def penalty_part_amount(overdue: Decimal, rate_percent: Decimal, divisor: int, days: int) -> Decimal:
    """``overdue * rate_percent / 100 / divisor * days``, unrounded: the amount of a ``PenaltyPart``
    (and of one stored on a bill, to add up what was accrued on a debt)."""
    with localcontext(_CONTEXT):
        return overdue * rate_percent * days / (_HUNDRED * divisor)


def _settled_parts(
    debt: Debt,
    slices: Sequence[tuple[int, Decimal]],
    rates: KeyRateTable,
    rules: PenaltyRules,
    since: date | None = None,
) -> list[PenaltyPart]:
    """The penalty of a debt paid in ``slices``, over its whole overdue period (from ``since``, if
    given): each slice overdue until the day before it was paid, at the key rate of that day
    (capped on the days a cap is in force), never on a moratorium day."""
    calendar = _calendar(rules)
    due = debt.due_date.toordinal()
    start = due + rules.grace_days + 1
    if since is not None:
        start = max(start, since.toordinal())
    end = max(day for day, _ in slices)  # the first day nothing is overdue any more
    if end <= start:
        return []
    cuts = {start, end}
    cuts.update(day for day, _ in slices if start < day < end)
    second = due + rules.second_from_day
    if start < second < end:
        cuts.add(second)
    cuts.update(b for b in calendar.boundaries if start < b < end)
    runs = _overdue_runs(cuts, slices, due, rules, calendar, rates._rate_on_ordinal)
    return [
        PenaltyPart(
            period=debt.period,
            days=run.last - run.first + 1,
            overdue=run.overdue,
            rate_percent=run.rate,
            divisor=run.divisor,
            amount=run.overdue * run.rate * (run.last - run.first + 1) / (_HUNDRED * run.divisor),
            first_day=date.fromordinal(run.first),
            last_day=date.fromordinal(run.last),
        )
        for run in sorted(runs, key=lambda r: (r.first, r.rate))
    ]


#: A month's debt newly paid off: its period and, for each of its parts (a charge, a
#: correction), the debt and the (day ordinal, amount) slices that paid it.
PaidOff = tuple[date, tuple[tuple[Debt, tuple[tuple[int, Decimal], ...]], ...]]


def debts_paid_off(debts: Sequence[Debt], payments: Sequence[Payment], month: date) -> list[PaidOff]:
    """The debts that the close of ``month`` is the first to see paid off (the close of the month
    before, with what it saw, did not), oldest first, with what paid them as this close sees it.
    ``debts`` and ``payments`` as ``penalty_settlements`` takes them.

    When no payment states a month, every payment and credit pays the oldest debts first, so what
    is paid off is the oldest debts that the running sum of the payments covers: the debts paid off
    by each close are found from two sums, and the payments are allocated only when this close
    pays one off."""
    month = month_start(month)
    owed = sorted((d for d in debts if d.amount > 0), key=lambda d: (d.period, d.due_date))
    if not owed:
        return []
    periods, amounts = [d.period for d in owed], [d.amount for d in owed]
    # What this close sees (payments posted to it or before and made by its end, and the credits
    # issued by then), and what the close before saw.
    now_events = _events(debts, payments, add_months(month, 1).toordinal() - 1, month)
    before_last = month.toordinal() - 1
    previous = add_months(month, -1)
    count = len(owed)
    with localcontext(_CONTEXT):
        if all(e[2] is None for e in now_events):
            # Every event pays the oldest debts first: paid off are the debts whose running sum
            # the events' sum covers. The close before saw the events of days before the month
            # posted to months before it (a subset of this close's).
            now_total = sum((e[1] for e in now_events), _ZERO)
            before_total = _ZERO
            for payment in payments:
                if payment.paid_on.toordinal() <= before_last and (payment.posted or payment.paid_on) < month:
                    before_total += payment.amount
            for debt in debts:
                if debt.amount < 0 and _credit_day(debt).toordinal() <= before_last:
                    before_total -= debt.amount
            now_count = _covered(amounts, now_total)
            before_count = _covered(amounts, before_total)
            if now_count == before_count:
                return []
            paid_now = [i < now_count for i in range(count)]
            paid_before = [i < before_count for i in range(count)]
            now = _allocate(periods, amounts, now_events)
        else:
            now = _allocate(periods, amounts, now_events)
            before = _allocate(periods, amounts, _events(debts, payments, before_last, previous))
            paid_now = [_sum(now[i]) >= amounts[i] for i in range(count)]
            paid_before = [_sum(before[i]) >= amounts[i] for i in range(count)]
    # A month's debt may be given in several parts (a charge, a correction): paid off together.
    by_period: dict[date, list[int]] = {}
    for index, period in enumerate(periods):
        by_period.setdefault(period, []).append(index)
    return [
        (period, tuple((owed[i], tuple(now[i])) for i in group))
        for period, group in by_period.items()
        if all(paid_now[i] for i in group) and not all(paid_before[i] for i in group)
    ]


def _covered(amounts: Sequence[Decimal], total: Decimal) -> int:
    """How many of ``amounts`` (oldest first) ``total`` pays off whole, paying the oldest first."""
    covered = 0
    for amount in amounts:
        if amount > total:
            break
        total -= amount
        covered += 1
    return covered


def debts_settled(
    paid_off: Iterable[PaidOff],
    rates: KeyRateTable,
    rules: PenaltyRules,
    accrued: Mapping[date, Decimal] | None = None,
    since: date | None = None,
) -> list[Settlement]:
    """The settlements of debts paid off (``debts_paid_off``): each debt's penalty over its whole
    overdue period, every part at the rate of the day it was paid, against ``accrued`` on it
    (as ``penalty_settlements`` takes it)."""
    accrued = accrued or {}
    out: list[Settlement] = []
    with localcontext(_CONTEXT):
        for period, group in paid_off:
            parts = [part for debt, paid in group for part in _settled_parts(debt, paid, rates, rules, since)]
            was = accrued.get(period, _ZERO)
            if not parts and not was:
                continue
            total = sum((part.amount for part in parts), _ZERO)
            paid_off_on = date.fromordinal(max(day for _, paid in group for day, _ in paid))
            out.append(
                Settlement(
                    period=period,
                    paid_off=paid_off_on,
                    key_rate=rates.rate_on(paid_off_on),
                    settled=total,
                    accrued=was,
                    amount=round_money(total - was),
                    parts=tuple(parts),
                )
            )
    return out


def penalty_settlements(
    debts: Sequence[Debt],
    payments: Sequence[Payment],
    month: date,
    rates: KeyRateTable,
    rules: PenaltyRules,
    accrued: Mapping[date, Decimal] | None = None,
    settled: Collection[date] = (),
    since: date | None = None,
) -> list[Settlement]:
    """The settlements the close of ``month`` posts: one for every debt that this close is the
    first to see paid off (the close of the month before, with what it saw, did not).

    ``debts`` and ``payments`` are all of the account's (each payment with the month it is
    ``posted`` to); ``accrued`` maps a debt's period to the penalty accrued on it so far, the
    penalty of ``month`` included (unrounded; none: nothing); a debt whose period is in
    ``settled`` was settled already and is skipped. A debt paid off that never had an overdue day
    and accrued nothing gives no settlement; one whose difference rounds to 0.00 gives one of
    ``amount`` 0.00 (nothing to post). ``since``: the first day whose penalty was accrued here (an
    account whose history before was imported); earlier days are neither settled nor counted.

    The close calls the two halves (``debts_paid_off``, ``debts_settled``) itself, so as to read
    what was accrued only for the accounts that paid a debt off."""
    paid_off = [item for item in debts_paid_off(debts, payments, month) if item[0] not in settled]
    return debts_settled(paid_off, rates, rules, accrued, since)


def _sum(slices: Iterable[tuple[int, Decimal]]) -> Decimal:
    return sum((amount for _, amount in slices), _ZERO)
