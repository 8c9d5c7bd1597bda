"""Debt cases (Decree 354 pp. 117–119): opened after a close when the debt is over two months'
charges, warned of once, counted from the warning's delivery, moved by stage, closed when paid."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner
from django.core import mail
from django.utils import timezone

from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.cli import main
from meterdesk.domain.profiles import ProfileError, profile_parse
from meterdesk.notify.debts import debt_cases_advance, debt_cases_open, debt_over
from meterdesk.notify.models import DebtCase, DebtStage, Notice, NoticeChannel
from meterdesk.notify.send import notices_send
from meterdesk.testing import MOSCOW, MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)


def close(account, period: date, *, opening: str, payments: str = "0", charges: str = "1000") -> AccountClose:
    return AccountClose.objects.create(
        account=account,
        period=period,
        basis="actual",
        opening_balance=Decimal(opening),
        charges=Decimal(charges),
        recalculations=Decimal(0),
        payments=Decimal(payments),
        penalty=Decimal(0),
        closing_balance=Decimal(opening) + Decimal(charges) + Decimal(payments),
        due_date=date(period.year + (period.month == 12), period.month % 12 + 1, 10),
        closed_at=timezone.now(),
    )


@pytest.fixture
def debtor():
    meter = MeterFactory()
    user = UserFactory(email="anna@example.com")
    link(user, meter.account)
    close(meter.account, OCT, opening="1500")
    close(meter.account, NOV, opening="2500", payments="-200", charges="900")  # debt 2 300 > 1 900
    return meter.account


def test_the_threshold_is_the_charges_of_the_last_two_months(debtor):
    november = AccountClose.objects.get(account=debtor, period=NOV)
    assert debt_over(november, 2) == (Decimal("2300"), Decimal("1900"))
    assert debt_over(november, 3) is None  # 900 + 1 000 + 900 (the missing month at November's)
    small = close(MeterFactory().account, NOV, opening="1800", charges="1000")  # alone: 2 × 1 000
    assert debt_over(small, 2) is None


def test_a_case_is_opened_once_warned_and_counted_from_delivery(debtor):
    assert debt_cases_open(NOV) == 1
    assert debt_cases_open(NOV) == 0  # one open case per account
    case = DebtCase.objects.get()
    assert (case.debt, case.threshold, case.stage) == (Decimal("2300"), Decimal("1900"), DebtStage.WARNED)
    email = Notice.objects.get(channel=NoticeChannel.EMAIL)
    assert "2\u202f300,00\u00a0₽" in email.body and "20 дней" in email.body and "117–119" in email.body
    # The notice in the personal account is delivered as it is stored: the days run from it.
    cabinet = Notice.objects.get(channel=NoticeChannel.CABINET)
    delivered = datetime(2026, 12, 2, 10, tzinfo=MOSCOW)
    Notice.objects.filter(pk=cabinet.pk).update(sent_at=delivered)
    run = debt_cases_advance(date(2026, 12, 5))
    case.refresh_from_db()
    assert (case.delivered_at, case.pay_by, case.suspension_from) == (
        delivered,
        date(2026, 12, 22),
        date(2027, 1, 1),
    )
    assert case.stage == DebtStage.DELIVERED and run.delivered == 1
    debt_cases_advance(date(2026, 12, 22))
    case.refresh_from_db()
    assert case.stage == DebtStage.RESTRICTION_DUE
    debt_cases_advance(date(2027, 1, 1))
    case.refresh_from_db()
    assert case.stage == DebtStage.SUSPENSION_DUE


def test_paying_the_debt_closes_the_case(debtor):
    debt_cases_open(NOV)
    LedgerEntry.objects.create(
        account=debtor,
        period=NOV,
        posted_on=date(2026, 12, 3),
        kind=EntryKind.PAYMENT,
        amount=Decimal("-2000"),
    )
    assert debt_cases_advance(date(2026, 12, 5)).paid == 0  # not all of it
    LedgerEntry.objects.create(
        account=debtor,
        period=NOV,
        posted_on=date(2026, 12, 4),
        kind=EntryKind.PAYMENT,
        amount=Decimal("-300"),
    )
    assert debt_cases_advance(date(2026, 12, 5)).paid == 1
    case = DebtCase.objects.get()
    assert case.stage == DebtStage.PAID and case.closed_at is not None
    assert debt_cases_open(NOV) == 1  # a debt of a later close may open a new one


def test_the_command_warns_and_reports(debtor):
    result = CliRunner().invoke(main, ["notify", "debts", "--period", "2026-11", "--date", "2026-12-05"])
    assert result.exit_code == 0, result.output
    assert "Debt cases: 1 opened now; delivered, time running 1" in result.output
    assert len(mail.outbox) == 1 and "задолженности" in mail.outbox[0].subject.lower()
    assert notices_send().claimed == 0


def test_the_profile_s_debt_rules_are_checked():
    data = {
        "code": "x",
        "missing_average_periods": 3,
        "failed_average_periods": 3,
        "average_min_months": 6,
        "average_min_months_young": 3,
        "no_meter_coefficient": "1.5",
        "window": [15, 25],
        "due_day": 10,
        "penalty": {"grace_days": 30, "first_divisor": 300, "second_from_day": 91, "second_divisor": 130},
    }
    assert profile_parse(data).debt_notice.pay_within_days == 20  # the default
    data["debt_notice"] = {"pay_within_days": 0}
    with pytest.raises(ProfileError, match="debt_notice"):
        profile_parse(data)
