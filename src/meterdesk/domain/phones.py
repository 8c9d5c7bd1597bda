"""Phone numbers as a household types them, and as the phone line's caller ID gives them.

``phone_parse`` turns what was typed (``8 916 123-45-67``, ``+7 (916) 123-45-67``, ``9161234567``)
into E.164 (``+79161234567``), the one form stored, so that the phone line finds a caller's
accounts by plain equality on an indexed column. Numbers without a country code are read as
Russian ones. The parsing and the check that a number can exist (its length and ranges for its
country) are Google's libphonenumber rules, through the ``phonenumbers`` package
(docs/adr/0015-phone-numbers-phonenumbers.md); what we accept on top is narrower: ASCII digits and
the usual separators only, no letters (libphonenumber would read ``8-800-FLOWERS`` as digits) and no
extension, since a caller ID has none.
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
    """A stored number as people read it: ``+7 (916) 123-45-67`` for Russia (and the rest of +7),
    the international form of its country for any other (``+44 20 7946 0958``)."""
    if re.fullmatch(r"\+7[0-9]{10}", e164):
        d = e164[2:]
        return f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}"
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_text(number: str | None) -> str:
    """Any phone number as people read it (``+7 (999) 123-45-67``), for a template or a document;
    text that names no number (a free-form field) is shown as it was written."""
    if not number:
        return ""
    try:
        return phone_format(phone_parse(number))
    except PhoneInvalid:
        return number.strip()


def phone_uri(number: str | None) -> str:
    """The ``tel:`` link of a phone number (``tel:+79991234567``); "" for none."""
    if not number:
        return ""
    try:
        return "tel:" + phone_parse(number)
    except PhoneInvalid:
        digits = re.sub(r"[^0-9+]", "", number)
        return f"tel:{digits}" if digits else ""
