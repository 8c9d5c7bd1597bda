"""The profile page (/profile/): contacts (e-mail changed by a link; phone numbers added and
removed), the language of the pages and letters, bills by e-mail, the consent to personal data
processing; the consent box of registration; the notice after logging out."""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from django.utils import translation

from meterdesk.customers.consent import CONSENT_VERSION, Given, consent_record
from meterdesk.customers.models import Consent, ConsentText, PendingLink, Phone, User
from meterdesk.customers.profile import MAX_PHONES, phone_add
from meterdesk.documents.services import ebill_subscribe
from meterdesk.testing import PASSWORD, AccountFactory, MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db

URL = "/profile/"
STRONG = "Vesna-na-Taganke-2026"
LANG = django_settings.LANGUAGE_COOKIE_NAME


@pytest.fixture(autouse=True)
def _back_to_the_default_language():
    """LocaleMiddleware leaves the last request's language active in the thread: undo that."""
    yield
    translation.deactivate()


@pytest.fixture
def anna():
    return UserFactory(email="anna@example.com")


@pytest.fixture
def client_en(anna):
    client = Client()
    client.cookies[LANG] = "en"
    client.force_login(anna)
    return client


def _html(response) -> str:
    return response.content.decode()


def _confirm_path(letter) -> str:
    match = re.search(r"https?://testserver(/profile/email/confirm/\S+/)", str(letter.body))
    assert match, letter.body
    return match.group(1)


# --- the page ------------------------------------------------------------------------------------


def test_the_profile_needs_a_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={URL}"


def test_a_login_that_has_not_confirmed_its_email_sees_check_your_mail(client):
    client.force_login(UserFactory(email_verified_at=None))
    assert 'data-testid="check-mail"' in _html(client.get(URL))
    assert client.post("/profile/phones/", {"number": "+79161234567", "label": "mobile"}).status_code == 200
    assert Phone.objects.count() == 0


def test_the_page_shows_the_contacts_language_bills_and_consent_in_russian(client, anna):
    account = AccountFactory()
    link(anna, account)
    phone_add(user=anna, number="89161234567")
    consent_record(user=anna, version=CONSENT_VERSION, language="ru", given=Given())
    client.force_login(anna)
    html = _html(client.get(URL))
    assert "<h1>Профиль</h1>" in html
    assert 'data-testid="email">anna@example.com<' in html
    assert 'data-testid="phone">+7 (916) 123-45-67<' in html
    assert "мобильный" in html
    assert f"Счёт {account.number}:" in html and "на бумаге" in html
    assert f'href="/documents/accounts/{account.number}/ebill/"' in html
    assert "Вы дали согласие" in html
    assert 'href="/profile/consent/"' in html
    assert '<option value="ru" selected>Русский</option>' in html
    assert 'href="/profile/"' in html  # the header links the profile


def test_the_page_in_english_with_an_ebill(client_en, anna):
    account = AccountFactory()
    link(anna, account)
    ebill_subscribe(user=anna, account=account)
    html = _html(client_en.get(URL))
    assert "<h1>Profile</h1>" in html
    assert "No phone numbers yet." in html
    assert f"Account {account.number}:" in html and "by e-mail since" in html


# --- phone numbers -------------------------------------------------------------------------------


def test_adding_a_number_stores_it_in_e164_and_shows_it_formatted(client_en, anna):
    response = client_en.post("/profile/phones/", {"number": "8 (916) 123-45-67", "label": "home"})
    assert response.status_code == 302
    assert response["Location"] == "/profile/#phones"
    assert list(Phone.objects.filter(user=anna).values_list("number", "label")) == [("+79161234567", "home")]
    html = _html(client_en.get(URL))
    assert "The number +7 (916) 123-45-67 is added to your profile." in html
    assert 'data-testid="phone">+7 (916) 123-45-67<' in html


def test_an_invalid_number_is_an_error_tied_to_its_field(client_en, anna):
    response = client_en.post("/profile/phones/", {"number": "+7 916 12", "label": "mobile"})
    assert response.status_code == 422
    html = _html(response)
    message = "This is not a phone number we can call."
    assert message in html
    # The field says it is invalid and points at its error; the summary links to the field.
    field = re.search(r'<input[^>]*name="number"[^>]*>', html)
    assert field is not None
    assert 'aria-invalid="true"' in field.group(0)
    assert 'aria-describedby="id_number_helptext id_number_error"' in field.group(0)
    assert 'id="id_number_error"' in html
    assert 'href="#id_number"' in html
    assert Phone.objects.count() == 0


def test_a_duplicate_number_is_refused(client_en, anna):
    phone_add(user=anna, number="+79161234567")
    response = client_en.post("/profile/phones/", {"number": "8 916 123 45 67", "label": "mobile"})
    assert response.status_code == 422
    assert "The number +7 (916) 123-45-67 is already in your profile." in _html(response)
    assert Phone.objects.count() == 1


