"""Paying by SBP and autopayment in a real browser, on a phone's screen (390 × 844): pay part of the
debt by SBP — the QR code on the page holds the link that "the bank's app" of the sandbox opens;
confirming there moves the page on to "paid" by itself — then save a card for autopayment, stop it
with one click on the dashboard and turn it on again with the saved card.

Pages are in Russian (the browser asks for ru-RU): things are found by ids, names and data-testid.
"""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
import zxingcpp
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import Page, expect

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.payments.models import Autopay, Payment, PaymentStatus
from meterdesk.testing import PASSWORD, MeterFactory, UserFactory, link
from tests.browser.steps import log_in

pytestmark = pytest.mark.browser

EMAIL = "irina.sbp@example.com"
PHONE = {"width": 390, "height": 844}


def _fits(page: Page) -> None:
    """Nothing on the page scrolls sideways, and axe-core finds nothing."""
    over = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert over <= 0, f"{page.url} is {over}px too wide at 390 px"
    violations = Axe().run(page).response["violations"]
    assert not violations, [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in violations]


def _qr_text(page: Page) -> str:
    png = page.get_by_test_id("sbp-qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert found, "the QR code on the page does not decode"
    return found[0].text


def test_pay_by_sbp_then_autopayment_on_off_and_on(browser_page, live_server, settings):
    settings.METERDESK_PAYMENT_PROVIDER = "sandbox"
    account = MeterFactory(zones=1).account
    user = UserFactory(email=EMAIL)
    link(user, account)
    LedgerEntry.objects.create(
        account=account,
        period=date(2026, 10, 1),
        posted_on=date(2026, 10, 1),
        kind=EntryKind.CHARGE,
        basis="actual",
        amount=Decimal("1234.56"),
    )
    page = browser_page
    page.set_viewport_size(PHONE)
    base = live_server.url
    log_in(page, base, EMAIL, PASSWORD)
    tile = page.locator(f'section[aria-labelledby="acc-{account.number}"]')

    # Pay 1000 by SBP.
    tile.get_by_test_id("pay").click()
    expect(page).to_have_url(f"{base}/payments/accounts/{account.number}/pay/")
    _fits(page)
    page.locator("#id_amount").fill("1000")
    page.locator('input[name="method"][value="sbp"]').check()
    page.get_by_test_id("pay-submit").click()
    payment = Payment.objects.get(account=account)
    expect(page).to_have_url(f"{base}/payments/{payment.pk}/sbp/")
    expect(page.get_by_test_id("sbp-amount")).to_contain_text(re.compile(r"1[\s\u00a0]?000,00"))
    link_href = page.get_by_test_id("sbp-link").get_attribute("href")
    assert link_href == f"{base}/payments/sandbox/{payment.provider_payment_id}/sbp/"
    assert _qr_text(page) == link_href  # the QR code and the link are the same payment
    _fits(page)

    # "The phone": the bank's app opens the link; the payment is confirmed there.
    phone = page.context.new_page()
    phone.set_viewport_size(PHONE)
    phone.goto(link_href)
    expect(phone.get_by_test_id("sandbox-banner")).to_be_visible()
    _fits(phone)
    phone.get_by_test_id("sandbox-sbp-pay").click()
    expect(phone.get_by_test_id("sandbox-sbp-done")).to_have_attribute("data-status", "succeeded")
    phone.close()

    # The page on the computer notices by itself and shows the result.
    expect(page).to_have_url(f"{base}/payments/{payment.pk}/", timeout=20_000)
    expect(page.get_by_test_id("payment-state")).to_have_attribute("data-state", "paid")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.method == "sbp"
    assert account_balance(account) == Decimal("234.56")

    # Autopayment: off; pay 10 by a new card with "save the card" ticked.
    page.goto(f"{base}/cabinet/")
    expect(tile.get_by_test_id("autopay-state")).to_have_attribute("data-state", "off")
    tile.get_by_test_id("autopay-state").click()
    expect(page).to_have_url(f"{base}/payments/accounts/{account.number}/autopay/")
    _fits(page)
    page.get_by_test_id("autopay-new-card").click()
    expect(page.get_by_test_id("autopay-consent")).to_be_checked()
    page.locator("#id_amount").fill("10")
    page.get_by_test_id("pay-submit").click()
    expect(page).to_have_url(re.compile(re.escape(f"{base}/payments/sandbox/") + r"sbx-[0-9a-f]{24}/$"))
    page.locator("#id_number").fill("4242 4242 4242 4242")
    page.locator("#id_expiry").fill("12/39")
    page.locator("#id_cvc").fill("123")
    page.locator("#id_holder").fill("IRINA SMIRNOVA")
    page.get_by_test_id("sandbox-pay").click()
    expect(page.get_by_test_id("payment-state")).to_have_attribute("data-state", "paid")
    expect(page.get_by_test_id("autopay-saved")).to_contain_text("*4242")
    autopay = Autopay.objects.get(account=account)
    assert autopay.active and autopay.card.masked == "Visa *4242" and autopay.consent_text

    # Stop it with one click beside the account.
    page.goto(f"{base}/cabinet/")
    expect(tile.get_by_test_id("autopay-state")).to_have_attribute("data-state", "on")
    tile.get_by_test_id("autopay-stop").click()
    expect(page).to_have_url(f"{base}/cabinet/")
    expect(tile.get_by_test_id("autopay-state")).to_have_attribute("data-state", "off")
    autopay.refresh_from_db()
    assert not autopay.active

    # On again with the saved card: the consent box must be ticked.
    tile.get_by_test_id("autopay-state").click()
    page.get_by_test_id("autopay-on").click()
    expect(page.locator("#error-summary")).to_be_visible()
    page.locator("#id_consent").check()
    page.get_by_test_id("autopay-on").click()
    expect(page.get_by_test_id("autopay-page-state")).to_have_attribute("data-state", "on")
    _fits(page)
    assert Autopay.objects.filter(account=account, stopped_at__isnull=True).count() == 1
