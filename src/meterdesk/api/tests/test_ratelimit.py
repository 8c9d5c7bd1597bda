"""Rate limits per token and per client address, answered with 429 rate_limited and Retry-After."""

from __future__ import annotations

import pytest
from django.test import Client

from meterdesk.api import ratelimit
from meterdesk.api.auth import token_create
from meterdesk.api.ratelimit import hit, parse_rate
from meterdesk.api.tests.conftest import API, ApiClient

pytestmark = pytest.mark.django_db

#: 20 seconds into a minute and into an hour: no window ends while a test runs.
NOW = 3600 * 277_778 + 20.0


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch):
    monkeypatch.setattr(ratelimit, "_now", lambda: NOW)


def test_rates_are_read_as_count_per_period():
    assert parse_rate("120/m") == (120, 60)
    assert parse_rate("10/hour") == (10, 3600)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("1000/d") == (1000, 86400)
    assert parse_rate("off") is None
    with pytest.raises(ValueError):
        parse_rate("fast")


def test_a_fixed_window_counts_and_then_resets():
    assert [hit("t", "x", 2, 60, now=120.0 + i) for i in range(2)] == [None, None]
    assert hit("t", "x", 2, 60, now=150.0) == 30.0  # refused: 30 s to the next window
    assert hit("t", "x", 2, 60, now=180.0) is None  # the next window


def test_per_token(api, anna, settings):
    settings.METERDESK_API_RATE_TOKEN = "3/m"
    assert [api.get_api("/accounts").status_code for _ in range(3)] == [200] * 3
    response = api.get_api("/accounts")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "rate_limited"
    retry = int(response["Retry-After"])
    assert retry == 40  # the rest of the minute
    assert body["details"]["retry_after"] == retry
    # Another device of the same login has its own allowance.
    other = ApiClient(token_create(user=anna, name="tablet")[1])
    assert other.get_api("/accounts").status_code == 200


def test_per_address(api, anna, settings):
    settings.METERDESK_API_RATE_ADDRESS = "4/m"
    other = ApiClient(token_create(user=anna, name="tablet")[1])
    assert [c.get_api("/accounts").status_code for c in (api, other, api, other)] == [200] * 4
    assert other.get_api("/accounts").status_code == 429
    assert "Retry-After" in api.get_api("/accounts")
    elsewhere = ApiClient(api.defaults["HTTP_AUTHORIZATION"].split()[1], REMOTE_ADDR="10.1.2.3")
    assert elsewhere.get_api("/accounts").status_code == 200


def test_the_address_limit_covers_the_login(settings, anna):
    settings.METERDESK_API_RATE_ADDRESS = "2/m"
    client = Client()
    body = {"email": "anna@example.com", "password": "x", "name": "n"}
    codes = [
        client.post(f"{API}/auth/token", body, content_type="application/json").status_code for _ in range(3)
    ]
    assert codes == [401, 401, 429]


def test_linking_is_slower(api, settings):
    settings.METERDESK_API_RATE_LINK = "2/h"
    body = {"number": "9999999999", "meter_serial": "X"}
    codes = [api.post_json("/accounts/link", body).status_code for _ in range(3)]
    assert codes == [422, 422, 429]
    assert int(api.post_json("/accounts/link", body)["Retry-After"]) == 3600 - 20
    assert api.get_api("/accounts").status_code == 200  # other operations are not affected


def test_health_is_not_limited(settings):
    settings.METERDESK_API_RATE_ADDRESS = "1/m"
    assert [Client().get(f"{API}/health").status_code for _ in range(3)] == [200] * 3


def test_rate_limited_message_is_translated(api, settings):
    settings.METERDESK_API_RATE_TOKEN = "1/m"
    api.get_api("/accounts")
    ru = api.get_api("/accounts").json()["message"]
    en = api.get_api("/accounts", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    assert en == "Too many requests. Try again in 40 seconds."
    assert ru == "Слишком много запросов. Повторите через 40 секунд."