def test_at_the_limit_the_form_is_not_offered(client_en, anna):
    for n in range(MAX_PHONES):
        phone_add(user=anna, number=f"+7916000{n:04d}")
    html = _html(client_en.get(URL))
    assert 'action="/profile/phones/"' not in html
    assert f"A profile holds at most {MAX_PHONES} phone numbers." in html
    response = client_en.post("/profile/phones/", {"number": "+79169999999", "label": "mobile"})
    assert response.status_code == 422
    assert Phone.objects.count() == MAX_PHONES


def test_removing_a_number(client_en, anna):
    phone = phone_add(user=anna, number="+79161234567")
    assert client_en.get(f"/profile/phones/{phone.pk}/remove/").status_code == 405
    response = client_en.post(f"/profile/phones/{phone.pk}/remove/")
    assert response.status_code == 302
    assert not Phone.objects.exists()
    assert "The number +7 (916) 123-45-67 is removed from your profile." in _html(client_en.get(URL))


def test_someone_else_s_number_is_404_and_stays(client_en):
    theirs = phone_add(user=UserFactory(email="boris@example.com"), number="+79161234567")
    assert client_en.post(f"/profile/phones/{theirs.pk}/remove/").status_code == 404
    assert Phone.objects.filter(pk=theirs.pk).exists()


# --- language ------------------------------------------------------------------------------------


def test_the_language_form_saves_it_for_the_pages_and_the_letters(client, anna):
    client.force_login(anna)
    response = client.post("/profile/language/", {"language": "en"})
    assert response.status_code == 302
    assert client.cookies[LANG].value == "en"  # this browser follows at once
    assert User.objects.get(pk=anna.pk).language == "en"
    html = _html(client.get(URL))
    assert '<html lang="en">' in html
    assert "Saved: the pages and letters are now in this language." in html
    assert client.post("/profile/language/", {"language": "de"}).status_code == 400


def test_logging_in_on_a_browser_without_a_choice_brings_the_profile_s_language(anna):
    """Registered in English, the login sees English on a new device whatever the browser asks."""
    User.objects.filter(pk=anna.pk).update(language="en")
    client = Client(HTTP_ACCEPT_LANGUAGE="ru")
    assert '<html lang="ru">' in _html(client.get("/login/"))  # a visitor: the browser's language
    client.post("/login/", {"username": "anna@example.com", "password": PASSWORD})
    assert client.cookies[LANG].value == "en"
    assert '<html lang="en">' in _html(client.get("/cabinet/"))
    assert User.objects.get(pk=anna.pk).language == "en"


def test_a_choice_made_on_the_browser_is_kept_at_login(anna):
    client = Client(HTTP_ACCEPT_LANGUAGE="ru")
    client.cookies[LANG] = "en"
    client.post("/login/", {"username": "anna@example.com", "password": PASSWORD})
    assert client.cookies[LANG].value == "en"
    assert '<html lang="en">' in _html(client.get("/cabinet/"))
    assert User.objects.get(pk=anna.pk).language == "en"  # and saved for the letters


def test_switching_the_language_in_the_header_saves_it_to_the_profile(client, anna):
    client.force_login(anna)
    client.post("/i18n/setlang/", {"language": "en", "next": "/cabinet/"})
    assert '<html lang="en">' in _html(client.get("/cabinet/"))
    assert User.objects.get(pk=anna.pk).language == "en"


def test_a_language_chosen_before_logging_in_is_saved_at_login(anna):
    client = Client()
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    client.post("/login/", {"username": "anna@example.com", "password": PASSWORD})
    assert '<html lang="en">' in _html(client.get("/cabinet/"))
    assert User.objects.get(pk=anna.pk).language == "en"


# --- a new e-mail --------------------------------------------------------------------------------


def test_changing_the_email_through_the_link_sent_to_it(client_en, anna):
    form = _html(client_en.get("/profile/email/"))
    assert "Your e-mail now: anna@example.com." in form
    response = client_en.post("/profile/email/", {"email": "anna.new@example.ru", "password": PASSWORD})
    assert response.status_code == 302
    assert "We have sent a link to anna.new@example.ru" in _html(client_en.get(URL))
    (letter,) = mail.outbox
    assert letter.to == ["anna.new@example.ru"]
    path = _confirm_path(letter)

    # Opening the link changes nothing (mail scanners open links); the button does.
    page = client_en.get(path)
    assert "will become anna.new@example.ru" in _html(page)
    assert User.objects.get(pk=anna.pk).email == "anna@example.com"
    response = client_en.post(path)
    assert response["Location"] == URL
    assert User.objects.get(pk=anna.pk).email == "anna.new@example.ru"
    assert "Done: your e-mail is now anna.new@example.ru." in _html(client_en.get(URL))
    assert mail.outbox[1].to == ["anna@example.com"]  # the old address is told
    assert client_en.get(path).status_code == 400  # used
    assert client_en.post(path).status_code == 400


