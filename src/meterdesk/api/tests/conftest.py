"""Fixtures of the API tests: an open window, no rate limits unless a test sets them, a token."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import translation

from meterdesk.api.auth import token_create
from meterdesk.testing import MeterFactory, ReadingFactory, UserFactory, link

API = "/api/v1"


@pytest.fixture(autouse=True)
def _api_defaults(settings):
    settings.METERDESK_READING_WINDOW = "1-31"
    settings.METERDESK_API_RATE_TOKEN = "off"
    settings.METERDESK_API_RATE_ADDRESS = "off"
    settings.METERDESK_API_RATE_LINK = "off"
    cache.clear()
    yield
    cache.clear()
    translation.deactivate()  # LocaleMiddleware leaves the last request's language active


class ApiClient(Client):
    """A test client that sends a bearer token and JSON."""

    def __init__(self, token: str | None = None, **defaults) -> None:
        if token is not None:
            defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        super().__init__(**defaults)

    def post_json(self, path: str, data=None, **extra):
        return self.post(
            f"{API}{path}", data if data is not None else {}, content_type="application/json", **extra
        )

    def get_api(self, path: str, **extra):
        return self.get(f"{API}{path}", **extra)


@pytest.fixture
def anna(customer):
    """Anna (the shared ``customer``: one account, a two-zone meter, the two-zone tariff)."""
    return customer[0]


@pytest.fixture
def meter(customer):
    return customer[1]


@pytest.fixture
def token(anna):
    return token_create(user=anna, name="phone")[1]


@pytest.fixture
def api(token):
    return ApiClient(token)


@pytest.fixture
def stranger(db):
    """Somebody else's account, meter and reading."""
    owner = UserFactory(email="boris@example.com")
    meter = MeterFactory(zones=1, serial="SECRET-1")
    meter.account.address = "г. Москва, ул. Секретная, д. 7, кв. 13"
    meter.account.save()
    link(owner, meter.account)
    ReadingFactory(meter=meter, period=date(2024, 3, 1), t1=1111, confirmation="777000111222")
    return meter
