"""Money in the personal account: the balance, the last payment and the latest bill on the dashboard;
the monthly statements, each line with its basis in plain words; the charge shown after a
submission, by the billing engine, with the recalculation of estimated months."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html import unescape
from unittest import mock

import pytest
from django.core import mail

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.services import payment_post
from meterdesk.core.readings import reading_submit
from meterdesk.metering.models import Channel
from meterdesk.metering.tests.scenarios import three_estimated_months
from meterdesk.testing import ReadingFactory, UserFactory, link, make_tariff, moscow

D = Decimal
NBSP = "\xa0"  # between an amount and its ₽
NNBSP = "\u202f"  # between thousands, in Russian
MINUS = "\u2212"
RUB = f"{NBSP}₽"
pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = moscow(2026, 11, 20, 12)


@pytest.fixture
def clock():
    c = Clock()
    with mock.patch("django.utils.timezone.now", side_effect=lambda: c.now):
        yield c


def _text(html: str) -> str:
    """The page's text with tags dropped and white space collapsed (a no-break space is kept)."""
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _get(client, url: str, language: str = "en") -> str:
    client.cookies["django_language"] = language
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


# --- the dashboard ---------------------------------------------------------------------------


@pytest.fixture
def july_billed(client, customer, clock):
    """Anna's meter read 1100 / 550 in June and 1220 / 600 in July 2026; July is closed:
    120 × 9.45 + 50 × 4.08 = 1134.00 + 204.00 = 1338.00, due by 10 August."""
    user, meter = customer
    make_tariff(prices=("7.87",))  # the close needs the single rate too
    ReadingFactory(meter=meter, period=date(2026, 6, 1), t1=1100, t2=550)
    ReadingFactory(meter=meter, period=date(2026, 7, 1), t1=1220, t2=600)
    billing_close(date(2026, 7, 1))
    client.force_login(user)
    return user, meter.account


def test_dashboard_shows_the_debt_the_last_payment_and_the_latest_bill(client, july_billed):
    _user, account = july_billed
    payment_post(account=account, amount=D("338.00"), paid_on=date(2026, 8, 5), external_id="bank-1")
    text = _text(_get(client, "/cabinet/"))
    # Today is 20 November: July's bill was due by 10 August.
    assert (
        f"To pay 1,000.00{RUB} overdue: it was due by 10 August 2026 Last payment 338.00{RUB} on 5 August"
        in text
    )
    html = _get(client, "/cabinet/")
    assert f'href="/accounts/{account.number}/statements/"' in html


def test_dashboard_shows_a_credit_and_the_latest_of_several_payments(client, july_billed):
    _user, account = july_billed
    payment_post(account=account, amount=D("1000"), paid_on=date(2026, 8, 5), external_id="bank-1")
    payment_post(account=account, amount=D("500"), paid_on=date(2026, 8, 20), external_id="card-2")
    text = _text(_get(client, "/cabinet/"))
    # 1338.00 − 1500.00
    assert (
        f"Credit 162.00{RUB} Nothing to pay: the credit is offset against the next bills. "
        f"Last payment 500.00{RUB} on 20 August"
    ) in text


def test_dashboard_when_the_latest_bill_is_paid_in_advance(client, july_billed):
    _user, account = july_billed
    payment_post(account=account, amount=D("1338.00"), paid_on=date(2026, 8, 5), external_id="bank-1")
    text = _text(_get(client, "/cabinet/"))
    assert f"Nothing to pay 0.00{RUB} The bill for July 2026 is paid." in text


def test_dashboard_with_nothing_billed_or_paid(client, customer, clock):
    client.force_login(customer[0])
    text = _text(_get(client, "/cabinet/"))
    assert f"Nothing to pay 0.00{RUB} no bills yet" in text
    assert "Last payment" not in text


def test_dashboard_money_in_russian(client, july_billed):
    _user, account = july_billed
    payment_post(account=account, amount=D("338.00"), paid_on=date(2026, 8, 5), external_id="bank-1")
    text = _text(_get(client, "/cabinet/", "ru"))
    assert f"К оплате 1{NNBSP}000,00{RUB} просрочено: срок оплаты был 10 августа 2026" in text
    assert f"Последний платёж 338,00{RUB} 5 августа" in text
    assert "Показания за ноябрь 2026 не переданы" in text
    assert "Расчёты по месяцам" in text


# --- the statements --------------------------------------------------------------------------


@pytest.fixture
def statements_case(client, clock):
    """The three-estimated-months account (July by readings, August to October by the average),
    linked to Anna, with a payment of 1000.00 on 5 August posted before August closed."""
    user = UserFactory(email="anna@example.com")

    def pay_in_august(period: date) -> None:
        if period == date(2026, 8, 1):
            account = AccountClose.objects.get(period=date(2026, 7, 1)).account
            payment_post(account=account, amount=D("1000.00"), paid_on=date(2026, 8, 5), external_id="bank-8")

    case = three_estimated_months(before_close=pay_in_august)
    link(user, case.account)
    client.force_login(user)
    return user, case


