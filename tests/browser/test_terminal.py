"""The office terminal in the real browser at its resolutions (docs/terminal.md): a household
identifies on the on-screen pad, gives a two-zone reading, sees the charge and finishes; then the
back button and a fresh visit show only the start page. axe-core finds nothing on its pages and
nothing scrolls sideways, on a landscape (1920 × 1080) and a portrait (1080 × 1920) screen. An idle
session shows its countdown and ends by itself, and the next person starts in Russian."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import Page, expect

from meterdesk.terminal.services import terminal_register
from meterdesk.testing import AccountFactory, MeterFactory, ReadingFactory, make_tariff
from meterdesk.utility.selectors import utility_now
from tests.browser.test_layout import OVERFLOW_JS

pytestmark = pytest.mark.browser

LANDSCAPE = {"width": 1920, "height": 1080}
PORTRAIT = {"width": 1080, "height": 1920}
NUMBER, SERIAL = "1234567890", "40123456"


@pytest.fixture
def household(settings):
    settings.METERDESK_READING_WINDOW = "1-31"  # the window is open whatever today's date
    account = AccountFactory(
        number=NUMBER, holder_name="Иванова Мария Петровна", address="г. Москва, ул. Вавилова, д. 12, кв. 5"
    )
    meter = MeterFactory(account=account, serial=SERIAL, zones=2)
    ReadingFactory(meter=meter, period=date(2025, 10, 1), t1=Decimal(1200), t2=Decimal(600))
    make_tariff(prices=("9.45", "4.08"))
    return meter


def _enrol(page: Page, base: str) -> None:
    """Open the terminal's one-time enrolment link on the screen, as staff do."""
    _terminal, token = terminal_register(name="Зал 1", location="Офис на Вавилова")
    page.goto(f"{base}/terminal/enrol/{token}/")
    page.locator("main form button").click()
    expect(page.locator("h1")).to_have_text("Терминал зарегистрирован")


def _tap(page: Page, text: str) -> None:
    for key in text:
        page.locator(f'#pad [data-layout]:not([hidden]) [data-key="{key}"]').click()


def _next(page: Page) -> None:
    page.locator('#pad [data-layout]:not([hidden]) [data-action="next"]').click()


def _check(page: Page, axe: Axe, found: list[str]) -> None:
    """axe-core's findings and any sideways scrolling on the page as it is now."""
    for v in axe.run(page).response["violations"]:
        found.extend(f"{page.url}: {v['id']} at {n['target']}: {v['help']}" for n in v["nodes"])
    over = page.evaluate(OVERFLOW_JS)
    if over["over"] > 0:
        found.append(f"{page.url} is {over['over']}px too wide (at {over['widest']})")


def _identify(page: Page) -> None:
    page.locator("#id_account_number").click()
    _tap(page, NUMBER)
    _next(page)
    expect(page.locator("#id_meter_serial")).to_be_focused()
    _tap(page, SERIAL)
    _next(page)  # the last field: the form is sent
    expect(page).to_have_url(re.compile(r"/terminal/account/$"))


