"""Phone numbers: as people read them (``+7 (999) 123-45-67``), and as they are stored.

Numbers are stored in international form without separators (E.164: ``+79991234567``), what the
phone line compares callers with; every page, e-mail and document writes them through
``phone_text``.

``phone_parse`` turns what a household types (``8 916 123-45-67``, ``+7 (916) 123-45-67``,
``9161234567``) into E.164, so that the phone line finds a caller's accounts by plain equality on
an indexed column. Numbers without a country code are read as Russian ones. Whether a number can
exist (its length and ranges for its country) is Google's libphonenumber rule, through the
``phonenumbers`` package (docs/adr/0015-phone-numbers-phonenumbers.md); what we accept is
narrower: ASCII digits and the usual separators only, no letters (libphonenumber would read
``8-800-FLOWERS`` as digits) and no extension, since a caller ID has none.
"""

from __future__ import annotations

import re

import phonenumbers

#: The stable code of every refusal: the API and the pages key their message on it.
PHONE_INVALID = "phone_invalid"
#: Longer input is refused before parsing: no real number with its separators needs more.
MAX_TYPED = 40
#: Where a number without a country code is from.
DEFAULT_REGION = "RU"

# Digits, spaces (also no-break), brackets, hyphens, dots; one "+" only in front.
_TYPED_RE = re.compile(r"\+?[0-9 \u00a0().\-]+")
_E164_RE = re.compile(r"\+[1-9][0-9]{6,14}")


class PhoneInvalid(ValueError):
    """Not a phone number that can exist (``code``: PHONE_INVALID)."""

    code = PHONE_INVALID


def phone_parse(text: str) -> str:
    """The number ``text`` names, in E.164 (``+79161234567``); PhoneInvalid if it names none."""
    typed = text.strip()
    if not typed or len(typed) > MAX_TYPED or not _TYPED_RE.fullmatch(typed):
        raise PhoneInvalid(text)
    try:
        number = phonenumbers.parse(typed, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise PhoneInvalid(text) from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneInvalid(text)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not _E164_RE.fullmatch(e164):  # pragma: no cover - libphonenumber's E.164 always is
        raise PhoneInvalid(text)
    return e164


def phone_format(e164: str) -> str:
    """A stored number as people read it: ``+7 (916) 123-45-67`` for +7 (``phone_text``), the
    international form of its country for any other (``+44 20 7946 0958``)."""
    if _russian_digits(e164) is not None:
        return phone_text(e164)
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _russian_digits(number: str) -> str | None:
    """The ten digits after +7 of a Russian number (``+79991234567``, ``8 999 123-45-67``,
    ``9991234567``), or None for any other number."""
    digits = "".join(ch for ch in number if ch.isdigit())
    international = number.lstrip().startswith("+")
    if len(digits) == 11 and (digits[0] == "7" or (digits[0] == "8" and not international)):
        return digits[1:]
    if len(digits) == 10 and not international:
        return digits
    return None


def phone_text(number: str | None) -> str:
    """A Russian number as ``+7 (999) 123-45-67``; any other number as it was given."""
    if not number:
        return ""
    digits = _russian_digits(number)
    if digits is None:
        return number.strip()
    return f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


def phone_uri(number: str | None) -> str:
    """The ``tel:`` link of a number, its digits in international form (``tel:+79991234567``)."""
    if not number:
        return ""
    digits = _russian_digits(number)
    if digits is not None:
        return f"tel:+7{digits}"
    return (
        "tel:"
        + ("+" if number.lstrip().startswith("+") else "")
        + "".join(ch for ch in number if ch.isdigit())
    )
