"""Support end to end, in a real Chromium: a customer writes with a photo of the meter, support
answers from the back office's queue (with a canned answer inserted), and the customer sees the
answer in the personal account. Every page passes axe-core and scrolls sideways neither on a phone
(390 px) nor on a laptop (1366 px)."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.apps import apps
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from meterdesk.backoffice.roles import SUPPORT, group_name, roles_sync
from meterdesk.support.models import Attachment, Thread
from meterdesk.support.tests.conftest import photo
from meterdesk.testing import PASSWORD, MeterFactory, UserFactory, link, make_tariff
from tests.browser.steps import log_in
from tests.browser.test_accessibility import _violations
from tests.browser.test_layout import LAPTOP, PHONE, _overflow

pytestmark = pytest.mark.browser

STAFF_PASSWORD = "office-support-password-1"


@pytest.fixture
def world(browser_page, live_server, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.METERDESK_READING_WINDOW = "1-31"
    roles_sync(apps)  # the migration's groups (a transactional test's flush removes them)
    apps.get_model("support", "CannedAnswer").objects.create(
        title="Начисление по среднему",
        topic="readings",
        text_ru="Если показания не переданы, начисление делается по среднему.",
        text_en="When no readings are given, the month is charged by the average.",
    )
    sofia = UserFactory(email="sofia@office.example.com", is_staff=True, full_name="Софья Поддержкина")
    sofia.set_password(STAFF_PASSWORD)
    sofia.save()
    sofia.groups.add(Group.objects.get(name=group_name(SUPPORT)))
    customer = UserFactory(email="maria.ivanova@example.com", full_name="Мария Иванова")
    meter = MeterFactory(
        zones=2, account__number="1000000042", account__address="г. Москва, ул. Ленина, д. 5, кв. 12"
    )
    link(customer, meter.account)
    make_tariff(prices=("9.45", "4.08"))
    return browser_page, live_server.url, customer, sofia


def _check(page: Page, axe: Axe, problems: list[str]) -> None:
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        problems.append(_overflow(page))
    problems.extend(_violations(axe, page))


def test_a_question_with_a_photo_is_answered(world):
    page, base, customer, sofia = world
    axe = Axe()
    problems: list[str] = []

    # The customer writes from the personal account, with a photo of the meter.
    log_in(page, base, customer.email, PASSWORD)
    page.get_by_test_id("support-link").click()
    expect(page.locator("h1")).to_have_text("Поддержка")
    _check(page, axe, problems)
    page.get_by_role("link", name="Написать в поддержку").click()
    _check(page, axe, problems)
    page.get_by_label("Тема").select_option("readings")
    page.get_by_label("Ваш вопрос").fill("Почему счёт по среднему? Фото счётчика прилагаю.")
    page.get_by_label("Вложения").set_input_files(
        {"name": "meter.jpg", "mimeType": "image/jpeg", "buffer": photo(size=(800, 600))}
    )
    page.get_by_role("button", name="Отправить").click()
    thread = Thread.objects.get()
    expect(page).to_have_url(f"{base}/support/{thread.pk}/")
    expect(page.get_by_test_id("thread")).to_contain_text("Фото счётчика прилагаю")
    expect(page.get_by_role("link", name="meter.jpg")).to_be_visible()
    assert Attachment.objects.get().content_type == "image/jpeg"
    _check(page, axe, problems)

    # Support finds it in the queue, sees the photo, inserts a canned answer and sends it.
    page.context.clear_cookies()
    page.goto(f"{base}/office/login/")
    page.locator("#id_username").fill(sofia.email)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.locator('main form button[type="submit"]').click()
    page.get_by_role("link", name="Поддержка").click()
    expect(page.get_by_test_id("support-queue")).to_contain_text("1000000042")
    _check(page, axe, problems)
    page.get_by_role("link", name=re.compile(rf"№\s{thread.pk}")).click()
    expect(page.get_by_test_id("staff-thread")).to_contain_text("Фото счётчика прилагаю")
    with page.expect_response(re.compile(r"/office/support/files/\d+/")) as served:
        page.evaluate("url => fetch(url)", page.get_by_role("link", name="meter.jpg").get_attribute("href"))
    assert served.value.status == 200
    _check(page, axe, problems)
    page.get_by_label("Шаблон ответа").select_option(label="Начисление по среднему")
    page.get_by_role("button", name="Вставить").click()
    expect(page.get_by_label("Ответ клиенту")).to_have_value(re.compile("по среднему"))
    page.get_by_label("Ответ клиенту").press("End")
    page.get_by_label("Ответ клиенту").type(" Пересчитаем по фото.")
    page.get_by_role("button", name="Отправить ответ").click()
    expect(page.get_by_test_id("thread-status")).to_have_text("ждёт ответа клиента")
    _check(page, axe, problems)

    # The customer sees the answer in the personal account.
    page.context.clear_cookies()
    log_in(page, base, customer.email, PASSWORD)
    page.goto(f"{base}/support/")
    expect(page.get_by_test_id("support-threads")).to_contain_text("есть ответ")
    page.get_by_role("link", name=re.compile(rf"№\s{thread.pk}")).click()
    expect(page.get_by_test_id("message-answer")).to_contain_text("Пересчитаем по фото.")
    _check(page, axe, problems)

    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)
