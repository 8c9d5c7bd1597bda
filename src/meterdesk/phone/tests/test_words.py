"""Numbers, money, volumes and dates in words, Russian grammar first."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.phone.words import (
    cardinal,
    counted,
    day_words,
    digits_words,
    money_words,
    plural_ru,
    volume_words,
)

D = Decimal


@pytest.mark.parametrize(
    ("n", "form"),
    [
        (0, 2),
        (1, 0),
        (2, 1),
        (4, 1),
        (5, 2),
        (11, 2),
        (12, 2),
        (14, 2),
        (15, 2),
        (21, 0),
        (22, 1),
        (25, 2),
        (101, 0),
        (111, 2),
        (112, 2),
        (122, 1),
        (1001, 0),
        (1011, 2),
        (100000, 2),
        (1000001, 0),
    ],
)
def test_plural_forms(n, form):
    assert plural_ru(n) == form


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("1", "один рубль"),
        ("2", "два рубля"),
        ("5", "пять рублей"),
        ("11", "одиннадцать рублей"),
        ("21", "двадцать один рубль"),
        ("0.01", "одна копейка"),
        ("0.02", "две копейки"),
        ("0.23", "двадцать три копейки"),
        ("0.11", "одиннадцать копеек"),
        ("1.21", "один рубль двадцать одна копейка"),
        ("2.22", "два рубля двадцать две копейки"),
        ("1000", "одна тысяча рублей"),
        ("2000", "две тысячи рублей"),
        ("21000", "двадцать одна тысяча рублей"),
        ("22000.5", "двадцать две тысячи рублей пятьдесят копеек"),
        ("1000000", "один миллион рублей"),
        ("2000001.01", "два миллиона один рубль одна копейка"),
        ("-15.5", "пятнадцать рублей пятьдесят копеек"),
        ("1234.567", "одна тысяча двести тридцать четыре рубля пятьдесят семь копеек"),
    ],
)
def test_money_in_russian(amount, words):
    assert money_words(D(amount), "ru") == words


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("1", "one rouble"),
        ("2.01", "two roubles and one kopeck"),
        ("0.23", "twenty-three kopecks"),
        ("21000", "twenty-one thousand roubles"),
    ],
)
def test_money_in_english(amount, words):
    assert money_words(D(amount), "en") == words


def test_gender_bends_only_the_last_group():
    assert cardinal(1_000_001, "ru", "f") == "один миллион одна"
    assert cardinal(2_000_002, "ru", "f") == "два миллиона две"
    assert cardinal(21, "ru", "n") == "двадцать одно"
    assert cardinal(11, "ru", "n") == "одиннадцать"
    assert counted(3, "meter", "ru") == "три счётчика"
    assert volume_words(D("150.4"), "ru") == "сто пятьдесят киловатт-часов"
    assert volume_words(D("1.5"), "ru") == "два киловатт-часа"
    assert volume_words(1, "en") == "one kilowatt-hour"


def test_digits_and_dates():
    assert digits_words("0012", "ru") == "ноль ноль один два"
    assert digits_words("907", "en") == "nine zero seven"
    assert day_words(date(2026, 11, 25), "ru") == "двадцать пятого ноября"
    assert day_words(date(2026, 3, 1), "ru", year=True) == "первого марта две тысячи двадцать шестого года"
    assert day_words(date(2026, 11, 3), "ru", case="nominative") == "третье ноября"
    assert day_words(date(2026, 11, 22), "en") == "November the twenty-second"
