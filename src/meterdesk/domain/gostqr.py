"""The payment QR payload of GOST R 56042-2014 ("Standards of financial operations. Two-dimensional
barcode symbols for payments by individuals"): build it, check it, read it back.

A payload is a header and ``key=value`` fields joined by one separator character::

    ST00012|Name=…|PersonalAcc=…|BankName=…|BIC=…|CorrespAcc=…|PayeeINN=…|Sum=…|…

* ``ST`` is the format, ``0001`` the version, ``2`` the encoding of the text (1 windows-1251,
  2 UTF-8, 3 KOI8-R; we write UTF-8 only and read all three). The **next character is the
  separator**: the standard lets the payload choose it, and forbids it inside any value.
* The five required fields come first, in this order (table 1 of the standard), then the
  optional ones (tables 2 and 3) in any order, each at most once.

**The separator.** ``payment_payload`` always writes ``|``: it is what DOMAIN.md shows and the
only separator that every banking app is known to accept, while a payload with another separator
is valid but is refused by some apps — and a QR that a bank does not read is a bill the customer
cannot pay. A ``|`` inside a value (a payer's name or address typed with one) is therefore
replaced with ``/`` (``SEPARATOR_SUBSTITUTE``), which changes nothing a bank needs: the amounts,
accounts and codes are digits. ``payload_encode(..., separator=None)`` is the lossless
alternative the standard also allows: it picks the first of ``SEPARATOR_CANDIDATES`` that occurs
in no value (and raises ``QrPayloadError`` if every candidate occurs).
Line breaks and other control characters are never written: each becomes a space.

**Lengths** are counted in characters, as the standard counts them (tables 1 and 2):
``Name`` ≤ 160, ``PersonalAcc`` ≤ 20, ``BankName`` ≤ 45, ``BIC`` ≤ 9, ``CorrespAcc`` ≤ 20,
``Sum`` ≤ 18, ``Purpose`` ≤ 210, ``PayeeINN``/``PayerINN`` ≤ 12, ``KPP`` ≤ 9, ``CBC`` ≤ 20,
``OKTMO`` ≤ 11, ``DocNo`` ≤ 15. Free-text fields that exceed their limit (``Name``, ``BankName``,
``Purpose``) are cut to it (with ``…`` as the last character, so that a reader sees the cut);
the fields of table 3 (``LastName``, ``PayerAddress``, …) have no limit in the standard, and we
cut them at ``OTHER_TEXT_LIMIT`` (our own choice: it keeps the symbol small enough to print and
scan). Account numbers and codes are never cut: a wrong one is an error (``QrPayloadError``)
with a message that names the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

FORMAT = "ST"
VERSION = "0001"
#: The encoding digit of the header and the codec it names.
ENCODINGS: Mapping[str, str] = {"1": "cp1251", "2": "utf-8", "3": "koi8-r"}
UTF8 = "2"
HEADER = f"{FORMAT}{VERSION}{UTF8}"

SEPARATOR = "|"
SEPARATOR_SUBSTITUTE = "/"
#: Separators ``payload_encode(separator=None)`` tries, in order (printable ASCII, rare in names).
SEPARATOR_CANDIDATES = "|#^~`;@$*"

#: The required fields, in the order the standard prescribes.
REQUIRED = ("Name", "PersonalAcc", "BankName", "BIC", "CorrespAcc")

#: Maximum lengths in characters of the standard's tables 1 and 2.
MAX_LENGTH: Mapping[str, int] = {
    "Name": 160,
    "PersonalAcc": 20,
    "BankName": 45,
    "BIC": 9,
    "CorrespAcc": 20,
    "Sum": 18,
    "Purpose": 210,
    "PayeeINN": 12,
    "PayerINN": 12,
    "DrawerStatus": 2,
    "KPP": 9,
    "CBC": 20,
    "OKTMO": 11,
    "PaytReason": 2,
    "TaxPeriod": 10,
    "DocNo": 15,
    "DocDate": 10,
    "TaxPaytKind": 2,
}
#: Our own limit for the free-text fields of table 3, which the standard leaves open.
OTHER_TEXT_LIMIT = 160
#: Fields whose value is free text: cut to their limit rather than refused.
FREE_TEXT = frozenset(
    {
        "Name",
        "BankName",
        "Purpose",
        "LastName",
        "FirstName",
        "MiddleName",
        "PayerAddress",
        "ServiceName",
        "Contract",
    }
)
ELLIPSIS = "…"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class QrPayloadError(ValueError):
    """A payload cannot be built (a required field is missing or malformed) or read."""


@dataclass(frozen=True)
class Payload:
    """A payload read back: its encoding digit, separator and fields in their order."""

    encoding: str
    separator: str
    fields: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, str]:
        return dict(self.fields)

    def __getitem__(self, key: str) -> str:
        return self.as_dict()[key]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.as_dict().get(key, default)


def clean_text(value: str) -> str:
    """A value on one line: control characters and line breaks become spaces, runs of spaces one."""
    return " ".join(_CONTROL.sub(" ", value).split())


def limit_of(key: str) -> int | None:
    if key in MAX_LENGTH:
        return MAX_LENGTH[key]
    return OTHER_TEXT_LIMIT if key in FREE_TEXT else None


def cut(value: str, limit: int) -> str:
    """``value`` in at most ``limit`` characters; a cut one ends with ``…``."""
    if len(value) <= limit:
        return value
    return value[: limit - 1].rstrip() + ELLIPSIS


def _digits(key: str, value: str, lengths: Iterable[int], what: str) -> str:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) not in tuple(lengths):
        raise QrPayloadError(f"{key} must be {what}, got {value!r}")
    return text


def payment_payload(
    *,
    name: str,
    personal_acc: str,
    bank_name: str,
    bic: str,
    corresp_acc: str,
    payee_inn: str = "",
    kpp: str = "",
    sum_kopecks: int | None = None,
    purpose: str = "",
    pers_acc: str = "",
    paym_period: str = "",
    last_name: str = "",
    first_name: str = "",
    middle_name: str = "",
    payer_address: str = "",
    tech_code: str = "",
) -> str:
    """The payload of a payment to the utility, checked and made safe as the module describes.

    Required: ``name`` (the payee), ``personal_acc`` (20 digits), ``bank_name``, ``bic`` (9 digits),
    ``corresp_acc`` (20 digits, or ``0`` for a bank without one, as the standard allows). Empty
    optional fields are left out; ``sum_kopecks`` None leaves out ``Sum`` (the payer types it)."""
    fields: list[tuple[str, str]] = []
    if not clean_text(name):
        raise QrPayloadError("Name (the payee's name) is required")
    if not clean_text(bank_name):
        raise QrPayloadError("BankName (the payee's bank) is required")
    fields.append(("Name", name))
    fields.append(("PersonalAcc", _digits("PersonalAcc", personal_acc, (20,), "20 digits")))
    fields.append(("BankName", bank_name))
    fields.append(("BIC", _digits("BIC", bic, (9,), "9 digits")))
    if corresp_acc.strip() == "0":
        fields.append(("CorrespAcc", "0"))
    else:
        fields.append(("CorrespAcc", _digits("CorrespAcc", corresp_acc, (20,), "20 digits (or 0)")))
    if payee_inn:
        fields.append(("PayeeINN", _digits("PayeeINN", payee_inn, (10, 12), "10 or 12 digits")))
    if kpp:
        fields.append(("KPP", _digits("KPP", kpp, (9,), "9 digits")))
    if sum_kopecks is not None:
        if isinstance(sum_kopecks, bool) or not isinstance(sum_kopecks, int) or sum_kopecks < 0:
            raise QrPayloadError(f"Sum must be a whole number of kopecks, not negative; got {sum_kopecks!r}")
        if len(str(sum_kopecks)) > MAX_LENGTH["Sum"]:
            raise QrPayloadError(f"Sum has more than {MAX_LENGTH['Sum']} digits: {sum_kopecks}")
        fields.append(("Sum", str(sum_kopecks)))
    if purpose:
        fields.append(("Purpose", purpose))
    if pers_acc:
        fields.append(("PersAcc", clean_text(pers_acc)))
    if paym_period:
        period = paym_period.strip()
        if not re.fullmatch(r"(0[1-9]|1[0-2])\d{4}", period):
            raise QrPayloadError(f"PaymPeriod must be MMYYYY, got {paym_period!r}")
        fields.append(("PaymPeriod", period))
    for key, value in (
        ("LastName", last_name),
        ("FirstName", first_name),
        ("MiddleName", middle_name),
        ("PayerAddress", payer_address),
    ):
        if clean_text(value):
            fields.append((key, value))
    if tech_code:
        fields.append(("TechCode", _digits("TechCode", tech_code, (2,), "2 digits")))
    return payload_encode(fields)


def payload_encode(fields: Sequence[tuple[str, str]], *, separator: str | None = SEPARATOR) -> str:
    """The payload of these fields (required ones first), UTF-8 declared in the header.

    Every value is put on one line and cut to its limit (free text) or refused when longer
    (codes). With a ``separator``, its occurrences in values become ``SEPARATOR_SUBSTITUTE``;
    with ``separator=None`` the first candidate that occurs in no value is used."""
    keys = [key for key, _ in fields]
    if tuple(keys[: len(REQUIRED)]) != REQUIRED:
        raise QrPayloadError(f"the fields must start with {', '.join(REQUIRED)}; got {', '.join(keys[:5])}")
    if len(set(keys)) != len(keys):
        raise QrPayloadError("a field occurs twice")
    values: list[tuple[str, str]] = []
    for key, raw in fields:
        if not _KEY.match(key):
            raise QrPayloadError(f"not a field name: {key!r}")
        value = clean_text(raw)
        if not value:
            raise QrPayloadError(f"{key} is empty")
        limit = limit_of(key)
        if limit is not None and len(value) > limit:
            if key not in FREE_TEXT:
                raise QrPayloadError(f"{key} is longer than {limit} characters: {value!r}")
            value = cut(value, limit)
        values.append((key, value))
    if separator is None:
        separator = separator_choose(v for _, v in values)
    elif len(separator) != 1 or separator.isalnum() or separator in "= ":
        raise QrPayloadError(f"not a usable separator: {separator!r}")
    else:
        substitute = SEPARATOR_SUBSTITUTE if separator != SEPARATOR_SUBSTITUTE else "|"
        values = [(k, v.replace(separator, substitute)) for k, v in values]
    return HEADER + separator + separator.join(f"{k}={v}" for k, v in values)


def separator_choose(values: Iterable[str]) -> str:
    """The first of ``SEPARATOR_CANDIDATES`` that occurs in none of the values."""
    text = "".join(values)
    for candidate in SEPARATOR_CANDIDATES:
        if candidate not in text:
            return candidate
    raise QrPayloadError("every separator candidate occurs in the values")


def payload_decode(data: bytes) -> Payload:
    """Read a payload from the bytes of a symbol, in the encoding its header names."""
    head = data[:8].decode("ascii", errors="replace")
    if len(head) < 7 or head[:2] != FORMAT or head[6] not in ENCODINGS:
        raise QrPayloadError(f"not a GOST R 56042 payload: {head!r}")
    try:
        text = data.decode(ENCODINGS[head[6]])
    except UnicodeDecodeError as exc:
        raise QrPayloadError(f"the payload is not valid {ENCODINGS[head[6]]}") from exc
    return payload_parse(text)


def payload_parse(text: str) -> Payload:
    """Read a payload: header, separator (the 8th character), then ``key=value`` fields.

    Checks what a reader must rely on: the header, the required fields first and in order,
    no field twice, each field with a ``=``."""
    if len(text) < 8 or text[:2] != FORMAT or text[2:6] != VERSION or text[6] not in ENCODINGS:
        raise QrPayloadError(f"not a GOST R 56042 payload: {text[:8]!r}")
    separator = text[7]
    fields: list[tuple[str, str]] = []
    for part in text[8:].split(separator):
        if not part:
            continue  # a trailing separator
        key, eq, value = part.partition("=")
        if not eq or not _KEY.match(key):
            raise QrPayloadError(f"not a key=value field: {part!r}")
        fields.append((key, value))
    keys = [key for key, _ in fields]
    if tuple(keys[: len(REQUIRED)]) != REQUIRED:
        raise QrPayloadError(f"the required fields {', '.join(REQUIRED)} must come first, in this order")
    if len(set(keys)) != len(keys):
        raise QrPayloadError("a field occurs twice")
    return Payload(text[6], separator, tuple(fields))
