"""The monthly bill (ЕПД) of a really closed month: read back from the PDF — the QR code with a real
decoder, the text, the fonts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.billing.close import billing_close
from meterdesk.billing.selectors import statement_get
from meterdesk.billing.services import payment_post
from meterdesk.documents.render import bill_payload, bill_pdf
from meterdesk.documents.selectors import bill_data
from meterdesk.documents.tests.conftest import AUG, OCT, SEP
from meterdesk.documents.tests.helpers import (
    base_fonts,
    embedded_font_files,
    pdf_pages,
    pdf_payload,
    pdf_qr_codes,
    pdf_text,
)
from meterdesk.domain.gostqr import REQUIRED

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def september(history):
    _user, meter = history
    data = bill_data(meter.account, SEP)
    assert data is not None
    return data, bill_pdf(data)


def test_the_qr_code_read_back_from_the_page_pays_the_statement(september, utility):
    data, pdf = september
    statement = statement_get(data.account, SEP)
    assert statement is not None
    payload = pdf_payload(pdf)
    fields = payload.as_dict()
    assert payload.encoding == "2"  # UTF-8
    assert payload.separator == "|"
    assert [key for key, _ in payload.fields][:5] == list(REQUIRED)
    assert fields["Name"] == "АО «Метердеск Энергосбыт»"
    assert fields["PersonalAcc"] == utility.settlement_account
    assert fields["BankName"] == "АО КБ «Северный Ясень»"
    assert fields["BIC"] == utility.bic
    assert fields["CorrespAcc"] == utility.correspondent_account
    assert fields["PayeeINN"] == "7700543213"
    assert fields["KPP"] == "770001001"
    # The amount due of the statement, in kopecks: what was computed by the close.
    assert statement.total_due > 0
    assert fields["Sum"] == str(int(statement.total_due * 100))
    assert fields["PersAcc"] == data.account.number
    assert fields["PaymPeriod"] == "092025"
    assert fields["LastName"] == "Сидорова"
    assert fields["FirstName"] == "Анна"
    assert fields["MiddleName"] == "Петровна"
    assert fields["PayerAddress"] == "г. Москва, ул. Тестовая, д. 7, кв. 12"
    assert fields["TechCode"] == "02"
    assert data.account.number in fields["Purpose"]
    assert "09.2025" in fields["Purpose"]
    # The symbol holds exactly the payload the bill was made with.
    assert pdf_qr_codes(pdf)[0].decode("utf-8") == bill_payload(data)


def test_the_text_of_the_bill(september):
    data, pdf = september
    close = data.statement.close
    text = pdf_text(pdf)
    assert pdf_pages(pdf) == 1
    assert "ЕДИНЫЙ ПЛАТЁЖНЫЙ ДОКУМЕНТ" in text
    assert "сентябрь 2025" in text
    assert "09.2025" in text
    assert data.account.number in text
    assert "Сидорова Анна Петровна" in text
    assert "г. Москва, ул. Тестовая, д. 7, кв. 12" in text
    # The September charge: T1 1700 → 2000 = 300 kWh × 9,45; T2 830 → 950 = 120 kWh × 4,08.
    assert "1700 (07.2025) 2000 300 9,45 2 835,00" in text
    assert "830 (07.2025) 950 120 4,08 489,60" in text
    # August, estimated from the average, taken back with its reason in words.
    assert "−100 9,45 −945,00" in text
    assert "Перерасчёт" in text
    assert "08.2025" in text
    # The balance, as the close computed it.
    assert f"Задолженность на начало периода {_rub(close.opening_balance)}" in text
    assert f"Оплачено в периоде {_rub(-close.payments)}" in text
    assert "1 000,00" in text
    assert "05.09.2025" in text
    assert "банковской картой" in text
    assert f"Пени за просрочку оплаты {_rub(close.penalty)}" in text
    assert f"Итого к оплате {_rub(data.total_due)}" in text
    assert f"Оплатить до: {close.due_date:%d.%m.%Y}" in text
    assert close.due_date == date(2025, 10, 10)
    # The utility's details.
    for detail in (
        "ИНН 7700543213",
        "КПП 770001001",
        "БИК 044525638",
        "40702810600000012345",
        "+7 (495) 012-34-56",
    ):
        assert detail in text


def _rub(amount: Decimal) -> str:
    value = f"{abs(amount):,.2f}".replace(",", " ").replace(".", ",")
    return ("−" if amount < 0 else "") + value


def test_fonts_are_embedded(september):
    _data, pdf = september
    assert embedded_font_files(pdf) == 2
    fonts = base_fonts(pdf)
    assert {name.split("+", 1)[1] for name in fonts} == {"DejaVuSans", "DejaVuSans-Bold"}
    assert all("+" in name for name in fonts)  # subsets, embedded: no font the reader must supply


def test_the_bill_of_a_month_without_readings_shows_no_readings(history):
    _user, meter = history
    data = bill_data(meter.account, AUG)
    assert data is not None
    text = pdf_text(bill_pdf(data))
    calculation = text[text.index("Расчёт размера платы") :]
    assert "(07.2025)" not in calculation  # an estimate has no readings to show (the slip's box has them)
    assert "100 9,45 945,00 По среднемесячному расходу" in text
    assert "46,667 4,08 190,40 По среднемесячному расходу" in text
    assert "В этом месяце оплат не поступало." in text


def test_nothing_to_pay_gives_a_qr_without_sum(history):
    _user, meter = history
    account = meter.account
    payment_post(account=account, amount=D("10000.00"), paid_on=date(2025, 10, 3), external_id="big-1")
    billing_close(OCT)
    data = bill_data(account, OCT)
    assert data is not None
    assert data.total_due == D("0.00")
    assert data.statement.close.closing_balance < 0
    pdf = bill_pdf(data)
    fields = pdf_payload(pdf).as_dict()
    assert "Sum" not in fields
    assert fields["PersAcc"] == account.number
    assert fields["PaymPeriod"] == "102025"
    text = pdf_text(pdf)
    assert "Итого к оплате: 0,00 ₽" in text
    assert f"переплата {_rub(-data.statement.close.closing_balance)} ₽ будет зачтена" in text
    assert "QR-код без суммы" in text


def test_a_separator_and_very_long_names_in_the_qr(history, utility):
    _user, meter = history
    account = meter.account
    account.holder_name = "Иванова-Петрова|Смит Мария-Антуанетта Александровна"
    account.address = "Московская обл., г.о. Подольск, " + "ул. Очень Длинная|корп. 2, " * 9 + "кв. 1"
    account.save()
    utility.name = "Акционерное общество «" + "Очень Длинное Название Энергосбытовой Компании " * 3 + "»"
    utility.bank_name = "Акционерное общество Коммерческий банк «Северный Ясень», Московский филиал"
    utility.save()
    data = bill_data(account, SEP)
    assert data is not None
    pdf = bill_pdf(data)
    payload = pdf_payload(pdf)
    fields = payload.as_dict()
    assert payload.separator == "|"
    assert fields["LastName"] == "Иванова-Петрова/Смит"  # the separator inside a value is replaced
    assert "|" not in fields["PayerAddress"]
    assert fields["PayerAddress"].startswith("Московская обл., г.о. Подольск, ул. Очень Длинная/корп. 2")
    assert len(fields["PayerAddress"]) <= 160
    assert len(fields["Name"]) == 160
    assert fields["Name"].endswith("…")
    assert len(fields["BankName"]) <= 45
    # The payment itself is intact.
    assert fields["Sum"] == str(int(data.total_due * 100))
    assert fields["PersonalAcc"] == utility.settlement_account
    assert fields["TechCode"] == "02"
    # The printed text keeps the names in full.
    assert "Иванова-Петрова|Смит" in pdf_text(pdf)


def test_without_bank_details_the_bill_says_so_instead_of_a_qr(history, utility):
    _user, meter = history
    utility.settlement_account = ""
    utility.save()
    data = bill_data(meter.account, SEP)
    assert data is not None
    pdf = bill_pdf(data)
    assert pdf_qr_codes(pdf) == []
    assert "QR-код для оплаты не сформирован" in pdf_text(pdf)


def test_a_month_not_closed_has_no_bill(history):
    _user, meter = history
    assert bill_data(meter.account, OCT) is None
