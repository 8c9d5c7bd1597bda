"""Writes of logins and account links: account_match, user_register (verified by e-mail),
account_link, undoing and removing links, signing out everywhere, registration codes, limits."""

from __future__ import annotations

from datetime import date

import pytest

from meterdesk.customers.services import AccountMismatch, account_match
from meterdesk.testing import AccountFactory, MeterFactory

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
