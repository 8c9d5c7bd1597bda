"""A service request end to end, in a real Chromium: the customer orders a meter replacement in
the personal account; an operator schedules it and marks it done in the back office; the month is
closed; the customer sees the service as a line of its own on the bill. Every page passes
axe-core and scrolls sideways neither on a phone (390 px) nor on a laptop (1366 px)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.apps import apps
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from meterdesk.backoffice.roles import OPERATOR, group_name, roles_sync
from meterdesk.billing import close as close_module
from meterdesk.billing.close import billing_close
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.tests.helpers import reading
from meterdesk.domain.periods import add_months, month_start
from meterdesk.orders.catalogue import services_load
from meterdesk.orders.models import ServiceRequest, Status
from meterdesk.testing import PASSWORD, MeterFactory, UserFactory, link, make_tariff
from meterdesk.utility.selectors import utility_now
from tests.browser.steps import log_in
from tests.browser.test_accessibility import _violations
from tests.browser.test_layout import LAPTOP, PHONE, _overflow

pytestmark = pytest.mark.browser

STAFF_PASSWORD = "office-operator-password-1"


@pytest.fixture
def world(browser_page, live_server, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.METERDESK_READING_WINDOW = "1-31"
    roles_sync(apps)  # the migration's groups (a transactional test's flush removes them)
    services_load(since=date(2024, 1, 1))
    oleg = UserFactory(email="oleg@office.example.com", is_staff=True, full_name="Олег Операторов")
    oleg.set_password(STAFF_PASSWORD)
    oleg.save()
    oleg.groups.add(Group.objects.get(name=group_name(OPERATOR)))
    customer = UserFactory(email="maria.ivanova@example.com", full_name="Мария Иванова")
    this_month = month_start(utility_now().date())
    meter = MeterFactory(
        zones=2,
        installed_on=add_months(this_month, -3),
        account__number="1000000042",
        account__address="г. Москва, ул. Ленина, д. 5, кв. 12",
    )
    link(customer, meter.account)
    make_tariff(prices=("9.45", "4.08"))
    make_tariff(prices=("7.87",))
    reading(meter, add_months(this_month, -1), 1100, 540)
    reading(meter, this_month, 1300, 610)
    cache = getattr(close_module, "_PRICING", None)
    if isinstance(cache, dict):
        cache.clear()
    yield browser_page, live_server.url, customer, oleg, meter, this_month
    if isinstance(cache, dict):
        cache.clear()


def _check(page: Page, axe: Axe, problems: list[str]) -> None:
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        problems.append(_overflow(page))
    problems.extend(_violations(axe, page))


def test_a_meter_replacement_from_order_to_its_bill_line(world):
    page, base, customer, oleg, meter, this_month = world
    axe = Axe()
    problems: list[str] = []

    # The customer orders a meter replacement from the personal account.
    log_in(page, base, customer.email, PASSWORD)
    page.get_by_test_id("services-link").click()
    expect(page.locator("h1")).to_have_text("Услуги")
    expect(page.get_by_test_id("service-catalogue")).to_contain_text("Замена прибора учёта")
    _check(page, axe, problems)
    page.get_by_role("link", name="Заказ: Замена прибора учёта").click()
    expect(page.get_by_test_id("service-price")).to_contain_text("3 500,00")
    _check(page, axe, problems)
    page.get_by_label("Комментарий").fill("Счётчик в тамбуре, звонить за час")
    page.get_by_role("button", name="Оформить заказ").click()
    expect(page).to_have_url(f"{base}/services/")
    made = ServiceRequest.objects.get()
    expect(page.get_by_test_id("service-requests")).to_contain_text(made.number)
    expect(page.get_by_test_id("service-requests")).to_contain_text("заказана")
    _check(page, axe, problems)

    # An operator schedules the visit, then marks it done, in the back office.
    page.context.clear_cookies()
    page.goto(f"{base}/office/login/")
    page.locator("#id_username").fill(oleg.email)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.locator('main form button[type="submit"]').click()
    page.goto(f"{base}/office/services/")
    expect(page.get_by_test_id("service-requests")).to_contain_text("1000000042")
    _check(page, axe, problems)
    page.get_by_role("link", name=re.compile(re.escape(made.number))).click()
    expect(page.get_by_test_id("request-status")).to_have_text("заказана")
    _check(page, axe, problems)
    visit = utility_now().date() + timedelta(days=1)
    page.get_by_label("День").fill(visit.isoformat())
    page.get_by_label("Интервал времени").select_option("12:00–15:00")
    page.get_by_role("button", name="Назначить день").click()
    expect(page.get_by_test_id("request-status")).to_have_text("назначена")
    page.get_by_label("Что сделано").fill("Счётчик заменён, пломбы установлены")
    page.get_by_role("button", name="Записать как выполненную").click()
    expect(page.get_by_test_id("request-status")).to_have_text("выполнена")
    expect(page.get_by_test_id("service-request")).to_contain_text("3 500,00")
    _check(page, axe, problems)
    made.refresh_from_db()
    assert made.status == Status.DONE and made.scheduled_by == oleg
    entry = LedgerEntry.objects.get(kind=EntryKind.SERVICE)
    assert entry.period == this_month

    # The month is closed (forced: its reading window has not ended yet).
    billing_close(this_month, force=True, reason="browser test", forced_by="test")

    # The customer sees the service on the bill, as a line of its own.
    page.context.clear_cookies()
    log_in(page, base, customer.email, PASSWORD)
    page.goto(f"{base}/accounts/{meter.account.number}/statements/{this_month:%Y-%m}/")
    line = page.get_by_role("row", name=re.compile("Замена прибора учёта"))
    expect(line).to_contain_text(made.number)
    expect(line).to_contain_text("3 500,00")
    _check(page, axe, problems)

    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)
