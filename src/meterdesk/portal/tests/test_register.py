"""Registration at /register/: a login is created only for the right account number + meter serial,
and sees the account only once its e-mail is verified; the answer never tells whether the address
already had a login. Linking a further account at /accounts/link/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from meterdesk.customers.consent import CONSENT_VERSION
from meterdesk.customers.models import AccountLink, PendingLink, User
from meterdesk.testing import PASSWORD, AccountFactory, MeterFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/register/"
MISMATCH_EN = "The account number and meter serial number do not match."
GOOD_PASSWORD = "Vesna-na-Taganke-2026"


def _english(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


def _data(meter, **overrides) -> dict[str, str]:
    data = {
        "account_number": meter.account.number,
        "meter_serial": meter.serial,
        "email": "new.customer@example.com",
        "phone": "+79161234567",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
        "consent": "on",
        "consent_version": CONSENT_VERSION,
    }
    data.update(overrides)
    return data


def _logged_in_user_id(client: Client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value is not None else None


def _error_summary(html: str) -> str:
    match = re.search(r'<div class="error-summary".*?</ul>\s*</div>', html, re.S)
    assert match, "the page shows no error summary"
    return match.group(0)


@pytest.fixture
def meter():
    return MeterFactory(zones=2)


def test_register_without_slash_redirects_to_the_form(client):
    response = client.get("/register")
    assert response.status_code in (301, 302)
    assert response["Location"] == URL


def test_form_has_the_fields(client):
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("account_number", "meter_serial", "email", "phone", "password1", "password2"):
        assert f'name="{name}"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def _verify(client: Client, message) -> Any:
    match = re.search(r"https?://testserver(/register/confirm/\S+)", message.body)
    assert match, message.body
    return client.get(match.group(1))


def _registered(response) -> bool:
    """The registration was taken: off to the "check your e-mail" page."""
    return response.status_code == 302 and response["Location"] == "/register/sent/"


def test_success_makes_an_unverified_login_that_sees_nothing_yet(client, meter):
    response = client.post(URL, _data(meter, email="New.Customer@Example.COM"))

    assert _registered(response)
    user = User.objects.get()
    assert user.email == "new.customer@example.com"
    assert list(user.phones.values_list("number", flat=True)) == ["+79161234567"]
    assert user.check_password(GOOD_PASSWORD)
    assert not user.is_staff
    assert not user.email_verified
    assert not AccountLink.objects.filter(user=user).exists()
    assert _logged_in_user_id(client) is None
    page = client.get("/register/sent/").content.decode()
    assert "new.customer@example.com" in page
    assert meter.account.number not in page
    (letter,) = mail.outbox
    assert letter.to == ["new.customer@example.com"]


def test_the_link_in_the_letter_shows_the_account(client, meter):
    client.post(URL, _data(meter))
    response = _verify(client, mail.outbox[0])
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    user = User.objects.get()
    assert user.email_verified
    assert AccountLink.objects.get(user=user).account == meter.account
    assert client.post("/login/", {"username": user.email, "password": GOOD_PASSWORD}).status_code == 302
    dashboard = client.get("/cabinet/").content.decode()
    assert meter.account.number in dashboard
    assert meter.serial in dashboard
    assert _verify(client, mail.outbox[0]).status_code == 400  # works once


def test_before_verification_the_login_sees_check_your_mail_and_can_resend(client, meter):
    client.post(URL, _data(meter))
    client.post("/login/", {"username": "new.customer@example.com", "password": GOOD_PASSWORD})
    for path in ("/cabinet/", "/accounts/link/"):
        page = client.get(path)
        assert page.status_code == 200
        html = page.content.decode()
        assert 'data-testid="check-mail"' in html, path
        assert meter.account.number not in html and meter.account.address not in html, path
    for path in (
        f"/accounts/{meter.account.number}/history/",
        f"/accounts/{meter.account.number}/statements/",
    ):
        assert client.get(path).status_code == 404
    assert client.post("/register/resend/").status_code == 302
    assert len(mail.outbox) == 2
    assert _verify(client, mail.outbox[1])["Location"] == "/cabinet/"  # logged in: straight in
    assert meter.account.number in client.get("/cabinet/").content.decode()


def test_a_known_address_gets_the_same_answer_and_a_letter(meter):
    """As the password reset does: the same page for a known address, whose owner is told."""
    UserFactory(email="anna@example.com", language="en")
    new = _english(Client()).post(URL, _data(meter, email="someone.new@example.com"))
    known = _english(Client()).post(URL, _data(meter, email="ANNA@example.com"))
    assert _registered(new) and _registered(known)
    assert User.objects.count() == 2
    assert PendingLink.objects.get().user.email == "someone.new@example.com"
    assert [m.to for m in mail.outbox] == [["someone.new@example.com"], ["anna@example.com"]]
    assert "Someone tried to register" in mail.outbox[1].subject


def test_the_new_login_works_with_its_password(client, meter):
    client.post(URL, _data(meter))
    fresh = Client()
    response = fresh.post("/login/", {"username": "new.customer@example.com", "password": GOOD_PASSWORD})
    assert response.status_code == 302
    assert _logged_in_user_id(fresh) == User.objects.get().pk


def test_wrong_pairs_give_one_neutral_error_and_create_nothing(meter):
    other = MeterFactory(zones=1)  # a real meter, but of another account
    cases = {
        "unknown account": _data(meter, account_number="9999999999"),
        "serial of another account": _data(meter, meter_serial=other.serial),
        "unknown serial": _data(meter, meter_serial="NO-SUCH-METER"),
    }
    summaries = {}
    errors = {}
    for name, data in cases.items():
        client = _english(Client())
        response = client.post(URL, data)
        assert response.status_code == 200, name
        form = response.context["form"]
        assert form.non_field_errors() == [MISMATCH_EN], name
        # Nothing points at one field or the other.
        assert "account_number" not in form.errors, name
        assert "meter_serial" not in form.errors, name
        errors[name] = form.errors.get_json_data()
        summaries[name] = _error_summary(response.content.decode())
        assert _logged_in_user_id(client) is None, name
    assert len({repr(e) for e in errors.values()}) == 1, errors
    assert len(set(summaries.values())) == 1, summaries
    assert MISMATCH_EN in next(iter(summaries.values()))
    assert User.objects.count() == 0
    assert AccountLink.objects.count() == 0


def test_neutral_error_in_russian_is_the_same_for_every_case(meter):
    other = MeterFactory(zones=1)
    texts = set()
    for data in (
        _data(meter, account_number="9999999999"),
        _data(meter, meter_serial=other.serial),
        _data(meter, meter_serial="NO-SUCH-METER"),
    ):
        response = Client().post(URL, data)
        texts.add(tuple(response.context["form"].non_field_errors()))
    assert len(texts) == 1
    assert User.objects.count() == 0


def test_removed_meter_or_closed_account_cannot_be_used(meter):
    removed = MeterFactory(serial="REMOVED-1", removed_on="2025-01-01")
    response = _english(Client()).post(
        URL, _data(removed, account_number=removed.account.number, meter_serial="REMOVED-1")
    )
    assert response.context["form"].non_field_errors() == [MISMATCH_EN]
    closed = MeterFactory(account=AccountFactory(closed_on="2025-01-01"))
    response = _english(Client()).post(URL, _data(closed))
    assert response.context["form"].non_field_errors() == [MISMATCH_EN]
    assert User.objects.count() == 0


@pytest.mark.parametrize("typed", ["ab-12 cd", "AB-12CD", " ab-12cd ", "Ab - 12 Cd"])
def test_serial_match_ignores_case_and_spaces(client, typed):
    meter = MeterFactory(serial="AB-12CD")
    response = client.post(URL, _data(meter, meter_serial=typed))
    assert _registered(response), response.context and response.context["form"].errors
    assert PendingLink.objects.get().account == meter.account


def test_account_number_may_be_typed_with_spaces(client, meter):
    number = meter.account.number
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    response = client.post(URL, _data(meter, account_number=spaced))
    assert _registered(response)
    assert PendingLink.objects.get().account == meter.account


def test_malformed_account_number_is_a_field_error(meter):
    client = _english(Client())
    response = client.post(URL, _data(meter, account_number="12345"))
    assert response.status_code == 200
    assert response.context["form"].errors["account_number"] == ["An account number has exactly 10 digits."]
    assert User.objects.count() == 0


def test_passwords_differ(meter):
    client = _english(Client())
    response = client.post(URL, _data(meter, password2=GOOD_PASSWORD + "x"))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["password2"] == ["The two passwords differ."]
    assert "password1" not in form.errors
    assert User.objects.count() == 0
    assert _logged_in_user_id(client) is None


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1A", "password_too_short"),
        ("1234567890123", "password_entirely_numeric"),
        ("password1234", "password_too_common"),
        ("new.customer.example", "password_too_similar"),
    ],
)
def test_weak_password_is_rejected_by_django_validators(client, meter, password, code):
    response = client.post(URL, _data(meter, password1=password, password2=password))
    assert response.status_code == 200
    form = response.context["form"]
    codes = [e.code for e in form.errors.as_data()["password1"]]
    assert code in codes
    assert User.objects.count() == 0
    assert AccountLink.objects.count() == 0


@pytest.mark.parametrize(
    "phone", ["12345", "+7 916 abc 45 67", "+7916123456789012345", "phone", "+7 000 000 00 00"]
)
def test_phone_in_a_bad_format(meter, phone):
    client = _english(Client())
    response = client.post(URL, _data(meter, phone=phone))
    assert response.status_code == 200
    assert response.context["form"].errors["phone"] == [
        "This is not a phone number we can call. Enter it with the area code, "
        "e.g. +7 916 123-45-67 or 8 916 123-45-67."
    ]
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+7 (916) 123-45-67", ["+79161234567"]),
        ("8 916 123 45 67", ["+79161234567"]),
        ("9161234567", ["+79161234567"]),
        ("", []),
    ],
)
def test_phone_is_normalised_or_optional(client, meter, typed, stored):
    response = client.post(URL, _data(meter, phone=typed))
    assert _registered(response)
    assert list(User.objects.get().phones.values_list("number", flat=True)) == stored


def test_several_logins_may_share_one_account(meter):
    first, second = Client(), Client()
    assert _registered(first.post(URL, _data(meter, email="wife@example.com")))
    assert _registered(second.post(URL, _data(meter, email="husband@example.com")))
    _verify(first, mail.outbox[0])
    _verify(second, mail.outbox[1])
    assert set(AccountLink.objects.filter(account=meter.account).values_list("user__email", flat=True)) == {
        "wife@example.com",
        "husband@example.com",
    }
    # The wife was told that the husband's login was linked after hers; each got a welcome.
    assert [m.to for m in mail.outbox[2:]] == [["wife@example.com"]] * 2 + [["husband@example.com"]]
    assert "/accounts/undo/" in mail.outbox[3].body
    for client, email in ((first, "wife@example.com"), (second, "husband@example.com")):
        client.post("/login/", {"username": email, "password": GOOD_PASSWORD})
        page = client.get("/cabinet/")
        assert meter.account.number in page.content.decode()


def test_logged_in_user_is_sent_to_the_dashboard(client, customer):
    user, meter = customer
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/cabinet/"
    client.post(URL, _data(meter, email="other@example.com"))
    assert not User.objects.filter(email="other@example.com").exists()


def test_registration_does_not_accept_get_with_data_as_a_submission(client, meter):
    response = client.get(URL, _data(meter))
    assert response.status_code == 200
    assert User.objects.count() == 0


def test_a_long_passphrase_is_accepted(client, meter):
    """A passphrase (long, not common, not numeric) passes the validators."""
    response = client.post(URL, _data(meter, password1=PASSWORD, password2=PASSWORD))
    assert _registered(response)


# --- linking a further account (/accounts/link/) ----------------------------------------------

LINK_URL = "/accounts/link/"


@pytest.fixture
def anna(client, customer):
    client.force_login(customer[0])
    client.cookies["django_language"] = "en"
    return customer


def test_link_page(client, anna):
    response = client.get(LINK_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="account_number"' in html
    assert 'name="meter_serial"' in html


def test_link_a_further_account(client, anna):
    user, flat_meter = anna
    dacha = MeterFactory(zones=1, serial="DACHA-77")
    response = client.post(LINK_URL, {"account_number": dacha.account.number, "meter_serial": " dacha-77 "})
    assert response.status_code == 302
    assert response["Location"] == "/cabinet/"
    assert set(AccountLink.objects.filter(user=user).values_list("account_id", flat=True)) == {
        flat_meter.account_id,
        dacha.account_id,
    }
    page = client.get("/cabinet/")
    html = page.content.decode()
    assert f"Account {dacha.account.number} is now linked to your login." in html
    assert dacha.account.address in html
    assert flat_meter.account.address in html


def test_link_with_a_wrong_pair_gives_the_neutral_error(client, anna):
    user, flat_meter = anna
    dacha = MeterFactory(zones=1)
    summaries = set()
    for data in (
        {"account_number": "9999999999", "meter_serial": dacha.serial},
        {"account_number": dacha.account.number, "meter_serial": flat_meter.serial},
        {"account_number": dacha.account.number, "meter_serial": "NO-SUCH"},
    ):
        response = client.post(LINK_URL, data)
        assert response.status_code == 200
        assert response.context["form"].non_field_errors() == [MISMATCH_EN]
        assert set(response.context["form"].errors) == {"__all__"}
        summaries.add(_error_summary(response.content.decode()))
    assert len(summaries) == 1
    assert AccountLink.objects.filter(user=user).count() == 1


def test_link_an_account_already_linked(client, anna):
    user, flat_meter = anna
    response = client.post(
        LINK_URL, {"account_number": flat_meter.account.number, "meter_serial": flat_meter.serial}
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["This account is already linked to your login."]
    assert AccountLink.objects.filter(user=user).count() == 1


def test_link_an_account_that_another_login_already_uses(client, anna):
    user = anna[0]
    neighbour = MeterFactory()
    UserFactory(email="neighbour@example.com").account_links.create(account=neighbour.account)
    response = client.post(
        LINK_URL, {"account_number": neighbour.account.number, "meter_serial": neighbour.serial}
    )
    assert response.status_code == 302
    assert AccountLink.objects.filter(account=neighbour.account).count() == 2
    assert AccountLink.objects.filter(user=user, account=neighbour.account).exists()
