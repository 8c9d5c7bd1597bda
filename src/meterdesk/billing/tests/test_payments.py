"""Payments: recorded once, posted to an open month, carried by the closes; and the late-payment
penalty they stop (Housing Code art. 155 p. 14, docs/penalties.md).

The account bills the norm without a meter being required: 78 kWh × 2 residents = 156 kWh × 7.87
= 1227.72 ₽ every month from July 2025. The key rate in the autumn of 2025 (17 % and 16.5 %) is above
the 9.5 % cap, so every penalty day costs overdue × 9.5 / 100 / 300 (days 31..90 after the due date)
or / 130 (from day 91).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance, last_payment, payments_of
from meterdesk.billing.services import DuplicatePayment, PaymentError, open_period_for, payment_post
from meterdesk.billing.tests.helpers import D, month
from meterdesk.testing import AccountFactory

pytestmark = pytest.mark.django_db

AUG, SEP, OCT, NOV, DEC = (month(2025, m) for m in (8, 9, 10, 11, 12))
MONTHLY = D("1227.72")


@pytest.fixture
def account(prices):
    return AccountFactory(rooms=2, residents=2, meter_required=False)


def pay(account, amount, day, external_id, **kwargs):
    return payment_post(account=account, amount=D(amount), paid_on=day, external_id=external_id, **kwargs)


def close_of(account, period) -> AccountClose:
    return AccountClose.objects.get(account=account, period=period)


class TestPaymentPost:
    def test_recorded_once_per_external_id(self, account):
        entry = pay(account, "500", date(2025, 8, 20), "sber-0001", source="sber", detail={"registry": "R1"})
        assert entry.kind == EntryKind.PAYMENT
        assert entry.amount == D("-500.00")
        assert entry.period == AUG
        assert entry.posted_on == date(2025, 8, 20)
        assert entry.reason == "sber"
        assert entry.detail == {"registry": "R1"}
        assert account_balance(account) == D("-500.00")
        with pytest.raises(DuplicatePayment) as raised:
            pay(account, "700", date(2025, 8, 21), "sber-0001")
        assert raised.value.entry == entry
        assert raised.value.code == "duplicate_payment"
        # The same id for another account is the same payment too.
        with pytest.raises(DuplicatePayment):
            pay(AccountFactory(), "500", date(2025, 8, 20), "sber-0001")
        assert account_balance(account) == D("-500.00")
        assert LedgerEntry.objects.count() == 1

    @pytest.mark.parametrize("amount", ["0", "-1", "0.001", "10.005"])
    def test_only_positive_whole_kopecks(self, account, amount):
        with pytest.raises(PaymentError):
            pay(account, amount, date(2025, 8, 20), "x-1")
        assert not LedgerEntry.objects.exists()

    def test_selectors(self, account):
        assert last_payment(account) is None
        first = pay(account, "100", date(2025, 8, 5), "a")
        second = pay(account, "200", date(2025, 8, 25), "b")
        pay(AccountFactory(), "300", date(2025, 8, 26), "c")
        assert last_payment(account) == second
        assert list(payments_of(account)) == [second, first]

    def test_a_payment_dated_in_a_closed_month_goes_to_the_first_open_month(self, account):
        billing_close(AUG)
        entry = pay(account, "100", date(2025, 8, 30), "late-1")
        assert entry.period == SEP
        assert entry.posted_on == date(2025, 8, 30)  # its own date is kept
        august = close_of(account, AUG)
        assert august.payments == D("0.00")  # the closed month did not change
        assert open_period_for(account, date(2025, 3, 1)) == SEP
        assert open_period_for(account, date(2025, 11, 5)) == NOV  # a later month is open
        billing_close(SEP)
        assert close_of(account, SEP).payments == D("-100.00")
        assert pay(account, "1", date(2025, 9, 30), "late-2").period == OCT

    def test_before_any_close_a_payment_goes_to_its_own_month(self, account):
        assert pay(account, "100", date(2025, 7, 31), "p").period == month(2025, 7)


class TestPaymentsInTheCloses:
    def test_partial_payment(self, account):
        billing_close(AUG)
        pay(account, "1000", date(2025, 9, 8), "p-1")
        billing_close(SEP)
        september = close_of(account, SEP)
        assert september.opening_balance == MONTHLY
        assert september.charges == MONTHLY
        assert september.payments == D("-1000.00")
        assert september.penalty == D("0.00")
        # 1227.72 + 1227.72 - 1000.00
        assert september.closing_balance == D("1455.44")
        assert account_balance(account) == september.closing_balance

    def test_overpayment_is_a_credit_carried_to_the_next_months(self, account):
        billing_close(AUG)
        pay(account, "3000", date(2025, 9, 5), "p-1")
        billing_close(SEP)
        september = close_of(account, SEP)
        assert september.closing_balance == MONTHLY + MONTHLY - D("3000.00") == D("-544.56")
        billing_close(OCT)
        october = close_of(account, OCT)
        assert october.opening_balance == D("-544.56")
        assert october.payments == D("0.00")
        assert october.penalty == D("0.00")
        assert october.closing_balance == D("-544.56") + MONTHLY == D("683.16")
        assert account_balance(account) == D("683.16")

    def test_payment_posted_into_an_open_month_before_its_close(self, account):
        billing_close(AUG)
        pay(account, "1227.72", date(2025, 9, 9), "p-1")
        pay(account, "50", date(2025, 9, 30), "p-2")
        billing_close(SEP)
        assert close_of(account, SEP).payments == D("-1277.72")
        assert close_of(account, SEP).closing_balance == MONTHLY - D("50.00")


class TestPenalty:
    """A debt unpaid for more than 30 days after the 10th produces a penalty line in the close."""

    def test_unpaid_debt(self, account):
        for period in (AUG, SEP):
            billing_close(period)
            assert close_of(account, period).penalty == D("0.00")  # not 30 days past a due date yet
        billing_close(OCT)
        october = close_of(account, OCT)
        # August's 1227.72, due 10.09: day 31 is 11.10, so 21 days of October at 9.5 % / 300:
        # 1227.72 × 9.5 / 30000 × 21 = 8.164338 → 8.16
        assert october.penalty == D("8.16")
        penalty = LedgerEntry.objects.get(account=account, kind=EntryKind.PENALTY)
        assert penalty.period == OCT
        assert penalty.amount == D("8.16")
        assert penalty.reason == "late_payment"
        assert penalty.volume is None and penalty.price is None
        assert penalty.detail == {
            "parts": [{"period": "2025-08", "days": 21, "overdue": "1227.72", "rate": "9.5", "divisor": 300}]
        }
        assert october.closing_balance == october.opening_balance + MONTHLY + D("8.16")

        billing_close(NOV)
        # August: 30 days × 0.38883... = 11.66334; September (due 10.10, day 31 = 10.11): 21 days
        # 8.164338; together 19.827678 → 19.83
        assert close_of(account, NOV).penalty == D("19.83")

        billing_close(DEC)
        # August: 01.12–09.12 at 1/300 (9 days) 3.499002, from day 91 (10.12) at 1/130 for 22 days:
        # 1227.72 × 9.5 / 13000 × 22 = 19.73796; September all 31 days at 1/300: 12.052118;
        # October (due 10.11, day 31 = 11.12) 21 days: 8.164338. Total 43.453418 → 43.45
        december = close_of(account, DEC)
        assert december.penalty == D("43.45")
        assert (
            account_balance(account)
            == december.closing_balance
            == 5 * MONTHLY + D("8.16") + D("19.83") + D("43.45")
        )
        # No penalty on a penalty: the debts are the months' charges only.
        parts = LedgerEntry.objects.get(account=account, period=DEC, kind=EntryKind.PENALTY).detail["parts"]
        assert {p["period"] for p in parts} == {"2025-08", "2025-09", "2025-10"}
        assert sum(Decimal(p["overdue"]) for p in parts if p["period"] != "2025-08") == 2 * MONTHLY

    def test_a_payment_stops_the_accrual_from_its_day(self, account):
        billing_close(AUG)
        billing_close(SEP)
        pay(account, "1227.72", date(2025, 10, 20), "p-1")  # pays August (the oldest debt)
        billing_close(OCT)
        # August overdue from 11.10 to 19.10: 9 days × 1227.72 × 9.5 / 30000 = 3.499002 → 3.50
        assert close_of(account, OCT).penalty == D("3.50")

    def test_paid_on_time_no_penalty(self, account):
        billing_close(AUG)
        pay(account, "1227.72", date(2025, 9, 10), "p-aug")
        billing_close(SEP)
        pay(account, "1227.72", date(2025, 10, 10), "p-sep")
        billing_close(OCT)
        billing_close(NOV)
        assert not LedgerEntry.objects.filter(kind=EntryKind.PENALTY).exists()
        assert close_of(account, NOV).closing_balance == MONTHLY * 2  # October's and November's

    def test_partial_payment_within_the_month(self, account):
        """The part paid on the 20th accrues until the 19th, the rest to the end of the month.

        The overdue amounts are exact on SQLite too (which gives a decimal column back as a float:
        read as ``Decimal(float)``, 1000.10 was 1000.1000000000000227… and the rest 227.6199…)."""
        billing_close(AUG)
        billing_close(SEP)
        pay(account, "1000.10", date(2025, 10, 20), "p-1")
        billing_close(OCT)
        # 11.10–19.10 (9 days) on 1227.72, then 20.10–31.10 (12 days) on 227.62, at 9.5 % / 300:
        # 3.499002 + 0.864956 = 4.363958 → 4.36
        assert close_of(account, OCT).penalty == D("4.36")
        parts = LedgerEntry.objects.get(account=account, kind=EntryKind.PENALTY).detail["parts"]
        assert [(p["days"], Decimal(p["overdue"]), p["rate"], p["divisor"]) for p in parts] == [
            (9, D("1227.72"), "9.5", 300),
            (12, D("227.62"), "9.5", 300),
        ]
