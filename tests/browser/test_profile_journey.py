"""The profile in a real browser on a phone's screen (390 × 844): a household adds its mobile
number as it would type it, sees it formatted, is told clearly when a number is wrong, and removes
it; the page fits the screen and passes axe-core; logging out says so."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from meterdesk.customers.models import Phone
from meterdesk.customers.selectors import phone_accounts
from meterdesk.testing import PASSWORD, MeterFactory, UserFactory, link
from tests.browser.steps import log_in

pytestmark = pytest.mark.browser

EMAIL = "phone.owner@example.com"

#: How much wider than its window the page is (0: nothing scrolls sideways).
OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _axe(page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [f"{v['id']} at {node['target']}: {v['help']}" for v in found for node in v["nodes"]]


def test_adding_and_removing_a_phone_number_on_the_profile(browser_page, live_server):
    user = UserFactory(email=EMAIL)
    meter = MeterFactory()
    link(user, meter.account)
    page, base = browser_page, live_server.url
    page.set_viewport_size({"width": 390, "height": 844})

    log_in(page, base, EMAIL, PASSWORD)
    page.locator('header a[href="/profile/"]').click()
    expect(page).to_have_url(f"{base}/profile/")
    expect(page.locator("h1")).to_have_text("Профиль")
    expect(page.get_by_test_id("no-phones")).to_be_visible()
    assert page.evaluate(OVERFLOW_JS) <= 0
    assert _axe(page) == []

    # A number that cannot exist: the error is on the field, and the summary says so.
    number = page.get_by_label("Номер телефона", exact=True)
    number.fill("+7 916 12")
    page.get_by_role("button", name="Добавить номер").click()
    expect(page.locator("#id_number_error")).to_contain_text("Это не номер телефона")
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-summary")).to_be_visible()
    assert page.evaluate(OVERFLOW_JS) <= 0
    assert _axe(page) == []
    assert not Phone.objects.exists()

    # Typed as people do: stored in E.164, shown formatted, found by the phone line.
    page.get_by_label("Номер телефона", exact=True).fill("8 (916) 123-45-67")
    page.get_by_label("Вид", exact=True).select_option("home")
    page.get_by_role("button", name="Добавить номер").click()
    expect(page).to_have_url(f"{base}/profile/#phones")
    expect(page.get_by_test_id("phone")).to_have_text("+7 (916) 123-45-67")
    expect(page.get_by_test_id("phones")).to_contain_text("домашний")
    expect(page.locator(".messages")).to_contain_text("+7 (916) 123-45-67")
    assert list(Phone.objects.values_list("number", "label")) == [("+79161234567", "home")]
    assert list(phone_accounts("89161234567")) == [meter.account]
    assert page.evaluate(OVERFLOW_JS) <= 0

    # Removed with the button beside it.
    page.get_by_role("button", name="Удалить +7 (916) 123-45-67").click()
    expect(page.get_by_test_id("no-phones")).to_be_visible()
    expect(page.get_by_test_id("phone")).to_have_count(0)
    assert not Phone.objects.exists()
    assert list(phone_accounts("89161234567")) == []

    # Logging out says so.
    page.locator('form[action="/logout/"] button[type="submit"]').click()
    expect(page).to_have_url(f"{base}/login/")
    expect(page.locator(".messages")).to_contain_text("Вы вышли из личного кабинета.")
