"""The profile's writes and reads: phone numbers (stored in E.164, once per login, found by the
phone line), the language, and a new e-mail confirmed by a link sent to it."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from meterdesk.customers.models import Phone, PhoneLabel, User
from meterdesk.customers.profile import (
    EMAIL_CHANGES,
    EMAIL_INVALID,
    EMAIL_SAME,
    MAX_PHONES,
    PASSWORD_WRONG,
    PHONE_DUPLICATE,
    PHONE_LIMIT,
    EmailChangeError,
    EmailChangeGone,
    PhoneError,
    email_change_check,
    email_change_confirm,
    email_change_request,
    phone_add,
    phone_error_message,
    phone_remove,
    user_language_set,
)
from meterdesk.customers.selectors import phone_accounts, phones_of
from meterdesk.customers.services import TooManyAttempts
from meterdesk.domain.phones import PHONE_INVALID
from meterdesk.testing import PASSWORD, AccountFactory, UserFactory, link

pytestmark = pytest.mark.django_db

SITE = "https://lk.example.ru"


@pytest.fixture
def anna():
    return UserFactory(email="anna@example.com")


# --- phone numbers -------------------------------------------------------------------------------


def test_a_number_is_stored_in_e164_and_shown_formatted(anna):
    phone = phone_add(user=anna, number="8 (916) 123-45-67", label=PhoneLabel.HOME)
    assert Phone.objects.get(pk=phone.pk).number == "+79161234567"
    (row,) = phones_of(anna)
    assert (row.number, row.text, row.label) == ("+79161234567", "+7 (916) 123-45-67", "home")


def test_a_login_keeps_several_numbers_in_the_order_added(anna):
    for typed in ("+7 916 123-45-67", "8 495 981-08-19", "+44 20 7946 0958"):
        phone_add(user=anna, number=typed)
    assert [row.text for row in phones_of(anna)] == [
        "+7 (916) 123-45-67",
        "+7 (495) 981-08-19",
        "+44 20 7946 0958",
    ]


def test_a_number_is_on_a_login_once_whatever_its_form(anna):
    phone_add(user=anna, number="+79161234567")
    with pytest.raises(PhoneError) as refused:
        phone_add(user=anna, number="8 916 123 45 67")
    assert refused.value.code == PHONE_DUPLICATE
    assert "+7 (916) 123-45-67" in phone_error_message(refused.value)
    assert Phone.objects.filter(user=anna).count() == 1


def test_the_database_also_refuses_a_second_copy_and_anything_but_e164(anna):
    Phone.objects.create(user=anna, number="+79161234567")
    with pytest.raises(IntegrityError), transaction.atomic():
        Phone.objects.create(user=anna, number="+79161234567")
    with pytest.raises(IntegrityError), transaction.atomic():
        Phone.objects.create(user=anna, number="89161234567")


def test_two_logins_may_have_the_same_number(anna):
    husband = UserFactory(email="boris@example.com")
    phone_add(user=anna, number="+74959810819", label=PhoneLabel.HOME)
    phone_add(user=husband, number="8 495 981-08-19", label=PhoneLabel.HOME)
    assert Phone.objects.filter(number="+74959810819").count() == 2


def test_an_invalid_number_is_refused_and_nothing_stored(anna):
    with pytest.raises(PhoneError) as refused:
        phone_add(user=anna, number="+7 916 123")
    assert refused.value.code == PHONE_INVALID
    assert Phone.objects.count() == 0


def test_a_login_holds_at_most_max_phones(anna):
    for n in range(MAX_PHONES):
        phone_add(user=anna, number=f"+7916000{n:04d}")
    with pytest.raises(PhoneError) as refused:
        phone_add(user=anna, number="+79169999999")
    assert refused.value.code == PHONE_LIMIT
    assert Phone.objects.filter(user=anna).count() == MAX_PHONES


def test_a_login_removes_its_own_numbers_only(anna):
    stranger = UserFactory(email="stranger@example.com")
    own = phone_add(user=anna, number="+79161234567")
    theirs = phone_add(user=stranger, number="+79161234568")
    with pytest.raises(Phone.DoesNotExist):
        phone_remove(user=anna, phone_id=theirs.pk)
    assert Phone.objects.filter(pk=theirs.pk).exists()
    phone_remove(user=anna, phone_id=own.pk)
    assert phones_of(anna) == []


def test_an_unknown_label_is_a_programming_error(anna):
    with pytest.raises(ValueError, match="label"):
        phone_add(user=anna, number="+79161234567", label="fax")


# --- what the phone line finds ---------------------------------------------------------------------


@pytest.mark.parametrize("caller_id", ["+79161234567", "79161234567", "89161234567", "9161234567"])
def test_the_phone_line_finds_the_accounts_of_a_calling_number(anna, caller_id):
    flat, dacha = AccountFactory(), AccountFactory()
    link(anna, flat)
    link(anna, dacha)
    phone_add(user=anna, number="+7 916 123-45-67")
    assert list(phone_accounts(caller_id)) == sorted([flat, dacha], key=lambda a: a.number)


def test_a_family_number_finds_each_login_s_accounts_once(anna):
    husband = UserFactory(email="boris@example.com")
    flat, garage = AccountFactory(), AccountFactory()
    link(anna, flat)
    link(husband, flat)
    link(husband, garage)
    phone_add(user=anna, number="+74959810819")
    phone_add(user=husband, number="+74959810819")
    assert list(phone_accounts("+74959810819")) == sorted([flat, garage], key=lambda a: a.number)


def test_the_phone_line_finds_nothing_for_closed_accounts_unverified_or_inactive_logins(anna):
    closed = AccountFactory(closed_on=date(2025, 1, 1))
    link(anna, closed)
    phone_add(user=anna, number="+79161234567")
    assert list(phone_accounts("+79161234567")) == []

    unverified = UserFactory(email="new@example.com", email_verified_at=None)
    link(unverified, AccountFactory())
    phone_add(user=unverified, number="+79161234568")
    assert list(phone_accounts("+79161234568")) == []

    gone = UserFactory(email="gone@example.com", is_active=False)
    link(gone, AccountFactory())
    phone_add(user=gone, number="+79161234569")
    assert list(phone_accounts("+79161234569")) == []

    assert list(phone_accounts("anonymous")) == []
    assert list(phone_accounts("")) == []


def test_the_lookup_is_one_query(anna, django_assert_num_queries):
    link(anna, AccountFactory())
    phone_add(user=anna, number="+79161234567")
    with django_assert_num_queries(1):
        assert len(list(phone_accounts("89161234567"))) == 1


def test_the_number_has_an_index_of_its_own():
    """The phone line looks numbers up across every login: the unique (login, number) index does
    not serve that, one on the number alone does."""
    indexes = {tuple(index.fields) for index in Phone._meta.indexes}
    assert ("number",) in indexes


# --- language --------------------------------------------------------------------------------------


def test_the_language_is_saved(anna):
    user_language_set(user=anna, language="en")
    assert User.objects.get(pk=anna.pk).language == "en"
    with pytest.raises(ValueError, match="language"):
        user_language_set(user=anna, language="de")
    assert User.objects.get(pk=anna.pk).language == "en"


# --- a new e-mail ----------------------------------------------------------------------------------


def _link(message) -> str:
    match = re.search(re.escape(SITE) + r"/profile/email/confirm/(\S+)/", message.body)
    assert match, message.body
    return match.group(1)


def test_a_new_email_takes_effect_only_once_its_link_is_followed(anna):
    sent_to = email_change_request(user=anna, new_email=" Anna.New@Example.RU ", password=PASSWORD, site=SITE)
    assert sent_to == "anna.new@example.ru"
    assert User.objects.get(pk=anna.pk).email == "anna@example.com"  # not yet
    (letter,) = mail.outbox
    assert letter.to == ["anna.new@example.ru"]  # the new address proves itself
    token = _link(letter)
    assert email_change_check(token).new == "anna.new@example.ru"

    user = email_change_confirm(token=token)
    assert user.email == "anna.new@example.ru"
    assert User.objects.get(pk=anna.pk).email == "anna.new@example.ru"
    assert user.email_verified
    told = mail.outbox[1]
    assert told.to == ["anna@example.com"]  # the old address is told
    assert "a***w@e***.ru" in told.body
    assert "anna.new@example.ru" not in told.body


def test_the_link_works_once(anna):
    email_change_request(user=anna, new_email="anna.new@example.ru", password=PASSWORD, site=SITE)
    token = _link(mail.outbox[0])
    email_change_confirm(token=token)
    with pytest.raises(EmailChangeGone):
        email_change_confirm(token=token)
    with pytest.raises(EmailChangeGone):
        email_change_check(token)


def test_a_later_change_voids_the_earlier_links(anna):
    email_change_request(user=anna, new_email="first@example.ru", password=PASSWORD, site=SITE)
    email_change_request(user=anna, new_email="second@example.ru", password=PASSWORD, site=SITE)
    first, second = (_link(m) for m in mail.outbox)
    email_change_confirm(token=second)
    with pytest.raises(EmailChangeGone):
        email_change_confirm(token=first)
    assert User.objects.get(pk=anna.pk).email == "second@example.ru"


def test_a_forged_or_expired_link_changes_nothing(anna, settings):
    email_change_request(user=anna, new_email="anna.new@example.ru", password=PASSWORD, site=SITE)
    token = _link(mail.outbox[0])
    with pytest.raises(EmailChangeGone):
        email_change_confirm(token=token[:-2] + "xx")
    settings.PASSWORD_RESET_TIMEOUT = -1  # the link's age is past any limit
    with pytest.raises(EmailChangeGone):
        email_change_confirm(token=token)
    assert User.objects.get(pk=anna.pk).email == "anna@example.com"


def test_an_address_with_a_login_is_not_taken_and_its_owner_is_told(anna):
    UserFactory(email="boris@example.com", language="en")
    sent_to = email_change_request(user=anna, new_email="Boris@Example.com", password=PASSWORD, site=SITE)
    assert sent_to == "boris@example.com"  # the page says the same as for any address
    (letter,) = mail.outbox
    assert letter.to == ["boris@example.com"]
    assert "/profile/email/confirm/" not in letter.body
    assert "already has its own login" in letter.body
    assert User.objects.get(pk=anna.pk).email == "anna@example.com"


def test_an_address_taken_after_the_request_is_not_given_twice(anna):
    email_change_request(user=anna, new_email="anna.new@example.ru", password=PASSWORD, site=SITE)
    UserFactory(email="anna.new@example.ru")  # registered meanwhile
    with pytest.raises(EmailChangeGone):
        email_change_confirm(token=_link(mail.outbox[0]))
    assert User.objects.get(pk=anna.pk).email == "anna@example.com"


@pytest.mark.parametrize(
    ("new_email", "password", "code"),
    [
        ("anna.new@example.ru", "wrong-password", PASSWORD_WRONG),
        ("ANNA@example.com", PASSWORD, EMAIL_SAME),
        ("not an address", PASSWORD, EMAIL_INVALID),
        ("a@" + "b" * 250 + ".ru", PASSWORD, EMAIL_INVALID),
    ],
)
def test_a_refused_change_sends_nothing(anna, new_email, password, code):
    with pytest.raises(EmailChangeError) as refused:
        email_change_request(user=anna, new_email=new_email, password=password, site=SITE)
    assert refused.value.code == code
    assert mail.outbox == []


def test_requests_are_limited_per_login_so_the_password_cannot_be_guessed(anna):
    for _n in range(EMAIL_CHANGES[0]):
        with pytest.raises(EmailChangeError):
            email_change_request(user=anna, new_email="new@example.ru", password="guess", site=SITE)
    with pytest.raises(TooManyAttempts):  # even with the right password, until the hour is over
        email_change_request(user=anna, new_email="new@example.ru", password=PASSWORD, site=SITE)
    assert mail.outbox == []
