"""Parsers of the cells of an import file: each takes the stripped text of a non-empty cell and
returns the value, or raises ``FieldError`` with a message that tells the person fixing the file
what was expected, and a stable code (``not_a_date``, ``too_many_digits`` …) for programs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any

from meterdesk.dataio.source import CONTROL_CHARACTERS

Parser = Callable[[str], Any]


class FieldError(ValueError):
    """The text of one cell is not a valid value: ``str()`` says why, ``code`` is stable."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


# re.ASCII: \d is 0-9 only (not, say, Arabic-Indic digits, which int() and Decimal() would read).
_DATE_RU = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$", re.ASCII)
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_PERIOD_ISO = re.compile(r"^(\d{4})-(\d{1,2})$", re.ASCII)
_PERIOD_RU = re.compile(r"^(\d{1,2})\.(\d{4})$", re.ASCII)
_DATETIME_RU = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$", re.ASCII)
_NUMBER = re.compile(r"^([+-]?)(\d+)(?:[.,](\d+))?$", re.ASCII)
_TRUE = {"1", "true", "yes", "y", "да", "д"}
_FALSE = {"0", "false", "no", "n", "нет", "н"}


def text(max_length: int, pattern: str | None = None, hint: str = "", code: str = "bad_format") -> Parser:
    """Text of at most ``max_length`` characters (and matching ``pattern``, if given; ``code``
    names a mismatch), without control characters."""
    compiled = re.compile(pattern, re.ASCII) if pattern else None

    def parse(value: str) -> str:
        if CONTROL_CHARACTERS.search(value):
            raise FieldError("contains a control character (such as NUL)", "control_character")
        if len(value) > max_length:
            raise FieldError(f"longer than {max_length} characters ({len(value)})", "too_long")
        if "|" in value:
            raise FieldError("contains '|', which cannot appear in a payment QR code", "pipe_in_text")
        if compiled is not None and not compiled.fullmatch(value):
            raise FieldError(hint or f"does not match {pattern}", code)
        return value

    return parse


def integer(low: int, high: int) -> Parser:
    def parse(value: str) -> int:
        if not re.fullmatch(r"[+-]?[0-9]{1,9}", value):
            if re.fullmatch(r"[+-]?[0-9]+", value):
                raise FieldError(f"must be from {low} to {high}", "out_of_range")
            raise FieldError("not a whole number", "not_a_whole_number")
        number = int(value)
        if not low <= number <= high:
            raise FieldError(f"must be from {low} to {high}", "out_of_range")
        return number

    return parse


def decimal(
    places: int, *, max_integer_digits: int = 9, positive: bool = False, signed: bool = False
) -> Parser:
    """A decimal number with at most ``places`` decimal places and ``max_integer_digits`` before
    the mark; not negative unless ``signed``. A comma is accepted as the decimal mark, and spaces
    as thousands separators (``1 234,56``). The digits are counted on the text, before any
    arithmetic (a Decimal keeps 28 digits: a longer number would be rounded or fail)."""

    def parse(value: str) -> Decimal:
        compact = "".join(value.split()).replace("\u00a0", "")
        match = _NUMBER.match(compact)
        if match is None:
            raise FieldError("not a number", "not_a_number")
        sign, whole, fraction = match.groups()
        whole = whole.lstrip("0") or "0"
        fraction = (fraction or "").rstrip("0")
        if sign == "-" and not signed:
            raise FieldError("must not be negative", "negative")
        if len(fraction) > places:
            if places:
                raise FieldError(f"more than {places} decimal places", "too_many_decimals")
            raise FieldError("not a whole number", "not_whole")
        if len(whole) > max_integer_digits:
            raise FieldError(
                f"more than {max_integer_digits} digits before the decimal mark", "too_many_digits"
            )
        number = Decimal(f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}")
        if positive and number <= 0:
            raise FieldError("must be more than zero", "not_positive")
        return number.quantize(Decimal(1).scaleb(-places))

    return parse


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise FieldError(f"no such date ({exc})", "no_such_date") from exc


def a_date(value: str) -> date:
    """YYYY-MM-DD, or DD.MM.YYYY (as a Russian-locale spreadsheet writes it)."""
    if m := _DATE_ISO.match(value):
        return _make_date(int(m[1]), int(m[2]), int(m[3]))
    if m := _DATE_RU.match(value):
        return _make_date(int(m[3]), int(m[2]), int(m[1]))
    raise FieldError("not a date: expected YYYY-MM-DD or DD.MM.YYYY", "not_a_date")


@lru_cache(maxsize=1024)  # a readings file names the same few dozen months millions of times
def a_period(value: str) -> date:
    """A billing month: YYYY-MM (or MM.YYYY). Returns its first day."""
    m = _PERIOD_ISO.match(value)
    if m:
        year, month = int(m[1]), int(m[2])
    elif m := _PERIOD_RU.match(value):
        year, month = int(m[2]), int(m[1])
    else:
        raise FieldError("not a month: expected YYYY-MM", "not_a_month")
    if not 1 <= month <= 12 or year < 1900:
        raise FieldError("no such month", "no_such_month")
    return date(year, month, 1)


def a_datetime(zone: tzinfo) -> Parser:
    """An ISO 8601 date and time (``2025-03-20T14:05:00+03:00``, ``2025-03-20 14:05``) or
    ``DD.MM.YYYY HH:MM[:SS]``; without an offset it is the utility's local time. A date alone is
    noon of that day."""

    def parse(value: str) -> datetime:
        if m := _DATETIME_RU.match(value):
            day = _make_date(int(m[3]), int(m[2]), int(m[1]))
            try:
                moment = datetime(
                    day.year, day.month, day.day, int(m[4]), int(m[5]), int(m[6] or 0), tzinfo=zone
                )
            except ValueError as exc:
                raise FieldError(f"no such time ({exc})", "no_such_time") from exc
            return moment
        if _DATE_ISO.match(value) or _DATE_RU.match(value):
            day = a_date(value)
            return datetime(day.year, day.month, day.day, 12, tzinfo=zone)
        message = "not a date and time: expected YYYY-MM-DDTHH:MM[:SS][+03:00]"
        if not value.isascii():
            raise FieldError(message, "not_a_datetime")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise FieldError(message, "not_a_datetime") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment

    return parse


def boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise FieldError("expected 1 or 0 (also true/false, yes/no, да/нет)", "not_yes_or_no")


def choice(choices: Iterable[str]) -> Parser:
    allowed = tuple(choices)

    def parse(value: str) -> str:
        if value not in allowed:
            raise FieldError(f"expected one of: {', '.join(allowed)}", "not_one_of_the_choices")
        return value

    return parse


ACCOUNT_NUMBER = text(10, r"\d{10}", "an account number has exactly 10 digits", "not_an_account_number")
