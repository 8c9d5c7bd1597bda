"""Security headers: a Content-Security-Policy on every answer, Cache-Control: no-store on every
page and API answer, and no inline script, style or event handler that the policy would block."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from meterdesk.api.auth import token_create
from meterdesk.testing import ReadingFactory, UserFactory

pytestmark = pytest.mark.django_db

PACKAGE_DIR = Path(django_settings.BASE_DIR)


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def _assert_strict(response) -> None:
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]


def _assert_no_store(response) -> None:
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert "no-store" in directives, response["Cache-Control"]


@pytest.fixture
def anna(customer):
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2024, 3, 1))
    return user, meter


def test_every_page_has_the_policy_and_personal_ones_are_not_stored(anna):
    user, meter = anna
    client = Client()
    for path in ("/login/", "/register/", "/password/reset/"):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_strict(response)
    client.force_login(user)
    number = meter.account.number
    for path in (
        "/cabinet/",
        f"/accounts/{number}/history/",
        f"/accounts/{number}/statements/",
        f"/accounts/{number}/logins/",
        "/accounts/link/",
        "/password/change/",
        f"/meters/{meter.pk}/readings/new/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_strict(response)
        _assert_no_store(response)


def test_api_answers_are_not_stored_and_carry_the_policy(anna):
    user, _meter = anna
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user, name='phone')[1]}")
    for path in ("/api/v1/accounts", "/api/v1/auth/tokens", "/api/v1/health", "/api/v1/no/such/thing"):
        response = api.get(path)
        _assert_no_store(response)
        _assert_strict(response)


def test_the_api_docs_load_their_scripts_from_this_site(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    _assert_strict(response)
    html = response.content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    for attributes, body in scripts:
        # Only files of this site run; a JSON data block is not run, so the policy allows it.
        assert 'src="/static/' in attributes or ('type="application/json"' in attributes), attributes
        assert "src=" in attributes or body.strip().startswith("{"), body[:80]
    assert "cdn" not in html.lower()


def test_the_admin_has_the_policy(client):
    client.force_login(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))
    response = client.get("/admin/customers/account/")
    assert response.status_code == 200
    _assert_strict(response)
    _assert_no_store(response)


def test_the_history_chart_has_no_inline_style(anna):
    user, meter = anna
    client = Client()
    client.force_login(user)
    html = client.get(f"/accounts/{meter.account.number}/history/").content.decode()
    assert 'class="swatch' in html
    assert "style=" not in html


#: What a policy without 'unsafe-inline' blocks: an inline <script> (one without src, other than
#: a JSON data block), a <style> element, a style="" attribute, an on…="" event handler, a
#: javascript: URL.
INLINE = [
    re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I),
    re.compile(r"<style\b", re.I),
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),
    re.compile(r"javascript:", re.I),
]


def test_no_template_has_inline_script_style_or_handlers():
    found = []
    for template in sorted(PACKAGE_DIR.glob("*/templates/**/*.html")):
        text = template.read_text(encoding="utf-8")
        for pattern in INLINE:
            for match in pattern.finditer(text):
                found.append(f"{template.relative_to(PACKAGE_DIR)}: {match.group(0)}")
    assert not found, found


def test_no_python_made_html_has_inline_style():
    found = []
    for module in sorted(PACKAGE_DIR.glob("*/*.py")):
        text = module.read_text(encoding="utf-8")
        for pattern in INLINE[1:3]:
            found += [f"{module.relative_to(PACKAGE_DIR)}: {m.group(0)}" for m in pattern.finditer(text)]
    assert not found, found
