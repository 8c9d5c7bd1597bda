"""One error shape for everything under /api/v1/: unknown paths, wrong methods, invalid input,
bad JSON, failures — and messages in the request's language."""

from __future__ import annotations

import pytest
from django.test import Client

from meterdesk.api.tests.conftest import API

pytestmark = pytest.mark.django_db


def assert_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    return body


def test_unknown_paths_are_not_found_in_json(api):
    for path in ("/", "/nothing", "/accounts/", "/meters/1/readings/", "/v2/x"):
        assert_shape(api.get_api(path), 404, "not_found")
    assert_shape(Client().get(f"{API}/nothing"), 404, "not_found")


def test_a_wrong_method_is_405(api, meter):
    body = assert_shape(api.delete(f"{API}/meters/{meter.pk}/readings"), 405, "method_not_allowed")
    assert body["details"]["allowed"] == ["GET", "POST"]
    response = api.put(f"{API}/accounts", {}, content_type="application/json")
    assert_shape(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"
    assert_shape(api.get_api("/accounts/link"), 405, "method_not_allowed")


def test_validation_errors_name_the_fields(api, meter):
    body = assert_shape(api.get_api("/accounts?limit=0"), 422, "validation_error")
    assert body["details"]["errors"][0]["loc"] == ["query", "limit"]
    body = assert_shape(api.get_api("/accounts/123"), 422, "validation_error")
    assert body["details"]["errors"][0]["loc"] == ["path", "number"]
    assert_shape(api.get_api("/meters/0/readings"), 422, "validation_error")
    assert_shape(api.get_api(f"/meters/{2**70}/readings"), 422, "validation_error")


def test_a_body_that_is_not_json_is_a_bad_request(api, meter):
    response = api.post(f"{API}/meters/{meter.pk}/readings", "{not json", content_type="application/json")
    assert_shape(response, 400, "bad_request")


def test_a_failure_is_a_500_in_the_same_shape(api, meter, monkeypatch):
    from meterdesk.api.routers import accounts

    def boom(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(accounts, "accounts_for_user", boom)
    body = assert_shape(api.get_api("/accounts"), 500, "internal_error")
    assert "fire" not in body["message"]


def test_unauthorized_has_the_shape(meter):
    body = assert_shape(Client().get(f"{API}/accounts/{meter.account.number}"), 401, "unauthorized")
    assert body["details"] == {}


def test_messages_follow_accept_language(api, meter):
    ru = api.get_api("/accounts/9999999999").json()["message"]
    en = api.get_api("/accounts/9999999999", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    default = api.get_api("/accounts/9999999999", HTTP_ACCEPT_LANGUAGE="de").json()["message"]
    assert en == "Not found."
    assert ru == default == "Не найдено."
    invalid = {"values": ["1100", "abc"]}
    url = f"/meters/{meter.pk}/readings"
    assert api.post_json(url, invalid, HTTP_ACCEPT_LANGUAGE="en").json()["message"] == (
        "Enter digits only, as shown on the meter."
    )
    assert api.post_json(url, invalid).json()["message"] == "Введите только цифры, как на счётчике."


def test_health_needs_no_token():
    assert Client().get(f"{API}/health").json() == {"status": "ok"}


def test_openapi_and_docs_are_served():
    schema = Client().get(f"{API}/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/auth/token",
        "/api/v1/auth/tokens",
        "/api/v1/auth/tokens/{token_id}",
        "/api/v1/accounts",
        "/api/v1/accounts/link",
        "/api/v1/accounts/{number}",
        "/api/v1/accounts/{number}/meters",
        "/api/v1/accounts/{number}/charges",
        "/api/v1/accounts/{number}/statements",
        "/api/v1/accounts/{number}/statements/{period}",
        "/api/v1/accounts/{number}/payments",
        "/api/v1/meters/{meter_id}/readings",
        "/api/v1/meters/{meter_id}/readings/preview",
        "/api/v1/tariffs",
    ):
        assert path in paths, path
    assert Client().get(f"{API}/docs").status_code == 200
