"""Every page of the personal account fits a phone (390 × 844) and a laptop (1366 × 900): nothing
scrolls sideways; the header stays on one line on the laptop; on the phone the dashboard shows the
amount to pay and the month's readings without scrolling, and the history's chart opens on the
latest months. The reading form shows the consumption and the charge as the values are typed.

The demo customer's two accounts with two years of closed months, as in test_accessibility.py;
pages in Russian (the browser asks for ru-RU) and, for the longest words, in English.
"""

from __future__ import annotations

import itertools
import re

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import Page, expect

from meterdesk import seed
from meterdesk.customers.models import User
from meterdesk.metering.models import Reading, ReadingStatus
from tests.browser.steps import log_in

pytestmark = pytest.mark.browser

PASSWORD = "layout-demo-password-1"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}
SKIP = ("/logout/", "/i18n/", ".pdf", "/admin/", "/static/", "/api/", "/pdf/")

#: How far the page is wider than its window (0: nothing scrolls sideways), and the widest
#: element that sticks out, to say where.
OVERFLOW_JS = """() => {
  const root = document.documentElement;
  let widest = null, right = root.clientWidth;
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.right > right + 0.5 && !el.closest('.scroll, .chart-scroll')) {
      right = box.right;
      widest = el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().replace(/\\s+/g, '.') : '');
    }
  }
  return {over: root.scrollWidth - root.clientWidth, widest: widest};
}"""


def _overflow(page: Page) -> str:
    found = page.evaluate(OVERFLOW_JS)
    if found["over"] > 0:
        return f"{page.url} is {found['over']}px too wide (at {found['widest']})"
    return ""


def _duplicate_headings(page: Page) -> str:
    """The page's first- and second-level headings that say the same twice."""
    texts = page.eval_on_selector_all(
        "main h1, main h2",
        "hs => hs.map(h => h.textContent.replace(/\\s+/g, ' ').trim().toLowerCase())",
    )
    twice = sorted({t for t in texts if texts.count(t) > 1})
    return f"{page.url} repeats the heading {twice}" if twice else ""


def _links(page: Page, base: str) -> set[str]:
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    return {
        base + h.split("#")[0] for h in hrefs if h and h.startswith("/") and not any(s in h for s in SKIP)
    }


def _pages_of_the_account(page: Page, base: str) -> list[str]:
    """The dashboard, every page it links to, each account's latest statement and the payment
    pages (the ones reachable by following links, as a customer would)."""
    found = {base + "/cabinet/"} | _links(page, base)
    for url in sorted(u for u in found if u.endswith("/statements/") or "/payments/" in u):
        page.goto(url)
        months = sorted(u for u in _links(page, base) if re.search(r"/statements/\d{4}-\d{2}/$", u))
        found |= set(months[-1:])
        found |= {u for u in _links(page, base) if "/payments/" in u}
    return sorted(found)


@pytest.fixture
def demo(browser_page, live_server, settings):
    settings.METERDESK_PAYMENT_PROVIDER = "sandbox"
    seed.demo_load(PASSWORD, PASSWORD + "-admin")
    assert seed.demo_bill_history() > 0
    return browser_page, live_server.url


def test_no_page_scrolls_sideways_on_a_phone_or_a_laptop(demo):
    page, base = demo
    user = User.objects.get(email=seed.DEMO_EMAIL)
    reset = (
        f"{base}/password/reset/{urlsafe_base64_encode(force_bytes(user.pk))}/"
        f"{default_token_generator.make_token(user)}/"
    )
    public = [f"{base}{p}" for p in ("/login/", "/register/", "/password/reset/", "/password/reset/sent/")]
    public.append(reset)
    problems: list[str] = []
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        for url in public:
            page.goto(url)
            problems.append(_overflow(page))

    log_in(page, base, seed.DEMO_EMAIL, PASSWORD)
    pages = _pages_of_the_account(page, base)
    pages += [f"{base}/password/change/", f"{base}/password/change/done/"]
    assert any(u.endswith("/readings/new/") for u in pages), pages
    assert any("/payments/" in u and u.endswith("/pay/") for u in pages), pages
    assert any(re.search(r"/statements/\d{4}-\d{2}/$", u) for u in pages), pages

    # The reading form with an error, and the confirmation of an accepted reading.
    form = next(u for u in pages if u.endswith("/readings/new/"))
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        for url in pages:
            page.goto(url)
            problems.append(_overflow(page))
            problems.append(_duplicate_headings(page))
        page.goto(form)
        fields = page.locator("main input[name^='t']")
        for i in range(fields.count()):
            fields.nth(i).fill("1")
        page.locator('main form button[type="submit"]').click()
        expect(page.locator("#error-summary")).to_be_visible()
        problems.append(_overflow(page))

    meter_id = int(re.findall(r"/meters/(\d+)/", form)[0])
    last = Reading.objects.filter(meter_id=meter_id, status=ReadingStatus.ACCEPTED).latest("period", "id")
    page.goto(form)
    fields = page.locator("main input[name^='t']")
    for i, value in enumerate(last.values):
        fields.nth(i).fill(str(int(value) + 5))
    page.locator('main form button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/readings/\d{12}/$"))
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        page.reload()
        problems.append(_overflow(page))
        # The amount column is on the screen, not scrolled off it.
        total = page.get_by_test_id("total").bounding_box()
        assert total is not None and total["x"] + total["width"] <= size["width"], total

    # A card payment: the sandbox bank's page, then the result of a card the bank declines.
    page.goto(next(u for u in pages if "/payments/" in u and u.endswith("/pay/")))
    page.get_by_test_id("pay-submit").click()
    expect(page).to_have_url(re.compile(r"/payments/sandbox/sbx-[0-9a-f]{24}/$"))
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        problems.append(_overflow(page))
    for name, value in (
        ("number", "4000 0000 0000 9995"),
        ("expiry", "12/39"),
        ("cvc", "123"),
        ("holder", "ANNA"),
    ):
        page.locator(f"main input[name='{name}']").fill(value)
    page.get_by_test_id("sandbox-pay").click()
    expect(page.get_by_test_id("payment-state")).to_have_attribute("data-state", "cancelled")
    expect(page.get_by_test_id("payment-state")).to_contain_text("Отклонено")
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        problems.append(_overflow(page))

    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)


