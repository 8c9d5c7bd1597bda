"""The receipt of a payment and the confirmation of a reading, read back from the PDF."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.billing.models import LedgerEntry
from meterdesk.billing.services import payment_post
from meterdesk.core.readings import reading_submit
from meterdesk.documents.render import confirmation_pdf, receipt_number, receipt_pdf
from meterdesk.documents.tests.helpers import base_fonts, embedded_font_files, pdf_qr_codes, pdf_text
from meterdesk.metering.models import Channel, Reading, ReadingStatus
from meterdesk.testing import ReadingFactory, moscow

pytestmark = pytest.mark.django_db

D = Decimal


def test_receipt_of_a_card_payment(history, utility):
    _user, meter = history
    entry = LedgerEntry.objects.get(external_id="card-42")
    pdf = receipt_pdf(entry)
    text = pdf_text(pdf)
    number = receipt_number(entry)
    assert number == f"2025-{entry.pk:08d}"
    assert f"КВИТАНЦИЯ ОБ ОПЛАТЕ № {number}" in text
    assert "Дата платежа 05.09.2025" in text
    assert "Плательщик Сидорова Анна Петровна" in text
    assert f"Лицевой счёт {meter.account.number}" in text
    assert "Сумма 1 000,00 ₽" in text
    assert "Способ оплаты банковской картой" in text
    assert "Идентификатор платежа card-42" in text
    assert "Зачтён в расчётный период 09.2025" in text
    assert "ИНН 7700543213" in text and "БИК 044525638" in text
    assert pdf_qr_codes(pdf) == []  # a receipt is not a payment order
    assert embedded_font_files(pdf) == 2
    assert all("+DejaVuSans" in name for name in base_fonts(pdf))


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("registry", "в банке (по реестру платежей банка)"),
        ("import", "перенесён из прежней учётной системы"),
        ("Почта России", "Почта России"),
    ],
)
def test_receipt_names_how_it_was_paid(customer, utility, source, words):
    _user, meter = customer
    entry = payment_post(
        account=meter.account,
        amount=D("1234.56"),
        paid_on=date(2025, 11, 2),
        external_id=f"x-{source}",
        source=source,
    )
    text = pdf_text(receipt_pdf(entry))
    assert f"Способ оплаты {words}" in text
    assert "Сумма 1 234,56 ₽" in text
    assert f"Идентификатор платежа x-{source}" in text


def test_confirmation_of_a_reading(history):
    _user, meter = history
    reading = Reading.objects.get(confirmation="100000000001")
    pdf = confirmation_pdf(reading)
    text = pdf_text(pdf)
    assert "ПОДТВЕРЖДЕНИЕ ПРИЁМА ПОКАЗАНИЙ № 100000000001" in text
    assert "Принято 20.09.2025 12:00 (время московское)" in text
    assert "Способ передачи личный кабинет" in text
    assert f"Прибор учёта № {meter.serial}" in text
    assert f"Лицевой счёт {meter.account.number}" in text
    assert "Т1 (день) 2000 Т2 (ночь) 950" in text
    # The charge the values imply, as shown on submitting: 300 kWh × 9,45 and 120 × 4,08, and the
    # estimated August taken back.
    assert "Т1 (день) 300 9,45 2 835,00" in text
    assert "Т2 (ночь) 120 4,08 489,60" in text
    assert "Итого по счётчику: 2 189,20 ₽" in text
    assert embedded_font_files(pdf) == 2


def test_confirmation_of_a_submission_in_moscow_time(customer):
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=D(1100), t2=D(550))
    result = reading_submit(
        meter_id=meter.pk,
        values=["1300", "650"],
        channel=Channel.API,
        submitted_by=user,
        now=moscow(2026, 11, 20, 23, 45),  # 20:45 UTC
    )
    text = pdf_text(confirmation_pdf(result.reading))
    assert f"№ {result.reading.confirmation}" in text
    assert "Принято 20.11.2026 23:45 (время московское)" in text
    assert "Способ передачи мобильное приложение / API" in text
    assert "Итого по счётчику: 2 298,00 ₽" in text  # 200 × 9,45 + 100 × 4,08


def test_confirmation_of_a_replaced_reading_says_so(history):
    first = Reading.objects.get(confirmation="100000000001")
    first.status = ReadingStatus.SUPERSEDED
    first.save()
    text = pdf_text(confirmation_pdf(first))
    assert "заменены более поздней передачей показаний" in text
