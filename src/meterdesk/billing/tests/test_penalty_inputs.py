"""The close reads the penalty's inputs summed where only the sum matters (``close_penalties.penalties_accrued``):
the payments made before the month are one row, those after it another, each payment inside the
month keeps its day. The penalties must be exactly those of ``penalty_for_month`` given every
payment on its own, as the close read them before (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from meterdesk.billing import close_penalties
from meterdesk.billing.models import LedgerEntry
from meterdesk.domain.penalties import Debt, Payment, key_rates_load, penalty_for_month
from meterdesk.domain.periods import add_months
from meterdesk.domain.profiles import profile_load
from meterdesk.testing import AccountFactory
from meterdesk.utility.selectors import utility_get

pytestmark = pytest.mark.django_db

MONTH = date(2025, 12, 1)


def _entry(account, kind: str, period: date, amount: str, posted_on: date | None = None) -> LedgerEntry:
    return LedgerEntry(
        account=account,
        period=period,
        posted_on=posted_on or period,
        kind=kind,
        amount=Decimal(amount),
        created_at=timezone.now(),
    )


def _expected(account_ids: list[int], period: date, profile) -> dict[int, tuple[Decimal, list]]:
    """The penalties from every debt and every payment row by row (the close's former reading)."""
    debts: dict[int, list[Debt]] = defaultdict(list)
    payments: dict[int, list[Payment]] = defaultdict(list)
    sums: dict[tuple[int, date], Decimal] = defaultdict(Decimal)
    for e in LedgerEntry.objects.filter(account_id__in=account_ids, period__lt=period).exclude(
        kind__in=("payment", "penalty")
    ):
        sums[(e.account_id, e.period)] += e.amount
    for (acc, p), amount in sorted(sums.items()):
        debts[acc].append(Debt(p, close_penalties.due_date(p, profile), amount))
    for e in LedgerEntry.objects.filter(account_id__in=account_ids, period__lte=period, kind="payment"):
        payments[e.account_id].append(Payment(e.posted_on, -e.amount))
    out = {}
    for acc in account_ids:
        result = penalty_for_month(debts[acc], payments[acc], period, key_rates_load(), profile.penalty)
        if result.amount:
            out[acc] = (result.amount, close_penalties.penalty_parts(result))
    return out


def test_summed_payments_give_the_penalties_of_every_payment_on_its_own(prices):
    profile = profile_load(utility_get().rules_profile)
    rng = random.Random(7)
    entries: list[LedgerEntry] = []
    accounts = [AccountFactory() for _ in range(40)]
    last_day = add_months(MONTH, 1) - timedelta(days=1)
    for n, account in enumerate(accounts):
        for k in range(14, 0, -1):
            p = add_months(MONTH, -k)
            entries.append(_entry(account, "charge", p, f"{rng.randint(300, 3000)}.{rng.randint(0, 99):02d}"))
            if rng.random() < 0.15:  # a credit from a recalculation, some of them in the month before
                entries.append(_entry(account, "recalculation", p, f"-{rng.randint(1, 2500)}.00"))
        # Payments: many before the month (several on one day), some in it (also on one day, and
        # on its first and last days), a few after it; none at all for some accounts.
        if n % 8 == 0:
            continue
        for _ in range(rng.randint(1, 12)):
            day = MONTH - timedelta(days=rng.randint(1, 400))
            entries.append(
                _entry(
                    account, "payment", add_months(day.replace(day=1), 0), f"-{rng.randint(1, 4000)}.00", day
                )
            )
        for day in rng.sample(
            [MONTH, MONTH + timedelta(days=9), MONTH + timedelta(days=9), last_day], k=rng.randint(0, 3)
        ):
            entries.append(
                _entry(account, "payment", MONTH, f"-{rng.randint(1, 3000)}.{rng.randint(0, 99):02d}", day)
            )
        if n % 5 == 0:
            entries.append(_entry(account, "payment", MONTH, "-100.00", last_day + timedelta(days=3)))
    # Paid off exactly up to a month's debt, with a credit in the month before (it pays from the
    # month's first day, not before it) and one earlier.
    exact = AccountFactory()
    accounts.append(exact)
    for k in range(6, 0, -1):
        entries.append(_entry(exact, "charge", add_months(MONTH, -k), "1000.00"))
    entries.append(_entry(exact, "recalculation", add_months(MONTH, -5), "-250.00"))
    entries.append(_entry(exact, "recalculation", add_months(MONTH, -1), "-300.00"))
    entries.append(_entry(exact, "payment", add_months(MONTH, -3), "-1750.00", add_months(MONTH, -3)))
    LedgerEntry.objects.bulk_create(entries)
    ids = [a.pk for a in accounts]
    expected = _expected(ids, MONTH, profile)
    assert len(expected) >= 10  # the data does accrue penalties
    assert exact.pk in expected
    assert close_penalties.penalties_accrued(ids, MONTH, profile) == expected


def test_a_positive_payment_entry_is_still_refused(prices):
    """A payment entry with a positive amount made Payment refuse it when read row by row; summed
    apart from the others, it still is."""
    profile = profile_load(utility_get().rules_profile)
    account = AccountFactory()
    LedgerEntry.objects.bulk_create(
        [
            _entry(account, "charge", add_months(MONTH, -3), "1000.00"),
            _entry(account, "payment", add_months(MONTH, -2), "-900.00", add_months(MONTH, -2)),
            _entry(account, "payment", add_months(MONTH, -2), "50.00", add_months(MONTH, -2)),
        ]
    )
    with pytest.raises(ValueError, match="payment's amount"):
        close_penalties.penalties_accrued([account.pk], MONTH, profile)


def test_the_penalties_at_the_edges_of_what_is_paid_before_the_month(prices):
    """Accounts at the edges of what debts_for_month sums as paid off before the month: a credit
    issued on the month's first day, a payment posted on it, a debt with one kopeck still owed,
    one paid off exactly. Their penalties are those of every debt and payment on its own."""
    profile = profile_load(utility_get().rules_profile)
    history = [("charge", add_months(MONTH, -k), "1000.00") for k in range(8, 0, -1)]

    def account_with(*extra: tuple[str, date, str, date | None]) -> int:
        account = AccountFactory()
        rows = [_entry(account, kind, p, amount) for kind, p, amount in history]
        rows += [_entry(account, kind, p, amount, posted_on) for kind, p, amount, posted_on in extra]
        LedgerEntry.objects.bulk_create(rows)
        return account.pk

    paid_before = ("payment", add_months(MONTH, -4), "-3000.00", add_months(MONTH, -4))
    ids = [
        # the credit of the month before is issued on this month's first day: not before it
        account_with(paid_before, ("recalculation", add_months(MONTH, -1), "-2000.00", None)),
        # a payment on the month's first day is not before it
        account_with(paid_before, ("payment", MONTH, "-1000.00", MONTH)),
        # the fourth debt is still owed by one kopeck
        account_with(("payment", add_months(MONTH, -4), "-3999.99", add_months(MONTH, -4))),
        # four debts paid off exactly
        account_with(("payment", add_months(MONTH, -4), "-4000.00", add_months(MONTH, -4))),
    ]
    expected = _expected(ids, MONTH, profile)
    assert set(expected) == set(ids)  # each still owes debts that accrue in the month
    assert close_penalties.penalties_accrued(ids, MONTH, profile) == expected


def test_summed_payments_give_the_settlements_of_every_payment_on_its_own(prices, monkeypatch):
    """The settlements found from the payments as ``penalty_inputs`` sums them are those found
    from every payment on its own: accounts paying late in full, in parts, for a stated month,
    with payments recorded after their month was closed and credits."""
    profile = profile_load(utility_get().rules_profile)
    rng = random.Random(11)
    entries: list[LedgerEntry] = []
    accounts = [AccountFactory() for _ in range(60)]
    for n, account in enumerate(accounts):
        charges = []
        for k in range(12, 0, -1):
            p = add_months(MONTH, -k)
            amount = Decimal(f"{rng.randint(300, 3000)}.{rng.randint(0, 99):02d}")
            charges.append((p, amount))
            entries.append(_entry(account, "charge", p, str(amount)))
            if rng.random() < 0.1:
                entries.append(_entry(account, "recalculation", p, f"-{rng.randint(1, 900)}.00"))
        for k, (p, amount) in enumerate(charges):
            # Each bill paid some months late: in full, or in two parts.
            late = rng.randint(1, 5)
            day = add_months(p, late) + timedelta(days=rng.randint(0, 27))
            if day > MONTH + timedelta(days=27):
                continue
            parts = (
                [amount]
                if n % 3
                else [(amount / 2).quantize(Decimal("0.01")), amount - (amount / 2).quantize(Decimal("0.01"))]
            )
            for i, part in enumerate(parts):
                paid_on = day + timedelta(days=10 * i)
                posted = paid_on.replace(day=1)
                if n % 7 == 0 and k == len(charges) - 3:
                    posted = MONTH  # recorded after its month was closed
                entry = _entry(
                    account,
                    "payment",
                    min(posted, MONTH),
                    f"-{part}",
                    min(paid_on, MONTH + timedelta(days=27)),
                )
                if n % 5 == 0 and k % 4 == 0:
                    entry.detail = {"period": f"{p:%Y-%m}"}  # for a stated month
                entries.append(entry)
    LedgerEntry.objects.bulk_create(entries)
    ids = [a.pk for a in accounts]
    summed_exactly: list[bool] = []
    paid_off: list[dict] = []
    real_exactly, real_settlements = close_penalties._paid_off_exactly, close_penalties._settlements

    def exactly(found, payments, period):
        summed_exactly.append(real_exactly(found, payments, period))
        return summed_exactly[-1]

    def settlements(found, *args):
        paid_off.append(dict(found))
        return real_settlements(found, *args)

    monkeypatch.setattr(close_penalties, "_paid_off_exactly", exactly)
    monkeypatch.setattr(close_penalties, "_settlements", settlements)
    summed = close_penalties.penalties_of(ids, MONTH, profile)
    monkeypatch.setattr(close_penalties, "_paid_off_exactly", lambda found, payments, period: False)
    each = close_penalties.penalties_of(ids, MONTH, profile)
    assert len(paid_off[0]) >= 20  # debts are paid off in the month
    assert summed_exactly.count(True) >= 10 and False in summed_exactly  # both ways are taken
    assert paid_off[0] == paid_off[1]  # the same debts, paid on the same days
    assert summed == each
    assert summed[0] == close_penalties.penalties_accrued(ids, MONTH, profile)
