"""A payment made for a stated month (its ledger detail's ``period``, as a bank registry or an
import keeps it) pays that month's debt first, in the close's penalty, in the settlement when a
debt is paid off and in the rebill's penalties, by the engine and by the PostgreSQL fast path
(docs/penalties.md; the rule itself: domain/tests/test_penalties_period.py).

One account per case, billed 1000.00 for April 2023 and 1000.00 for May 2023 (200 kWh a month at
5.00 ₽/kWh) and nothing after (its meter stands still). April is due 10.05.2023 (day 31 = 10.06,
day 91 = 09.08), May 10.06.2023 (day 31 = 11.07, day 91 = 09.09). The key rate was 7.5 % until
23.07.2023, 8.5 % from 24.07, 12 % from 15.08 and 13 % from 18.09 (from 28.02.2022 capped at 9.5 %).
1000.00 is paid on 16.08.2023, for May 2023 or for no month:

for May (April stays owed, May is paid off):
* June: April 10.06..30.06, 21 days at the rate of 30.06, 7.5 %: 1000 * 7.5 * 21 / 30000 = 5.25;
* July: April 01.07..31.07, 31 days at 8.5 %: 8.78333...; May 11.07..31.07, 21 days: 5.95; 14.73;
* August: April (owed at the end: the rate of 31.08, 12 % capped at 9.5 %) 01.08..08.08, 8 days at
  1/300: 2.53333..., 09.08..31.08, 23 days at 1/130: 1000 * 9.5 * 23 / 13000 = 16.807692...; May
  01.08..15.08, 15 days at the rate of 16.08 (9.5 %): 4.75; 24.091025... -> 24.09. May is settled:
  11.07..15.08, 36 days at 9.5 %, 11.40, accrued 5.95 + 4.75 = 10.70: +0.70;
* September: April 01.09..30.09, 30 days at 1/130 (9.5 %): 21.923076... -> 21.92.

for no month (the oldest, April, is paid off; May stays owed):
* June and July as above;
* August: April 01.08..08.08 at 1/300, 2.53333..., and 09.08..15.08 at 1/130, 7 days:
  1000 * 9.5 * 7 / 13000 = 5.115384... (the rate of 16.08); May 01.08..31.08, 31 days at 1/300
  (the rate of 31.08): 9.81666...; 17.465384... -> 17.47. April is settled: 10.06..08.08 (60 days)
  at 9.5 % / 300, 19.00, and 09.08..15.08 at 1/130, 5.115384...: 24.115384...; accrued
  5.25 + 8.78333... + 2.53333... + 5.115384... = 21.682051...: +2.433333... -> +2.43;
* September: May 01.09..08.09, 8 days at 1/300: 2.53333..., 09.09..30.09, 22 days at 1/130:
  16.076923...; 18.610256... -> 18.61.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from meterdesk.billing import close_penalties
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.services import account_rebill, payment_post
from meterdesk.billing.tests.helpers import GAS, D, reading
from meterdesk.billing.tests.test_fast_path import _both_ways, _fast, _FastCounter
from meterdesk.domain.penalties import Debt, Payment, key_rates_load, penalty_for_month
from meterdesk.domain.periods import add_months
from meterdesk.domain.profiles import profile_load
from meterdesk.metering.models import Reading, ReadingStatus
from meterdesk.testing import AccountFactory, MeterFactory, make_tariff
from meterdesk.utility.selectors import utility_get

pytestmark = pytest.mark.django_db

MAR, APR, MAY, JUN, JUL, AUG, SEP, OCT = (date(2023, m, 1) for m in range(3, 11))
CHUNKS = [(0, 10**9)]


@pytest.fixture
def tariff_2023(db):
    make_tariff(category=GAS, prices=("5.00",), valid_from=date(2023, 1, 1))


def _meter(april: int = 1200):
    """Read 1000 in March 2023, ``april`` in April and 1400 from May on (5.00 ₽/kWh)."""
    meter = MeterFactory(
        zones=1,
        installed_on=date(2023, 1, 10),
        initial_t1=D(1000),
        account=AccountFactory(opened_on=date(2023, 1, 1)),
    )
    reading(meter, MAR, 1000)
    reading(meter, APR, april)
    for month in (MAY, JUN, JUL, AUG, SEP, OCT):
        reading(meter, month, 1400)
    return meter


def _penalties(account, period):
    return [
        (reason, amount, detail.get("debt"))
        for reason, amount, detail in LedgerEntry.objects.filter(
            account=account, period=period, kind=EntryKind.PENALTY
        )
        .order_by("pk")
        .values_list("reason", "amount", "detail")
    ]


def test_the_month_paid_for_stops_accruing_and_is_settled_the_oldest_goes_on(tariff_2023, monkeypatch):
    counter = _FastCounter(monkeypatch)
    stated, unstated = _meter().account, _meter().account
    for month in (MAR, APR, MAY, JUN, JUL):
        _both_ways(month, CHUNKS, counter)
    assert _penalties(stated, JUN) == _penalties(unstated, JUN) == [("late_payment", D("5.25"), None)]
    assert _penalties(stated, JUL) == _penalties(unstated, JUL) == [("late_payment", D("14.73"), None)]
    # As a bank registry records them: the month paid for, or "" when the bank sent none.
    payment_post(
        account=stated,
        amount=D("1000.00"),
        paid_on=date(2023, 8, 16),
        external_id="reg:1",
        detail={"period": "2023-05"},
    )
    payment_post(
        account=unstated,
        amount=D("1000.00"),
        paid_on=date(2023, 8, 16),
        external_id="reg:2",
        detail={"period": ""},
    )
    assert _both_ways(AUG, CHUNKS, counter) == (2, _fast(2))  # the fast path writes them too
    assert _penalties(stated, AUG) == [
        ("late_payment", D("24.09"), None),
        ("penalty_settled", D("0.70"), "2023-05"),
    ]
    assert _penalties(unstated, AUG) == [
        ("late_payment", D("17.47"), None),
        ("penalty_settled", D("2.43"), "2023-04"),
    ]
    [late] = LedgerEntry.objects.filter(account=stated, period=AUG, reason="late_payment")
    assert [(p["period"], p["days"], p["overdue"], p["divisor"]) for p in late.detail["parts"]] == [
        ("2023-04", 8, "1000.00", 300),
        ("2023-04", 23, "1000.00", 130),
        ("2023-05", 15, "1000.00", 300),
    ]
    _both_ways(SEP, CHUNKS, counter)
    assert _penalties(stated, SEP) == [("late_payment", D("21.92"), None)]
    assert _penalties(unstated, SEP) == [("late_payment", D("18.61"), None)]
    # What is owed: the debt left and every penalty charged.
    september = AccountClose.objects.get(account=stated, period=SEP)
    assert september.closing_balance == D("1000.00") + D("5.25") + D("14.73") + D("24.09") + D("0.70") + D(
        "21.92"
    )


def test_the_rebill_recomputes_the_penalties_with_the_month_paid_for(tariff_2023, monkeypatch):
    """April was 1100, keyed as 1200: April owes 500.00 (lowered: from the start), May 1500.00, of
    which the 500.00 added is owed with October's bill. The payment for May pays May's 1000.00;
    April's 500.00 stays owed, so its penalties halve:
    June 500 * 7.5 * 21 / 30000 = 2.625 -> 2.63 (-2.62); July 4.391666... + 5.95 = 10.341666... ->
    10.34 (-4.39); August 1.266666... + 8.403846... + 4.75 = 14.420512... -> 14.42 (-9.67);
    September 10.961538... -> 10.96 (-10.96)."""
    counter = _FastCounter(monkeypatch)
    meter = _meter()
    account = meter.account
    for month in (MAR, APR, MAY, JUN, JUL):
        _both_ways(month, CHUNKS, counter)
    payment_post(
        account=account,
        amount=D("1000.00"),
        paid_on=date(2023, 8, 16),
        external_id="reg:1",
        detail={"period": "2023-05"},
    )
    for month in (AUG, SEP):
        _both_ways(month, CHUNKS, counter)
    Reading.objects.filter(meter=meter, period=APR).update(status=ReadingStatus.SUPERSEDED)
    reading(meter, APR, 1100)

    entries = account_rebill(account=account, period=APR, reason="April was 1100", cause="reading_corrected")

    assert [(e.detail["period"], e.detail["basis"], e.amount) for e in entries] == [
        ("2023-04", "actual", D("-500.00")),
        ("2023-05", "actual", D("500.00")),
        ("2023-06", "penalty", D("-2.62")),
        ("2023-07", "penalty", D("-4.39")),
        ("2023-08", "penalty", D("-9.67")),
        ("2023-09", "penalty", D("-10.96")),
    ]


# --- The close reads the payments' months as the rule needs them -------------------------------

MONTH = date(2025, 12, 1)


def _entry(account, kind, period, amount, posted_on=None, paid_for=None):
    return LedgerEntry(
        account=account,
        period=period,
        posted_on=posted_on or period,
        kind=kind,
        amount=Decimal(amount),
        detail={} if paid_for is None else {"period": paid_for},
        created_at=timezone.now(),
    )


def _expected(account_ids, period, profile, months=True):
    """The penalties from every debt and every payment row by row, each with its month (or, not
    ``months``, each for no month)."""
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
        label = e.detail.get("period") if months else None
        paid_for = date(int(label[:4]), int(label[5:7]), 1) if label and label[4:5] == "-" else None
        payments[e.account_id].append(Payment(e.posted_on, -e.amount, paid_for=paid_for))
    out = {}
    for acc in account_ids:
        result = penalty_for_month(debts[acc], payments[acc], period, key_rates_load(), profile.penalty)
        if result.amount:
            out[acc] = (result.amount, close_penalties.penalty_parts(result))
    return out


def test_the_close_reads_each_payments_month(prices):
    """Varied accounts in arrears, paying for months (billed, not billed yet, none, "" as a
    registry sends no month, a text that is no month): the close's penalties are those of
    ``penalty_for_month`` given every payment on its own with its month."""
    profile = profile_load(utility_get().rules_profile)
    rng = random.Random(16)
    entries: list[LedgerEntry] = []
    accounts = [AccountFactory() for _ in range(40)]
    last_day = add_months(MONTH, 1) - timedelta(days=1)
    for account in accounts:
        for k in range(14, 0, -1):
            p = add_months(MONTH, -k)
            entries.append(_entry(account, "charge", p, f"{rng.randint(300, 3000)}.{rng.randint(0, 99):02d}"))
            if rng.random() < 0.1:
                entries.append(_entry(account, "recalculation", p, f"-{rng.randint(1, 2500)}.00"))
        for _ in range(rng.randint(1, 14)):
            day = (
                MONTH - timedelta(days=rng.randint(1, 420))
                if rng.random() < 0.8
                else MONTH + timedelta(days=rng.randint(0, 30))
            )
            label = rng.choice([None, "", "bad", *(f"{add_months(MONTH, -k):%Y-%m}" for k in range(-1, 15))])
            entries.append(
                _entry(
                    account,
                    "payment",
                    min(day.replace(day=1), MONTH),
                    f"-{rng.randint(1, 3000)}.00",
                    min(day, last_day),
                    label,
                )
            )
    LedgerEntry.objects.bulk_create(entries)
    ids = [a.pk for a in accounts]
    expected = _expected(ids, MONTH, profile)
    assert len(expected) >= 10  # the data does accrue penalties
    # ... and the months said change them: not the penalties of every payment for no month.
    assert _expected(ids, MONTH, profile, months=False) != expected
    assert close_penalties.penalties_accrued(ids, MONTH, profile) == expected
