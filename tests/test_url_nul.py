"""A NUL in a URL's path is a 404 for every route (PostgreSQL refuses a NUL in text: looked up, it
was a 500). The routes' converters refuse it (``meterdesk.converters``); the API's JSON 404."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from meterdesk.api.auth import token_create
from meterdesk.converters import TextConverter

pytestmark = pytest.mark.django_db

PAGES = [
    "/readings/%00/",
    "/readings/12%0034/",
    "/accounts/%00/history/",
    "/accounts/%00/statements/",
    "/accounts/%00/statements/2024-03/",
    "/documents/readings/%00.pdf",
    "/documents/accounts/%00/ebill/",
    "/documents/accounts/%00/bills/2024-03.pdf",
    "/payments/notifications/%00/",
    "/payments/accounts/%00/pay/",
]
API = [
    "/api/v1/accounts/%00",
    "/api/v1/accounts/%00/meters",
    "/api/v1/accounts/%00/charges",
    "/api/v1/accounts/%00/statements",
    "/api/v1/accounts/1234567890/statements/%00",
    "/api/v1/accounts/%00/statements/2024-03/bill.pdf",
    "/api/v1/accounts/1234567890/payments/%00/receipt.pdf",
    "/api/v1/accounts/%00/payments",
    "/api/v1/meters/%00/readings",
    "/api/v1/payments/%00",
    "/api/v1/auth/tokens/%00",
]


@pytest.mark.parametrize("path", PAGES)
def test_a_nul_in_a_page_s_path_is_404(client, customer, path):
    client.force_login(customer[0])
    for method in (client.get, client.post):
        assert method(path).status_code == 404, (method, path)


@pytest.mark.parametrize("path", API)
def test_a_nul_in_an_api_path_is_the_api_s_404(client, customer, path):
    token = token_create(user=customer[0], name="phone")[1]
    for method in (client.get, client.post, client.delete):
        response = method(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 404, (method, path, response.content)
        assert response.json()["code"] == "not_found"


def _routes(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.pattern


def test_no_route_of_meterdesk_takes_any_text_in_its_path():
    """Every route with a text parameter takes it by the converter that refuses a NUL, or by a
    pattern of its own that cannot match one (Django's admin and i18n routes are not ours)."""
    loose = []
    for route, pattern in _routes(get_resolver().url_patterns):
        if route.startswith(("admin/", "i18n/")):
            continue
        if isinstance(pattern, RoutePattern):
            for name, converter in pattern.converters.items():
                if type(converter).__name__ in ("StringConverter", "PathConverter"):
                    loose.append(f"{route} ({name})")
        elif isinstance(pattern, RegexPattern) and "[^/]" in pattern.regex.pattern:
            loose.append(route)
    # The API checks its own path parameters (api.api.MeterdeskAPI), its catch-all takes anything.
    loose = [item for item in loose if not item.startswith("api/v1/")]
    assert loose == []


def test_the_converter():
    converter = TextConverter()
    assert converter.to_python("7701000001") == "7701000001"
    assert converter.to_url("x") == "x"
    assert "\\x00" in converter.regex
