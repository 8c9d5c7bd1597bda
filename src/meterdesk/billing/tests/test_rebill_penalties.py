"""The penalties after a rebill follow the corrected debts: in the later closed months (their
differences posted by the rebill) and in the next close.

A month whose bill a rebill lowers owed less from the start, so the penalties on its debt are
taken back; a month whose bill a rebill raises owes the difference with the bill that shows it
(the customer could not pay what was not billed), so no past penalty grows.

One one-zone meter at 7.87 ₽/kWh: July 1150, August 1300 (keyed wrongly: it was 1200), September
1400, October 1500, November 1600; nothing is paid. Each month's bill is due on the 10th of the
next, its penalty starts on the 31st day after (1/300 of the rate a day, from the 91st 1/130); the
key rate is capped at 9.5 % (docs/penalties.md).
"""

from __future__ import annotations

import pytest

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.rebill import debt_month
from meterdesk.billing.selectors import account_balance
from meterdesk.billing.services import account_rebill
from meterdesk.billing.tests.helpers import D, ledger_snapshot, month, reading
from meterdesk.metering.models import Reading, ReadingStatus
from meterdesk.testing import MeterFactory

pytestmark = pytest.mark.django_db

JUL, AUG, SEP, OCT, NOV, DEC = (month(2025, m) for m in (7, 8, 9, 10, 11, 12))


@pytest.fixture
def meter(prices):
    meter = MeterFactory(zones=1)
    for period, value in ((JUL, 1150), (AUG, 1300), (SEP, 1400), (OCT, 1500), (NOV, 1600)):
        reading(meter, period, value)
    for period in (AUG, SEP, OCT, NOV):
        billing_close(period)
    # August 150 kWh = 1180.50, then 787.00 a month. August's debt (due 10.09) is overdue from
    # 11.10: October 21 days × 1180.50 × 9.5 % / 300 = 7.850325; November 30 days of it (11.21475)
    # and 21 days of September's 787.00 (due 10.10, overdue from 10.11: 5.23355): 16.44830.
    assert penalties(meter.account) == {OCT: D("7.85"), NOV: D("16.45")}
    Reading.objects.filter(meter=meter, period=AUG).update(status=ReadingStatus.SUPERSEDED)
    reading(meter, AUG, 1200)
    return meter


def penalties(account) -> dict:
    """The accrued penalty of each month."""
    return {
        e.period: e.amount
        for e in LedgerEntry.objects.filter(account=account, kind=EntryKind.PENALTY, reason="late_payment")
    }


def test_the_penalties_of_the_later_months_follow_the_corrected_debt(meter):
    account = meter.account

    entries = account_rebill(account=account, period=AUG, reason="August was 1200", cause="reading_corrected")

    # August 50 kWh (-787.00); September 200 (+787.00); October and November as billed. August's
    # debt is 393.50 from the start; September's extra 787.00 is owed with December's bill.
    # October: 21 days × 393.50 × 9.5 % / 300 = 2.616775 → 2.62 (-5.23). November: 30 days of
    # 393.50 (3.73825) and 21 of 787.00 (5.23355) = 8.97180 → 8.97 (-7.48).
    assert [(e.detail["period"], e.detail["basis"], e.volume, e.amount) for e in entries] == [
        ("2025-08", "actual", D("-100.000"), D("-787.00")),
        ("2025-09", "actual", D("100.000"), D("787.00")),
        ("2025-10", "penalty", None, D("-5.23")),
        ("2025-11", "penalty", None, D("-7.48")),
    ]
    october, november = entries[2], entries[3]
    assert october.corrects == LedgerEntry.objects.get(account=account, period=OCT, kind=EntryKind.PENALTY)
    assert november.corrects == LedgerEntry.objects.get(account=account, period=NOV, kind=EntryKind.PENALTY)
    assert october.kind == EntryKind.CORRECTION
    assert october.period == DEC
    assert october.detail["billed"] == {"amount": "7.85"}
    assert october.detail["rebilled"] == {"amount": "2.62"}
    assert october.detail["cause"] == "reading_corrected"
    assert [(p["period"], p["days"], p["overdue"]) for p in november.detail["parts"]] == [
        ("2025-08", 30, "393.50"),
        ("2025-09", 21, "787.00"),
    ]
    # Run again: nothing more.
    before = ledger_snapshot()
    assert account_rebill(account=account, period=AUG, reason="again", cause="reading_corrected") == []
    assert account_rebill(account=account, period=SEP, reason="again", cause="other") == []
    assert ledger_snapshot() == before


