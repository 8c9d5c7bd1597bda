"""E-bills: the bill of a closed month e-mailed (PDF attached) to each opted-in login, through a real
SMTP server, exactly once per (account, month, address)."""

from __future__ import annotations

import email
import email.policy
import threading

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from django.core import mail

from meterdesk.cli import main
from meterdesk.documents.models import EbillDelivery
from meterdesk.documents.services import MonthNotClosed, ebill_send, ebill_subscribe, ebill_unsubscribe
from meterdesk.documents.tests.conftest import OCT, SEP
from meterdesk.documents.tests.helpers import pdf_payload, pdf_text
from meterdesk.testing import UserFactory, free_port, link, smtp_settings

pytestmark = pytest.mark.django_db


class _Store:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.received = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        self.received.set()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    handler = _Store()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    smtp_settings(settings, controller.port, host=controller.hostname)
    try:
        yield handler
    finally:
        controller.stop()


def _parse(raw: bytes):
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    attachments = list(message.iter_attachments())
    return message, body.get_content() if body is not None else "", attachments


def test_bills_by_email_through_a_real_smtp_server_once(history, smtp):
    user, meter = history
    account = meter.account
    ebill_subscribe(user=user, account=account)
    runner = CliRunner()
    first = runner.invoke(main, ["documents", "send-bills", "--period", "2025-09"])
    assert first.exit_code == 0, first.output
    assert "1 sent now, 0 sent before" in first.output
    assert smtp.received.wait(10)
    second = runner.invoke(main, ["documents", "send-bills", "--period", "2025-09"])
    assert second.exit_code == 0, second.output
    assert "0 sent now, 1 sent before" in second.output
    assert len(smtp.messages) == 1
    _sender, recipients, raw = smtp.messages[0]
    assert recipients == ["anna@example.com"]
    message, body, attachments = _parse(raw)
    assert (
        str(message["Subject"]).strip() == f"Счёт за электроэнергию за 09.2025, лицевой счёт {account.number}"
    )
    assert "приложен к письму в формате PDF" in body
    (attachment,) = attachments
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"schet-{account.number}-2025-09.pdf"
    pdf = attachment.get_content()
    # The attached bill is the bill: its QR code pays the month.
    fields = pdf_payload(pdf).as_dict()
    assert fields["PersAcc"] == account.number
    assert fields["PaymPeriod"] == "092025"
    assert "сентябрь 2025" in pdf_text(pdf)
    delivery = EbillDelivery.objects.get()
    assert (delivery.account_id, delivery.period, delivery.email) == (account.pk, SEP, "anna@example.com")


def test_each_login_of_a_shared_account_in_its_language(history):
    user, meter = history
    ivan = UserFactory(email="ivan@example.com", language="en")
    link(ivan, meter.account)
    ebill_subscribe(user=user, account=meter.account)
    ebill_subscribe(user=ivan, account=meter.account)
    summary = ebill_send(period=SEP)
    assert (summary.sent, summary.already_sent, summary.failed) == (2, 0, [])
    by_address = {m.to[0]: m for m in mail.outbox}
    assert set(by_address) == {"anna@example.com", "ivan@example.com"}
    assert by_address["ivan@example.com"].subject.startswith("Your electricity bill for 09.2025")
    assert by_address["anna@example.com"].subject.startswith("Счёт за электроэнергию")
    # One more login later: only the new address gets it.
    olga = UserFactory(email="olga@example.com")
    link(olga, meter.account)
    ebill_subscribe(user=olga, account=meter.account)
    summary = ebill_send(period=SEP)
    assert (summary.sent, summary.already_sent) == (1, 2)
    assert [m.to for m in mail.outbox[2:]] == [["olga@example.com"]]


def test_only_opted_in_logins_get_it(history):
    user, meter = history
    ebill_subscribe(user=user, account=meter.account)
    assert ebill_unsubscribe(user=user, account=meter.account) is True
    assert ebill_send(period=SEP).sent == 0
    assert mail.outbox == []


def test_a_failed_send_is_not_recorded_and_is_retried(history, settings):
    user, meter = history
    ebill_subscribe(user=user, account=meter.account)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    result = CliRunner().invoke(main, ["documents", "send-bills", "--period", "2025-09"])
    assert result.exit_code != 0
    assert "1 bill(s) could not be sent" in result.output
    assert EbillDelivery.objects.count() == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert ebill_send(period=SEP).sent == 1
    assert len(mail.outbox) == 1


def test_a_month_not_closed(history):
    user, meter = history
    ebill_subscribe(user=user, account=meter.account)
    with pytest.raises(MonthNotClosed):
        ebill_send(period=OCT)
    result = CliRunner().invoke(main, ["documents", "send-bills", "--period", "2025-10"])
    assert result.exit_code != 0
    assert "2025-10 is not closed" in result.output
