"""Access to accounts through the API: an unverified login gets no token, linking is limited per
account number and per address and tells the account's other logins, the registration code."""

from __future__ import annotations

import pytest
from django.core import mail

from meterdesk.api.auth import token_create
from meterdesk.api.tests.conftest import API, ApiClient
from meterdesk.customers.models import AccountLink, LinkEvent
from meterdesk.customers.services import registration_code_issue
from meterdesk.testing import PASSWORD, MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db


def test_an_unverified_login_gets_no_token(client):
    UserFactory(email="new@example.com", email_verified_at=None)
    body = {"email": "new@example.com", "password": PASSWORD, "name": "phone"}
    answer = client.post(f"{API}/auth/token", body, content_type="application/json")
    assert answer.status_code == 403
    assert answer.json()["code"] == "email_not_verified"
    wrong = client.post(f"{API}/auth/token", {**body, "password": "nope"}, content_type="application/json")
    assert wrong.status_code == 401  # only the right password learns what is missing


def test_linking_tells_the_other_logins(api, anna):
    neighbour = MeterFactory()
    owner = UserFactory(email="owner@example.com")
    link(owner, neighbour.account)
    answer = api.post_json(
        "/accounts/link", {"number": neighbour.account.number, "meter_serial": neighbour.serial}
    )
    assert answer.status_code == 201
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    assert "/accounts/undo/" in mail.outbox[0].body
    assert LinkEvent.objects.get().channel == "api"


def test_linking_is_limited_per_account_number_across_logins(settings, anna):
    settings.METERDESK_LINK_RATE_ACCOUNT = "2/d"
    target = MeterFactory()
    codes = []
    for n in range(3):
        user = UserFactory(email=f"guess{n}@example.com")
        client = ApiClient(token_create(user=user, name="x")[1], REMOTE_ADDR=f"198.51.100.{n}")
        codes.append(
            client.post_json("/accounts/link", {"number": target.account.number, "meter_serial": "X"})
        )
    assert [c.status_code for c in codes] == [422, 422, 429]
    refused = codes[2]
    assert refused.json()["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["details"]["retry_after"] == int(refused["Retry-After"])
    assert not AccountLink.objects.filter(account=target.account).exists()


def test_linking_is_limited_per_address(settings, api):
    settings.METERDESK_LINK_RATE_ADDRESS = "1/h"
    first, second = MeterFactory(), MeterFactory()
    assert (
        api.post_json("/accounts/link", {"number": first.account.number, "meter_serial": "X"}).status_code
        == 422
    )
    refused = api.post_json(
        "/accounts/link", {"number": second.account.number, "meter_serial": second.serial}
    )
    assert refused.status_code == 429
    assert not AccountLink.objects.filter(account=second.account).exists()


@pytest.mark.parametrize("number", ["٠١٢٣٤٥٦٧٨٩", "12 34 56 78 90x", "0" * 40, "\u2028abc"])
def test_a_malformed_number_is_a_mismatch_counted_for_the_address(settings, api, number):
    settings.METERDESK_LINK_RATE_ADDRESS = "1/h"
    answer = api.post_json("/accounts/link", {"number": number, "meter_serial": "X"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "account_meter_mismatch"
    assert api.post_json("/accounts/link", {"number": number, "meter_serial": "X"}).status_code == 429


def test_the_registration_code_when_the_utility_asks_for_it(settings, api):
    settings.METERDESK_REGISTRATION_CODE = True
    target = MeterFactory()
    body = {"number": target.account.number, "meter_serial": target.serial}
    assert api.post_json("/accounts/link", body).json()["code"] == "account_meter_mismatch"  # no code yet
    code = registration_code_issue(account=target.account)
    assert api.post_json("/accounts/link", {**body, "registration_code": "AAAAA-AAAAA"}).status_code == 422
    assert api.post_json("/accounts/link", {**body, "registration_code": code.lower()}).status_code == 201
    other = ApiClient(token_create(user=UserFactory(), name="x")[1])
    assert other.post_json("/accounts/link", {**body, "registration_code": code}).status_code == 422  # used
