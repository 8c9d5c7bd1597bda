"""The e-mail proof of submission: sent after commit, to the submitter; a mail failure keeps the reading."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
from datetime import date
from decimal import Decimal

import pytest
from aiosmtpd.controller import Controller
from django.core import mail

from meterdesk.core.readings import reading_submit
from meterdesk.metering.check import ReadingInvalid
from meterdesk.metering.models import Channel, Reading, ReadingStatus
from meterdesk.testing import ReadingFactory, free_port, moscow, smtp_settings

D = Decimal
NOW = moscow(2026, 11, 20, 14, 30)


@pytest.fixture
def priced_customer(customer):
    """The customer with an October reading, so that November's charge is 200 + 100 kWh: 2298.00 ₽."""
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=D(1100), t2=D(550))
    return user, meter


def submit(user, meter, values=("1300", "650"), **kwargs):
    return reading_submit(
        meter_id=meter.pk, values=list(values), channel=Channel.WEB, submitted_by=user, now=NOW, **kwargs
    )


def message_text(raw: bytes) -> tuple[str, str, str]:
    """(To, decoded subject, decoded plain-text body) of a raw message."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    return str(parsed["To"]), str(parsed["Subject"]), body.get_content()


def test_confirmation_sent_after_commit_to_the_submitter(priced_customer, django_capture_on_commit_callbacks):
    user, meter = priced_customer
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = submit(user, meter)
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anna@example.com"]
    number = result.reading.confirmation
    assert len(number) == 12
    assert number.isdigit()
    assert number in message.subject
    assert number in message.body
    # The customer's language is Russian: a decimal comma.
    assert "2\u202f298,00" in message.body
    assert meter.serial in message.body
    assert meter.account.number in message.body
    assert "20.11.2026 14:30" in message.body
    assert "11.2026" in message.body


def test_confirmation_in_english(priced_customer, django_capture_on_commit_callbacks):
    user, meter = priced_customer
    user.language = "en"
    user.save()
    with django_capture_on_commit_callbacks(execute=True):
        result = submit(user, meter)
    (message,) = mail.outbox
    assert "2,298.00" in message.body
    assert "Confirmation number" in message.body
    assert result.reading.confirmation in message.body
    assert "1,890.00" in message.body  # T1: 200 × 9.45
    assert "408.00" in message.body  # T2: 100 × 4.08
    # The values as submitted, per zone: the customer's proof of what was sent.
    assert "T1 (day): 1300" in message.body
    assert "T2 (night): 650" in message.body


def test_no_mail_before_commit(priced_customer, django_capture_on_commit_callbacks):
    user, meter = priced_customer
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submit(user, meter)
    assert len(callbacks) == 1
    assert mail.outbox == []


def test_no_mail_for_a_refused_reading(priced_customer, django_capture_on_commit_callbacks):
    user, meter = priced_customer
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ReadingInvalid):
        submit(user, meter, values=("900", "650"))
    assert callbacks == []
    assert mail.outbox == []


def test_no_mail_without_a_submitter(priced_customer, django_capture_on_commit_callbacks):
    _, meter = priced_customer
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reading_submit(meter_id=meter.pk, values=["1300", "650"], channel=Channel.OPERATOR, now=NOW)
    assert callbacks == []
    assert mail.outbox == []


def test_each_submission_gets_its_own_mail(priced_customer, django_capture_on_commit_callbacks):
    user, meter = priced_customer
    with django_capture_on_commit_callbacks(execute=True):
        first = submit(user, meter)
    with django_capture_on_commit_callbacks(execute=True):
        second = submit(user, meter, values=("1310", "660"))
    assert len(mail.outbox) == 2
    assert first.reading.confirmation in mail.outbox[0].body
    assert second.reading.confirmation in mail.outbox[1].body
    assert "2\u202f433,30" in mail.outbox[1].body  # 210 × 9.45 + 110 × 4.08 = 1984.50 + 448.80


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
def smtp_server():
    handler = _Store()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def test_confirmation_through_a_real_smtp_server(
    priced_customer, settings, smtp_server, django_capture_on_commit_callbacks
):
    controller, handler = smtp_server
    smtp_settings(settings, controller.port, host=controller.hostname)
    user, meter = priced_customer
    with django_capture_on_commit_callbacks(execute=True):
        result = submit(user, meter)
    assert handler.received.wait(10)
    assert len(handler.messages) == 1
    _sender, recipients, raw = handler.messages[0]
    assert recipients == ["anna@example.com"]
    to, subject, body = message_text(raw)
    number = result.reading.confirmation
    assert to == "anna@example.com"
    assert number in subject
    assert number in body
    assert "2\u202f298,00" in body
    assert "₽" in body


def test_smtp_failure_does_not_undo_the_reading(
    priced_customer, settings, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    user, meter = priced_customer
    with (
        caplog.at_level(logging.ERROR, logger="meterdesk.metering.services"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        result = submit(user, meter)
    assert len(callbacks) == 1
    reading = Reading.objects.get(pk=result.reading.pk)
    assert reading.status == ReadingStatus.ACCEPTED
    assert reading.values == (D(1300), D(650))
    assert any("could not e-mail" in record.getMessage() for record in caplog.records)
