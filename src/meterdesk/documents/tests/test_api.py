"""GET /api/v1/accounts/{number}/statements/{period}/bill.pdf and …/payments/{id}/receipt.pdf."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import translation

from meterdesk.api.api import api
from meterdesk.api.auth import token_create
from meterdesk.billing.models import LedgerEntry
from meterdesk.documents.tests.helpers import pdf_payload, pdf_text
from meterdesk.testing import MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.METERDESK_API_RATE_TOKEN = "off"
    settings.METERDESK_API_RATE_ADDRESS = "off"
    settings.METERDESK_API_RATE_LINK = "off"
    cache.clear()
    yield
    cache.clear()
    translation.deactivate()


@pytest.fixture
def anna(client, history):
    user, meter = history
    token = token_create(user=user, name="phone")[1]
    return client, {"HTTP_AUTHORIZATION": f"Bearer {token}"}, meter


def test_bill_pdf(anna):
    client, auth, meter = anna
    number = meter.account.number
    response = client.get(f"{API}/accounts/{number}/statements/2025-09/bill.pdf", **auth)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="schet-{number}-2025-09.pdf"'
    fields = pdf_payload(response.content).as_dict()
    assert fields["PersAcc"] == number
    assert fields["PaymPeriod"] == "092025"


def test_receipt_pdf(anna):
    client, auth, meter = anna
    entry = LedgerEntry.objects.get(external_id="card-42")
    response = client.get(f"{API}/accounts/{meter.account.number}/payments/{entry.pk}/receipt.pdf", **auth)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "card-42" in pdf_text(response.content)


def _error(response, status, code="not_found"):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    return body


def test_not_found_in_the_api_shape(anna):
    client, auth, meter = anna
    number = meter.account.number
    _error(client.get(f"{API}/accounts/{number}/statements/2025-10/bill.pdf", **auth), 404)  # not closed
    _error(client.get(f"{API}/accounts/9999999999/statements/2025-09/bill.pdf", **auth), 404)
    charge = LedgerEntry.objects.filter(account=meter.account, kind="charge").first()
    assert charge is not None
    _error(client.get(f"{API}/accounts/{number}/payments/{charge.pk}/receipt.pdf", **auth), 404)
    _error(client.get(f"{API}/accounts/{number}/payments/999999/receipt.pdf", **auth), 404)
    _error(
        client.get(f"{API}/accounts/{number}/statements/2025-13/bill.pdf", **auth), 422, "validation_error"
    )
    body = _error(
        client.get(f"{API}/accounts/{number}/statements/2025-10/bill.pdf", HTTP_ACCEPT_LANGUAGE="en", **auth),
        404,
    )
    assert body["message"] == "Not found."


def test_someone_elses_account_or_payment_is_not_found(client, history):
    _user, meter = history
    boris = UserFactory(email="boris@example.com")
    own = MeterFactory(zones=1)
    link(boris, own.account)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=boris, name='phone')[1]}"}
    entry = LedgerEntry.objects.get(external_id="card-42")
    number = meter.account.number
    _error(client.get(f"{API}/accounts/{number}/statements/2025-09/bill.pdf", **auth), 404)
    _error(client.get(f"{API}/accounts/{number}/payments/{entry.pk}/receipt.pdf", **auth), 404)
    # Anna's payment through Boris's own account: still not found.
    _error(client.get(f"{API}/accounts/{own.account.number}/payments/{entry.pk}/receipt.pdf", **auth), 404)


def test_a_token_is_required(client, history):
    _user, meter = history
    response = client.get(f"{API}/accounts/{meter.account.number}/statements/2025-09/bill.pdf")
    _error(response, 401, "unauthorized")


def test_the_schema_documents_a_pdf():
    schema = api.get_openapi_schema()
    for path in (
        "/api/v1/accounts/{number}/statements/{period}/bill.pdf",
        "/api/v1/accounts/{number}/payments/{entry_id}/receipt.pdf",
    ):
        responses = schema["paths"][path]["get"]["responses"]
        assert "application/pdf" in responses[200]["content"]
        assert responses[404]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
