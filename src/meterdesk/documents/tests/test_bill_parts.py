"""What the bill has of the paper bills: the notice and the receipt (ПД-4) with the payment QR on
the receipt, the premises and the norm, the box for handwritten readings, the debt warning of
Decree 354 p.119 — read back from the PDF (its text, where its QR symbol is, its pages)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
import zxingcpp

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.customers.models import PremisesCategory, ResidentsChange
from meterdesk.documents.pdf import month_words, rub
from meterdesk.documents.render import bill_pdf
from meterdesk.documents.selectors import bill_data, debt_warning, norm_parts
from meterdesk.documents.tests.conftest import AUG, JUL, OCT, SEP
from meterdesk.documents.tests.helpers import pdf_pages, pdf_payload, pdf_text
from meterdesk.metering.models import MeterStatus
from meterdesk.tariffs.models import Norm
from meterdesk.testing import MOSCOW, AccountFactory, MeterFactory, ReadingFactory, make_tariff

pytestmark = pytest.mark.django_db

D = Decimal
NOV = date(2025, 11, 1)


def money(amount: Decimal) -> str:
    """An amount as the bill's text reads back (white space as one space)."""
    return " ".join(f"{rub(amount)} ₽".split())


def parts(text: str) -> tuple[str, str, str]:
    """(the notice, the receipt, the rest) of a bill's text."""
    notice, receipt = text.index("ИЗВЕЩЕНИЕ"), text.index("КВИТАНЦИЯ")
    rest = text.index("линия отреза: выше")
    assert notice < receipt < rest
    return text[notice:receipt], text[receipt:rest], text[rest:]


def text_top(pdf: bytes, needle: str) -> float:
    """How far below the top of page 1 (in points) ``needle`` is written."""
    page = pdfium.PdfDocument(pdf)[0]
    textpage = page.get_textpage()
    found = textpage.search(needle).get_next()
    assert found is not None, needle
    _left, _bottom, _right, top = textpage.get_charbox(found[0])
    return float(page.get_height() - top)


def qr_top_and_bottom(pdf: bytes, scale: float = 3) -> tuple[float, float]:
    """How far below the top of page 1 (in points) the one QR symbol starts and ends."""
    page = pdfium.PdfDocument(pdf)[0]
    results = [r for r in zxingcpp.read_barcodes(page.render(scale=scale).to_pil()) if r.bytes]
    assert len(results) == 1
    corners = results[0].position
    ys = [corners.top_left.y, corners.top_right.y, corners.bottom_left.y, corners.bottom_right.y]
    return min(ys) / scale, max(ys) / scale


@pytest.fixture
def september(history):
    """Anna's September bill; her flat has 54.3 m², two rooms, two residents until a third moved
    in on 16 September."""
    _user, meter = history
    account = meter.account
    account.area = D("54.30")
    account.save()
    ResidentsChange.objects.create(account=account, effective_from=date(2024, 1, 1), residents=2)
    ResidentsChange.objects.create(account=account, effective_from=date(2025, 9, 16), residents=3)
    data = bill_data(account, SEP)
    assert data is not None
    return data, bill_pdf(data)


def test_the_notice_and_the_receipt_each_carry_the_payment(september, utility):
    data, pdf = september
    account, due = data.account, data.total_due
    assert due > 0
    notice, receipt, _rest = parts(pdf_text(pdf))
    for part, whose in ((notice, "экземпляр банка"), (receipt, "экземпляр плательщика")):
        for expected in (
            whose,
            "Кассир",
            f"Получатель: {utility.name}",
            f"ИНН {utility.inn} / КПП {utility.kpp}",
            f"р/с {utility.settlement_account}",
            f"БИК {utility.bic}",
            f"к/с {utility.correspondent_account}",
            "Плательщик: Сидорова Анна Петровна",
            "Адрес: г. Москва, ул. Тестовая, д. 7, кв. 12",
            f"Лицевой счёт: {account.number}",
            f"Расчётный период: {month_words(SEP)} (09.2025)",
            f"Итого к оплате: {money(due)}",
            "Оплатить до: 10.10.2025",
            "Сумма платежа: ",
            "ознакомлен и согласен",
            "Подпись плательщика",
            "Дата «____»",
        ):
            assert expected in part, (whose, expected)
    # The payer keeps the receipt: it has the payee's contacts; the bank's notice needs none.
    assert "тел. +7 (495) 012-34-56" in receipt
    assert "тел. +7 (495) 012-34-56" not in notice


