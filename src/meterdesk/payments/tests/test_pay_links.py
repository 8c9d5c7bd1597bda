"""Payment links sent by SMS: made and sent once, paying one account without a login through the
sandbox provider, with the fiscal receipt to the phone; expired or foreign links show nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.payments.links import PayLinkGone, pay_link_open, pay_link_send
from meterdesk.payments.models import PayLink, Payment, PaymentChannel, SandboxPayment
from meterdesk.payments.tests.test_sandbox_flow import CARD
from meterdesk.sms import SmsError

pytestmark = pytest.mark.django_db

MOBILE = "+79161234567"


@pytest.fixture
def sms_files(settings, tmp_path) -> Path:
    settings.DATA_DIR = tmp_path
    settings.METERDESK_SMS_BACKEND = "file"
    settings.METERDESK_SMS_PER_DAY = 3
    settings.METERDESK_SITE_URL = "https://lk.example.ru"
    settings.METERDESK_PAY_LINK_DAYS = 7
    return tmp_path / "sms"


def _messages(folder: Path) -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))] if folder.exists() else []


def test_a_link_is_sent_with_the_amount_due_and_works_for_the_set_days(debtor, sms_files):
    account = debtor[1]
    link = pay_link_send(account=account, phone=MOBILE)
    assert re.fullmatch(r"[a-z2-9]{10}", link.code)
    assert timedelta(days=6, hours=23) < link.expires_at - timezone.now() <= timedelta(days=7)
    (message,) = _messages(sms_files)
    assert message.startswith(f"To: {MOBILE}\n")
    assert f"Лицевой счёт {account.number}: к оплате 1\u202f234,56\u00a0₽" in message
    assert f"https://lk.example.ru/payments/link/{link.code}/" in message
    assert pay_link_open(link.code) == link


def test_a_link_that_could_not_be_sent_is_not_kept(debtor, sms_files):
    with pytest.raises(SmsError) as error:
        pay_link_send(account=debtor[1], phone="+74951234567")  # a landline
    assert error.value.code == "not_mobile"
    assert not PayLink.objects.exists() and not _messages(sms_files)


def test_a_phone_gets_at_most_the_set_number_of_messages_a_day(debtor, sms_files, settings):
    settings.METERDESK_SMS_PER_DAY = 2
    for _ in range(2):
        pay_link_send(account=debtor[1], phone=MOBILE)
    with pytest.raises(SmsError) as error:
        pay_link_send(account=debtor[1], phone=MOBILE)
    assert error.value.code == "limit"
    assert PayLink.objects.count() == 2 and len(_messages(sms_files)) == 2


def test_paying_by_the_link_without_a_login(debtor, sms_files):
    account = debtor[1]
    link = pay_link_send(account=account, phone=MOBILE)
    anonymous = Client()
    page = anonymous.get(f"/payments/link/{link.code}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert account.number in text and 'value="1234,56"' in text
    assert "кв." not in text.split("<main", 1)[-1]  # the street and house, not the flat
    response = anonymous.post(
        f"/payments/link/{link.code}/", {"amount": "1234,56", "key": "4f1d2c3b-aaaa-4bbb-8ccc-123456789abc"}
    )
    assert response.status_code == 302
    found = re.search(r"/payments/sandbox/sbx-[0-9a-f]{24}/$", response["Location"])
    assert found is not None
    sandbox = found.group(0)
    payment = Payment.objects.get()
    assert payment.channel == PaymentChannel.LINK and payment.user is None
    assert payment.receipt["customer"] == {"phone": "79161234567"}  # 54-FZ: the receipt by SMS
    assert SandboxPayment.objects.get().receipt["customer"] == {"phone": "79161234567"}

    paid = anonymous.post(sandbox, {**CARD, "action": "pay"})
    assert paid["Location"].endswith(f"/payments/link/{link.code}/{payment.pk}/")
    result = anonymous.get(paid["Location"])
    assert result.status_code == 200 and result.context["state"] == "paid"
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.PAYMENT).count() == 1
    assert account_balance(account) == Decimal("0.00")


def test_an_expired_link_is_gone_and_changes_nothing(debtor, sms_files):
    link = pay_link_send(account=debtor[1], phone=MOBILE)
    PayLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(PayLinkGone):
        pay_link_open(link.code)
    anonymous = Client()
    assert anonymous.get(f"/payments/link/{link.code}/").status_code == 410
    gone = anonymous.post(f"/payments/link/{link.code}/", {"amount": "10", "key": "4f1d2c3b-aaaa-4bbb"})
    assert gone.status_code == 410 and not Payment.objects.exists()
    assert anonymous.get("/payments/link/aaaaaaaaaa/").status_code == 410  # no such link


def test_a_payment_is_shown_only_through_a_link_of_its_account(debtor, sms_files):
    from meterdesk.testing import MeterFactory

    link = pay_link_send(account=debtor[1], phone=MOBILE)
    other = MeterFactory(zones=1).account
    other_link = pay_link_send(account=other, phone="+79161230000")
    anonymous = Client()
    anonymous.post(f"/payments/link/{link.code}/", {"amount": "10", "key": "4f1d2c3b-aaaa-4bbb-8ccc-1"})
    payment = Payment.objects.get()
    assert anonymous.get(f"/payments/link/{link.code}/{payment.pk}/").status_code == 200
    assert anonymous.get(f"/payments/link/{other_link.code}/{payment.pk}/").status_code == 404
