"""Registration records the consent to personal data processing (152-ФЗ) and refuses to go on
without it; the welcome letter follows the confirmation of the e-mail; the old single phone of a
login moved into its list of numbers."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from meterdesk.customers.consent import (
    CONSENT_VERSION,
    ConsentMissing,
    ConsentOutdated,
    Given,
    consent_record,
    consent_text,
)
from meterdesk.customers.models import Consent, ConsentText, PendingLink, Phone, User
from meterdesk.customers.selectors import consent_of
from meterdesk.customers.services import email_verify, user_register
from meterdesk.domain.phones import PhoneInvalid
from meterdesk.testing import MeterFactory, UserFactory
from meterdesk.utility.models import UtilitySettings

pytestmark = pytest.mark.django_db

STRONG = "Lyublino-Marino-2026"
SITE = "https://lk.example.ru"


@pytest.fixture
def meter():
    return MeterFactory(serial="CE-102M0042")


def _register(meter, **extra):
    options = {"consent": CONSENT_VERSION, "client": "203.0.113.7", "user_agent": "Firefox/140", **extra}
    return user_register(
        email="ivan@example.com",
        password=STRONG,
        account_number=meter.account.number,
        meter_serial=meter.serial,
        site=SITE,
        **options,
    )


def _verify(message):
    match = re.search(re.escape(SITE) + r"/register/confirm/([^/]+)/([^/]+)/", message.body)
    assert match, message.body
    return email_verify(uidb64=match.group(1), token=match.group(2), site=SITE)


@pytest.mark.parametrize(("consent", "refusal"), [("", ConsentMissing), ("0", ConsentOutdated)])
def test_registration_without_the_consent_fails_and_changes_nothing(meter, consent, refusal):
    with pytest.raises(refusal):
        _register(meter, consent=consent)
    assert User.objects.count() == 0
    assert PendingLink.objects.count() == 0
    assert Consent.objects.count() == ConsentText.objects.count() == 0
    assert mail.outbox == []


def test_the_consent_is_recorded_with_who_when_which_text_and_from_where(meter):
    before = timezone.now()
    user = _register(meter, language="en")
    consent = Consent.objects.get()
    assert consent.user == user
    assert consent.email == "ivan@example.com"
    assert consent.version == CONSENT_VERSION
    assert before <= consent.given_at <= timezone.now()
    assert (consent.address, consent.user_agent, consent.channel) == (
        "203.0.113.7",
        "Firefox/140",
        "registration",
    )
    # The text as it was shown, in the language it was shown in, with the utility's name in it.
    assert consent.text.language == "en"
    assert consent.text.text == consent_text("en")
    assert UtilitySettings.objects.get().name in consent.text.text
    assert "152-FZ" in consent.text.text
    assert consent_of(user) == consent


def test_a_text_is_kept_once_however_many_agree_to_it(meter):
    for n in range(3):
        user = UserFactory(email=f"u{n}@example.com")
        consent_record(user=user, version=CONSENT_VERSION, language="ru", given=Given())
    assert Consent.objects.count() == 3
    assert ConsentText.objects.count() == 1
    assert "152-ФЗ" in ConsentText.objects.get().text


def test_a_changed_text_is_a_new_record_and_the_old_one_stays(meter):
    first = consent_record(user=UserFactory(), version=CONSENT_VERSION, language="ru", given=Given())
    UtilitySettings.objects.update(name="АО «Новое имя»")  # the reference stamp moves with it
    second = consent_record(user=UserFactory(), version=CONSENT_VERSION, language="ru", given=Given())
    assert first.text_id != second.text_id
    first.text.refresh_from_db()
    assert "АО «Новое имя»" not in first.text.text
    assert "АО «Новое имя»" in second.text.text


def test_a_phone_given_at_registration_is_the_first_number_in_e164(meter):
    user = _register(meter, phone="8 (916) 123-45-67")
    assert list(Phone.objects.filter(user=user).values_list("number", "label")) == [
        ("+79161234567", "mobile")
    ]


def test_an_invalid_phone_at_registration_makes_nothing(meter):
    with pytest.raises(PhoneInvalid):
        _register(meter, phone="12345")
    assert User.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.parametrize(("language", "subject", "line"), [
    ("ru", "Добро пожаловать в личный кабинет", "Ваша электронная почта подтверждена"),
    ("en", "Welcome to the personal account", "Your e-mail is confirmed"),
])  # fmt: skip
def test_a_welcome_letter_follows_the_confirmation_in_the_login_s_language(meter, language, subject, line):
    user = _register(meter, language=language)
    assert len(mail.outbox) == 1  # only the link, until it is followed
    assert _verify(mail.outbox[0]) == user
    welcome = mail.outbox[-1]
    assert welcome.to == ["ivan@example.com"]
    assert subject in welcome.subject
    assert line in welcome.body
    assert f"{SITE}/cabinet/" in welcome.body and f"{SITE}/profile/" in welcome.body
    assert _verify(mail.outbox[0]) is None  # a used link sends no second welcome
    assert len(mail.outbox) == 2


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_the_old_phone_into_the_list():
    """customers 0007: each login's single phone, as registration kept it, becomes its first
    number in E.164; a value that names no number is not carried over."""
    executor = MigrationExecutor(connection)
    before = [("customers", "0006_account_area")]
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldUser = old.get_model("customers", "User")
    rows = {
        "mobile@example.com": "89161234567",
        "plus@example.com": "+74959810819",
        "nothing@example.com": "",
        "bad@example.com": "12345",
    }
    for email, phone in rows.items():
        OldUser.objects.create(email=email, password="!", phone=phone)
    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    moved = dict(Phone.objects.values_list("user__email", "number"))
    assert moved == {"mobile@example.com": "+79161234567", "plus@example.com": "+74959810819"}
