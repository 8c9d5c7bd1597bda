"""The inspector's day on a phone (390×844), in a real Chromium: log in, open today's route, enter a
control reading with a photo of the meter; then, with the phone offline, store another visit: it
is kept on the phone and sent once the connection is back, and stored exactly once."""

from __future__ import annotations

import io
import re
from datetime import time

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from PIL import Image
from playwright.sync_api import expect

from meterdesk.backoffice.roles import INSPECTOR, group_name, roles_sync
from meterdesk.inspections.models import Inspection, Reason, Status
from meterdesk.metering.models import Channel, Reading, ReadingKind
from meterdesk.testing import MeterFactory, UserFactory, make_tariff
from meterdesk.utility.selectors import utility_now
from tests.browser.test_layout import PHONE, _overflow

pytestmark = pytest.mark.browser

PASSWORD = "office-inspector-password-1"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def route(browser_page, live_server, settings):
    roles_sync(apps)  # the migration's groups (a transactional test's flush removes them)
    inspector = UserFactory(email="inspector@office.example.com", is_staff=True, full_name="Иван Проверкин")
    inspector.set_password(PASSWORD)
    inspector.save()
    inspector.groups.add(Group.objects.get(name=group_name(INSPECTOR)))
    today = utility_now().date()
    visits = []
    for n, (serial, address) in enumerate(
        [
            ("SN-77123", "г. Москва, ул. Ленина, д. 5, кв. 12"),
            ("SN-77124", "г. Москва, ул. Ленина, д. 5, кв. 13"),
        ]
    ):
        meter = MeterFactory(
            zones=2, serial=serial, account__number=f"100000004{n + 2}", account__address=address
        )
        visits.append(
            Inspection.objects.create(
                meter=meter,
                planned_on=today,
                hours_from=time(9),
                hours_to=time(13),
                reason=Reason.ANNUAL,
                inspector=inspector,
                status=Status.NOTIFIED,
                route_order=n + 1,
            )
        )
    make_tariff(prices=("9.45", "4.08"))
    return browser_page, live_server.url, inspector, visits


def _fill(page, t1: str, t2: str) -> None:
    page.locator("#id_t1").fill(t1)
    page.locator("#id_t2").fill(t2)
    page.locator("#id_condition").select_option("ok")
    page.locator("#id_seals").fill("П-000123")


def _controls(meter) -> int:
    return Reading.objects.filter(meter=meter, kind=ReadingKind.CONTROL, channel=Channel.INSPECTOR).count()


def test_the_inspectors_day_on_a_phone(route):
    page, base, inspector, (first, second) = route
    page.set_viewport_size(PHONE)
    problems: list[str] = []

    page.goto(f"{base}/office/inspections/route/")
    page.locator("#id_username").fill(inspector.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator('main form button[type="submit"]').click()
    page.goto(f"{base}/office/inspections/route/")
    expect(page.locator("h1")).to_contain_text("Маршрут на сегодня")
    expect(page.locator("[data-testid=route] li")).to_have_count(2)
    problems.append(_overflow(page))

    # The first visit: a control reading with a photo.
    page.locator("[data-testid=route] li").nth(0).get_by_role("link", name="Посещение").click()
    expect(page).to_have_url(re.compile(rf"/office/inspections/{first.pk}/visit/$"))
    problems.append(_overflow(page))
    _fill(page, "1200", "600")
    page.locator("#id_photo").set_input_files(
        files=[{"name": "meter.png", "mimeType": "image/png", "buffer": _png()}]
    )
    page.get_by_role("button", name="Сохранить посещение").click()
    expect(page).to_have_url(f"{base}/office/inspections/route/")
    expect(page.locator(".messages")).to_contain_text("Посещение сохранено")
    first.refresh_from_db()
    assert first.status == Status.DONE and first.photo and first.reading.values == (1200, 600)

    # The second, with the phone offline: kept on the phone, nothing stored yet.
    page.locator("[data-testid=route] li").nth(1).get_by_role("link", name="Посещение").click()
    expect(page).to_have_url(re.compile(rf"/office/inspections/{second.pk}/visit/$"))
    _fill(page, "1300", "650")
    page.context.set_offline(True)
    page.get_by_role("button", name="Сохранить посещение").click()
    expect(page.locator("#outbox")).to_contain_text("Посещения сохранены в телефоне")
    expect(page.locator("#outbox")).to_contain_text("SN-77124")
    assert _controls(second.meter) == 0

    # Back online: sent by itself, stored once.
    page.context.set_offline(False)
    expect(page.locator("#outbox")).to_contain_text("Отправлено:")
    second.refresh_from_db()
    assert second.status == Status.DONE and _controls(second.meter) == 1
    assert page.evaluate("window.localStorage.getItem('meterdesk.visits')") == "[]"
    # Opening the route again sends nothing more.
    page.goto(f"{base}/office/inspections/route/")
    expect(page.locator("[data-testid=route] li").nth(1)).to_contain_text("1300 / 650")
    assert _controls(second.meter) == 1 and _controls(first.meter) == 1
    assert [p for p in problems if p] == []