def test_the_header_stays_on_one_line_on_a_laptop(demo):
    page, base = demo
    page.set_viewport_size(LAPTOP)
    log_in(page, base, seed.DEMO_EMAIL, PASSWORD)
    for language in ("ru", "en"):
        if language == "en":
            page.locator('form.lang button[value="en"]').click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
        tops = page.eval_on_selector_all(
            ".header-row > *, .header-row .nav > li",
            "items => items.map(i => Math.round(i.getBoundingClientRect().top + i.getBoundingClientRect().height / 2))",
        )
        assert len(tops) >= 4
        assert max(tops) - min(tops) <= 4, (language, tops)


def test_a_phone_shows_the_amount_due_and_the_readings_first(demo):
    page, base = demo
    page.set_viewport_size(PHONE)
    log_in(page, base, seed.DEMO_EMAIL, PASSWORD)
    number = seed.DEMO_FLAT[0]
    card = page.locator(f'section[aria-labelledby="acc-{number}"]')
    for what in ("balance", "pay", "readings-state", "window-dates", "submit-readings"):
        box = card.get_by_test_id(what).first.bounding_box()
        assert box is not None, what
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], (what, box)


def test_the_history_chart_opens_on_the_latest_months(demo):
    page, base = demo
    page.set_viewport_size(PHONE)
    log_in(page, base, seed.DEMO_EMAIL, PASSWORD)
    page.goto(f"{base}/accounts/{seed.DEMO_FLAT[0]}/history/")
    for box in page.locator(".chart-scroll").all():
        assert box.evaluate("b => b.scrollWidth > b.clientWidth"), "the chart fits: nothing to check"
        frame = box.bounding_box()
        last = box.locator("rect").last.bounding_box()
        assert frame is not None and last is not None
        assert frame["x"] <= last["x"] and last["x"] + last["width"] <= frame["x"] + frame["width"], (
            frame,
            last,
        )
        # Its labels do not overlap, as drawn by the browser.
        boxes = box.locator("text.tick[text-anchor='middle']").evaluate_all(
            "ts => ts.map(t => { const b = t.getBBox(); return [b.x, b.y, b.width]; })"
        )
        rows: dict[float, list[tuple[float, float]]] = {}
        for x, y, width in boxes:
            rows.setdefault(round(y), []).append((x, x + width))
        for spans in rows.values():
            spans.sort()
            for (_a, right), (left, _b) in itertools.pairwise(spans):
                assert right <= left, spans


def test_the_form_shows_the_consumption_and_the_charge_as_the_values_are_typed(demo):
    page, base = demo
    log_in(page, base, seed.DEMO_EMAIL, PASSWORD)
    page.locator("a[data-testid='submit-readings']").first.click()
    expect(page).to_have_url(re.compile(r"/meters/\d+/readings/new/$"))
    meter_id = int(re.findall(r"/meters/(\d+)/", page.url)[0])
    last = Reading.objects.filter(meter_id=meter_id, status=ReadingStatus.ACCEPTED).latest("period", "id")
    fields = page.locator("main input[name^='t']")
    expect(page.locator(".previous").first).to_contain_text(str(int(last.values[0])))
    preview = page.get_by_test_id("preview")
    expect(preview).to_be_hidden()
    for i, value in enumerate(last.values):
        fields.nth(i).press_sequentially(str(int(value) + 10))
    expect(preview).to_be_visible()
    expect(preview).to_contain_text("₽")
    expect(page.locator(".consumption[data-zone='1']")).to_contain_text("10 кВт·ч")
    # Nothing was stored by typing.
    assert (
        Reading.objects.filter(meter_id=meter_id, status=ReadingStatus.ACCEPTED).latest("period", "id")
        == last
    )