def test_a_wrong_password_is_an_error_on_its_field(client_en, anna):
    response = client_en.post("/profile/email/", {"email": "anna.new@example.ru", "password": "nope"})
    assert response.status_code == 422
    assert response.context["form"].errors["password"] == ["The password is not correct."]
    assert mail.outbox == []


def test_the_link_works_from_a_browser_that_is_not_logged_in(anna):
    owner = Client()
    owner.force_login(anna)
    owner.post("/profile/email/", {"email": "anna.new@example.ru", "password": PASSWORD})
    path = _confirm_path(mail.outbox[0])
    response = Client().post(path)
    assert response["Location"] == "/login/"
    assert User.objects.get(pk=anna.pk).email == "anna.new@example.ru"


# --- consent ---------------------------------------------------------------------------------------


def _registration(meter, **overrides) -> dict[str, str]:
    data = {
        "account_number": meter.account.number,
        "meter_serial": meter.serial,
        "email": "new@example.com",
        "phone": "",
        "password1": STRONG,
        "password2": STRONG,
        "consent": "on",
        "consent_version": CONSENT_VERSION,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_registration_form_shows_the_consent_and_its_box(client):
    client.cookies[LANG] = "en"
    html = _html(client.get("/register/"))
    assert "Consent to the processing of personal data" in html
    assert "152-FZ" in html
    assert re.search(r'<input type="checkbox" name="consent"[^>]*required', html)
    assert f'<input type="hidden" name="consent_version" value="{CONSENT_VERSION}"' in html


def test_registration_without_the_box_ticked_fails_and_changes_nothing(client):
    meter = MeterFactory()
    client.cookies[LANG] = "en"
    response = client.post("/register/", _registration(meter, consent=None))
    assert response.status_code == 200
    assert response.context["form"].errors["consent"] == [
        "Tick the box: the personal account cannot work without your consent."
    ]
    html = _html(response)
    assert 'aria-describedby="id_consent_error"' in html
    assert User.objects.count() == PendingLink.objects.count() == Consent.objects.count() == 0
    assert mail.outbox == []


def test_registration_records_the_consent_with_the_client_address(client):
    meter = MeterFactory()
    client = Client(REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="TestBrowser/1")
    response = client.post("/register/", _registration(meter))
    assert response.status_code == 302
    consent = Consent.objects.get()
    assert consent.user == User.objects.get(email="new@example.com")
    assert (consent.version, consent.address, consent.user_agent) == (
        CONSENT_VERSION,
        "198.51.100.4",
        "TestBrowser/1",
    )
    assert consent.text.language == "ru" and "152-ФЗ" in consent.text.text


def test_a_form_shown_with_an_older_text_asks_again(client):
    meter = MeterFactory()
    client.cookies[LANG] = "en"
    response = client.post("/register/", _registration(meter, consent_version="0"))
    assert response.status_code == 200
    assert "The text of the consent has changed" in _html(response)
    assert f'name="consent_version" value="{CONSENT_VERSION}"' in _html(response)
    assert User.objects.count() == 0


def test_the_profile_shows_the_consent_and_its_text(client_en, anna):
    consent_record(user=anna, version=CONSENT_VERSION, language="en", given=Given(address="10.0.0.1"))
    html = _html(client_en.get(URL))
    assert f"(text version {CONSENT_VERSION})" in html
    text = _html(client_en.get("/profile/consent/"))
    assert ConsentText.objects.get().text.splitlines()[0] in text


def test_a_login_without_a_consent_can_give_it_in_the_profile(client_en, anna):
    html = _html(client_en.get(URL))
    assert "We have no record of your consent" in html
    assert client_en.get("/profile/consent/")["Location"] == "/profile/#consent"
    response = client_en.post("/profile/consent/", {"consent_version": CONSENT_VERSION})
    assert response.status_code == 422  # the box not ticked
    assert Consent.objects.count() == 0
    response = client_en.post(
        "/profile/consent/", {"consent": "on", "consent_version": CONSENT_VERSION}, REMOTE_ADDR="10.1.2.3"
    )
    assert response.status_code == 302
    consent = Consent.objects.get()
    assert (consent.user, consent.channel, consent.address) == (anna, "profile", "10.1.2.3")


# --- logging out -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "notice"), [
    ("ru", "Вы вышли из личного кабинета."),
    ("en", "You have logged out of the personal account."),
])  # fmt: skip
def test_after_logging_out_the_login_page_says_so(anna, language, notice):
    client = Client()
    client.cookies[LANG] = language
    client.force_login(anna)
    response = client.post("/logout/", follow=True)
    assert response.redirect_chain[-1][0] == "/login/"
    assert notice in _html(response)
    assert notice not in _html(client.get("/login/"))  # said once
