"""Numbers, money, volumes and dates as the phone line says them, in Russian and English.

``num2words`` writes the cardinal and ordinal numbers; the rest is here, because it gets two things
of Russian wrong or leaves them to the caller: the gender of the last word group (``одна копейка``,
``две тысячи``, but ``один рубль``: num2words' feminine turns ``один миллион`` into ``одна миллион``)
and the form of the noun after a number (``1 рубль``, ``2 рубля``, ``5 рублей``, ``11 рублей``,
``21 рубль``). No Django here: the dialog passes the language.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from num2words import num2words

Gender = Literal["m", "f", "n"]

#: (one, few, many) of each noun the line counts, with its gender, in Russian; (one, many) in English.
_RU: dict[str, tuple[tuple[str, str, str], Gender]] = {
    "rouble": (("рубль", "рубля", "рублей"), "m"),
    "kopeck": (("копейка", "копейки", "копеек"), "f"),
    "kwh": (("киловатт-час", "киловатт-часа", "киловатт-часов"), "m"),
    "digit": (("цифра", "цифры", "цифр"), "f"),
    "second": (("секунда", "секунды", "секунд"), "f"),
    "call": (("звонок", "звонка", "звонков"), "m"),
    "meter": (("счётчик", "счётчика", "счётчиков"), "m"),
}
_EN: dict[str, tuple[str, str]] = {
    "rouble": ("rouble", "roubles"),
    "kopeck": ("kopeck", "kopecks"),
    "kwh": ("kilowatt-hour", "kilowatt-hours"),
    "digit": ("digit", "digits"),
    "second": ("second", "seconds"),
    "call": ("call", "calls"),
    "meter": ("meter", "meters"),
}
_MONTHS_RU = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DIGITS_RU = ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять")
_DIGITS_EN = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def russian(language: str | None) -> bool:
    return (language or "ru").split("-")[0].lower() == "ru"


def plural_ru(n: int) -> int:
    """The index of the Russian noun form after ``n``: 0 one (1, 21, 101), 1 few (2-4, 22-24),
    2 many (0, 5-20, 25-30, 111-114)."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return 0
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return 1
    return 2


def cardinal(n: int, language: str | None, gender: Gender = "m") -> str:
    """``n`` in words; in Russian of ``gender`` (which changes only 1 and 2 of the last group)."""
    if not russian(language):
        return str(num2words(n, lang="en"))
    if n < 0:
        return "минус " + cardinal(-n, language, gender)
    tail = n % 1000
    if gender == "m" or tail == 0:
        return str(num2words(n, lang="ru"))
    # num2words' feminine also bends the millions (``одна миллион``): bend only the last group.
    words = str(num2words(tail, lang="ru", gender="f")) if gender == "f" else _neuter(tail)
    return words if n == tail else f"{num2words(n - tail, lang='ru')} {words}"


def _neuter(n: int) -> str:
    """Below a thousand, neuter: as masculine but ``одно`` for a final one (num2words has no neuter)."""
    words = str(num2words(n, lang="ru"))
    if n % 10 == 1 and n % 100 != 11:
        return words[: -len("один")] + "одно"
    return words


def counted(n: int, noun: str, language: str | None) -> str:
    """``n`` and the noun in the form it takes: ``двадцать один рубль``, ``две копейки``, ``5 kopecks``."""
    if russian(language):
        forms, gender = _RU[noun]
        return f"{cardinal(n, language, gender)} {forms[plural_ru(n)]}"
    one, many = _EN[noun]
    return f"{cardinal(n, language)} {one if n == 1 else many}"


def money_words(amount: Decimal | int, language: str | None) -> str:
    """An amount in roubles and kopecks: ``сто двадцать один рубль ноль пять копеек`` reads as
    ``сто двадцать один рубль пять копеек``; whole roubles say no kopecks; a negative amount is
    spoken as its size (the dialog says debt or credit)."""
    value = abs(Decimal(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    roubles, kopecks = int(value), int((value - int(value)) * 100)
    if roubles == 0 and kopecks:
        return counted(kopecks, "kopeck", language)
    words = counted(roubles, "rouble", language)
    if kopecks:
        words += (" " if russian(language) else " and ") + counted(kopecks, "kopeck", language)
    return words


def volume_words(kwh: Decimal | int, language: str | None) -> str:
    """A volume in kilowatt-hours, whole (the line reads consumption to the kilowatt-hour; the
    bill has the decimals)."""
    whole = int(Decimal(kwh).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return counted(whole, "kwh", language)


def number_words(value: Decimal | int, language: str | None) -> str:
    """A meter value as a number (``тысяча триста``); a fraction is said after ``запятая``/``point``
    digit by digit, as the meter shows it."""
    value = Decimal(value)
    whole = int(value)
    text = cardinal(whole, language)
    if value != whole:
        fraction = format(value, "f").split(".")[1]
        text += (" запятая " if russian(language) else " point ") + digits_words(fraction, language)
    return text


def digits_words(digits: str, language: str | None) -> str:
    """Digits one by one, as an account number or a confirmation number is read back."""
    names = _DIGITS_RU if russian(language) else _DIGITS_EN
    return " ".join(names[int(d)] for d in digits if d.isdigit())


def day_words(day: date, language: str | None, *, year: bool = False, case: str = "genitive") -> str:
    """A date: ``двадцать пятого ноября`` (``case``: genitive after ``до``, ``с``; nominative
    alone); ``November the twenty-fifth`` in English; with the year if ``year``."""
    if russian(language):
        text = f"{num2words(day.day, lang='ru', to='ordinal', gender='n', case=case)} {_MONTHS_RU[day.month - 1]}"
        if year:
            text += f" {num2words(day.year, lang='ru', to='ordinal', gender='m', case='genitive')} года"
        return text
    text = f"{_MONTHS_EN[day.month - 1]} the {num2words(day.day, lang='en', to='ordinal')}"
    if year:
        text += f", {num2words(day.year, lang='en', to='year')}"
    return text
