"""Security settings: secure cookies behind HTTPS, CSRF, headers."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from meterdesk.metering.models import Reading
from meterdesk.testing import PASSWORD

SNAPSHOT = """
import json
import meterdesk.settings as s
print(json.dumps({
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS,
    "SESSION_COOKIE_HTTPONLY": s.SESSION_COOKIE_HTTPONLY,
    "DEBUG": s.DEBUG,
    "DATA_DIR": str(s.DATA_DIR),
    "SECRET_KEY_LEN": len(s.SECRET_KEY),
    "EMAIL_BACKEND": s.EMAIL_BACKEND,
}))
"""


def _settings_in_subprocess(data_dir: Path, **env: str) -> dict:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("METERDESK_") and k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    environ["METERDESK_DATA_DIR"] = str(data_dir)
    environ.update(env)
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", SNAPSHOT],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_https_makes_cookies_secure(tmp_path):
    values = _settings_in_subprocess(tmp_path, METERDESK_HTTPS="1")
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 60 * 60 * 24 * 180
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["DATA_DIR"] == str(tmp_path.resolve())


@pytest.mark.parametrize("https", [None, "", "0", "no"])
def test_without_https_cookies_are_not_marked_secure(tmp_path, https):
    env = {} if https is None else {"METERDESK_HTTPS": https}
    values = _settings_in_subprocess(tmp_path, **env)
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0


def test_defaults_are_safe(tmp_path):
    values = _settings_in_subprocess(tmp_path)
    assert values["DEBUG"] is False
    assert values["SECRET_KEY_LEN"] >= 50
    # Without an SMTP host, mail goes to files, never to the outside world.
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend"
    key_file = tmp_path / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The key is generated once and kept.
    first = key_file.read_text()
    _settings_in_subprocess(tmp_path)
    assert key_file.read_text() == first


def test_secret_key_from_the_environment_is_used(tmp_path):
    values = _settings_in_subprocess(tmp_path, METERDESK_SECRET_KEY="k" * 64)
    assert values["SECRET_KEY_LEN"] == 64
    assert not (tmp_path / "secret_key").exists()


# --- CSRF -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/login/", {"username": "anna@example.com", "password": PASSWORD}),
        ("/register/", {"account_number": "5000000000", "meter_serial": "1"}),
        ("/password/reset/", {"email": "anna@example.com"}),
    ],
)
def test_posts_without_a_csrf_token_are_refused(customer, path, data):
    client = Client(enforce_csrf_checks=True)
    response = client.post(path, data)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_logged_in_posts_without_a_csrf_token_are_refused(customer, settings):
    settings.METERDESK_READING_WINDOW = "1-31"
    user, meter = customer
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    url = f"/meters/{meter.pk}/readings/new/"
    assert client.post(url, {"t1": "1100", "t2": "550"}).status_code == 403
    assert Reading.objects.count() == 0
    assert client.post("/logout/").status_code == 403
    assert client.get("/cabinet/").status_code == 200  # still logged in
    assert client.post("/accounts/link/", {"account_number": "1", "meter_serial": "1"}).status_code == 403

    # With the token from the page, the same post goes through.
    page = client.get(url)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert match is not None
    token = match.group(1)
    response = client.post(url, {"t1": "1100", "t2": "550", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Reading.objects.count() == 1


@pytest.mark.django_db
def test_login_with_the_csrf_token_works(customer):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/")
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert match is not None
    token = match.group(1)
    response = client.post(
        "/login/", {"username": "anna@example.com", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


# --- cookies and headers ----------------------------------------------------------------------


@pytest.mark.django_db
def test_session_and_csrf_cookies_carry_the_secure_flags(customer, settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    client = Client()
    page = client.get("/login/")
    assert page.cookies["csrftoken"]["secure"] is True
    response = client.post("/login/", {"username": "anna@example.com", "password": PASSWORD})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


@pytest.mark.django_db
def test_security_headers(client):
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_https_redirect_and_hsts_when_enabled(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get("/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/"
    secure = client.get("/login/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
