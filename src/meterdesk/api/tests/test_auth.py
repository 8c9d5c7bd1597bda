"""Device tokens (created by login, listed, revoked, expiring), the lockout, and the session."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from meterdesk.api.auth import token_create
from meterdesk.api.models import ApiToken
from meterdesk.api.tests.conftest import API, ApiClient
from meterdesk.testing import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def obtain(client: Client, email: str, password: str, **extra):
    body = {"email": email, "password": password, "name": "Home Assistant", **extra}
    return client.post(f"{API}/auth/token", body, content_type="application/json")


def test_login_gives_a_token_stored_only_as_a_hash(anna, client):
    response = obtain(client, "Anna@Example.com ", PASSWORD)
    assert response.status_code == 201, response.json()
    body = response.json()
    raw = body["token"]
    assert raw.startswith("mdk_") and len(raw) > 40
    assert body["name"] == "Home Assistant"
    assert body["expires_at"] is None
    token = ApiToken.objects.get(pk=body["id"])
    assert token.user == anna
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {token.prefix, token.key_hash, token.name}
    assert body["prefix"] == raw[:12]
    # The token works.
    assert ApiClient(raw).get_api("/accounts").status_code == 200


def test_a_token_may_expire(anna, client):
    body = obtain(client, "anna@example.com", PASSWORD, expires_in_days=30).json()
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29, hours=23) < expires - timezone.now() <= timedelta(days=30)
    api = ApiClient(body["token"])
    assert api.get_api("/accounts").status_code == 200
    ApiToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api.get_api("/accounts")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_a_wrong_password_is_unauthorized(anna, client):
    response = obtain(client, "anna@example.com", "wrong-password-1")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.json()["message"] == "Неверный адрес электронной почты или пароль."
    assert not ApiToken.objects.exists()


def test_an_inactive_login_gets_no_token_and_its_tokens_stop(anna, client, token):
    anna.is_active = False
    anna.save()
    assert obtain(client, "anna@example.com", PASSWORD).status_code == 401
    assert ApiClient(token).get_api("/accounts").status_code == 401


def test_failed_token_logins_count_toward_the_lockout(anna, client, settings):
    limit = django_settings.AXES_FAILURE_LIMIT
    codes = [obtain(client, "anna@example.com", "wrong-password-1").json()["code"] for _ in range(limit)]
    assert codes == ["unauthorized"] * (limit - 1) + ["locked_out"]
    # Locked: even the right password is refused, here and on the site's login form.
    response = obtain(client, "anna@example.com", PASSWORD)
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert int(response["Retry-After"]) == int(django_settings.AXES_COOLOFF_TIME.total_seconds())
    page = Client().post("/login/", {"username": "anna@example.com", "password": PASSWORD})
    assert page.status_code == 429
    assert not ApiToken.objects.exists()


def test_the_lockout_also_counts_site_logins(anna, client):
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        Client().post("/login/", {"username": "anna@example.com", "password": "wrong-password-1"})
    assert obtain(client, "anna@example.com", PASSWORD).json()["code"] == "locked_out"


def test_list_and_revoke_tokens(anna, api, token):
    other, _ = token_create(user=anna, name="tablet")
    theirs, _ = token_create(user=UserFactory(email="boris@example.com"), name="boris")
    body = api.get_api("/auth/tokens").json()
    assert body["total"] == 2
    assert {t["name"]: t["current"] for t in body["items"]} == {"phone": True, "tablet": False}
    assert all("token" not in t and "key_hash" not in t for t in body["items"])

    assert api.delete(f"{API}/auth/tokens/{theirs.pk}").status_code == 404  # not hers: not found
    assert api.delete(f"{API}/auth/tokens/999999").status_code == 404
    response = api.delete(f"{API}/auth/tokens/{other.pk}")
    assert response.status_code == 204
    assert ApiToken.objects.get(pk=other.pk).revoked_at is not None
    assert api.delete(f"{API}/auth/tokens/{other.pk}").status_code == 404  # already revoked
    assert [t["name"] for t in api.get_api("/auth/tokens").json()["items"]] == ["phone"]
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_a_revoked_token_stops_working(api, token):
    current = ApiToken.objects.get(prefix=token[:12])
    assert api.delete(f"{API}/auth/tokens/{current.pk}").status_code == 204
    response = api.get_api("/accounts")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer mdk_not-a-token", "Basic YW5uYTpwdw==", "Bearer " + "x" * 500]
)
def test_no_valid_credentials_is_unauthorized(customer, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get(f"{API}/accounts", **extra)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_last_use_is_recorded(api, token):
    assert ApiToken.objects.get(prefix=token[:12]).last_used_at is None
    api.get_api("/accounts")
    assert ApiToken.objects.get(prefix=token[:12]).last_used_at is not None


# --- the site's session ---------------------------------------------------------------------------


def test_the_session_works_for_reads(anna, client):
    client.force_login(anna)
    response = client.get(f"{API}/accounts")
    assert response.status_code == 200
    assert response.json()["total"] == 1


def test_session_writes_need_the_csrf_token(anna, meter):
    client = Client(enforce_csrf_checks=True)
    client.force_login(anna)
    url = f"{API}/meters/{meter.pk}/readings"
    response = client.post(url, {"values": ["1100", "560"]}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    secret = "a" * 32
    client.cookies[django_settings.CSRF_COOKIE_NAME] = secret
    response = client.post(
        url, {"values": ["1100", "560"]}, content_type="application/json", HTTP_X_CSRFTOKEN=secret
    )
    assert response.status_code == 201


def test_a_token_needs_no_csrf_token(api, meter):
    api_csrf = ApiClient(api.defaults["HTTP_AUTHORIZATION"].split()[1], enforce_csrf_checks=True)
    response = api_csrf.post_json(f"/meters/{meter.pk}/readings", {"values": ["1100", "560"]})
    assert response.status_code == 201


def test_staff_can_revoke_a_token_in_the_admin(anna, token, client):
    admin = UserFactory(email="admin@example.com", is_staff=True, is_superuser=True)
    client.force_login(admin)
    listing = client.get("/admin/api/apitoken/")
    assert listing.status_code == 200
    assert token not in listing.content.decode()
    current = ApiToken.objects.get(prefix=token[:12])
    response = client.post(
        "/admin/api/apitoken/", {"action": "revoke", "_selected_action": [current.pk]}, follow=True
    )
    assert response.status_code == 200
    assert ApiClient(token).get_api("/accounts").status_code == 401
    assert client.get("/admin/api/apitoken/add/").status_code == 403
