"""The supervisor's dashboard in a real Chromium, on the demo's data (two years of readings from
several channels, the months closed): log in, open the statistics, see a wrong period said,
choose the last twelve months, see every channel of the demo in the per-day chart's legend and in
the tables, and download a table as CSV with the same figures. The page passes axe-core and
scrolls sideways neither on a phone (390 px) nor on a laptop (1366 px)."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, time, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.apps import apps
from django.contrib.auth.models import Group
from django.utils import translation
from playwright.sync_api import expect

from meterdesk import seed
from meterdesk.backoffice.roles import SUPERVISOR, group_name, roles_sync
from meterdesk.domain.periods import add_months
from meterdesk.metering.models import Channel, Reading
from meterdesk.testing import UserFactory
from meterdesk.utility.selectors import utility_now, utility_zone
from tests.browser.test_accessibility import _violations
from tests.browser.test_layout import LAPTOP, PHONE, _overflow

pytestmark = pytest.mark.browser

PASSWORD = "office-supervisor-password-1"


@pytest.fixture
def demo(browser_page, live_server):
    seed.demo_load(PASSWORD + "-demo", PASSWORD + "-admin")
    assert seed.demo_bill_history() > 0
    roles_sync(apps)  # the migration's groups (a transactional test's flush removes them)
    boss = UserFactory(email="boss@office.example.com", is_staff=True, full_name="Вера Руководова")
    boss.set_password(PASSWORD)
    boss.save()
    boss.groups.add(Group.objects.get(name=group_name(SUPERVISOR)))
    return browser_page, live_server.url, boss


def _label(code: str) -> str:
    with translation.override("ru"):
        return str(Channel(code).label)


def test_the_supervisor_sees_every_channel_of_the_demo(demo):
    page, base, boss = demo
    axe, problems = Axe(), []

    page.goto(f"{base}/office/login/?next=/office/stats/")
    page.locator("#id_username").fill(boss.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator('main form button[type="submit"]').click()
    expect(page).to_have_url(f"{base}/office/stats/")
    expect(page.locator("h1")).to_have_text("Статистика")

    # A period that ends before it begins is said, next to the form; nothing is shown for it.
    page.locator("#id_start").fill("2026-06-10")
    page.locator("#id_end").fill("2026-06-01")
    page.get_by_role("button", name="Показать").click()
    expect(page.get_by_role("alert")).to_contain_text("раньше")
    expect(page.locator("[data-testid=stats-channels]")).to_have_count(0)

    # The last twelve closed months: the demo's readings came by several channels.
    first = add_months(utility_now().date().replace(day=1), -12)
    last = add_months(first, 12) - timedelta(days=1)
    zone = utility_zone()
    given = Counter(
        Reading.objects.filter(
            submitted_at__gte=datetime.combine(first, time.min, zone),
            submitted_at__lt=datetime.combine(last + timedelta(days=1), time.min, zone),
        ).values_list("channel", flat=True)
    )
    assert len(given) >= 4, given  # web, API, phone, e-mail, terminal, paper: the demo's mix
    page.locator("#id_start").fill(f"{first}")
    page.locator("#id_end").fill(f"{last}")
    page.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(f"{base}/office/stats/?start={first}&end={last}")

    chart = page.locator("[data-testid=stats-days-chart] svg")
    expect(chart).to_have_attribute("role", "img")
    expect(chart.locator("title").first).to_have_text("Показания по дням и каналам")
    expect(chart.locator("desc")).to_contain_text(f"всего показаний: {sum(given.values())}")
    table = page.locator("[data-testid=stats-channels]")
    days = page.locator("[data-testid=stats-days]")
    for code, n in given.items():
        name = _label(code)
        expect(chart.locator("text", has_text=name)).to_have_count(1)  # its legend
        expect(table.locator("tr", has=page.get_by_role("rowheader", name=name, exact=True))).to_contain_text(
            str(n)
        )
        expect(days.locator("thead")).to_contain_text(name)
    # The channels with no reading are in the table too, with 0.
    missing = next(c for c in Channel.values if c not in given)
    expect(
        table.locator("tr", has=page.get_by_role("rowheader", name=_label(missing), exact=True))
    ).to_contain_text("0")
    # The months closed by basis and the payments by way, in words.
    expect(
        page.locator("section", has=page.get_by_role("heading", name="Начисления по основаниям"))
    ).to_contain_text("по показаниям")
    expect(
        page.locator("section", has=page.get_by_role("heading", name="Платежи по способам"))
    ).to_contain_text("демонстрационные данные")
    expect(page.locator("[data-testid=stats-support]")).to_be_visible()
    expect(page.locator("[data-testid=stats-phone]")).to_be_visible()
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        problems.append(_overflow(page))
    problems.extend(_violations(axe, page))

    # The table as a CSV file: the same figures.
    with page.expect_download() as download:
        page.get_by_role("link", name="Скачать в CSV: readings_by_channel.csv").click()
    assert download.value.suggested_filename == f"readings_by_channel-{first}-{last}.csv"
    with open(download.value.path(), encoding="utf-8", newline="") as rows:
        table_rows = list(csv.reader(rows))
    assert table_rows[0] == ["channel", "readings"]
    assert {c: int(n) for c, n in table_rows[1:] if int(n)} == dict(given)
    assert {c for c, _n in table_rows[1:]} == set(Channel.values)

    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)
