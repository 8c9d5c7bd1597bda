"""The notices of events: a month's bill ready, a payment received, a meter's verification due —
each told once per login and channel, in the login's language, whatever runs twice."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from django.utils import timezone

from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.cli import main
from meterdesk.notify.models import Notice, NoticeChannel, Topic
from meterdesk.notify.prepare import bill_events, notices_store, payment_events, verification_events
from meterdesk.testing import MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.METERDESK_SITE_URL = "https://lk.example.ru"


@pytest.fixture
def anna():
    meter = MeterFactory()
    user = UserFactory(email="anna@example.com")
    link(user, meter.account)
    UserFactory(email="unverified@example.com", email_verified_at=None)  # never told anything
    return user, meter


def test_the_bill_ready_tells_the_amount_and_the_due_date(anna):
    _user, meter = anna
    AccountClose.objects.create(
        account=meter.account,
        period=NOV,
        basis="actual",
        opening_balance=Decimal(0),
        charges=Decimal("2384.13"),
        recalculations=Decimal(0),
        payments=Decimal(0),
        penalty=Decimal(0),
        closing_balance=Decimal("2384.13"),
        due_date=date(2026, 12, 10),
        closed_at=timezone.now(),
    )
    done = notices_store(Topic.BILL_READY, bill_events(NOV))
    assert (done.households, done.created) == (1, 2)
    email = Notice.objects.get(channel=NoticeChannel.EMAIL)
    assert email.subject == "Счёт за ноябрь 2026 готов"
    assert "к оплате 2\u202f384,13\u00a0₽ до 10 декабря" in email.body
    assert notices_store(Topic.BILL_READY, bill_events(NOV)).created == 0


def test_each_payment_is_told_once(anna):
    user, meter = anna
    start = timezone.now() - timedelta(minutes=1)
    entry = LedgerEntry.objects.create(
        account=meter.account,
        period=NOV,
        posted_on=date(2026, 12, 3),
        kind=EntryKind.PAYMENT,
        amount=Decimal("-1500"),
    )
    done = notices_store(Topic.PAYMENT_RECEIVED, payment_events(start))
    assert done.created == 2
    email = Notice.objects.get(channel=NoticeChannel.EMAIL)
    assert email.key == f"payment_received:{entry.pk}:{user.pk}:email"
    assert "Платёж 1\u202f500,00\u00a0₽ по лицевому счёту" in email.body
    assert notices_store(Topic.PAYMENT_RECEIVED, payment_events(start)).created == 0
    assert notices_store(Topic.PAYMENT_RECEIVED, payment_events(timezone.now())).households == 0


def test_a_verification_due_within_a_month_is_told_once_per_due_date(anna):
    _user, meter = anna
    today = date(2026, 12, 6)
    meter.verification_due = date(2026, 12, 20)
    meter.save()
    MeterFactory(account=meter.account, verification_due=date(2030, 1, 1))  # not due
    done = notices_store(Topic.VERIFICATION_DUE, verification_events(today))
    assert done.created == 2
    email = Notice.objects.get(channel=NoticeChannel.EMAIL)
    assert meter.serial in email.subject and "20 декабря" in email.body
    assert notices_store(Topic.VERIFICATION_DUE, verification_events(today + timedelta(days=1))).created == 0
    meter.verification_due = date(2026, 12, 30)  # verified again: a new due date is a new event
    meter.save()
    assert notices_store(Topic.VERIFICATION_DUE, verification_events(today)).created == 2


def test_the_commands_of_the_events(anna):
    _user, meter = anna
    meter.verification_due = timezone.now().date() + timedelta(days=10)
    meter.save()
    runner = CliRunner()
    result = runner.invoke(main, ["notify", "verification"])
    assert result.exit_code == 0, result.output
    assert "verification_due: 1 events; 2 notices stored now" in result.output
    paid = runner.invoke(main, ["notify", "payments", "--since-hours", "24"])
    assert paid.exit_code == 0 and "payment_received: 0 events" in paid.output
    bad = runner.invoke(main, ["notify", "bill-ready", "--period", "2026-13"])
    assert bad.exit_code == 2