def test_statements_list_every_closed_month_newest_first(client, statements_case):
    _user, case = statements_case
    html = _get(client, f"/accounts/{case.account.number}/statements/")
    months = re.findall(r'<th scope="row">\s*<a href="/accounts/\d+/statements/(\d{4}-\d{2})/">', html)
    assert months == ["2026-10", "2026-09", "2026-08", "2026-07"]
    # Each month's bill on its row.
    bills = re.findall(r'<a class="meta pdf" href="/documents/[^"]*?(\d{4}-\d{2})[^"]*" download', html)
    assert bills == months, bills
    text = _text(html)
    # July: charged 1338.00, nothing paid, 1338.00 to pay by 10 August.
    assert "July 2026 bill, PDF — July 2026 1,338.00 0.00 1,338.00 by 10.08.2026" in text
    # August: 1338.00 + 1180.50 − 1000.00.
    assert "August 2026 bill, PDF — August 2026 1,180.50 1,000.00 1,518.50 by 10.09.2026" in text
    assert "<caption>" in html
    assert '<th scope="col">Month</th>' in html
    # The balance today, and "Pay" while it is a debt.
    assert f'href="/payments/accounts/{case.account.number}/pay/" data-testid="pay"' in html


def test_a_month_by_readings(client, statements_case):
    _user, case = statements_case
    html = _get(client, f"/accounts/{case.account.number}/statements/2026-07/")
    text = _text(html)
    assert "Statement for July 2026" in text
    assert f"Opening balance 0.00{RUB} Charged for the month 1,338.00{RUB} Penalty 0.00{RUB}" in text
    assert f"Closing balance 1,338.00{RUB} To pay 1,338.00{RUB} by 10.08.2026" in text
    assert 'data-testid="pay">Pay</a>' in html
    rows = re.findall(r'<th scope="row" class="basis">([^<]+) <span class="meta">([^<]+)</span></th>', html)
    assert rows == [
        ("By your readings", "meter № EST-2026, T1 (day)"),
        ("By your readings", "meter № EST-2026, T2 (night)"),
    ]
    assert "By your readings meter № EST-2026, T1 (day) 120 9.45 1,134.00" in text
    assert "By your readings meter № EST-2026, T2 (night) 50 4.08 204.00" in text
    assert "Total charges 1,338.00" in text
    assert "No payments were received in this month." in text


def test_a_month_by_the_average_with_a_payment(client, statements_case):
    _user, case = statements_case
    text = _text(_get(client, f"/accounts/{case.account.number}/statements/2026-08/"))
    assert f"Opening balance 1,338.00{RUB} Charged for the month 1,180.50{RUB}" in text
    assert (
        "Estimated from your average — submit readings to have it recalculated "
        "(estimated month 1 of at most 6 in a row) meter № EST-2026, T1 (day) 103.333 9.45 976.50"
    ) in text
    assert "Payments received Payments received in August 2026 Date Amount, ₽ 05.08.2026 1,000.00" in text
    assert f"Closing balance 1,518.50{RUB} To pay 1,518.50{RUB} by 10.09.2026" in text


def test_a_month_with_a_late_payment_penalty(client, statements_case):
    _user, case = statements_case
    # 338.00 of July's bill was not paid by 10 August: from 10 September (the 31st day) it accrues
    # 1/300 of the key rate (9.5 % under the cap) a day: 338 × 0.095 / 300 × 21 days = 2.25.
    september = AccountClose.objects.get(account=case.account, period=date(2026, 9, 1))
    assert september.penalty == D("2.25")
    text = _text(_get(client, f"/accounts/{case.account.number}/statements/2026-09/"))
    assert f"Penalty 2.25{RUB}" in text
    assert (
        f"Penalty for late payment 2.25{RUB} 21 days late on 338.00{RUB} owed for 07.2026: 1/300 of the key rate "
        "(9.5%) for each day"
    ) in text


def test_a_month_with_the_recalculation_after_readings(client, statements_case, clock):
    _user, case = statements_case
    reading_submit(
        meter_id=case.meter.pk, values=["2000", "1000"], channel=Channel.WEB, now=moscow(2026, 11, 20)
    )
    billing_close(date(2026, 11, 1), now=moscow(2026, 11, 27, 9))  # once November's window has ended
    html = _get(client, f"/accounts/{case.account.number}/statements/2026-11/")
    text = _text(html)
    assert (
        "By your readings: the consumption over 4 months since the reading of 07.2026 "
        "meter № EST-2026, T1 (day) 380 9.45 3,591.00"
    ) in text
    assert (
        "Recalculation of the estimated months 08.2026 to 10.2026 after your readings "
        f"meter № EST-2026, T1 (day) {MINUS}309.999 9.45 {MINUS}2,929.49"
    ) in text
    assert f"meter № EST-2026, T2 (night) {MINUS}150 4.08 {MINUS}612.00" in text
    november = LedgerEntry.objects.filter(
        account=case.account, period=date(2026, 11, 1), kind__in=[EntryKind.CHARGE, EntryKind.RECALCULATION]
    )
    assert sum(e.amount for e in november) == D("865.51")
    assert "Total charges 865.51" in text
    ru = _text(_get(client, f"/accounts/{case.account.number}/statements/2026-11/", "ru"))
    assert "Перерасчёт за месяцы 08.2026–10.2026, начисленные расчётным способом, по вашим показаниям" in ru
    assert f"{MINUS}2{NNBSP}929,49" in ru


