"""``account_rebill`` carries a corrected month through every later closed month: the averages,
true-ups and norm months that depend on it are billed again from the corrected meter states, each
difference is posted once (a correction of the month it corrects, at that month's prices, on the
next bill), and the stored states are corrected so that the next close goes on from them.

Prices (conftest): gas stoves from 2025-07-01 single 7.87 ₽/kWh. Norm (illustrative): 2 rooms,
2 residents 78 kWh per resident; 3 residents 61. The customer pays every bill on the 5th of the
next month, so that no penalty accrues (penalties: test_rebill_penalties.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from meterdesk.billing.close import billing_close
from meterdesk.billing.codec import state_loads
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry, MeterBillingState
from meterdesk.billing.selectors import account_balance
from meterdesk.billing.services import R_REBILL, account_rebill, payment_post
from meterdesk.billing.tests.helpers import D, ledger_snapshot, lines, month, reading
from meterdesk.customers.models import Account, ResidentsChange
from meterdesk.metering.models import Meter, Reading, ReadingStatus
from meterdesk.testing import AccountFactory, MeterFactory, UserFactory

pytestmark = pytest.mark.django_db

JUL, AUG, SEP, OCT, NOV, DEC = (month(2025, m) for m in (7, 8, 9, 10, 11, 12))


def close_and_pay(period: date, account: Account) -> None:
    """Close the month and pay its bill in full on the 5th of the next month."""
    billing_close(period)
    due = AccountClose.objects.get(account=account, period=period).closing_balance
    if due > 0:
        paid_on = date(period.year + period.month // 12, period.month % 12 + 1, 5)
        payment_post(account=account, amount=due, paid_on=paid_on, external_id=f"pay-{account.pk}-{period}")


def corrections(account: Account) -> list[tuple[Any, ...]]:
    """(month corrected, basis, meter, zone, volume, price, amount) of the rebill's entries."""
    return [
        (e.detail["period"], e.detail["basis"], e.meter_id, e.zone, e.volume, e.price, e.amount)
        for e in LedgerEntry.objects.filter(account=account, kind=EntryKind.CORRECTION).order_by("pk")
    ]


def correct_reading(meter: Meter, period: date, value: int) -> None:
    """The month's reading replaced by the right value (the wrong one stays in the history)."""
    Reading.objects.filter(meter=meter, period=period).update(status=ReadingStatus.SUPERSEDED)
    reading(meter, period, value)


class TestAWrongReadingBeforeMonthsByAverage:
    """January to July: 100 kWh a month (700 by July). August's reading was 800, keyed as 1400:
    August billed 700 kWh, and September to November by the average (1400 - 200) / 6 = 200 kWh.
    With 800, August is 100 kWh and the average (800 - 200) / 6 = 100."""

    @pytest.fixture
    def meter(self, prices):
        meter = MeterFactory(zones=1, installed_on=date(2024, 12, 20), initial_t1=D(0))
        for number in range(1, 8):
            reading(meter, month(2025, number), 100 * number)
        reading(meter, AUG, 1400)
        for period in (AUG, SEP, OCT, NOV):
            close_and_pay(period, meter.account)
        assert lines(meter.account, AUG) == [
            ("actual", meter.pk, 1, 1, D("700.000"), D("7.87"), D("5509.00"))
        ]
        for period in (SEP, OCT, NOV):
            assert lines(meter.account, period) == [
                ("average", meter.pk, 1, 1, D("200.000"), D("7.87"), D("1574.00"))
            ]
        return meter

    def test_every_later_average_is_corrected_once_with_its_reason(self, meter):
        account = meter.account
        staff = UserFactory(email="billing@example.com", is_staff=True)
        before = ledger_snapshot()
        correct_reading(meter, AUG, 800)

        entries = account_rebill(
            account=account,
            period=AUG,
            reason="the August reading was 800, keyed as 1400",
            cause="reading_corrected",
            user=staff,
        )

        # August: -600 kWh × 7.87 = -4722.00; each average: -100 kWh × 7.87 = -787.00.
        assert corrections(account) == [
            ("2025-08", "actual", meter.pk, 1, D("-600.000"), D("7.87"), D("-4722.00")),
            ("2025-09", "average", meter.pk, 1, D("-100.000"), D("7.87"), D("-787.00")),
            ("2025-10", "average", meter.pk, 1, D("-100.000"), D("7.87"), D("-787.00")),
            ("2025-11", "average", meter.pk, 1, D("-100.000"), D("7.87"), D("-787.00")),
        ]
        assert [e.pk for e in entries] == list(
            LedgerEntry.objects.filter(kind=EntryKind.CORRECTION).order_by("pk").values_list("pk", flat=True)
        )
        for entry in entries:
            entry.refresh_from_db()
            corrected = month(int(entry.detail["period"][:4]), int(entry.detail["period"][5:]))
            assert entry.period == DEC  # the next bill
            assert entry.reason == R_REBILL
            assert entry.corrects == LedgerEntry.objects.get(account=account, period=corrected, kind="charge")
            assert entry.detail["cause"] == "reading_corrected"
            assert entry.detail["reason"] == "the August reading was 800, keyed as 1400"
            assert entry.detail["by"] == staff.pk
            assert entry.detail["rebill_of"] == "2025-08"
        # Nothing of before was changed; four entries were added.
        after = ledger_snapshot()
        assert not before - after
        assert sum((after - before).values()) == 4
        # The stored state after November goes on from 800, with 3 × 100 kWh billed by average.
        state = state_loads(MeterBillingState.objects.get(meter=meter, period=NOV).data)
        assert state.raw == (D(800),)
        assert state.last.totals == (D(800),)
        assert state.estimated == (D("300.000"),)
        assert state.estimated_periods == (SEP, OCT, NOV)

    def test_a_second_rebill_posts_nothing(self, meter):
        correct_reading(meter, AUG, 800)
        account_rebill(account=meter.account, period=AUG, reason="reading", cause="reading_corrected")
        before = ledger_snapshot()
        states = list(MeterBillingState.objects.order_by("pk").values_list("pk", "data"))

        assert (
            account_rebill(account=meter.account, period=AUG, reason="again", cause="reading_corrected") == []
        )
        assert account_rebill(account=meter.account, period=OCT, reason="again", cause="other") == []
        assert ledger_snapshot() == before
        assert list(MeterBillingState.objects.order_by("pk").values_list("pk", "data")) == states

    def test_the_next_close_trues_up_the_corrected_averages_only(self, meter):
        account = meter.account
        correct_reading(meter, AUG, 800)
        account_rebill(account=account, period=AUG, reason="reading", cause="reading_corrected")
        reading(meter, DEC, 1200)

        billing_close(DEC)

        # From 800 (August) to 1200: 400 kWh, and the 3 × 100 kWh by average reversed.
        assert lines(account, DEC, kind__in=[EntryKind.CHARGE, EntryKind.RECALCULATION]) == [
            ("actual", meter.pk, 1, 1, D("400.000"), D("7.87"), D("3148.00")),
            ("recalculation", meter.pk, 1, 1, D("-300.000"), D("7.87"), D("-2361.00")),
        ]
        december = AccountClose.objects.get(account=account, period=DEC)
        assert december.charges == D("3148.00")
        assert december.recalculations == D("-2361.00") - D("7083.00")
        assert december.penalty == D("0.00")
        assert account_balance(account) == december.closing_balance
        # August to December: 100 + 3 × 100 + 100 = 500 kWh, 700 to 1200 on the meter.
        billed = sum(
            (e.volume for e in LedgerEntry.objects.filter(account=account, period__gte=AUG) if e.volume),
            D(0),
        )
        assert billed == D("500.000")


