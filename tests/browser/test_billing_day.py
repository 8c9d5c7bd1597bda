"""The billing staff's day in the back office, in a real Chromium: log in, start the close of last
month from the browser (the real `meterdesk bill` in the background, on the test's database), watch
its page until it is done, see the summary by basis, open an account from it; then change a
tariff's prices from the open month, after being warned off a date in the closed month. Every
page passes axe-core and scrolls sideways neither on a phone nor on a laptop."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import connection
from playwright.sync_api import expect

from meterdesk.backoffice.roles import BILLING, group_name, roles_sync
from meterdesk.billing.models import AccountClose, BillingRun
from meterdesk.devtools import database_url
from meterdesk.domain.periods import add_months, month_start
from meterdesk.tariffs.models import Tariff
from meterdesk.testing import MOSCOW, MeterFactory, ReadingFactory, UserFactory, make_tariff
from meterdesk.utility.selectors import utility_now
from tests.browser.test_backoffice import _check

pytestmark = pytest.mark.browser

PASSWORD = "office-billing-password-1"
CLOSE_TIMEOUT_MS = 120_000  # the close starts a process and its task workers


@pytest.fixture
def billing_day(browser_page, live_server, settings, monkeypatch, tmp_path):
    settings.METERDESK_READING_WINDOW = "1-31"
    roles_sync(apps)
    clerk = UserFactory(email="billing@office.example.com", is_staff=True, full_name="Белла Расчётова")
    clerk.set_password(PASSWORD)
    clerk.save()
    clerk.groups.add(Group.objects.get(name=group_name(BILLING)))
    this_month = month_start(utility_now().date())
    last_month = add_months(this_month, -1)
    meter = MeterFactory(
        zones=2,
        account__number="1000000042",
        account__holder_name="Иванова Мария Петровна",
        account__address="г. Москва, ул. Ленина, д. 5, кв. 12",
    )
    ReadingFactory(
        meter=meter,
        period=last_month,
        t1=Decimal(1100),
        t2=Decimal(550),
        submitted_at=datetime(last_month.year, last_month.month, 20, 12, tzinfo=MOSCOW),
    )
    make_tariff(prices=("9.45", "4.08"))
    make_tariff(prices=("6.43",))
    # `meterdesk bill`, started by the page, works on this test's database.
    db = connection.settings_dict
    url = f"sqlite:///{db['NAME']}" if connection.vendor == "sqlite" else database_url(db)
    monkeypatch.setenv("DATABASE_URL", url)
    settings.DATA_DIR = tmp_path  # where the page finds the close's output
    monkeypatch.setenv("METERDESK_DATA_DIR", str(tmp_path))
    return browser_page, live_server.url, clerk, meter, this_month, last_month


def test_the_billing_day(billing_day):
    page, base, clerk, meter, this_month, last_month = billing_day
    axe = Axe()
    problems: list[str] = []

    page.goto(f"{base}/office/")
    page.locator("#id_username").fill(clerk.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator('main form button[type="submit"]').click()
    expect(page).to_have_url(f"{base}/office/")

    # The close of last month, started from the browser: the form suggests the month.
    page.get_by_role("link", name="Расчёты").click()
    expect(page).to_have_url(f"{base}/office/billing/")
    _check(page, axe, problems)
    page.get_by_test_id("close-start").click()
    expect(page.locator("#id_period")).to_have_value(f"{last_month:%Y-%m}")
    _check(page, axe, problems)
    page.get_by_test_id("close-submit").click()
    expect(page).to_have_url(f"{base}/office/billing/{last_month:%Y-%m}/")

    # Its page refreshes itself while the close runs, until it is done.
    expect(page.get_by_test_id("run-state")).to_have_text("завершено", timeout=CLOSE_TIMEOUT_MS)
    expect(page.locator("progress")).to_have_attribute("value", "100")
    run = BillingRun.objects.get(period=last_month)
    assert run.status == "done" and not run.forced_checks
    closed = AccountClose.objects.get(period=last_month, account=meter.account)
    by_basis = page.get_by_test_id("by-basis")
    expect(by_basis).to_contain_text(closed.basis)
    expect(by_basis.locator("tbody tr")).to_have_count(1)
    _check(page, axe, problems)

    # An account opened from the close.
    page.locator("#id_account").fill(meter.account.number)
    page.get_by_role("button", name="Открыть", exact=True).click()
    expect(page).to_have_url(f"{base}/office/accounts/{meter.account.number}/")
    expect(page.locator("main")).to_contain_text("Иванова Мария Петровна")

    # New prices: a date in the closed month is warned off; the open month's first day is saved.
    page.get_by_role("link", name="Справочники").click()
    expect(page).to_have_url(f"{base}/office/reference/")
    _check(page, axe, problems)
    page.get_by_test_id("reference-edit").click()
    page.get_by_test_id("edit-tariffs").get_by_role("link", name=re.compile("двухзонный")).click()
    expect(page.locator("#id_price_1_1")).to_have_value("9.45")
    page.locator("#id_price_1_1").fill("10.12")
    page.locator("#id_price_2_1").fill("4.37")
    page.locator("#id_valid_from").fill(last_month.isoformat())
    page.locator("#id_reason").fill("Приказ РЭК № 123")
    page.get_by_test_id("version-submit").click()
    expect(page.get_by_test_id("closed-warning")).to_be_visible()
    expect(page.locator("#error-summary")).to_contain_text("уже закрыт")
    _check(page, axe, problems)
    assert Tariff.objects.filter(kind="two_zone").count() == 1
    page.locator("#id_valid_from").fill(this_month.isoformat())
    page.get_by_test_id("version-submit").click()
    expect(page).to_have_url(f"{base}/office/reference/")
    table = page.get_by_test_id("tariff-gas_stove-two_zone")
    expect(table).to_contain_text(f"{this_month:%d.%m.%Y}")
    expect(table).to_contain_text("10,12")
    expect(page.get_by_test_id("reference-history")).to_contain_text("Приказ РЭК № 123")
    _check(page, axe, problems)
    old, new = Tariff.objects.filter(kind="two_zone").order_by("valid_from")
    assert old.valid_to == this_month - timedelta(days=1)
    assert new.valid_from == this_month and new.valid_to is None

    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)