def test_the_next_close_charges_the_penalty_on_the_corrected_debt(meter):
    account = meter.account
    account_rebill(account=account, period=AUG, reason="August was 1200", cause="reading_corrected")
    reading(meter, DEC, 1700)

    billing_close(DEC)

    # December, days 82 to 112 of August's 393.50: 9 days × 1/300 (1.121475) and from the 91st,
    # 10.12, 22 days × 1/130 (6.32626923); September's 787.00 31 days × 1/300 (7.72571667);
    # October's 787.00 from 11.12, 21 days (5.23355); November's is not overdue yet, nor is the
    # 787.00 added to September (owed with this bill). 20.40701… → 20.41 (on the 1180.50 billed
    # at first it would have been 35.30).
    assert penalties(account)[DEC] == D("20.41")
    december = AccountClose.objects.get(account=account, period=DEC)
    assert december.penalty == D("20.41")
    # The corrections of lines and of penalties are on this bill: -787.00 + 787.00 - 5.23 - 7.48.
    assert december.recalculations == D("-12.71")
    assert account_balance(account) == december.closing_balance


def test_only_the_months_accrual_is_compared_not_a_settlement_in_it(prices):
    """A month's ledger may hold, besides its penalty, the settlement of a debt paid off (also a
    penalty entry, ``penalty_settled``): the rebill compares the penalty computed again with the
    month's accrual (``late_payment``) and its earlier corrections only."""
    meter = MeterFactory(zones=1)
    for period, value in ((JUL, 1150), (AUG, 1300), (SEP, 1400), (OCT, 1500)):
        reading(meter, period, value)
    for period in (AUG, SEP):
        billing_close(period)
    # Posted to October before its close, so that it comes before October's accrual in the ledger.
    LedgerEntry.objects.create(
        account=meter.account,
        period=OCT,
        posted_on=OCT,
        kind=EntryKind.PENALTY,
        amount=D("-1.00"),
        reason="penalty_settled",
        detail={"debt": "2025-06", "parts": []},
    )
    billing_close(OCT)
    assert penalties(meter.account)[OCT] == D("7.85")  # the accrual (see the fixture above)
    Reading.objects.filter(meter=meter, period=AUG).update(status=ReadingStatus.SUPERSEDED)
    reading(meter, AUG, 1200)

    entries = account_rebill(
        account=meter.account, period=AUG, reason="August was 1200", cause="reading_corrected"
    )

    assert [(e.detail["period"], e.detail["basis"], e.amount) for e in entries][-1] == (
        "2025-10",
        "penalty",
        D("-5.23"),
    )
    corrected = entries[-1].corrects
    assert corrected is not None
    assert corrected.reason == "late_payment"


@pytest.mark.parametrize(
    ("detail", "month_of_debt"),
    [
        ({"period": "2025-08", "basis": "actual", "debt_of": "2025-08"}, AUG),  # lowered August
        ('{"period": "2025-08", "basis": "actual", "debt_of": "2025-08"}', AUG),  # as SQLite gives it
        ({"period": "2025-09", "basis": "actual"}, DEC),  # raised September: owed with December's bill
        ({"period": "2025-10", "basis": "penalty"}, None),  # a penalty's correction: no debt at all
        ("[]", DEC),  # not a rebill's detail: the entry's own month
    ],
)
def test_which_months_debt_a_correction_posted_in_december_is_part_of(detail, month_of_debt):
    assert debt_month(detail, DEC) == month_of_debt