class TestResidentsOfNormMonths:
    """A meter commissioned on 10 June with no readings yet: no basis for an average, so July to
    October are billed by the norm (2 residents × 78 = 156 kWh). A third resident since 1 August
    (61 kWh each: 183 kWh) is found after October was closed."""

    @pytest.fixture
    def meter(self, prices):
        account = AccountFactory(rooms=2, residents=2)
        meter = MeterFactory(account=account, zones=1, installed_on=date(2025, 6, 10), initial_t1=D(0))
        for period in (JUL, AUG, SEP, OCT):
            close_and_pay(period, account)
            assert lines(account, period) == [("norm", meter.pk, 0, 1, D("156.000"), D("7.87"), D("1227.72"))]
        return meter

    def test_every_later_norm_month_follows_the_residents(self, meter):
        account = meter.account
        ResidentsChange.objects.create(account=account, effective_from=date(2024, 1, 1), residents=2)
        ResidentsChange.objects.create(account=account, effective_from=AUG, residents=3)

        entries = account_rebill(
            account=account, period=AUG, reason="a third resident since 1 August", cause="residents_changed"
        )

        # +27 kWh × 7.87 = +212.49 in August, September and October; July is as it was.
        assert corrections(account) == [
            (label, "norm", meter.pk, 0, D("27.000"), D("7.87"), D("212.49"))
            for label in ("2025-08", "2025-09", "2025-10")
        ]
        assert {(e.period, e.detail["cause"], e.detail["rebill_of"]) for e in entries} == {
            (NOV, "residents_changed", "2025-08")
        }
        state = state_loads(MeterBillingState.objects.get(meter=meter, period=OCT).data)
        assert state.estimated_norm == D("705.000")  # 156 + 3 × 183
        assert account_rebill(account=account, period=AUG, reason="again", cause="residents_changed") == []

        # The reading of November reverses the corrected 705 kWh, not the 624 billed at first.
        reading(meter, NOV, 700)
        billing_close(NOV)
        assert lines(account, NOV, kind__in=[EntryKind.CHARGE, EntryKind.RECALCULATION]) == [
            ("actual", meter.pk, 1, 1, D("700.000"), D("7.87"), D("5509.00")),
            ("recalculation", meter.pk, 0, 1, D("-705.000"), D("7.87"), D("-5548.35")),
        ]
        november = AccountClose.objects.get(account=account, period=NOV)
        assert november.recalculations == D("-5548.35") + 3 * D("212.49")
        assert account_balance(account) == november.closing_balance
