"""Support's day in a real Chromium: a member of support logs in to the back office, finds a
customer by surname, and sees on the account's page the customer's letters (the mail channel's)
and calls (the phone line's), and none of the neighbour's. The page passes axe-core and scrolls
sideways neither on a phone (390 px) nor on a laptop (1366 px)."""

from __future__ import annotations

from datetime import datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.apps import apps
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from meterdesk.backoffice.roles import SUPPORT, group_name, roles_sync
from meterdesk.mail.models import Item, Letter
from meterdesk.phone.models import Call
from meterdesk.testing import MOSCOW, MeterFactory, UserFactory, link, make_tariff
from tests.browser.test_accessibility import _violations
from tests.browser.test_layout import LAPTOP, PHONE, _overflow

pytestmark = pytest.mark.browser

PASSWORD = "office-support-password-2"


def _letter(subject: str, sender: str, number: str, outcome: str, day: int) -> Letter:
    at = datetime(2026, 11, day, 10, 30, tzinfo=MOSCOW)
    letter = Letter.objects.create(
        via="smtp",
        received_at=at,
        raw=b"From: x\r\n\r\nx",
        size=12,
        status="done",
        outcome=outcome,
        sender=sender,
        subject=subject,
        next_attempt_at=at,
        processed_at=at,
    )
    Item.objects.create(letter=letter, account_number=number, values="1300 650", code="accepted")
    return letter


@pytest.fixture
def support_day(browser_page, live_server, settings):
    settings.METERDESK_READING_WINDOW = "1-31"
    roles_sync(apps)  # the migration's groups (a transactional test's flush removes them)
    sofia = UserFactory(email="sofia@office.example.com", is_staff=True, full_name="Софья Поддержкина")
    sofia.set_password(PASSWORD)
    sofia.save()
    sofia.groups.add(Group.objects.get(name=group_name(SUPPORT)))
    customer = UserFactory(email="maria.ivanova@example.com", full_name="Мария Иванова")
    meter = MeterFactory(
        zones=2,
        account__number="1000000042",
        account__holder_name="Иванова Мария Петровна",
        account__address="г. Москва, ул. Ленина, д. 5, кв. 12",
    )
    link(customer, meter.account)
    neighbour = MeterFactory(
        zones=2,
        account__number="1000000043",
        account__holder_name="Петров Иван Сергеевич",
        account__address="г. Москва, ул. Ленина, д. 5, кв. 13",
    )
    make_tariff(prices=("9.45", "4.08"))
    _letter("Показания за ноябрь", "maria.ivanova@example.com", "1000000042", "accepted", 20)
    _letter("Показания соседа", "petrov@example.com", "1000000043", "accepted", 21)
    for account, caller, outcome, day in (
        (meter.account, "+79161234567", "reading", 18),
        (meter.account, "+79161234567", "informed", 22),
        (neighbour.account, "+79035550000", "reading", 19),
    ):
        Call.objects.create(
            account=account,
            caller=caller,
            started_at=datetime(2026, 11, day, 9, tzinfo=MOSCOW),
            ended_at=datetime(2026, 11, day, 9, 3, tzinfo=MOSCOW),
            topics="readings" if outcome == "reading" else "balance",
            readings=1 if outcome == "reading" else 0,
            outcome=outcome,
        )
    return browser_page, live_server.url, sofia


def test_support_finds_a_customer_and_sees_the_letters_and_calls(support_day):
    page, base, sofia = support_day
    axe, problems = Axe(), []

    page.goto(f"{base}/office/")
    page.locator("#id_username").fill(sofia.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator('main form button[type="submit"]').click()
    expect(page).to_have_url(f"{base}/office/")
    expect(page.locator("h1")).to_have_text("Найти клиента")

    # The surname finds one customer: the account's page opens.
    page.locator("#id_q").fill("иванова")
    page.locator("#id_q").press("Enter")
    expect(page).to_have_url(f"{base}/office/accounts/1000000042/")
    expect(page.locator("main")).to_contain_text("Иванова Мария Петровна")

    contacts = page.locator("section", has=page.get_by_role("heading", name="Письма и звонки"))
    expect(contacts).to_be_visible()
    expect(contacts.locator("li", has_text="письмо")).to_have_count(1)
    letter = contacts.locator("li", has_text="Показания за ноябрь")
    expect(letter).to_contain_text("20.11.2026 10:30")
    expect(letter).to_contain_text("maria.ivanova@example.com")
    expect(letter).to_contain_text("показания приняты")
    calls = contacts.locator("li", has_text="звонок")
    expect(calls).to_have_count(2)
    expect(calls.first).to_contain_text("+7 (916) 123-45-67")
    expect(contacts).to_contain_text("18.11.2026 09:00")
    expect(contacts).to_contain_text("22.11.2026 09:00")
    # The neighbour's letter and call are on the neighbour's page only.
    expect(contacts).not_to_contain_text("Показания соседа")
    expect(contacts).not_to_contain_text("+7 (903) 555-00-00")
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        problems.append(_overflow(page))
    problems.extend(_violations(axe, page))

    page.goto(f"{base}/office/accounts/1000000043/")
    expect(page.locator("main")).to_contain_text("Показания соседа")
    expect(page.locator("main")).to_contain_text("+7 (903) 555-00-00")

    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)
