"""A real Chromium, driven through Playwright's sync API, against pytest-django's live server.

The browser is Debian's chromium (``apt-get install chromium``), not one downloaded by
``playwright install``; METERDESK_CHROMIUM points elsewhere. A missing browser fails the test:
a journey that silently skips proves nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections

CHROMIUM = os.environ.get("METERDESK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000

_report_key = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep the outcome of the test's call phase, so the page fixture can take a screenshot."""
    report = yield
    if report.when == "call":
        item.stash[_report_key] = report
    return report


@pytest.fixture
def browser_page(request, transactional_db, live_server, monkeypatch):
    """A fresh page in a headless Chromium that asks for Russian pages (the site's default)."""
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it (apt-get install chromium) "
            "or set METERDESK_CHROMIUM to its path.",
            pytrace=False,
        )
    # Playwright's sync API keeps an asyncio loop running in this thread, and Django refuses ORM
    # calls from a thread with a running loop unless told that it is safe (it is: nothing awaits).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="ru-RU", timezone_id="Europe/Moscow")
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            # Whatever the Content-Security-Policy blocks is reported on the console: a journey
            # that met a blocked script, style or image fails (docs/adr/0014).
            blocked: list[str] = []
            page.on(
                "console",
                lambda message: (
                    blocked.append(message.text) if "Content Security Policy" in message.text else None
                ),
            )
            yield page
            report = request.node.stash.get(_report_key, None)
            if report is not None and report.failed:
                _screenshot(page, request.node.name)
            context.close()
            assert not blocked, f"the Content-Security-Policy blocked: {blocked}"
        finally:
            browser.close()
            # While Playwright's loop runs, Django keeps this thread's database connections apart
            # from the usual ones; close them here, or they outlive the test database's teardown.
            connections.close_all()


def _screenshot(page, name: str) -> None:
    folder = Path(django_settings.DATA_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^\w.-]+", "_", name) + ".png")
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as error:  # the screenshot is a courtesy; never hide the real failure
        print(f"Could not save a screenshot to {path}: {error}")
    else:
        print(f"Screenshot of the failing page: {path} (at {page.url})")
