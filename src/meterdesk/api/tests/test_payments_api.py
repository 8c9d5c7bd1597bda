"""The payments of the API: the list with receipts, starting a card payment (idempotent), its status."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from meterdesk.api.tests.conftest import API, ApiClient
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.payments.models import Payment, SandboxPayment
from meterdesk.payments.tests.yookassa_standin import StandIn

pytestmark = pytest.mark.django_db

CARD = {"number": "4242424242424242", "expiry": "12/39", "cvc": "123", "holder": "ANNA", "action": "pay"}


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.METERDESK_PAYMENT_PROVIDER = "sandbox"
    settings.METERDESK_PAYMENT_MAX = "500000"


@pytest.fixture
def account(meter):
    LedgerEntry.objects.create(
        account=meter.account,
        period=date(2026, 10, 1),
        posted_on=date(2026, 10, 1),
        kind=EntryKind.CHARGE,
        amount=Decimal("800.00"),
    )
    return meter.account


def _payment(account, amount: str, ext: str, reason: str = "bank", **detail) -> LedgerEntry:
    return LedgerEntry.objects.create(
        account=account,
        period=date(2026, 10, 1),
        posted_on=date(2026, 10, 5),
        kind=EntryKind.PAYMENT,
        amount=-Decimal(amount),
        external_id=ext,
        reason=reason,
        detail=detail,
    )


def test_the_list_has_every_payment_with_its_receipt(api, account):
    first = _payment(account, "100.00", "registry:1", registry=7)
    second = _payment(account, "50.00", "imp-1", reason="import", import_row=2)
    response = api.get_api(f"/accounts/{account.number}/payments?limit=1")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2 and body["limit"] == 1 and len(body["items"]) == 1
    item = body["items"][0]
    assert item["id"] == second.pk
    assert item["amount"] == "50.00"
    receipt = f"http://testserver/api/v1/accounts/{account.number}/payments/{second.pk}/receipt.pdf"
    assert item["receipt_url"] == receipt
    rest = api.get_api(f"/accounts/{account.number}/payments?offset=1").json()["items"]
    assert [i["id"] for i in rest] == [first.pk]


def test_another_customers_account_is_not_found(api, stranger):
    number = stranger.account.number
    for response in (
        api.get_api(f"/accounts/{number}/payments"),
        api.post_json(f"/accounts/{number}/payments", {"amount": "10.00"}),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert not Payment.objects.exists()


def test_start_pay_and_follow_the_status(api, account, client):
    response = api.post_json(f"/accounts/{account.number}/payments", {"amount": "800.00"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["state"] == "waiting" and body["amount"] == "800.00"
    assert re.fullmatch(r"http://testserver/payments/sandbox/sbx-[0-9a-f]{24}/", body["confirmation_url"])
    payment = Payment.objects.get(pk=body["id"])
    assert payment.channel == "api" and payment.return_url == f"http://testserver/payments/{payment.pk}/"

    client.post(body["confirmation_url"].removeprefix("http://testserver"), CARD)
    status = api.get_api(f"/payments/{body['id']}").json()
    assert status["status"] == "succeeded" and status["state"] == "paid"
    assert status["confirmation_url"] is None
    entry = LedgerEntry.objects.get(kind=EntryKind.PAYMENT)
    assert status["receipt_url"] == (
        f"http://testserver/api/v1/accounts/{account.number}/payments/{entry.pk}/receipt.pdf"
    )
    pdf = api.get(status["receipt_url"].removeprefix("http://testserver"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    listed = api.get_api(f"/accounts/{account.number}/payments").json()["items"]
    assert [i["id"] for i in listed] == [entry.pk] and listed[0]["source"] == "card"


def test_the_idempotency_key_gives_one_payment(api, account):
    path = f"/accounts/{account.number}/payments"
    first = api.post_json(path, {"amount": "100.00"}, HTTP_IDEMPOTENCY_KEY="pay-1")
    second = api.post_json(path, {"amount": "100.00"}, HTTP_IDEMPOTENCY_KEY="pay-1")
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    conflict = api.post_json(path, {"amount": "200.00"}, HTTP_IDEMPOTENCY_KEY="pay-1")
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    assert Payment.objects.count() == 1 and SandboxPayment.objects.count() == 1
    # Without a key, each request is a new payment.
    api.post_json(path, {"amount": "100.00"})
    assert Payment.objects.count() == 2


@pytest.mark.parametrize("amount", ["0.99", "1.005", "500000.01"])
def test_amounts_out_of_bounds(api, account, amount):
    response = api.post_json(f"/accounts/{account.number}/payments", {"amount": amount})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "amount_invalid" and body["details"] == {"min": "1.00", "max": "500000.00"}


def test_an_amount_that_is_not_a_number(api, account):
    response = api.post_json(f"/accounts/{account.number}/payments", {"amount": "сто"})
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


def test_the_message_is_in_the_requested_language(api, account):
    path = f"/accounts/{account.number}/payments"
    ru = api.post_json(path, {"amount": "0.5"}, HTTP_ACCEPT_LANGUAGE="ru").json()["message"]
    en = api.post_json(path, {"amount": "0.5"}, HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    assert en.startswith("The amount must be") and ru.startswith("Сумма")


def test_provider_unavailable_then_retry_with_the_same_key(api, account, settings):
    standin = StandIn(shop_id="1", secret_key="s")
    standin.start()
    try:
        settings.METERDESK_PAYMENT_PROVIDER = "yookassa"
        settings.METERDESK_YOOKASSA_SHOP_ID = "1"
        settings.METERDESK_YOOKASSA_SECRET_KEY = "s"
        settings.METERDESK_YOOKASSA_API_URL = f"{standin.url}/v3"
        standin.failures.append("500")
        path = f"/accounts/{account.number}/payments"
        failed = api.post_json(path, {"amount": "800.00"}, HTTP_IDEMPOTENCY_KEY="k-1")
        assert failed.status_code == 503
        assert failed.json()["code"] == "provider_unavailable" and failed["Retry-After"] == "60"
        retried = api.post_json(path, {"amount": "800.00"}, HTTP_IDEMPOTENCY_KEY="k-1")
        assert retried.status_code == 201
        assert retried.json()["confirmation_url"].startswith(f"{standin.url}/checkout/")
        assert len(standin.payments) == 1 and Payment.objects.count() == 1
    finally:
        standin.stop()


def test_status_of_another_customers_payment_is_not_found(api, account, stranger):
    from meterdesk.api.auth import token_create

    created = api.post_json(f"/accounts/{account.number}/payments", {"amount": "10.00"}).json()
    boris = stranger.account.links.get().user
    other = ApiClient(token_create(user=boris, name="x")[1])
    assert other.get_api(f"/payments/{created['id']}").status_code == 404
    assert other.get_api("/payments/999999").json()["code"] == "not_found"


def test_a_token_is_needed(client, account):
    response = client.get(f"{API}/accounts/{account.number}/payments")
    assert response.status_code == 401
