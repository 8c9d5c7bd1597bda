"""A customer's whole journey in a real browser: register, confirm the e-mail, log in, log out and
in again, submit readings, see the charge and the history.

Pages are in Russian (the site's default; the browser asks for ru-RU), so the test finds things by
ids, names, hrefs and data-testid, never by translated text; numbers are checked in the Russian
format ("1662,30").
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.utils import translation
from django.utils.formats import date_format
from playwright.sync_api import expect

from meterdesk.customers.models import AccountLink
from meterdesk.metering.models import Reading, ReadingStatus
from meterdesk.testing import MeterFactory, make_tariff
from tests.browser.steps import log_in

pytestmark = pytest.mark.browser

EMAIL = "maria.browser@example.com"
PASSWORD = "Lampochka-Ilyicha-1920"
# 150 kWh by day at 9.45 ₽ + 60 kWh by night at 4.08 ₽ = 1417.50 + 244.80
TOTAL = re.compile(r"1[\s\u00a0]?662,30")


def test_register_log_in_submit_readings_and_see_history(browser_page, live_server, settings):
    settings.METERDESK_READING_WINDOW = "1-31"  # the window is open whatever today's date
    meter = MeterFactory(zones=2)  # initial values: day 1000, night 500
    make_tariff(prices=("9.45", "4.08"))
    account = meter.account
    page = browser_page
    base = live_server.url
    logout_button = page.locator('form[action="/logout/"] button[type="submit"]')

    # Register with the account number and the meter serial from the bill.
    page.goto(f"{base}/register/")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.locator("#id_account_number").fill(account.number)
    page.locator("#id_meter_serial").fill(meter.serial)
    page.locator("#id_email").fill(EMAIL)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("#id_consent").check()  # the consent to personal data processing
    page.locator('main form button[type="submit"]').click()

    # "Check your e-mail": nothing of the account until the link in the letter is followed.
    expect(page).to_have_url(f"{base}/register/sent/")
    expect(page.get_by_test_id("check-mail")).to_contain_text(EMAIL)
    assert not AccountLink.objects.filter(user__email=EMAIL).exists()
    (letter,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/register/confirm/\S+)", str(letter.body))
    assert link, letter.body
    page.goto(base + link.group(1))
    expect(page).to_have_url(f"{base}/login/")
    log_in(page, base, EMAIL, PASSWORD)

    # The dashboard, logged in, shows the account.
    expect(page).to_have_url(f"{base}/cabinet/")
    expect(page.locator(f"#acc-{account.number}")).to_be_visible()
    expect(logout_button).to_be_visible()
    assert AccountLink.objects.filter(user__email=EMAIL, account=account).exists()

    # Log out, and log in again.
    logout_button.click()
    expect(page).to_have_url(f"{base}/login/")
    expect(logout_button).to_have_count(0)
    log_in(page, base, EMAIL, PASSWORD)
    expect(logout_button).to_be_visible()

    # Submit readings for the meter.
    page.locator(f'a[href="/meters/{meter.pk}/readings/new/"]').click()
    expect(page).to_have_url(f"{base}/meters/{meter.pk}/readings/new/")
    page.locator("#id_t1").fill("1150")
    page.locator("#id_t2").fill("560")
    page.locator('main form button[type="submit"]').click()

    # The reading page: the confirmation number and the charge.
    expect(page).to_have_url(re.compile(re.escape(f"{base}/readings/") + r"[^/]+/$"))
    reading = Reading.objects.get(meter=meter, status=ReadingStatus.ACCEPTED)
    assert (reading.t1, reading.t2) == (1150, 560)
    expect(page.get_by_test_id("confirmation")).to_have_text(reading.confirmation)
    assert page.url == f"{base}/readings/{reading.confirmation}/"
    expect(page.get_by_test_id("total")).to_contain_text(TOTAL)
    expect(page.get_by_test_id("total")).to_contain_text("₽")

    # The history: the month with the readings and the amount.
    page.locator(f'main a[href="/accounts/{account.number}/history/"]').click()
    expect(page).to_have_url(f"{base}/accounts/{account.number}/history/")
    with translation.override("ru"):
        month = date_format(reading.period, "F Y")
    row = page.locator("table.history tbody tr", has=page.locator("th", has_text=month))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(meter.serial)
    expect(row).to_contain_text("1150 / 560")
    expect(row).to_contain_text(TOTAL)
