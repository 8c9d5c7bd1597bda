"""The one way amounts, volumes and phone numbers are written (``domain.money``, ``domain.phones``)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from meterdesk.domain.money import MINUS, NARROW_NBSP, NBSP, money_plain, money_text, number_text, volume_text
from meterdesk.domain.phones import phone_text, phone_uri


@pytest.mark.parametrize(
    ("amount", "language", "expected"),
    [
        (D("2384.13"), "ru", f"2{NARROW_NBSP}384,13{NBSP}₽"),
        (D("2384.13"), "en", f"2,384.13{NBSP}₽"),
        (D("2384.13"), "ru-RU", f"2{NARROW_NBSP}384,13{NBSP}₽"),
        (D("2384.13"), "en-us", f"2,384.13{NBSP}₽"),
        (D("2384.13"), None, f"2,384.13{NBSP}₽"),
        (D("1234567.5"), "ru", f"1{NARROW_NBSP}234{NARROW_NBSP}567,50{NBSP}₽"),
        (D("999.99"), "ru", f"999,99{NBSP}₽"),
        (D("0"), "ru", f"0,00{NBSP}₽"),
        (D("-0.00"), "ru", f"0,00{NBSP}₽"),  # no minus sign on a zero
        (D("-162"), "ru", f"{MINUS}162,00{NBSP}₽"),
        (D("-1048.5"), "en", f"{MINUS}1,048.50{NBSP}₽"),
        (D("0.005"), "ru", f"0,01{NBSP}₽"),  # half up, as on the bill
        (D("-0.005"), "en", f"{MINUS}0.01{NBSP}₽"),
        (12, "en", f"12.00{NBSP}₽"),
    ],
)
def test_money_text(amount, language, expected):
    assert money_text(amount, language) == expected


def test_money_text_without_the_sign_and_of_nothing():
    assert money_text(D("2384.13"), "ru", symbol=False) == f"2{NARROW_NBSP}384,13"
    assert money_text(D("-5"), "en", symbol=False) == f"{MINUS}5.00"
    assert money_text(None, "ru") == ""


@pytest.mark.parametrize(
    ("volume", "language", "expected"),
    [
        (D("380"), "ru", "380"),
        (D("380.000"), "ru", "380"),
        (D("309.999"), "ru", "309,999"),
        (D("1234.5"), "ru", f"1{NARROW_NBSP}234,5"),
        (D("1234.5"), "en", "1,234.5"),
        (D("-150"), "en", f"{MINUS}150"),
        (D("0.12345"), "en", "0.123"),
        (D("1E+3"), "en", "1,000"),
    ],
)
def test_volume_text(volume, language, expected):
    assert volume_text(volume, language) == expected


def test_number_text_rounds_half_up_to_the_places_asked():
    assert number_text(D("2.5"), 0, "ru") == "3"
    assert number_text(D("12345.678"), 1, "en") == "12,345.7"


def test_money_plain_is_for_machines():
    assert money_plain(D("2384.13")) == "2384.13"
    assert money_plain(D("-12.5")) == "-12.50"
    assert money_plain(7) == "7.00"


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+79991234567", "+7 (999) 123-45-67"),
        ("89991234567", "+7 (999) 123-45-67"),
        ("9991234567", "+7 (999) 123-45-67"),
        ("+7 (495) 012-34-56", "+7 (495) 012-34-56"),
        ("8 800 555-35-35", "+7 (800) 555-35-35"),
        ("+442079460958", "+442079460958"),  # not a Russian number: as given
        ("+9991234567", "+9991234567"),
        ("12345", "12345"),
        ("", ""),
        (None, ""),
    ],
)
def test_phone_text(number, expected):
    assert phone_text(number) == expected


def test_phone_uri_keeps_the_digits_in_international_form():
    assert phone_uri("89991234567") == "tel:+79991234567"
    assert phone_uri("+7 (495) 012-34-56") == "tel:+74950123456"
    assert phone_uri("+442079460958") == "tel:+442079460958"
    assert phone_uri("") == ""
