"""The monthly statement (selectors.statement_get): the month's lines, payments, penalty and balances."""

from __future__ import annotations

from datetime import date

import pytest

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import EntryKind
from meterdesk.billing.selectors import account_balance, statement_get, statements_of
from meterdesk.billing.services import payment_post
from meterdesk.billing.tests.helpers import D, month, reading
from meterdesk.testing import AccountFactory, MeterFactory

pytestmark = pytest.mark.django_db

JUL, AUG, SEP, OCT = (month(2025, m) for m in (7, 8, 9, 10))


@pytest.fixture
def two_zone(prices):
    """A two-zone meter: August 200/70 kWh actual, September missing (no average: too young)."""
    meter = MeterFactory(zones=2, installed_on=date(2025, 6, 10))
    reading(meter, JUL, 1100, 540)
    reading(meter, AUG, 1300, 610)
    return meter


def test_statement_of_a_month(two_zone):
    account = two_zone.account
    billing_close(AUG)
    payment_post(account=account, amount=D("1000"), paid_on=date(2025, 9, 5), external_id="p-1")
    reading(two_zone, SEP, 1350, 630)
    billing_close(SEP)

    august = statement_get(account, AUG)
    assert august is not None
    assert [(e.kind, e.zone, e.volume, e.amount) for e in august.lines] == [
        (EntryKind.CHARGE, 1, D("200.000"), D("1890.00")),  # 200 × 9.45
        (EntryKind.CHARGE, 2, D("70.000"), D("285.60")),  # 70 × 4.08
    ]
    assert august.payments == []
    assert august.penalty == []
    assert august.close.closing_balance == D("2175.60")
    assert august.total_due == D("2175.60")
    assert august.close.due_date == date(2025, 9, 10)

    september = statement_get(account, SEP)
    assert september is not None
    assert [(e.zone, e.amount) for e in september.lines] == [(1, D("472.50")), (2, D("81.60"))]  # 50, 20 kWh
    assert [e.amount for e in september.payments] == [D("-1000.00")]
    assert september.close.opening_balance == D("2175.60")
    assert september.close.charges == D("554.10")
    assert september.close.payments == D("-1000.00")
    assert september.close.closing_balance == D("2175.60") + D("554.10") - D("1000.00")
    assert september.total_due == D("1729.70")
    assert account_balance(account) == D("1729.70")
    # The lines are those of the month only: August's are not repeated.
    assert all(e.period == SEP for e in september.lines + september.payments)

    assert statement_get(account, OCT) is None
    assert [c.period for c in statements_of(account)] == [SEP, AUG]


def test_a_credit_is_not_due(two_zone):
    account = two_zone.account
    billing_close(AUG)
    payment_post(account=account, amount=D("4000"), paid_on=date(2025, 9, 5), external_id="p-1")
    billing_close(SEP)
    september = statement_get(account, SEP)
    assert september is not None
    # No reading in September and no basis for an average (2 months since installation): the norm,
    # 78 kWh × 2 residents × 7.87 = 1227.72, on the meter, with its reason.
    assert [(e.basis, e.meter_id, e.volume, e.amount, e.reason) for e in september.lines] == [
        ("norm", two_zone.pk, D("156.000"), D("1227.72"), "no_basis_for_average")
    ]
    assert september.close.closing_balance == D("2175.60") + D("1227.72") - D("4000.00") == D("-596.68")
    assert september.total_due == D("0.00")


def test_statement_lines_with_a_penalty(prices):
    account = AccountFactory(rooms=2, residents=2, meter_required=False)
    for period in (AUG, SEP, OCT):
        billing_close(period)
    october = statement_get(account, OCT)
    assert october is not None
    assert [(e.kind, e.basis, e.amount) for e in october.lines] == [(EntryKind.CHARGE, "norm", D("1227.72"))]
    assert [e.amount for e in october.penalty] == [D("8.16")]
    assert october.close.penalty == D("8.16")
    assert october.total_due == october.close.closing_balance == 3 * D("1227.72") + D("8.16")
