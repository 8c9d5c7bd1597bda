"""Every page of the personal account passes axe-core's accessibility rules, in Russian and English.

axe-core (Deque's engine, the one browsers' own audits use; bundled by axe-playwright-python, see
docs/adr/0012) runs in the real Chromium on each page as a customer sees it: the demo customer's
two accounts with two years of closed months, the pages reachable from the dashboard, a month's
statement, the reading form with an error and after an accepted reading, the payment form and the
sandbox bank's card page. Any violation of any impact fails the test, with what and where.

Not audited: the Django admin (the back office's own framework pages) and the API's interactive
documentation (Swagger UI's rendering, not meterdesk's pages).
"""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from meterdesk import seed
from meterdesk.metering.models import Reading, ReadingStatus
from tests.browser.steps import log_in

pytestmark = pytest.mark.browser

PASSWORD = "a11y-demo-password-1"
SKIP = ("/logout/", "/i18n/", ".pdf", "/admin/", "/static/", "/api/")


def _violations(axe: Axe, page: Page) -> list[str]:
    """axe-core's findings on the page as it is now, one line each: rule, impact, where, why."""
    found = axe.run(page).response["violations"]
    return [
        f"{page.url}: {v['id']} ({v['impact']}) at {node['target']}: {v['help']}"
        for v in found
        for node in v["nodes"]
    ]


def _same_site_links(page: Page, base: str) -> set[str]:
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    paths = {h for h in hrefs if h and h.startswith("/") and not any(s in h for s in SKIP)}
    return {base + p.split("#")[0] for p in paths}


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_personal_account_pages_pass_axe(browser_page, live_server, language):
    seed.demo_load(PASSWORD, PASSWORD + "-admin")
    assert seed.demo_bill_history() > 0
    page, base, axe = browser_page, live_server.url, Axe()
    found: list[str] = []
    seen: set[str] = set()

    def audit(label: str) -> None:
        seen.add(page.url)
        found.extend(f"[{language}, {label}] {line}" for line in _violations(axe, page))

    for path in ("/login/", "/register/", "/password/reset/"):
        page.goto(base + path)
        audit(path)
    if language == "en":
        page.goto(base + "/login/")
        page.locator('form.lang button[value="en"]').click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        audit("/login/ in English")

    log_in(page, base, seed.DEMO_EMAIL, PASSWORD)
    expect(page.locator("html")).to_have_attribute("lang", language)
    audit("dashboard")

    # Every page the dashboard links to, and a month's statement from each statements page.
    to_visit = sorted(_same_site_links(page, base) - seen)
    statements = [u for u in to_visit if u.endswith("/statements/")]
    assert len(statements) == 2, to_visit  # the demo's two accounts
    for url in to_visit:
        page.goto(url)
        audit(url.removeprefix(base))
    for url in statements:
        page.goto(url)
        months = sorted(u for u in _same_site_links(page, base) if re.search(r"/statements/\d{4}-\d{2}/$", u))
        assert months, f"no month on {url}"
        page.goto(months[-1])
        audit("a month's statement")

    # The reading form with an error, then an accepted reading and its confirmation page.
    form = next(u for u in to_visit if u.endswith("/readings/new/"))
    page.goto(form)
    fields = page.locator("main input[name^='t']")
    for i in range(fields.count()):
        fields.nth(i).fill("1")
    page.locator('main form button[type="submit"]').click()
    expect(page.locator("main [role=alert], main .errorlist").first).to_be_visible()
    audit("reading form with errors")
    meter_id = int(re.findall(r"/meters/(\d+)/", form)[0])
    last = Reading.objects.filter(meter_id=meter_id, status=ReadingStatus.ACCEPTED).latest("period", "id")
    for i, value in enumerate(last.values):
        fields.nth(i).fill(str(int(value) + 5))
    page.locator('main form button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/readings/\d{12}/$"))
    audit("reading accepted")

    # The payment form, then the sandbox bank's card page it leads to.
    pay = next(u for u in to_visit if u.endswith("/pay/"))
    page.goto(pay)
    page.get_by_test_id("pay-submit").click()
    expect(page).to_have_url(re.compile(r"/payments/sandbox/sbx-[0-9a-f]{24}/$"))
    audit("sandbox card page")

    assert len(seen) >= 15, sorted(seen)
    assert not found, "\n".join(found)