def test_the_qr_is_on_the_receipt_and_pays_the_bill(september, utility):
    data, pdf = september
    fields = pdf_payload(pdf).as_dict()
    assert fields["Name"] == utility.name
    assert fields["PersonalAcc"] == utility.settlement_account
    assert fields["BIC"] == utility.bic
    assert fields["PayeeINN"] == utility.inn
    assert fields["PersAcc"] == data.account.number
    assert fields["Sum"] == str(data.total_due_kopecks)
    top, bottom = qr_top_and_bottom(pdf)
    assert text_top(pdf, "КВИТАНЦИЯ") < top
    assert bottom < text_top(pdf, "линия отреза: выше")
    assert "Оплата по QR-коду" in parts(pdf_text(pdf))[1]


def test_the_readings_box_lists_each_zone_with_the_values_last_billed(september):
    data, pdf = september
    notice, receipt, rest = parts(pdf_text(pdf))
    serial = next(iter(data.readings.values())).meter.serial
    # On the notice (the bank's copy, which passes them on), not on the payer's receipt.
    assert "Показания счётчиков" in notice and "Показания счётчиков" not in receipt + rest
    assert "Дата снятия показаний" in notice
    assert "Новые показания — впишите" in notice
    # September's reading (2000 / 950) is the last the household gave.
    assert f"№ {serial} Т1 (день) 2000 (09.2025) Т2 (ночь) 950 (09.2025)" in notice


def test_the_premises_show_the_area_and_the_residents_at_the_end_of_the_month(september):
    _data, pdf = september
    _notice, _receipt, rest = parts(pdf_text(pdf))
    assert (
        "Помещение: общая площадь 54,3 м²; комнат 2; проживает 3 чел.; городское население, газовые плиты."
        in rest
    )
    # Billed by the readings: no norm.
    assert "Норматив потребления" not in rest


def test_a_typical_bill_is_one_page_without_a_warning(september):
    data, pdf = september
    assert data.debt_warning is None
    assert pdf_pages(pdf) == 1
    assert "ПРЕДУПРЕЖДЕНИЕ" not in pdf_text(pdf)


def test_the_readings_box_leaves_out_meters_not_in_service_at_the_end_of_the_month(history):
    _user, meter = history
    account = meter.account
    MeterFactory(account=account, serial="OLD-1", removed_on=date(2025, 6, 30), status=MeterStatus.REMOVED)
    MeterFactory(account=account, serial="LOST-1", failed_on=date(2025, 8, 3), status=MeterStatus.LOST)
    MeterFactory(account=account, serial="NEW-1", installed_on=date(2025, 10, 2))
    MeterFactory(account=account, serial="FAILED-1", failed_on=date(2025, 8, 3), status=MeterStatus.FAILED)
    data = bill_data(account, SEP)
    assert data is not None
    assert [item.meter.serial for item in data.slip_meters] == sorted([meter.serial, "FAILED-1"])
    notice = parts(pdf_text(bill_pdf(data)))[0]
    assert "№ FAILED-1" in notice
    assert "OLD-1" not in notice and "LOST-1" not in notice and "NEW-1" not in notice


@pytest.fixture
def unmetered(utility):
    """Premises of two rooms with no meter, 42 m², two residents; the norm 78 kWh a resident (60
    for three), the single rate 7.87 ₽."""
    make_tariff(prices=("7.87",))
    for residents, norm in ((2, "78"), (3, "60")):
        Norm.objects.create(
            category=PremisesCategory.GAS_STOVE,
            rooms=2,
            residents=residents,
            kwh_per_person=D(norm),
            valid_from=date(2024, 1, 1),
        )
    return AccountFactory(rooms=2, residents=2, area=D("42"))


