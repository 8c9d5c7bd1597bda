"""The phone line's payment topic sends a payment link by SMS to the caller's mobile — only when
the number is on file for the account the call identified, and only where SMS is set up."""

from __future__ import annotations

from unittest import mock

import pytest

from meterdesk.payments.models import PayLink
from meterdesk.phone.tests.helpers import IN_WINDOW, conversation, customer, keys

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now(settings, tmp_path):
    settings.METERDESK_READING_WINDOW = None
    settings.METERDESK_IVR_OPERATOR = ""
    settings.DATA_DIR = tmp_path
    settings.METERDESK_SMS_BACKEND = "file"
    settings.METERDESK_SMS_PER_DAY = 1
    settings.METERDESK_SITE_URL = "https://lk.example.ru"
    with mock.patch("django.utils.timezone.now", return_value=IN_WINDOW):
        yield


def _texts(tmp_path) -> list[str]:
    folder = tmp_path / "sms"
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))] if folder.exists() else []


def test_a_caller_identified_by_a_number_on_file_gets_the_link(tmp_path):
    person = customer()
    call = conversation()
    call.start()
    keys(call, "1")  # the address is right
    text = keys(call, "6")
    assert "отправили ссылку для оплаты" in text
    link = PayLink.objects.get()
    assert (link.account_id, link.phone, link.via) == (person.meter.account_id, "+79161234567", "phone")
    (sms,) = _texts(tmp_path)
    assert sms.startswith("To: +79161234567\n") and f"/payments/link/{link.code}/" in sms
    # Asked again the same day: no second message past the day's limit, and the caller is told.
    assert "уже отправлена" in keys(call, "6")
    assert PayLink.objects.count() == 1 and len(_texts(tmp_path)) == 1


def test_a_caller_identified_by_the_account_number_from_another_phone_gets_none(tmp_path):
    person = customer(phone=None)
    call = conversation()
    call.start()
    keys(call, person.number + "#1" + "1122#")
    assert call.account is not None
    text = keys(call, "6")
    assert "квитанции" in text and "ссылку" not in text
    assert not PayLink.objects.exists() and not _texts(tmp_path)


def test_without_sms_the_line_only_says_how_to_pay(settings, tmp_path):
    settings.METERDESK_SMS_BACKEND = ""
    customer()
    call = conversation()
    call.start()
    keys(call, "1")
    text = keys(call, "6")
    assert "квитанции" in text and "ссылку" not in text
    assert not PayLink.objects.exists()
