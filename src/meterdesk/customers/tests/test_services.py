"""Writes of logins and account links: account_match, user_register, account_link."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from meterdesk.customers.models import AccountLink, User
from meterdesk.customers.services import (
    AccountMismatch,
    AlreadyLinked,
    EmailTaken,
    account_link,
    account_match,
    user_register,
)
from meterdesk.testing import AccountFactory, MeterFactory, UserFactory, link

pytestmark = pytest.mark.django_db

STRONG = "Lyublino-Marino-2026"


@pytest.fixture
def meter():
    return MeterFactory(serial="CE-102M0042")


# --- account_match ---------------------------------------------------------------------------


def test_match_finds_the_account(meter):
    assert account_match(number=meter.account.number, meter_serial=meter.serial) == meter.account


@pytest.mark.parametrize("typed", ["ce-102m 0042", "CE-102M0042", "  Ce-102m   0042 ", "CE - 102M 0042"])
def test_match_ignores_case_and_spaces_in_the_serial(typed):
    meter = MeterFactory(serial="CE-102M0042")
    assert account_match(number=meter.account.number, meter_serial=typed) == meter.account


def test_match_ignores_spaces_in_the_account_number(meter):
    number = meter.account.number
    assert account_match(number=f" {number[:5]} {number[5:]} ", meter_serial=meter.serial) == meter.account


def test_match_finds_the_account_through_any_of_its_meters(meter):
    second = MeterFactory(account=meter.account, serial="SECOND-2")
    assert account_match(number=meter.account.number, meter_serial="second-2") == meter.account
    assert second.account == meter.account


@pytest.mark.parametrize(
    "case",
    [
        "unknown number",
        "meter of another account",
        "unknown serial",
        "empty serial",
        "blank serial",
        "short number",
        "letters in number",
        "removed meter",
        "closed account",
    ],
)
def test_every_mismatch_is_the_same_error(meter, case):
    other = MeterFactory(serial="OTHER-1")
    removed = MeterFactory(account=meter.account, serial="GONE-1", removed_on=date(2025, 5, 1))
    closed = MeterFactory(serial="CLOSED-1", account=AccountFactory(closed_on=date(2025, 5, 1)))
    number = meter.account.number
    number_and_serial = {
        "unknown number": ("9999999999", meter.serial),
        "meter of another account": (number, other.serial),
        "unknown serial": (number, "NOPE"),
        "empty serial": (number, ""),
        "blank serial": (number, "   "),
        "short number": (number[:9], meter.serial),
        "letters in number": (number[:9] + "x", meter.serial),
        "removed meter": (number, removed.serial),
        "closed account": (closed.account.number, closed.serial),
    }[case]
    with pytest.raises(AccountMismatch) as info:
        account_match(number=number_and_serial[0], meter_serial=number_and_serial[1])
    assert info.value.code == "account_meter_mismatch"
    assert str(info.value) == ""  # nothing in the error tells which part was wrong


def test_the_same_serial_on_two_accounts_matches_only_with_the_right_number():
    first = MeterFactory(serial="SAME-1")
    second = MeterFactory(serial="SAME-1")
    assert account_match(number=first.account.number, meter_serial="same-1") == first.account
    assert account_match(number=second.account.number, meter_serial="same-1") == second.account


# --- user_register ---------------------------------------------------------------------------


def test_register_creates_a_login_linked_to_the_account(meter):
    user = user_register(
        email="  Ivan.Petrov@Example.RU ",
        password=STRONG,
        account_number=meter.account.number,
        meter_serial="ce-102m0042",
        phone="+79161234567",
        language="en",
    )
    user.refresh_from_db()
    assert user.email == "ivan.petrov@example.ru"
    assert user.phone == "+79161234567"
    assert user.language == "en"
    assert user.check_password(STRONG)
    assert user.is_active
    assert not user.is_staff
    assert not user.is_superuser
    assert [link.account for link in user.account_links.all()] == [meter.account]


def test_register_with_a_mismatch_creates_nothing(meter):
    with pytest.raises(AccountMismatch):
        user_register(
            email="x@example.com", password=STRONG, account_number="9999999999", meter_serial=meter.serial
        )
    assert User.objects.count() == 0
    assert AccountLink.objects.count() == 0


def test_register_checks_the_pair_before_the_password(meter):
    """A wrong pair is reported as such even with a weak password: the mismatch comes first."""
    with pytest.raises(AccountMismatch):
        user_register(email="x@example.com", password="123", account_number="9999999999", meter_serial="NOPE")


@pytest.mark.parametrize("password", ["short", "1234567890123", "password1234", "ivanpetrov-example"])
def test_register_refuses_a_weak_password(meter, password):
    with pytest.raises(ValidationError):
        user_register(
            email="ivanpetrov@example.com",
            password=password,
            account_number=meter.account.number,
            meter_serial=meter.serial,
        )
    assert User.objects.count() == 0
    assert AccountLink.objects.count() == 0


def test_register_refuses_an_email_in_use_in_any_case(meter):
    UserFactory(email="ivan@example.com")
    for email in ("ivan@example.com", "IVAN@Example.com"):
        with pytest.raises(EmailTaken):
            user_register(
                email=email, password=STRONG, account_number=meter.account.number, meter_serial=meter.serial
            )
    assert User.objects.count() == 1
    assert AccountLink.objects.count() == 0


def test_several_logins_share_one_account(meter):
    first = user_register(
        email="a@example.com", password=STRONG, account_number=meter.account.number, meter_serial=meter.serial
    )
    second = user_register(
        email="b@example.com", password=STRONG, account_number=meter.account.number, meter_serial=meter.serial
    )
    assert first != second
    assert set(AccountLink.objects.filter(account=meter.account).values_list("user", flat=True)) == {
        first.pk,
        second.pk,
    }


# --- account_link ----------------------------------------------------------------------------


def test_link_a_further_account(meter):
    user = UserFactory()
    link(user, meter.account)
    dacha = MeterFactory(serial="DACHA-9")
    created = account_link(user=user, account_number=dacha.account.number, meter_serial="dacha-9")
    assert created.user == user
    assert created.account == dacha.account
    assert set(user.account_links.values_list("account", flat=True)) == {meter.account.pk, dacha.account.pk}


def test_link_an_account_already_linked(meter):
    user = UserFactory()
    link(user, meter.account)
    with pytest.raises(AlreadyLinked):
        account_link(user=user, account_number=meter.account.number, meter_serial=meter.serial)
    assert AccountLink.objects.filter(user=user).count() == 1


def test_link_with_a_wrong_pair(meter):
    user = UserFactory()
    other = MeterFactory()
    with pytest.raises(AccountMismatch):
        account_link(user=user, account_number=meter.account.number, meter_serial=other.serial)
    assert AccountLink.objects.filter(user=user).count() == 0


def test_link_an_account_linked_to_someone_else(meter):
    owner = UserFactory()
    link(owner, meter.account)
    user = UserFactory()
    created = account_link(user=user, account_number=meter.account.number, meter_serial=meter.serial)
    assert created.account == meter.account
    assert AccountLink.objects.filter(account=meter.account).count() == 2