@pytest.mark.parametrize(
    ("meter_required", "third_resident", "formula"),
    [
        # No meter where none is required: the plain norm, 2 × 78 = 156 kWh.
        (False, False, "2 чел. × 78 кВт·ч = 156 кВт·ч."),
        # A meter is required but missing: the norm × 1.5 (p.42), 156 × 1.5 = 234 kWh.
        (True, False, "2 чел. × 78 кВт·ч × 1,5 (повышающий коэффициент) = 234 кВт·ч."),
        # A third resident from 16 September: half the month at each count, 78 + 90 = 168 kWh.
        (False, True, "2 чел. × 78 кВт·ч × 0,5000 мес. + 3 чел. × 60 кВт·ч × 0,5000 мес. = 168 кВт·ч."),
    ],
)
def test_a_month_billed_by_the_norm_shows_the_norm(unmetered, meter_required, third_resident, formula):
    account = unmetered
    account.meter_required = meter_required
    account.save()
    ResidentsChange.objects.create(account=account, effective_from=date(2024, 1, 1), residents=2)
    if third_resident:
        ResidentsChange.objects.create(account=account, effective_from=date(2025, 9, 16), residents=3)
    billing_close(SEP, force=True)
    data = bill_data(account, SEP)
    assert data is not None
    pdf = bill_pdf(data)
    text = pdf_text(pdf)
    residents = 3 if third_resident else 2
    assert f"Помещение: общая площадь 42 м²; комнат 2; проживает {residents} чел.;" in text
    per_person = "60 / 78" if third_resident else "78"
    assert f"Норматив потребления: {per_person} кВт·ч на человека в месяц." in text
    assert f"Месяц начислен по нормативу: {formula}" in text
    # No meter: no box for readings, and still one page with both parts of the slip.
    assert "Показания счётчиков" not in text
    assert "ИЗВЕЩЕНИЕ" in text and "КВИТАНЦИЯ" in text
    assert pdf_pages(pdf) == 1


def test_norm_parts_of_a_text_in_no_known_form_are_none():
    assert norm_parts("2×78.000") != ()
    for text in ("", "2", "2×", "двое×78", "2×78×0.5×1", "2×78+", "2×78.000 kWh"):
        assert norm_parts(text) == (), text


def test_a_debt_over_two_months_charges_brings_the_warning(history):
    """Nothing paid after September: October's debt (September's bill) is still within two
    months' charges; November's (September's and October's bills) is not."""
    _user, meter = history
    account = meter.account
    billing_close(OCT)
    billing_close(NOV)
    september, october, november = (
        AccountClose.objects.get(account=account, period=m) for m in (SEP, OCT, NOV)
    )
    assert october.payments == november.payments == 0
    assert october.opening_balance <= september.charges + october.charges
    oct_data = bill_data(account, OCT)
    assert oct_data is not None and oct_data.debt_warning is None
    assert "ПРЕДУПРЕЖДЕНИЕ" not in pdf_text(bill_pdf(oct_data))

    data = bill_data(account, NOV)
    assert data is not None
    warning = data.debt_warning
    assert warning is not None
    assert warning.debt == november.opening_balance == october.closing_balance
    assert warning.threshold == october.charges + november.charges
    assert warning.debt > warning.threshold
    assert warning.months == (OCT, NOV)
    pdf = bill_pdf(data)
    text = pdf_text(pdf)
    rest = parts(text)[2]
    for expected in (
        "ПРЕДУПРЕЖДЕНИЕ О ЗАДОЛЖЕННОСТИ.",
        f"не погашенный на 30.11.2025, — {money(warning.debt)}.",
        f"Это больше начислений за два месяца ({money(warning.threshold)}: начисления за "
        f"{month_words(OCT)} и {month_words(NOV)}).",
        "в течение 20 дней со дня доставки этого предупреждения",
        "может быть сначала ограничена, а затем приостановлена",
        "постановлением Правительства РФ от 06.05.2011 № 354",
    ):
        assert expected in rest, expected
    # The warning, a penalty and the rest still fit on one page.
    assert pdf_pages(pdf) == 1


def _close(account, period: date, *, opening: str, charges: str, paid: str = "0") -> AccountClose:
    opening_, charges_, paid_ = D(opening), D(charges), D(paid)
    return AccountClose.objects.create(
        account=account,
        period=period,
        basis="actual",
        opening_balance=opening_,
        charges=charges_,
        recalculations=D(0),
        payments=-paid_,
        penalty=D(0),
        closing_balance=opening_ + charges_ - paid_,
        due_date=date(period.year + (period.month == 12), period.month % 12 + 1, 10),
        closed_at=datetime(2025, 12, 1, tzinfo=MOSCOW),
    )


