"""A password changed (by its owner or by staff) or reset by e-mail revokes every device token of
the login and ends its other sessions; the session that changed it stays."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from meterdesk.api.auth import token_create
from meterdesk.testing import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Zima-v-Sokolnikah-77"
API = "/api/v1"


@pytest.fixture
def anna(customer):
    return customer[0]


def _devices(user) -> tuple[Client, Client]:
    """A phone with a device token and a laptop with a session of ``user``."""
    _token, raw = token_create(user=user, name="phone")
    phone = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    laptop = Client()
    laptop.force_login(user)
    assert phone.get(f"{API}/accounts").status_code == 200
    assert laptop.get("/cabinet/").status_code == 200
    return phone, laptop


def test_changing_the_password_revokes_the_device_tokens(client, anna):
    phone, laptop = _devices(anna)
    client.force_login(anna)
    response = client.post(
        "/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert phone.get(f"{API}/accounts").status_code == 401
    assert laptop.get("/cabinet/").status_code == 302  # the other session is over
    assert client.get("/cabinet/").status_code == 200  # this one stays
    assert client.get(f"{API}/auth/tokens").json()["items"] == []


def test_resetting_the_password_revokes_the_device_tokens(client, anna):
    phone, laptop = _devices(anna)
    client.post("/password/reset/", {"email": "anna@example.com"})
    found = re.search(r"https?://testserver(/password/reset/\S+/)", str(mail.outbox[0].body))
    assert found
    path = found.group(1)
    form_path = client.get(path)["Location"]
    response = client.post(form_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert phone.get(f"{API}/accounts").status_code == 401
    assert laptop.get("/cabinet/").status_code == 302
    anna.refresh_from_db()
    assert anna.check_password(NEW_PASSWORD)


def test_a_password_set_by_staff_revokes_the_device_tokens(anna):
    phone, laptop = _devices(anna)
    staff = Client()
    staff.force_login(UserFactory(email="admin@example.com", is_staff=True, is_superuser=True))
    url = reverse("admin:auth_user_password_change", args=[anna.pk])  # UserAdmin names it so
    response = staff.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert phone.get(f"{API}/accounts").status_code == 401
    assert laptop.get("/cabinet/").status_code == 302


def test_a_new_token_after_the_change_works(client, anna):
    _devices(anna)
    client.force_login(anna)
    client.post(
        "/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    answer = Client().post(
        f"{API}/auth/token",
        {"email": "anna@example.com", "password": NEW_PASSWORD, "name": "phone again"},
        content_type="application/json",
    )
    assert answer.status_code == 201
    fresh = Client(HTTP_AUTHORIZATION=f"Bearer {answer.json()['token']}")
    assert fresh.get(f"{API}/accounts").status_code == 200
