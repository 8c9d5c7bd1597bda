"""Steps the browser journeys share."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def log_in(page: Page, base: str, email: str, password: str) -> None:
    """Log in on the login page (opened first unless the page is on it) and land on the dashboard."""
    if not page.url.startswith(f"{base}/login/"):
        page.goto(f"{base}/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(password)
    page.locator('main form button[type="submit"]').click()
    expect(page).to_have_url(f"{base}/cabinet/")