@pytest.mark.parametrize(
    ("opening", "paid", "warned"),
    [
        ("2000.01", "0", True),  # over 2 × 1000
        ("2000.00", "0", False),  # exactly two months' charges: not more
        ("2500.00", "500.01", False),  # the month's payment brings it to 1999.99
        ("2500.00", "499.99", True),
        ("-300.00", "0", False),  # a credit
    ],
)
def test_with_no_month_before_the_threshold_is_twice_the_months_charge(opening, paid, warned):
    close = _close(AccountFactory(), SEP, opening=opening, charges="1000.00", paid=paid)
    warning = debt_warning(close)
    assert (warning is not None) == warned
    if warning is not None:
        assert warning.threshold == D("2000.00")
        assert warning.months == (SEP,)
        assert warning.debt == D(opening) - D(paid)


def test_the_threshold_is_the_charges_of_the_month_and_the_month_before():
    account = AccountFactory()
    _close(account, AUG, opening="0", charges="700.00")
    september = _close(account, SEP, opening="1800.00", charges="1000.00")
    warning = debt_warning(september)
    assert warning is not None
    assert (warning.debt, warning.threshold, warning.months) == (D("1800.00"), D("1700.00"), (AUG, SEP))
    other = AccountFactory()
    _close(other, AUG, opening="0", charges="900.00")
    assert debt_warning(_close(other, SEP, opening="1800.00", charges="1000.00")) is None


@pytest.fixture
def many_meters(utility):
    """Premises with four three-zone meters of 7 digits and 2 decimals, read in August and
    September."""
    make_tariff(prices=("7.87",))
    make_tariff(prices=("11.24", "4.08", "7.87"))
    account = AccountFactory(area=D("187.5"), rooms=5, residents=4)
    meters = [
        MeterFactory(account=account, zones=3, digits=7, decimal_places=2, serial=f"M-{n}")
        for n in range(1, 5)
    ]
    for meter in meters:
        for period, step in ((JUL, 0), (AUG, 100), (SEP, 200)):
            ReadingFactory(
                meter=meter,
                period=period,
                t1=D(1100 + step),
                t2=D(550 + step),
                t3=D(760 + step),
                submitted_at=datetime(period.year, period.month, 20, 12, tzinfo=MOSCOW),
            )
    billing_close(JUL, force=True)
    billing_close(AUG)
    billing_close(SEP)
    return account, meters


def test_many_meters_make_two_pages_at_most(many_meters):
    account, meters = many_meters
    data = bill_data(account, SEP)
    assert data is not None
    pdf = bill_pdf(data)
    assert pdf_pages(pdf) <= 2
    notice = parts(pdf_text(pdf))[0]
    for meter in meters:
        assert (
            f"№ {meter.serial} Т1 (пик) 1300 (09.2025) Т2 (ночь) 750 (09.2025) Т3 (полупик) 960 (09.2025)"
            in notice
        )
    assert len(pdf_payload(pdf).as_dict()["Sum"]) > 0


def test_a_reading_of_august_is_the_last_when_september_has_none(history):
    """A month without a reading (estimated) shows the last reading the household gave."""
    _user, meter = history
    data = bill_data(meter.account, AUG)
    assert data is not None
    notice = parts(pdf_text(bill_pdf(data)))[0]
    assert f"№ {meter.serial} Т1 (день) 1700 (07.2025) Т2 (ночь) 830 (07.2025)" in notice


def test_a_long_penalty_goes_below_the_balance_and_breaks_across_pages(history):
    """Beside the balance a penalty of a few debts; years of them would make a table row taller
    than a page, so they go below it."""
    _user, meter = history
    account = meter.account
    parts_ = [
        {
            "days": 40 + n,
            "overdue": "100.00",
            "rate": "9.5",
            "divisor": 300,
            "period": f"20{20 + n // 12}-{n % 12 + 1:02d}",
        }
        for n in range(60)
    ]
    LedgerEntry.objects.create(
        account=account,
        period=SEP,
        posted_on=date(2025, 9, 30),
        kind=EntryKind.PENALTY,
        amount=D("123.45"),
        reason="late_payment",
        detail={"parts": parts_},
    )
    data = bill_data(account, SEP)
    assert data is not None
    pdf = bill_pdf(data)
    text = pdf_text(pdf)
    assert pdf_pages(pdf) == 2
    assert "Пени: 123,45 ₽" in text
    assert "99 дней просрочки по долгу" in text and "за 12.2024" in text  # the 60th part
    assert text.index("Оплаты, поступившие в расчётном периоде") < text.index("Пени: 123,45 ₽")