def _only_the_start_page(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/terminal/(\?.*)?$"))
    expect(page.locator("#id_account_number")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("И***а")
    expect(page.locator("body")).not_to_contain_text("Вавилова")


@pytest.mark.parametrize("screen", [LANDSCAPE, PORTRAIT], ids=["1920x1080", "1080x1920"])
def test_a_reading_at_the_terminal_and_nothing_left_behind(browser_page, live_server, household, screen):
    page, base, axe = browser_page, live_server.url, Axe()
    page.set_viewport_size(screen)
    found: list[str] = []
    _enrol(page, base)
    page.goto(f"{base}/terminal/")
    expect(page.locator('#pad [data-layout="numeric"]')).to_be_visible()
    expect(page.locator('#pad [data-layout="email"]')).to_be_hidden()
    _check(page, axe, found)
    _identify(page)
    main = page.locator("main")
    expect(main).to_contain_text("И***а М. П.")
    expect(main).to_contain_text("ул. Вавилова, д. 12")
    expect(main).not_to_contain_text("кв. 5")
    expect(main).not_to_contain_text("Иванова")
    _check(page, axe, found)

    page.get_by_role("link", name="Передать показания").click()
    expect(page.locator("#id_t1")).to_be_focused()
    expect(main).to_contain_text("1200")  # the previous value beside the field
    _tap(page, "1300")
    _next(page)
    _tap(page, "650")
    # 100 kWh × 9,45 ₽ + 50 kWh × 4,08 ₽
    expect(page.locator(".preview-total")).to_contain_text("1\u202f149,00\u00a0₽")
    _check(page, axe, found)
    _next(page)  # the last zone: the reading is sent
    expect(page.get_by_test_id("charge")).to_contain_text("1\u202f149,00\u00a0₽")
    confirmation = page.get_by_test_id("confirmation").inner_text()
    _check(page, axe, found)
    page.emulate_media(media="print")
    expect(page.locator("#pad")).to_be_hidden()
    expect(page.locator("header")).to_be_hidden()
    page.emulate_media(media="screen")
    page.locator("#id_email").click()
    expect(page.locator('#pad [data-layout="numeric"]')).to_be_hidden()
    _tap(page, "maria@example")
    page.locator('#pad [data-key=".ru"]').click()
    _next(page)
    expect(page.get_by_role("status")).to_contain_text("Подтверждение отправлено на maria@example.ru")
    assert [m.to for m in mail.outbox] == [["maria@example.ru"]]

    page.get_by_role("button", name="Завершить").click()
    expect(page.locator("main")).to_contain_text("Сеанс завершён")
    _only_the_start_page(page)
    for _ in range(3):  # back through the previous household's pages
        page.go_back()
        _only_the_start_page(page)
        expect(page.locator("body")).not_to_contain_text(confirmation)
    for path in ("/terminal/account/", f"/terminal/readings/{confirmation}/"):
        page.goto(base + path)
        _only_the_start_page(page)
    assert not found, "\n".join(found)


def test_english_and_an_idle_session_that_ends_by_itself(browser_page, live_server, household, settings):
    settings.METERDESK_TERMINAL_IDLE_SECONDS = 15
    page, base, axe = browser_page, live_server.url, Axe()
    page.set_viewport_size(LANDSCAPE)
    found: list[str] = []
    _enrol(page, base)
    page.goto(f"{base}/terminal/")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    _check(page, axe, found)
    # Left in English without identifying: the screen goes back to Russian by itself.
    expect(page.locator("html")).to_have_attribute("lang", "ru", timeout=20_000)
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # A serial with letters: the pad switches to them and back.
    household.serial = "CE301-7"
    household.save(update_fields=["serial"])
    page.locator("#id_account_number").click()
    _tap(page, NUMBER)
    _next(page)
    page.locator('#pad [data-action="letters"]').click()
    _tap(page, "ce")
    page.locator('#pad [data-action="digits"]').click()
    _tap(page, "301")
    page.locator('#pad [data-action="letters"]').click()
    _tap(page, "-")
    page.locator('#pad [data-action="digits"]').click()
    _tap(page, "7")
    _next(page)
    expect(page.locator("main")).to_contain_text("Balance")
    warning = page.get_by_role("alertdialog")
    expect(warning).to_be_visible(timeout=20_000)
    expect(warning).to_contain_text("Are you still here?")
    _check(page, axe, found)
    expect(page).to_have_url(re.compile(r"/terminal/\?ended=timeout$"), timeout=20_000)
    expect(page.locator("html")).to_have_attribute("lang", "ru")  # the next person starts in Russian
    expect(page.locator("main")).to_contain_text("Предыдущий сеанс завершён из-за бездействия")
    page.go_back()
    _only_the_start_page(page)
    assert not found, "\n".join(found)


def test_an_unusual_value_is_confirmed_on_the_screen(browser_page, live_server, household):
    # The last three months at about 50 kWh a month (the household's reading before them is 1200).
    month = utility_now().date().replace(day=1)
    for back, t1 in ((3, 1250), (2, 1300), (1, 1350)):
        period = (month - timedelta(days=28 * back)).replace(day=1)
        ReadingFactory(meter=household, period=period, t1=Decimal(t1), t2=Decimal(620 - 5 * back))
    page, base = browser_page, live_server.url
    page.set_viewport_size(LANDSCAPE)
    _enrol(page, base)
    page.goto(f"{base}/terminal/")
    _identify(page)
    page.get_by_role("link", name="Передать показания").click()
    _tap(page, "9000")
    _next(page)
    _tap(page, "650")
    _next(page)
    box = page.get_by_role("alert")
    expect(box).to_contain_text("Проверьте и подтвердите")
    box.get_by_role("checkbox").check()
    page.get_by_role("button", name="Передать").click()
    expect(page.locator("h1")).to_have_text("Показания приняты")