def test_statements_link_from_the_history_page(client, statements_case):
    _user, case = statements_case
    html = _get(client, f"/accounts/{case.account.number}/history/")
    assert f'href="/accounts/{case.account.number}/statements/"' in html


def test_statements_without_any_closed_month(client, customer, clock):
    user, meter = customer
    client.force_login(user)
    text = _text(_get(client, f"/accounts/{meter.account.number}/statements/"))
    assert "No month has been billed yet" in text
    assert client.get(f"/accounts/{meter.account.number}/statements/2026-10/").status_code == 404


def test_only_the_accounts_of_the_login(client, statements_case):
    _user, case = statements_case
    stranger = UserFactory(email="stranger@example.com")
    client.force_login(stranger)
    for url in (
        f"/accounts/{case.account.number}/statements/",
        f"/accounts/{case.account.number}/statements/2026-07/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "EST-2026" not in response.content.decode()
        assert case.account.address not in response.content.decode()
    client.logout()
    response = client.get(f"/accounts/{case.account.number}/statements/2026-07/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("month", ["2026-12", "2026-06", "2026-13", "2026-00", "0000-01"])
def test_a_month_not_closed_is_not_found(client, statements_case, month):
    _user, case = statements_case
    assert client.get(f"/accounts/{case.account.number}/statements/{month}/").status_code == 404


def test_an_unknown_account_is_not_found(client, statements_case):
    assert client.get("/accounts/0000000000/statements/").status_code == 404
    assert client.get("/accounts/0000000000/statements/2026-07/").status_code == 404


# --- the charge shown after a submission -------------------------------------------------------


def test_the_receipt_and_the_email_show_the_recalculation(
    client, statements_case, django_capture_on_commit_callbacks
):
    user, case = statements_case
    client.cookies["django_language"] = "en"
    user.language = "en"
    user.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/meters/{case.meter.pk}/readings/new/", {"t1": "2000", "t2": "1000"})
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    text = _text(html)
    assert "By your readings: the consumption over 4 months since the reading of 07.2026." in text
    assert "T1 (day) reading 2000 380 9.45 3,591.00 T2 (night) reading 1000 200 4.08 816.00" in text
    assert (
        "T1 (day): recalculation of the estimated months 08.2026 to 10.2026 after your readings "
        f"{MINUS}309.999 9.45 {MINUS}2,929.49"
    ) in text
    assert (
        "T2 (night): recalculation of the estimated months 08.2026 to 10.2026 after your readings "
        f"{MINUS}150 4.08 {MINUS}612.00"
    ) in text
    assert f'<td class="num" data-testid="total">865.51{RUB}</td>' in html
    assert "the volumes billed by estimate are taken back" in text

    (message,) = mail.outbox
    assert f"T1: 380 kWh × 9.45 ₽ = 3,591.00{RUB}" in message.body
    assert (
        "Recalculation of the estimated months 08.2026 to 10.2026 after your readings, T1: "
        f"{MINUS}309.999 kWh × 9.45 ₽ = {MINUS}2,929.49{RUB}"
    ) in message.body
    assert f"Total for the month: 865.51{RUB}" in message.body
    assert "&#x27;" not in message.body


def test_the_receipt_of_a_failed_meter_shows_the_estimate_with_its_reason(client, customer, clock):
    user, meter = customer
    meter.verification_due = date(2026, 10, 31)
    meter.save()
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=D(1340), t2=D(560))
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.post(f"/meters/{meter.pk}/readings/new/", {"t1": "1400", "t2": "580"})
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    text = _text(html)
    # The consumption is shown, not charged; the month is billed by the average (see the engine test).
    assert "T1 (day) reading 1400 60 — T2 (night) reading 580 20 —" in text
    assert (
        "T1 (day): estimated from your average: the meter is faulty or its verification is overdue, so its "
        "readings cannot be used — have it verified or replaced (estimated month 1 of at most 3 in a row) "
        "10.303 9.45 97.36"
    ) in text
    assert f'<td class="num" data-testid="total">104.78{RUB}</td>' in html


def test_the_receipt_of_a_meter_installed_this_month(client, customer, clock):
    user, meter = customer
    meter.installed_on = date(2026, 11, 3)
    meter.save()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.post(f"/meters/{meter.pk}/readings/new/", {"t1": "1010", "t2": "505"})
    html = client.get(response["Location"]).content.decode()
    text = _text(html)
    assert (
        "Consumption since the previous reading Zone Reading Consumption, kWh T1 (day) 1010 10 T2 (night) 505 5"
        in text
    )
    assert "A new meter is billed from the 1st of the month after its installation" in text
    assert 'data-testid="total"' not in html
    assert "No tariff is set" not in text
