"""Logging in and out, changing and resetting the password, lockout after failed logins, hashing."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.test import Client

from meterdesk import settings as project_settings
from meterdesk.customers.consent import CONSENT_VERSION
from meterdesk.customers.models import User
from meterdesk.testing import PASSWORD, MeterFactory, UserFactory, free_port, smtp_settings

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Zima-v-Sokolnikah-77"
RESET_LINK_RE = re.compile(r"https?://testserver(/password/reset/[^/\s]+/[^/\s]+/)")


def _logged_in_user_id(client: Client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value is not None else None


def _login(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


@pytest.fixture
def anna(db):
    return UserFactory(email="anna@example.com")


# --- log in / log out -----------------------------------------------------------------------


def test_login_page(client):
    response = client.get("/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'type="email"' in html
    assert 'name="password"' in html
    assert 'href="/password/reset/"' in html
    assert 'href="/register/"' in html


def test_home_sends_anonymous_users_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"


def test_login_with_the_right_password(client, anna):
    response = _login(client, "anna@example.com", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/cabinet/"
    assert _logged_in_user_id(client) == anna.pk
    assert client.get("/").headers["Location"] == "/cabinet/"


def test_login_ignores_the_case_of_the_email(client, anna):
    response = _login(client, "Anna@Example.COM", PASSWORD)
    assert response.status_code == 302
    assert _logged_in_user_id(client) == anna.pk


def test_login_with_a_wrong_password(client, anna):
    client.cookies["django_language"] = "en"
    response = _login(client, "anna@example.com", PASSWORD + "x")
    assert response.status_code == 200
    assert _logged_in_user_id(client) is None
    assert response.context["form"].non_field_errors()
    assert "error-summary" in response.content.decode()


def test_login_of_an_inactive_user_fails(client, anna):
    anna.is_active = False
    anna.save()
    _login(client, "anna@example.com", PASSWORD)
    assert _logged_in_user_id(client) is None


def test_login_follows_a_local_next(client, anna):
    response = client.post(
        "/login/?next=/accounts/link/", {"username": "anna@example.com", "password": PASSWORD}
    )
    assert response["Location"] == "/accounts/link/"


def test_login_ignores_a_foreign_next(client, anna):
    response = client.post(
        "/login/", {"username": "anna@example.com", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/cabinet/"


def test_logged_in_user_visiting_login_goes_to_dashboard(client, anna):
    client.force_login(anna)
    response = client.get("/login/")
    assert response.status_code == 302
    assert response["Location"] == "/cabinet/"


def test_logout_needs_post(client, anna):
    client.force_login(anna)
    response = client.get("/logout/")
    assert response.status_code == 405
    assert _logged_in_user_id(client) == anna.pk


def test_logout(client, anna):
    client.force_login(anna)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert _logged_in_user_id(client) is None
    assert client.get("/cabinet/").status_code == 302


def test_every_page_has_a_logout_form_for_a_logged_in_user(client, anna):
    client.force_login(anna)
    html = client.get("/cabinet/").content.decode()
    assert re.search(
        r'<form method="post" action="/logout/"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken"', html
    )


# --- change password ------------------------------------------------------------------------


def test_change_password_needs_login(client):
    response = client.get("/password/change/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/password/change/"


def test_change_password(client, anna):
    client.force_login(anna)
    assert client.get("/password/change/").status_code == 200
    response = client.post(
        "/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/password/change/done/"
    assert client.get("/password/change/done/").status_code == 200
    # The session survives the change.
    assert client.get("/cabinet/").status_code == 200
    anna.refresh_from_db()
    assert anna.check_password(NEW_PASSWORD)
    assert not anna.check_password(PASSWORD)
    assert _login(Client(), "anna@example.com", NEW_PASSWORD).status_code == 302
    assert _login(Client(), "anna@example.com", PASSWORD).status_code == 200


def test_change_password_with_a_wrong_old_password(client, anna):
    client.force_login(anna)
    response = client.post(
        "/password/change/",
        {"old_password": "not-my-password", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    anna.refresh_from_db()
    assert anna.check_password(PASSWORD)


def test_change_password_to_a_weak_one_is_refused(client, anna):
    client.force_login(anna)
    response = client.post(
        "/password/change/",
        {"old_password": PASSWORD, "new_password1": "12345", "new_password2": "12345"},
    )
    assert response.status_code == 200
    assert "new_password2" in response.context["form"].errors
    anna.refresh_from_db()
    assert anna.check_password(PASSWORD)


# --- password reset by e-mail ----------------------------------------------------------------


def _reset_path_from(body: object) -> str:
    body = str(body)
    match = RESET_LINK_RE.search(body)
    assert match, body
    return match.group(1)


def test_reset_mail_contains_a_link_that_sets_a_new_password_once(client, anna):
    response = client.post("/password/reset/", {"email": "anna@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/password/reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anna@example.com"]
    assert message.subject.strip()
    assert "\n" not in message.subject
    path = _reset_path_from(message.body)

    # The link hides the token behind a redirect to the form.
    response = client.get(path)
    assert response.status_code == 302
    form_path = response["Location"]
    assert form_path.endswith("/set-password/")
    page = client.get(form_path)
    assert page.status_code == 200
    assert page.context["validlink"] is True

    response = client.post(form_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/password/reset/complete/"
    assert client.get("/password/reset/complete/").status_code == 200

    assert _login(Client(), "anna@example.com", NEW_PASSWORD).status_code == 302
    assert _login(Client(), "anna@example.com", PASSWORD).status_code == 200

    # The link works once.
    again = Client()
    response = again.get(path, follow=True)
    assert response.status_code == 200
    assert response.context["validlink"] is False
    assert 'name="new_password1"' not in response.content.decode()
    response = again.post(path, {"new_password1": "Another-Pass-4321", "new_password2": "Another-Pass-4321"})
    anna.refresh_from_db()
    assert anna.check_password(NEW_PASSWORD)


def test_reset_link_with_a_forged_token_is_refused(client, anna):
    client.post("/password/reset/", {"email": "anna@example.com"})
    path = _reset_path_from(mail.outbox[0].body)
    forged = re.sub(r"/[^/]+/$", "/cqz-0123456789abcdef0123456789abcdef/", path)
    response = client.get(forged, follow=True)
    assert response.context["validlink"] is False


def test_reset_with_a_weak_password_is_refused(client, anna):
    client.post("/password/reset/", {"email": "anna@example.com"})
    form_path = client.get(_reset_path_from(mail.outbox[0].body))["Location"]
    response = client.post(form_path, {"new_password1": "qwerty", "new_password2": "qwerty"})
    assert response.status_code == 200
    assert "new_password2" in response.context["form"].errors
    anna.refresh_from_db()
    assert anna.check_password(PASSWORD)


def test_reset_ignores_the_case_of_the_email(client, anna):
    client.post("/password/reset/", {"email": "ANNA@example.com"})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@example.com"]


def test_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(client, anna):
    known = client.post("/password/reset/", {"email": "anna@example.com"})
    unknown = Client().post("/password/reset/", {"email": "nobody@example.com"})
    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"]
    assert [m.to for m in mail.outbox] == [["anna@example.com"]]


def test_reset_is_not_sent_to_an_inactive_login(client, anna):
    anna.is_active = False
    anna.save()
    client.post("/password/reset/", {"email": "anna@example.com"})
    assert mail.outbox == []


class _StoringHandler:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    handler = _StoringHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    smtp_settings(settings, port)
    try:
        yield handler
    finally:
        controller.stop()


def test_reset_mail_goes_through_a_real_smtp_server(client, anna, smtp_server):
    response = client.post("/password/reset/", {"email": "anna@example.com"})
    assert response.status_code == 302
    assert len(smtp_server.envelopes) == 1
    envelope = smtp_server.envelopes[0]
    assert envelope.rcpt_tos == ["anna@example.com"]
    message = email.message_from_bytes(
        envelope.original_content or envelope.content, policy=email.policy.default
    )
    assert message["To"] == "anna@example.com"
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    body = part.get_content()
    path = _reset_path_from(body)

    # The link that travelled through SMTP works.
    form_path = client.get(path)["Location"]
    response = client.post(form_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response["Location"] == "/password/reset/complete/"
    anna.refresh_from_db()
    assert anna.check_password(NEW_PASSWORD)


# --- lockout after failed logins (django-axes) ---------------------------------------------

LOCKED_STATUS = 429


def _is_locked_page(response) -> bool:
    return response.status_code == LOCKED_STATUS and "portal/locked.html" in [
        t.name for t in response.templates
    ]


def test_five_wrong_passwords_lock_the_login_even_from_other_addresses(anna):
    # Each failure from another address, so that only the per-login counter reaches the limit.
    for i in range(5):
        response = _login(Client(REMOTE_ADDR=f"10.1.0.{i + 1}"), "anna@example.com", f"wrong-{i}")
        # The failure that reaches the limit already answers with the locked page.
        assert response.status_code == (200 if i < 4 else LOCKED_STATUS), i
    client = Client(REMOTE_ADDR="10.1.0.99")
    response = _login(client, "anna@example.com", PASSWORD)
    assert _is_locked_page(response), response.status_code
    assert _logged_in_user_id(client) is None
    assert 'href="/password/reset/"' in response.content.decode()
    # The same e-mail typed in another case is the same login, and just as locked.
    response = _login(Client(REMOTE_ADDR="10.1.0.98"), "ANNA@example.com", PASSWORD)
    assert _is_locked_page(response)
    # Another login from that very address is not affected.
    UserFactory(email="boris@example.com")
    other = Client(REMOTE_ADDR="10.1.0.99")
    assert _login(other, "boris@example.com", PASSWORD).status_code == 302


def test_failures_of_different_logins_from_different_addresses_lock_nobody(anna):
    for i in range(6):
        response = _login(Client(REMOTE_ADDR=f"10.4.0.{i + 1}"), f"someone{i}@example.com", "wrong-pass")
        assert response.status_code == 200, i
    response = _login(Client(REMOTE_ADDR="10.4.0.50"), "anna@example.com", "wrong-pass")
    assert response.status_code == 200
    assert "form" in response.context
    assert _login(Client(REMOTE_ADDR="10.4.0.51"), "anna@example.com", PASSWORD).status_code == 302


def test_four_wrong_passwords_do_not_lock_and_success_resets_the_count(anna):
    for round_ in range(2):
        for i in range(4):
            _login(Client(REMOTE_ADDR=f"10.2.{round_}.{i + 1}"), "anna@example.com", "wrong")
        client = Client(REMOTE_ADDR=f"10.2.{round_}.50")
        response = _login(client, "anna@example.com", PASSWORD)
        assert response.status_code == 302, round_
        assert _logged_in_user_id(client) == anna.pk


def test_five_failures_from_one_address_lock_that_address(anna):
    boris = UserFactory(email="boris@example.com")
    for i in range(5):
        response = _login(Client(REMOTE_ADDR="10.3.0.7"), f"guess{i}@example.com", "whatever-123")
        assert response.status_code == (200 if i < 4 else LOCKED_STATUS), i
    # Boris's right password from the locked address is refused ...
    locked = Client(REMOTE_ADDR="10.3.0.7")
    response = _login(locked, "boris@example.com", PASSWORD)
    assert _is_locked_page(response), response.status_code
    assert _logged_in_user_id(locked) is None
    # ... but another address can still log in to an account that is not locked.
    free = Client(REMOTE_ADDR="10.3.0.8")
    response = _login(free, "boris@example.com", PASSWORD)
    assert response.status_code == 302
    assert _logged_in_user_id(free) == boris.pk
    assert _login(Client(REMOTE_ADDR="10.3.0.9"), "anna@example.com", PASSWORD).status_code == 302


# --- hashing ------------------------------------------------------------------------------


def test_passwords_are_hashed_with_argon2(client, settings):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    meter = MeterFactory()
    response = client.post(
        "/register/",
        {
            "account_number": meter.account.number,
            "meter_serial": meter.serial,
            "email": "argon@example.com",
            "phone": "",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "consent": "on",
            "consent_version": CONSENT_VERSION,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="argon@example.com")
    assert user.password.startswith("argon2")
    assert NEW_PASSWORD not in user.password
    assert user.check_password(NEW_PASSWORD)
    assert _login(Client(), "argon@example.com", NEW_PASSWORD).status_code == 302


def test_a_pbkdf2_hash_is_upgraded_to_argon2_on_login(settings):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    user = UserFactory(email="old@example.com")
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save()
    assert _login(Client(), "old@example.com", PASSWORD).status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2")
