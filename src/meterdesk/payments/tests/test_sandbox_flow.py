"""The card payment from the personal account, end to end with the sandbox provider, through the
Django test client: the Pay form, the sandbox's test page, its notification, the result page, the
history."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.payments.models import EventKind, Payment, PaymentEvent, PaymentStatus, SandboxPayment
from meterdesk.payments.services import payments_reconcile
from meterdesk.payments.tests.conftest import charge, in_language
from meterdesk.testing import MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db

KEY = "0b7c5a8e-2f41-4d55-9d1e-1f6a3c9e7b21"
CARD = {"number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123", "holder": "ANNA PETROVA"}


def _pay_url(account) -> str:
    return f"/payments/accounts/{account.number}/pay/"


def _start(web, account, amount: str = "1234,56", key: str = KEY):
    return web.post(_pay_url(account), {"amount": amount, "key": key})


def _sandbox_path(response) -> str:
    assert response.status_code == 302, response.content.decode()[:500]
    url = response["Location"]
    match = re.search(r"/payments/sandbox/sbx-[0-9a-f]{24}/$", url)
    assert match, url
    return match.group(0)


def test_the_dashboard_has_pay_and_history_links(web, debtor):
    account = debtor[1]
    page = web.get("/cabinet/").content.decode()
    assert f'href="/payments/accounts/{account.number}/pay/"' in page
    assert f'href="/payments/accounts/{account.number}/history/"' in page


def test_the_form_is_prefilled_with_the_debt_and_has_a_key(web, debtor):
    page = web.get(_pay_url(debtor[1])).content.decode()
    assert 'value="1234,56"' in page
    assert re.search(r'name="key" value="[0-9a-f-]{36}"', page)


@pytest.mark.parametrize(
    ("amount", "code"),
    [("0,99", "too_small"), ("1,005", "kopecks"), ("500000,01", "too_large"), ("сто", "invalid"), ("", "")],
)
def test_amounts_out_of_bounds_are_refused_with_a_clear_error(web, debtor, amount, code):
    response = _start(web, debtor[1], amount)
    assert response.status_code == 422
    assert "amount" in response.context["form"].errors
    if code:
        assert response.context["form"].errors.as_data()["amount"][0].code == code
    assert Payment.objects.count() == 0


def test_amounts_in_the_russian_way_are_accepted(web, debtor):
    response = _start(web, debtor[1], "1\u00a0000,5")
    _sandbox_path(response)
    assert Payment.objects.get().amount == Decimal("1000.50")


def test_pay_with_a_test_card_records_the_payment_once(web, debtor):
    account = debtor[1]
    sandbox = _sandbox_path(_start(web, account))
    page = web.get(sandbox)
    text = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="sandbox-banner"' in text  # obviously a test page
    assert "4242 4242 4242 4242" in text and "4000 0000 0000 9995" in text  # the test cards are listed

    paid = web.post(sandbox, {**CARD, "action": "pay"})
    payment = Payment.objects.get()
    assert paid.status_code == 302
    assert paid["Location"].endswith(f"/payments/{payment.pk}/")

    entries = LedgerEntry.objects.filter(account=account, kind=EntryKind.PAYMENT)
    assert entries.count() == 1
    entry = entries.get()
    assert entry.amount == Decimal("-1234.56")
    assert entry.external_id == f"card:sandbox:{payment.provider_payment_id}"
    assert account_balance(account) == Decimal("0.00")
    assert payment.status == PaymentStatus.SUCCEEDED and payment.entry == entry
    # The sandbox notified through the notification handler, which fetched the payment back.
    notification = PaymentEvent.objects.get(kind=EventKind.NOTIFICATION)
    assert notification.event == "payment.succeeded" and notification.outcome == "recorded"

    result = web.get(paid["Location"])
    assert result.context["state"] == "paid"
    assert f'href="/documents/receipts/{entry.pk}.pdf"' in result.content.decode()

    # The page again, the sandbox page again, a second "Pay" on it: nothing more is recorded.
    web.get(paid["Location"])
    again = web.post(sandbox, {**CARD, "action": "pay"})
    assert again.status_code == 200 and again.context["decided"]
    assert entries.count() == 1


def test_a_double_click_or_resubmitted_form_gives_one_provider_payment(web, debtor):
    account = debtor[1]
    first = _sandbox_path(_start(web, account))
    second = _sandbox_path(_start(web, account))
    assert first == second
    assert Payment.objects.count() == 1 and SandboxPayment.objects.count() == 1
    web.post(first, {**CARD, "action": "pay"})
    # The form resubmitted after the payment: back to its result, not a second payment.
    third = _start(web, account)
    assert third.status_code == 302 and third["Location"].endswith(f"/payments/{Payment.objects.get().pk}/")
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 1


def test_the_same_form_with_another_amount_gets_a_fresh_key(web, debtor):
    account = debtor[1]
    _sandbox_path(_start(web, account))
    response = _start(web, account, "100")
    assert response.status_code == 409
    assert response.context["form"].non_field_errors()
    assert response.context["form"].data["key"] != KEY
    assert Payment.objects.count() == 1


def test_invalid_luhn_is_refused_by_the_form(web, debtor):
    sandbox = _sandbox_path(_start(web, debtor[1]))
    response = web.post(sandbox, {**CARD, "number": "4242 4242 4242 4241", "action": "pay"})
    assert response.status_code == 422
    assert response.context["form"].errors.as_data()["number"][0].code == "luhn"
    assert SandboxPayment.objects.get().status == "pending"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("expiry", "01/20", "expired"),
        ("expiry", "13/30", "invalid"),
        ("cvc", "12", "invalid"),
        ("holder", "Анна", "invalid"),
        ("number", "3782 822463 10005", "scheme"),
    ],
)
def test_the_card_form_checks_each_field(web, debtor, field, value, code):
    sandbox = _sandbox_path(_start(web, debtor[1]))
    response = web.post(sandbox, {**CARD, field: value, "action": "pay"})
    assert response.status_code == 422
    assert response.context["form"].errors.as_data()[field][0].code == code


def test_insufficient_funds_is_cancelled_and_nothing_is_recorded(web, debtor):
    account = debtor[1]
    sandbox = _sandbox_path(_start(web, account))
    back = web.post(sandbox, {**CARD, "number": "4000 0000 0000 9995", "action": "pay"})
    page = web.get(back["Location"])
    assert page.context["state"] == "cancelled"
    assert Payment.objects.get().cancellation_reason == "insufficient_funds"
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()
    assert account_balance(account) == Decimal("1234.56")


def test_the_sandbox_page_is_gone_when_a_real_provider_is_configured(web, debtor, settings):
    sandbox = _sandbox_path(_start(web, debtor[1]))
    settings.METERDESK_PAYMENT_PROVIDER = "yookassa"
    assert web.get(sandbox).status_code == 404
    assert web.post(sandbox, {**CARD, "action": "pay"}).status_code == 404
    assert SandboxPayment.objects.get().status == "pending"
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()


def test_cancel_on_the_sandbox_page(web, debtor):
    sandbox = _sandbox_path(_start(web, debtor[1]))
    back = web.post(sandbox, {"action": "cancel"})
    assert web.get(back["Location"]).context["state"] == "cancelled"
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()


def test_a_late_bank_waits_then_reconcile_records_it_once(web, debtor, settings):
    account = debtor[1]
    sandbox = _sandbox_path(_start(web, account))
    back = web.post(sandbox, {**CARD, "number": "4000 0000 0000 0069", "action": "pay"})
    assert web.get(back["Location"]).context["state"] == "waiting"
    assert reconcile_now().waiting == 1
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()
    # The bank answers (its answer is due now); the customer has closed the page long ago.
    SandboxPayment.objects.update(bank_due_at=timezone.now() - timedelta(seconds=1))
    summary = reconcile_now()
    assert (summary.paid, summary.recorded) == (1, 1)
    assert reconcile_now().checked == 0  # nothing open any more
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 1
    assert web.get(back["Location"]).context["state"] == "paid"


def reconcile_now():
    return payments_reconcile()


def test_overpayment_stays_as_credit_and_partial_reduces_the_debt(web, debtor):
    account = debtor[1]
    sandbox = _sandbox_path(_start(web, account, "234,56"))
    web.post(sandbox, {**CARD, "action": "pay"})
    in_language(web, "en")
    history = web.get(f"/payments/accounts/{account.number}/history/")
    assert account_balance(account) == Decimal("1000.00")
    assert history.context["balance_text"].startswith("You owe")
    assert "1,000.00" in history.context["balance_text"]

    sandbox = _sandbox_path(_start(web, account, "1500", key="c0ffee00-2f41-4d55-9d1e-1f6a3c9e7b21"))
    web.post(sandbox, {**CARD, "number": "2200 0000 0000 0004", "action": "pay"})
    assert account_balance(account) == Decimal("-500.00")
    in_language(web, "en")
    history = web.get(f"/payments/accounts/{account.number}/history/")
    text = history.content.decode()
    assert "Credit" in history.context["balance_text"] and "owe" not in history.context["balance_text"]
    assert len(history.context["rows"]) == 2
    assert text.count('href="/documents/receipts/') == 2


def test_history_lists_every_channel(web, debtor):
    account = debtor[1]
    LedgerEntry.objects.create(
        account=account,
        period=account.opened_on.replace(day=1),
        posted_on=account.opened_on,
        kind=EntryKind.PAYMENT,
        amount=Decimal("-100.00"),
        reason="bank",
        external_id="registry:1",
        detail={"registry": 1},
    )
    LedgerEntry.objects.create(
        account=account,
        period=account.opened_on.replace(day=1),
        posted_on=account.opened_on,
        kind=EntryKind.PAYMENT,
        amount=Decimal("-50.00"),
        reason="import",
        external_id="imp-1",
        detail={"import_row": 3},
    )
    sandbox = _sandbox_path(_start(web, account, "10"))
    web.post(sandbox, {**CARD, "action": "pay"})
    in_language(web, "en")
    history = web.get(f"/payments/accounts/{account.number}/history/")
    channels = [row.channel for row in history.context["rows"]]
    assert sorted(channels) == ["bank registry", "by card", "imported"]
    for entry in LedgerEntry.objects.filter(kind=EntryKind.PAYMENT):
        assert f'href="/documents/receipts/{entry.pk}.pdf"' in history.content.decode()


def test_pages_are_in_russian_and_english(web, debtor):
    account = debtor[1]
    in_language(web, "ru")
    ru = web.get(_pay_url(account)).content.decode()
    assert "Оплатить" in ru and 'lang="ru"' in ru
    in_language(web, "en")
    en = web.get(_pay_url(account)).content.decode()
    assert "Bank card" in en and "SBP" in en


def test_another_customers_account_and_payment_are_not_found(web, debtor, client):
    other_user = UserFactory(email="boris@example.com")
    other = MeterFactory(zones=1).account
    link(other_user, other)
    charge(other, "10")
    assert web.get(_pay_url(other)).status_code == 404
    assert web.get(f"/payments/accounts/{other.number}/history/").status_code == 404
    # Anna's payment is not Boris's.
    _sandbox_path(_start(web, debtor[1]))
    payment = Payment.objects.get()
    client.force_login(other_user)
    assert client.get(f"/payments/{payment.pk}/").status_code == 404


def test_pages_need_a_login(client, debtor):
    response = client.get(_pay_url(debtor[1]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_forged_sandbox_notification_changes_nothing(web, debtor, client):
    sandbox = _sandbox_path(_start(web, debtor[1]))
    payment = Payment.objects.get()
    body: dict[str, Any] = {
        "type": "notification",
        "event": "payment.succeeded",
        "object": {
            "id": payment.provider_payment_id,
            "status": "succeeded",
            "paid": True,
            "amount": {"value": "1234.56", "currency": "RUB"},
        },
    }
    response = client.post("/payments/notifications/sandbox/", body, content_type="application/json")
    assert response.status_code == 200 and response.json()["outcome"] == "disagrees_with_provider"
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()
    body["object"]["id"] = "sbx-000000000000000000000000"
    response = client.post("/payments/notifications/sandbox/", body, content_type="application/json")
    assert response.json()["outcome"] == "forged_unknown_at_provider"
    assert web.get(sandbox).status_code == 200
