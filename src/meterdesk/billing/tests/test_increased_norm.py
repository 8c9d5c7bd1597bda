"""The norm with the increasing coefficient of p.60 for a failed meter left in place after its
estimated months, through the monthly close on the database (domain/billing.py decides; the cases
d, d2 and d3 of domain/tests/billing_cases follow it month by month).

The PostgreSQL fast path leaves every account with a failed meter to the engine: closed both ways,
the rows are the same, and the fast path closes only the working meter's account.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import translation

from meterdesk.billing.messages import entry_words
from meterdesk.billing.models import LedgerEntry
from meterdesk.billing.tests.helpers import D
from meterdesk.billing.tests.test_fast_path import _both_ways, _fast, _FastCounter
from meterdesk.testing import AccountFactory, MeterFactory, ReadingFactory

pytestmark = pytest.mark.django_db

JUL, AUG, SEP, OCT = (date(2025, m, 1) for m in (7, 8, 9, 10))


def test_a_failed_meter_after_its_three_average_months_by_the_engine_only(prices, monkeypatch):
    """Both meters read 1500 in December 2024, then 1680, 1890, 2080, 2310, 2480, 2701 in January
    to June 2025 (1201 kWh in six months: the average 200.1666... -> 200.167 kWh). One meter's
    verification was due on 30.06.2025: from July it counts as failed. July to September are billed
    by that average, 200.167 x 7.87 = 1575.31 (reason meter_failed); October, the meter still in
    place, by the norm with the coefficient: 2 residents x 78 kWh = 156 x 1.5 = 234 kWh x 7.87 =
    1841.58 (basis norm_increased, reason meter_failed_average_exhausted). The other meter goes on
    with readings, and from August (it then has the state of the month before) takes the fast path.
    """
    counter = _FastCounter(monkeypatch)
    failed = MeterFactory(
        zones=1, verification_due=date(2025, 6, 30), account=AccountFactory(rooms=2, residents=2)
    )
    working = MeterFactory(zones=1)
    values = (1500, 1680, 1890, 2080, 2310, 2480, 2701)
    for meter in (failed, working):
        for month, value in zip(
            [date(2024, 12, 1)] + [date(2025, m, 1) for m in range(1, 7)], values, strict=True
        ):
            ReadingFactory(meter=meter, period=month, t1=D(value), t2=None, t3=None)
    for n, month in enumerate((JUL, AUG, SEP, OCT), start=1):
        ReadingFactory(meter=working, period=month, t1=D(2701 + 200 * n), t2=None, t3=None)
        ReadingFactory(meter=failed, period=month, t1=D(2701 + 200 * n), t2=None, t3=None)  # ignored
    chunks = [(0, 10**9)]
    assert _both_ways(JUL, chunks, counter) == (2, 0)  # no states yet: all by the engine
    for month in (AUG, SEP, OCT):
        assert _both_ways(month, chunks, counter) == (2, _fast(1))
    billed = {
        month: list(
            LedgerEntry.objects.filter(account=failed.account, period=month, kind="charge").values_list(
                "basis", "zone", "volume", "price", "amount", "reason"
            )
        )
        for month in (JUL, AUG, SEP, OCT)
    }
    for month in (JUL, AUG, SEP):
        assert billed[month] == [("average", 1, D("200.167"), D("7.87"), D("1575.31"), "meter_failed")]
    assert billed[OCT] == [
        ("norm_increased", 0, D("234.000"), D("7.87"), D("1841.58"), "meter_failed_average_exhausted")
    ]
    october = LedgerEntry.objects.get(account=failed.account, period=OCT, kind="charge")
    assert october.detail == {"residents": "2×78.000", "coefficient": "1.5", "limit": "3"}
    with translation.override("en"):
        assert entry_words(october) == (
            "by the consumption norm for 2 residents with the increasing coefficient 1.5: the meter is "
            "faulty, lost or past its verification date and was not replaced within 3 months billed by "
            "estimate — replace or verify it"
        )
    with translation.override("ru"):
        assert entry_words(october) == (
            "по нормативу потребления на 2 проживающих с повышающим коэффициентом 1,5: счётчик "
            "неисправен, утрачен или не поверен в срок и не заменён за 3 расчётных месяца — "
            "замените или поверьте его"
        )
