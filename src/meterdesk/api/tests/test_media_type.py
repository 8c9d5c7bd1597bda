"""The API takes JSON bodies only: a body sent as text/plain, XML or form data — even one that is
valid JSON — is refused with 415 ``unsupported_media_type`` by every operation that takes a body,
and nothing is stored."""

from __future__ import annotations

import json

import pytest

from meterdesk.api.api import api as ninja_api
from meterdesk.api.models import ApiToken
from meterdesk.api.tests.conftest import API
from meterdesk.customers.models import AccountLink, Phone, ResidentsChange, User
from meterdesk.metering.models import Reading
from meterdesk.orders.models import ServiceRequest
from meterdesk.payments.models import Autopay, Payment
from meterdesk.support.models import Thread

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.METERDESK_PAYMENT_PROVIDER = "sandbox"


def _operations_with_a_body() -> list[tuple[str, str]]:
    schema = ninja_api.get_openapi_schema(path_prefix="/api/v1/")
    return [
        (method, path)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if "requestBody" in operation
    ]


def _bodies(meter, account) -> dict[str, dict]:
    return {
        "/api/v1/auth/token": {"email": "anna@example.com", "password": "secret-pass-1", "name": "x"},
        "/api/v1/accounts/{number}/payments": {"amount": "100.00"},
        "/api/v1/accounts/{number}/autopay": {"card_id": 1, "consent": True},
        "/api/v1/accounts/link": {"account_number": account.number, "meter_serial": meter.serial},
        "/api/v1/meters/{meter_id}/readings": {"values": ["1100", "560"]},
        "/api/v1/meters/{meter_id}/readings/preview": {"values": ["1100", "560"]},
        "/api/v1/profile": {"language": "en"},
        "/api/v1/profile/phones": {"number": "+79161234567"},
        "/api/v1/profile/email": {"email": "anna.new@example.com", "password": "secret-pass-1"},
        "/api/v1/accounts/{number}/residents": {"residents": 3, "changed_on": "2026-12-01"},
        "/api/v1/support/threads": {"account": account.number, "topic": "other", "text": "Вопрос"},
        "/api/v1/support/threads/{thread_id}/messages": {"text": "Ещё вопрос"},
        "/api/v1/accounts/{number}/service-requests": {"service": "meter-replacement"},
        "/api/v1/accounts/{number}/service-requests/{request_number}/cancel": {"reason": "не нужно"},
    }


_BODY_PATHS = (
    "/api/v1/auth/token",
    "/api/v1/accounts/{number}/payments",
    "/api/v1/accounts/{number}/autopay",
    "/api/v1/accounts/link",
    "/api/v1/meters/{meter_id}/readings",
    "/api/v1/meters/{meter_id}/readings/preview",
    "/api/v1/profile",
    "/api/v1/profile/phones",
    "/api/v1/profile/email",
    "/api/v1/accounts/{number}/residents",
    "/api/v1/support/threads",
    "/api/v1/support/threads/{thread_id}/messages",
    "/api/v1/accounts/{number}/service-requests",
    "/api/v1/accounts/{number}/service-requests/{request_number}/cancel",
)


def _stored() -> tuple[int, ...]:
    return (
        Reading.objects.count(),
        ApiToken.objects.count(),
        Payment.objects.count(),
        AccountLink.objects.count(),
        Phone.objects.count(),
        User.objects.filter(language="en").count(),
        Autopay.objects.count(),
        ResidentsChange.objects.count(),
        Thread.objects.count(),
        ServiceRequest.objects.count(),
    )


OTHER_TYPES = [
    "text/plain",
    "text/plain; charset=utf-8",
    "application/xml",
    "text/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "application/jsonx",
    "",
]


def test_every_operation_with_a_body_has_a_body_here():
    assert sorted(path for _method, path in _operations_with_a_body()) == sorted(_BODY_PATHS)


@pytest.mark.parametrize("content_type", OTHER_TYPES)
def test_a_body_that_is_not_declared_json_is_415(api, meter, content_type):
    bodies = _bodies(meter, meter.account)
    before = _stored()
    for method, template in _operations_with_a_body():
        path = template.format(
            number=meter.account.number, meter_id=meter.pk, thread_id=1, request_number="З-000001"
        )
        body = json.dumps(bodies[template])
        extra = {"CONTENT_TYPE": content_type} if content_type else {}
        response = api.generic(method.upper(), path, body.encode(), **extra)
        assert response.status_code == 415, (path, content_type, response.content)
        answer = response.json()
        assert answer["code"] == "unsupported_media_type"
        assert "application/json" in answer["message"]
        assert set(answer) == {"code", "message", "details"}
    assert _stored() == before


def test_xml_and_form_data_are_415(api, meter):
    path = f"{API}/meters/{meter.pk}/readings"
    xml = "<reading><values>1100</values><values>560</values></reading>"
    assert api.generic("POST", path, xml, content_type="application/xml").status_code == 415
    assert api.post(path, {"values": ["1100", "560"]}).status_code == 415  # form-encoded, as a browser
    assert not Reading.objects.exists()


def test_json_with_a_charset_or_a_json_suffix_is_accepted(api, meter):
    path = f"{API}/meters/{meter.pk}/readings"
    body = json.dumps({"values": ["1100", "560"]})
    assert api.generic("POST", path, body, content_type="application/json; charset=utf-8").status_code == 201
    body = json.dumps({"values": ["1110", "565"]})
    assert api.generic("POST", path, body, content_type="application/merge-patch+json").status_code == 201


def test_an_operation_without_a_body_does_not_care(api, meter):
    response = api.generic("GET", f"{API}/meters/{meter.pk}/readings", "x", content_type="text/plain")
    assert response.status_code == 200


def test_the_order_of_checks(client, meter):
    """A request that is refused anyway says why first: 401 without a token, then 415."""
    path = f"{API}/meters/{meter.pk}/readings"
    assert client.generic("POST", path, "{}", content_type="text/plain").status_code == 401


def test_the_openapi_document_lists_415_for_every_operation_with_a_body():
    schema = ninja_api.get_openapi_schema(path_prefix="/api/v1/")
    for method, path in _operations_with_a_body():
        operation = schema["paths"][path][method]
        assert list(operation["requestBody"]["content"]) == ["application/json"]
        assert "415" in {str(status) for status in operation["responses"]}, path
    untouched = schema["paths"]["/api/v1/accounts"]["get"]["responses"]
    assert "415" not in {str(status) for status in untouched}
