"""/api/v1/profile: the login's e-mail, language and consent; its phone numbers added and removed
through the same rules as the profile page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from meterdesk.api.tests.conftest import API, ApiClient
from meterdesk.customers.consent import CONSENT_VERSION, Given, consent_record
from meterdesk.customers.models import Phone, User
from meterdesk.customers.profile import MAX_PHONES, phone_add
from meterdesk.customers.selectors import phone_accounts
from meterdesk.testing import UserFactory

pytestmark = pytest.mark.django_db


def test_the_profile(api, anna):
    phone_add(user=anna, number="8 916 123-45-67", label="home")
    consent_record(user=anna, version=CONSENT_VERSION, language="ru", given=Given())
    response = api.get_api("/profile", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "anna@example.com"
    assert body["language"] == "ru"
    (phone,) = body["phones"]
    assert (phone["number"], phone["text"], phone["label"], phone["label_text"]) == (
        "+79161234567",
        "+7 (916) 123-45-67",
        "home",
        "home",
    )
    assert body["consent"]["version"] == CONSENT_VERSION
    assert body["consent"]["language"] == "ru"


def test_the_language_is_changed(api, anna):
    response = api.patch(f"{API}/profile", {"language": "en"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["language"] == "en"
    assert User.objects.get(pk=anna.pk).language == "en"
    refused = api.patch(f"{API}/profile", {"language": "de"}, content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_error"


def test_a_number_is_added_in_e164_and_found_by_the_phone_line(api, anna):
    response = api.post_json("/profile/phones", {"number": "8 (916) 123-45-67"})
    assert response.status_code == 201
    body = response.json()
    assert (body["number"], body["text"], body["label"]) == ("+79161234567", "+7 (916) 123-45-67", "mobile")
    assert Phone.objects.get(user=anna).number == "+79161234567"
    assert [a.number for a in phone_accounts("+79161234567")] == [
        link.account.number for link in anna.account_links.all()
    ]
    listed = api.get_api("/profile/phones").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == body["id"]


@pytest.mark.parametrize("number", ["12345", "+7 916 abc 45 67", "+7 000 000 00 00"])
def test_an_invalid_number_is_phone_invalid(api, number):
    response = api.post_json("/profile/phones", {"number": number}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "phone_invalid"
    assert body["message"].startswith("This is not a phone number we can call.")
    assert Phone.objects.count() == 0


def test_the_error_is_in_the_request_s_language(api):
    body = api.post_json("/profile/phones", {"number": "12345"}, HTTP_ACCEPT_LANGUAGE="ru").json()
    assert body["message"].startswith("Это не номер телефона")


def test_a_duplicate_is_409_and_the_limit_422(api, anna):
    api.post_json("/profile/phones", {"number": "+79161234567"})
    duplicate = api.post_json("/profile/phones", {"number": "89161234567"})
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "phone_duplicate"
    assert duplicate.json()["details"] == {"number": "+79161234567"}
    for n in range(MAX_PHONES - 1):
        phone_add(user=anna, number=f"+7916000{n:04d}")
    over = api.post_json("/profile/phones", {"number": "+79169999999"})
    assert over.status_code == 422
    assert over.json()["code"] == "phone_limit"
    assert Phone.objects.filter(user=anna).count() == MAX_PHONES


@pytest.mark.parametrize("body", [{}, {"number": ""}, {"number": "+7" + "9" * 60}, {"number": "+7\x00916"},
                                  {"number": "+79161234567", "label": "fax"}])  # fmt: skip
def test_a_malformed_body_is_a_validation_error(api, body):
    response = api.post_json("/profile/phones", body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert Phone.objects.count() == 0


def test_a_number_is_removed_and_someone_else_s_is_404(api, anna):
    own = phone_add(user=anna, number="+79161234567")
    theirs = phone_add(user=UserFactory(email="boris@example.com"), number="+79161234568")
    assert api.delete(f"{API}/profile/phones/{theirs.pk}").status_code == 404
    assert Phone.objects.filter(pk=theirs.pk).exists()
    assert api.delete(f"{API}/profile/phones/{own.pk}").status_code == 204
    assert not Phone.objects.filter(pk=own.pk).exists()
    assert api.delete(f"{API}/profile/phones/{own.pk}").status_code == 404


def test_without_a_token_401(db):
    assert ApiClient().get_api("/profile").status_code == 401
    assert ApiClient().post_json("/profile/phones", {"number": "+79161234567"}).status_code == 401


def test_a_session_that_has_not_confirmed_its_email_is_403(db):
    client = Client(enforce_csrf_checks=False)
    client.force_login(UserFactory(email_verified_at=None))
    response = client.get(f"{API}/profile")
    assert response.status_code == 403
    assert response.json()["code"] == "email_not_verified"


def test_a_session_needs_the_csrf_token_to_add(anna):
    client = Client(enforce_csrf_checks=True)
    client.force_login(anna)
    response = client.post(
        f"{API}/profile/phones", {"number": "+79161234567"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert Phone.objects.count() == 0


def test_the_operations_are_in_the_openapi_document(db):
    paths = Client().get(f"{API}/openapi.json").json()["paths"]
    assert set(paths[f"{API}/profile"]) == {"get", "patch"}
    assert set(paths[f"{API}/profile/phones"]) == {"get", "post"}
    assert set(paths[f"{API}/profile/phones/{{phone_id}}"]) == {"delete"}
    assert set(paths[f"{API}/profile/email"]) == {"post"}
    assert paths[f"{API}/profile/phones"]["post"]["operationId"] == "phone_create"


def test_the_email_is_changed_only_by_the_link_sent_to_the_new_address(api, anna, client):
    from django.core import mail

    from meterdesk.testing import PASSWORD

    mail.outbox.clear()
    wrong = api.post_json("/profile/email", {"email": "anna.new@example.com", "password": "not-it-1234"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "password_wrong"
    assert wrong.json()["details"] == {"field": "password"}
    same = api.post_json("/profile/email", {"email": "ANNA@example.com", "password": PASSWORD})
    assert same.status_code == 422 and same.json()["code"] == "email_same"
    invalid = api.post_json("/profile/email", {"email": "anna@", "password": PASSWORD})
    assert invalid.status_code == 422 and invalid.json()["code"] == "email_invalid"
    assert not mail.outbox

    response = api.post_json("/profile/email", {"email": "Anna.New@Example.com", "password": PASSWORD})
    assert response.status_code == 202
    assert response.json() == {"sent_to": "anna.new@example.com", "email": "anna@example.com"}
    assert User.objects.get(pk=anna.pk).email == "anna@example.com"  # not before the link
    (letter,) = mail.outbox
    assert letter.to == ["anna.new@example.com"]
    found = re.search(r"https?://testserver(/profile/email/confirm/\S+/)", str(letter.body))
    assert found is not None
    path = found.group(1)
    client.force_login(anna)
    assert client.post(path).status_code == 302
    assert User.objects.get(pk=anna.pk).email == "anna.new@example.com"


def test_email_changes_are_limited_per_hour(api, anna):
    from meterdesk.customers.profile import EMAIL_CHANGES
    from meterdesk.testing import PASSWORD

    for _ in range(EMAIL_CHANGES[0]):
        api.post_json("/profile/email", {"email": "x-new@example.com", "password": PASSWORD})
    limited = api.post_json("/profile/email", {"email": "x-new@example.com", "password": PASSWORD})
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
