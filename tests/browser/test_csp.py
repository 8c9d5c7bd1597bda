"""The Content-Security-Policy breaks nothing in a real browser: the interactive API docs (Swagger
UI from this site's static files), the admin, the history's charts. The page fixture fails a test
whose page had anything blocked by the policy (see conftest)."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from meterdesk.testing import PASSWORD, AccountFactory, ReadingFactory, UserFactory
from tests.browser.steps import log_in

pytestmark = pytest.mark.browser


def test_the_api_docs_work_under_the_policy(browser_page, live_server):
    page = browser_page
    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("meterdesk API")
    expect(page.locator(".opblock").first).to_be_visible()
    page.locator(".opblock-summary").first.click()  # the UI's scripts run: an operation opens
    expect(page.locator(".opblock-body").first).to_be_visible()


def test_the_admin_works_under_the_policy(browser_page, live_server):
    UserFactory(email="admin@example.com", is_staff=True, is_superuser=True)
    AccountFactory()
    AccountFactory()
    page = browser_page
    page.goto(f"{live_server.url}/admin/")
    page.locator("#id_username").fill("admin@example.com")
    page.locator("#id_password").fill(PASSWORD)
    page.locator('input[type="submit"]').click()
    expect(page.locator("#site-name")).to_be_visible()
    page.goto(f"{live_server.url}/admin/customers/account/")
    page.locator("#action-toggle").check()  # the admin's own script selects every row
    expect(page.locator("input.action-select:checked")).to_have_count(2)


def test_the_history_charts_under_the_policy(browser_page, live_server, customer):
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2024, 3, 1))
    page = browser_page
    log_in(page, live_server.url, user.email, PASSWORD)
    page.goto(f"{live_server.url}/accounts/{meter.account.number}/history/")
    swatch = page.locator(".swatch.zone-1").first
    expect(swatch).to_be_visible()
    assert swatch.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(31, 111, 178)"
