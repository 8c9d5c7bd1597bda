"""The API's newer payments: SBP by QR code, several accounts in one payment, and autopayment —
its state, turning it on with a saved card (consent required) and stopping it."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from meterdesk.api.tests.test_payments_api import CARD, _sandbox  # noqa: F401 - its autouse fixture
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.payments.models import Autopay, Payment, SandboxPayment
from meterdesk.testing import MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db


def _debt(account, amount: str) -> None:
    LedgerEntry.objects.create(
        account=account,
        period=date(2026, 10, 1),
        posted_on=date(2026, 10, 1),
        kind=EntryKind.CHARGE,
        amount=Decimal(amount),
    )


@pytest.fixture
def flat(meter):
    _debt(meter.account, "800.00")
    return meter.account


@pytest.fixture
def dacha(anna):
    account = MeterFactory(zones=1).account
    link(anna, account)
    _debt(account, "300.00")
    return account


def _pay_in_sandbox(client, confirmation_url: str) -> None:
    found = re.search(r"/payments/sandbox/sbx-[0-9a-f]{24}/$", confirmation_url)
    assert found, confirmation_url
    client.post(found.group(0), CARD)


def test_sbp_by_qr_gives_the_link_to_show_as_a_qr_code(api, flat, client):
    response = api.post_json(
        f"/accounts/{flat.number}/payments", {"amount": "800.00", "method": "sbp", "confirmation": "qr"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    sandbox = SandboxPayment.objects.get()
    assert body["method"] == "sbp" and body["confirmation_url"] is None
    assert body["qr_data"] == f"http://testserver/payments/sandbox/{sandbox.pk}/sbp/"
    client.post(f"/payments/sandbox/{sandbox.pk}/sbp/", {"action": "pay"})
    paid = api.get_api(f"/payments/{body['id']}").json()
    assert paid["state"] == "paid" and paid["qr_data"] is None and paid["receipt_url"]


def test_a_qr_code_for_a_card_is_refused(api, flat):
    response = api.post_json(f"/accounts/{flat.number}/payments", {"amount": "10.00", "confirmation": "qr"})
    assert response.status_code == 422
    assert response.json()["code"] == "payment_options_invalid"
    assert not Payment.objects.exists()


def test_two_accounts_in_one_payment(api, flat, dacha, client):
    response = api.post_json(
        f"/accounts/{flat.number}/payments",
        {"amount": "800.00", "also": [{"account_number": dacha.number, "amount": "300.00"}]},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == "1100.00"
    assert [(p["account_number"], p["amount"]) for p in body["parts"]] == [
        (flat.number, "800.00"),
        (dacha.number, "300.00"),
    ]
    _pay_in_sandbox(client, body["confirmation_url"])
    paid = api.get_api(f"/payments/{body['id']}").json()
    assert all(p["receipt_url"] for p in paid["parts"])
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 2


def test_another_customers_account_cannot_be_paid_along(api, flat):
    stranger = MeterFactory(zones=1).account
    link(UserFactory(email="boris@example.com"), stranger)
    response = api.post_json(
        f"/accounts/{flat.number}/payments",
        {"amount": "10.00", "also": [{"account_number": stranger.number, "amount": "5.00"}]},
    )
    assert response.status_code == 404
    assert not Payment.objects.exists()


def test_autopayment_consent_saves_the_card_then_it_can_be_stopped_and_turned_on(api, flat, client):
    state = api.get_api(f"/accounts/{flat.number}/autopay").json()
    assert (
        state["active"] is False
        and state["saved_cards"] == []
        and flat.number in state["autopayment_consent"]
    )

    refused = api.post_json(
        f"/accounts/{flat.number}/payments", {"amount": "10.00", "method": "sbp", "autopay_consent": True}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "payment_options_invalid"

    body = api.post_json(
        f"/accounts/{flat.number}/payments", {"amount": "10.00", "autopay_consent": True}
    ).json()
    _pay_in_sandbox(client, body["confirmation_url"])
    api.get_api(f"/payments/{body['id']}")
    state = api.get_api(f"/accounts/{flat.number}/autopay").json()
    assert state["active"] is True and state["card"]["card"] == "Visa *4242" and state["since"]
    card_id = state["card"]["id"]
    assert Autopay.objects.get().channel == "api"

    assert api.delete(f"/api/v1/accounts/{flat.number}/autopay").status_code == 204
    assert api.get_api(f"/accounts/{flat.number}/autopay").json()["active"] is False

    without = api.put(
        f"/api/v1/accounts/{flat.number}/autopay",
        {"card_id": card_id, "consent": False},
        content_type="application/json",
    )
    assert without.status_code == 422 and without.json()["code"] == "consent_required"
    unknown = api.put(
        f"/api/v1/accounts/{flat.number}/autopay",
        {"card_id": 999999, "consent": True},
        content_type="application/json",
    )
    assert unknown.status_code == 404
    on = api.put(
        f"/api/v1/accounts/{flat.number}/autopay",
        {"card_id": card_id, "consent": True},
        content_type="application/json",
    )
    assert on.status_code == 200 and on.json()["active"] is True
    assert Autopay.objects.filter(stopped_at__isnull=True).count() == 1

    # Removing the card stops the autopayment paid from it; a second removal finds no such card.
    assert api.delete(f"/api/v1/saved-cards/{card_id}").status_code == 204
    state = api.get_api(f"/accounts/{flat.number}/autopay").json()
    assert state["active"] is False and state["saved_cards"] == []
    assert api.delete(f"/api/v1/saved-cards/{card_id}").status_code == 404


def test_autopayment_of_another_customers_account_is_not_found(api, stranger):
    number = stranger.account.number
    assert api.get_api(f"/accounts/{number}/autopay").status_code == 404
    assert api.delete(f"/api/v1/accounts/{number}/autopay").status_code == 404
