"""Paying the debt by card in a real browser: log in, pay part of the debt with a sandbox test card,
see the balance drop, open the payment history and download the receipt PDF.

Pages are in Russian (the browser asks for ru-RU): things are found by ids, hrefs and data-testid,
numbers checked in the Russian format ("234,56").
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.payments.models import Payment, PaymentStatus
from meterdesk.testing import PASSWORD, MeterFactory, UserFactory, link
from tests.browser.steps import log_in

pytestmark = pytest.mark.browser

EMAIL = "olga.pays@example.com"


def test_pay_the_debt_by_card_and_download_the_receipt(browser_page, live_server, settings):
    settings.METERDESK_PAYMENT_PROVIDER = "sandbox"
    account = MeterFactory(zones=2).account
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
    base = live_server.url

    # Log in.
    log_in(page, base, EMAIL, PASSWORD)
    card = page.locator(f'section[aria-labelledby="acc-{account.number}"]')
    expect(card.get_by_test_id("balance")).to_contain_text(re.compile(r"1[\s\u00a0]?234,56"))

    # Pay: the form is pre-filled with the debt; pay 1000 of it.
    card.get_by_test_id("pay").click()
    expect(page).to_have_url(f"{base}/payments/accounts/{account.number}/pay/")
    amount = page.locator("#id_amount")
    expect(amount).to_have_value("1234,56")
    amount.fill("1000")
    page.get_by_test_id("pay-submit").click()

    # The sandbox's test page: obviously a test, with its test cards listed.
    expect(page).to_have_url(re.compile(re.escape(f"{base}/payments/sandbox/") + r"sbx-[0-9a-f]{24}/$"))
    expect(page.get_by_test_id("sandbox-banner")).to_be_visible()
    expect(page.get_by_test_id("test-cards")).to_contain_text("4242 4242 4242 4242")
    expect(page.get_by_test_id("sandbox-amount")).to_contain_text(re.compile(r"1[\s\u00a0]?000,00"))
    # A mistyped number is refused by the form first.
    page.locator("#id_number").fill("4242 4242 4242 4241")
    page.locator("#id_expiry").fill("12/39")
    page.locator("#id_cvc").fill("123")
    page.locator("#id_holder").fill("OLGA IVANOVA")
    page.get_by_test_id("sandbox-pay").click()
    expect(page.locator("#error-summary")).to_be_visible()
    page.locator("#id_number").fill("4242 4242 4242 4242")
    page.locator("#id_cvc").fill("123")
    page.get_by_test_id("sandbox-pay").click()

    # Back on meterdesk: paid, and the balance dropped.
    payment = Payment.objects.get(account=account)
    expect(page).to_have_url(f"{base}/payments/{payment.pk}/")
    expect(page.get_by_test_id("payment-state")).to_have_attribute("data-state", "paid")
    expect(page.get_by_test_id("balance")).to_contain_text("234,56")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert account_balance(account) == Decimal("234.56")
    page.goto(f"{base}/cabinet/")
    expect(card.get_by_test_id("balance")).to_contain_text("234,56")
    expect(card.get_by_test_id("balance")).not_to_contain_text("1 234")

    # The payment history, with the receipt of the payment.
    card.get_by_test_id("payment-history").click()
    expect(page).to_have_url(f"{base}/payments/accounts/{account.number}/history/")
    entry = LedgerEntry.objects.get(account=account, kind=EntryKind.PAYMENT)
    row = page.locator(f'tr[data-entry="{entry.pk}"]')
    expect(row).to_contain_text(re.compile(r"1[\s\u00a0]?000,00"))
    receipt = row.locator(f'a[href="/documents/receipts/{entry.pk}.pdf"]')
    expect(receipt).to_be_visible()
    # Download it with the browser's own session.
    response = page.request.get(f"{base}/documents/receipts/{entry.pk}.pdf")
    assert response.status == 200, f"the receipt answered {response.status}"
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.body().startswith(b"%PDF")
