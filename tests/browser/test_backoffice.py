"""The operator's day in the back office, in a real Chromium: log in, find a customer by a loose
address, open the account, key in a slip, see it on the account's page; then a stack of slips
keyed with the keyboard alone (Enter moves on). Every page passes axe-core and scrolls sideways
neither on a phone (390 px) nor on a laptop (1366 px)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.apps import apps
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from meterdesk.backoffice.roles import OPERATOR, group_name, roles_sync
from meterdesk.metering.models import Channel, Reading
from meterdesk.testing import MeterFactory, UserFactory, link, make_tariff
from tests.browser.test_accessibility import _violations
from tests.browser.test_layout import LAPTOP, PHONE, _overflow

pytestmark = pytest.mark.browser

PASSWORD = "office-operator-password-1"


@pytest.fixture
def office(browser_page, live_server, settings):
    settings.METERDESK_READING_WINDOW = "1-31"
    roles_sync(apps)  # the migration's groups (a transactional test's flush removes them)
    operator = UserFactory(email="operator@office.example.com", is_staff=True, full_name="Ольга Операторова")
    operator.set_password(PASSWORD)
    operator.save()
    operator.groups.add(Group.objects.get(name=group_name(OPERATOR)))
    customer = UserFactory(email="maria.ivanova@example.com", full_name="Мария Иванова")
    meter = MeterFactory(
        zones=2,
        serial="SN-77123",
        account__number="1000000042",
        account__holder_name="Иванова Мария Петровна",
        account__address="г. Москва, ул. Ленина, д. 5, кв. 12",
    )
    link(customer, meter.account)
    customer.phones.create(number="+79161234567")
    neighbour = MeterFactory(
        zones=2,
        serial="SN-77124",
        account__number="1000000043",
        account__holder_name="Петров Иван Сергеевич",
        account__address="г. Москва, ул. Ленина, д. 5, кв. 13",
    )
    make_tariff(prices=("9.45", "4.08"))
    return browser_page, live_server.url, operator, meter, neighbour


def _check(page: Page, axe: Axe, problems: list[str]) -> None:
    """The page as it is now: axe-core's findings, and any sideways scroll at both sizes."""
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        problems.append(_overflow(page))
    problems.extend(_violations(axe, page))


def test_the_operators_day(office):
    page, base, operator, meter, neighbour = office
    axe = Axe()
    problems: list[str] = []

    # A visitor is sent to the staff login; the operator logs in and lands on the search.
    page.goto(f"{base}/office/")
    expect(page).to_have_url(re.compile(r"/office/login/\?next="))
    _check(page, axe, problems)
    page.locator("#id_username").fill(operator.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator('main form button[type="submit"]').click()
    expect(page).to_have_url(f"{base}/office/")
    expect(page.locator("h1")).to_have_text("Найти клиента")
    _check(page, axe, problems)

    # The house finds both flats; the house and the flat, typed loosely, open the account.
    page.locator("#id_q").fill("ленина 5")
    page.locator("#id_q").press("Enter")
    expect(page.locator("main table.results tbody tr")).to_have_count(2)
    _check(page, axe, problems)
    page.locator("#id_q").fill("Ленина 5 12")
    page.locator("#id_q").press("Enter")
    expect(page).to_have_url(f"{base}/office/accounts/1000000042/")
    expect(page.locator("main")).to_contain_text("Иванова Мария Петровна")
    expect(page.locator("main")).to_contain_text("+7 (916) 123-45-67")
    _check(page, axe, problems)

    # A slip keyed on the account's page: the reading's page, then the account shows it.
    page.get_by_role("link", name="Внести показания").click()
    expect(page.locator("h1")).to_have_text("Внести показания")
    _check(page, axe, problems)
    page.locator("#id_t1").fill("1300")
    page.locator("#id_t2").fill("650")
    page.locator('main form button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/office/readings/\w+/$"))
    reading = Reading.objects.get(meter=meter)
    assert reading.channel == Channel.PAPER
    expect(page.locator("main")).to_contain_text(f"№ {reading.confirmation}")
    _check(page, axe, problems)
    page.get_by_role("link", name="Лицевой счёт 1000000042").click()
    expect(page.locator("main table.readings")).to_contain_text(reading.confirmation)
    expect(page.locator("main table.readings")).to_contain_text("бумажный бланк")
    _check(page, axe, problems)

    # A stack of slips, keyboard only: the account, Enter, the values, Enter … and the next.
    page.get_by_role("link", name="Пачка бланков").click()
    expect(page.locator("#id_account")).to_be_focused()
    _check(page, axe, problems)
    page.keyboard.type("1000000043")
    page.keyboard.press("Enter")
    expect(page.locator("#id_serial")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.type("1250")
    page.keyboard.press("Enter")
    page.keyboard.type("620")
    page.keyboard.press("Enter")
    expect(page.locator("#id_t3")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main table")).to_contain_text("1000000043")
    expect(page.locator("#id_account")).to_be_focused()
    expect(page.locator("#id_account")).to_have_value("")
    stored = Reading.objects.get(meter=neighbour)
    assert stored.values == (Decimal(1250), Decimal(620))
    _check(page, axe, problems)

    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)
