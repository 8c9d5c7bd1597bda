"""Finding a customer from one search box: an account number, a meter serial, a phone number in
any usual form, an e-mail, a surname, or an address typed loosely ("ленина 5 12": the street
contains "ленина", house 5, flat 12).

The text lookups are regular expressions, case-insensitive: on SQLite Django runs them with
Python's ``re`` (which folds Cyrillic case, as SQLite's LIKE does not); on PostgreSQL ``~*``,
served by the trigram indexes of migration 0003.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate, Lower

from meterdesk.customers.models import Account, AccountLink, User
from meterdesk.customers.selectors import phone_accounts
from meterdesk.domain.phones import PhoneInvalid, phone_parse
from meterdesk.metering.models import Meter

#: The most accounts a search lists.
LIMIT = 50

_TOKEN = re.compile(r"\d+[\w/-]*|[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)
#: Words of an address that say what the next word is, not what to look for.
_ADDRESS_WORDS = frozenset(
    [
        "г",
        "гор",
        "город",
        "ул",
        "улица",
        "пр",
        "пр-т",
        "пр-д",
        "проспект",
        "пер",
        "переулок",
        "бул",
        "бульвар",
        "ш",
        "шоссе",
        "наб",
        "набережная",
        "пл",
        "площадь",
        "д",
        "дом",
        "корп",
        "к",
        "стр",
        "кв",
        "квартира",
    ]
)
_NUMBER_END = "([^0-9]|$)"  # the same in Python's re and PostgreSQL's
#: The first house and flat numbers of an address, on PostgreSQL, as indexed by migration 0009:
#: numbers make no selective trigrams, and without these the trigram index leaves every account
#: of the street to recheck (hundreds of milliseconds on a million accounts).
HOUSE_SQL = r"""substring(lower("customers_account"."address"), '(?:д\.|дом)\s*([0-9]+)')"""
FLAT_SQL = r"""substring(lower("customers_account"."address"), '(?:кв\.|квартира)\s*([0-9]+)')"""


@dataclass(frozen=True)
class Query:
    """What a search text was read as."""

    text: str
    digits: str  # the text without spaces and dashes, if that is all digits ("" otherwise)
    words: tuple[str, ...]  # words of a name or a street, in lower case
    numbers: tuple[str, ...]  # numbers of a house and a flat, in order


def query_parse(text: str) -> Query:
    text = " ".join(text.split())
    compact = re.sub(r"[\s()-]", "", text)
    digits = compact.lstrip("+") if compact.lstrip("+").isdigit() else ""
    words: list[str] = []
    numbers: list[str] = []
    kinds: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        if token[0].isdigit():
            numbers.append(token)
        elif token not in _ADDRESS_WORDS:
            words.append(token)
        else:
            kinds.append(token)
    if not words and numbers:
        # Only such words: one of them is the street's name ("набережная 34 28").
        words = [k for k in kinds if len(k) > 3]
    return Query(text, digits, tuple(words), tuple(numbers))


def _word(word: str) -> str:
    """A word at the start of a word of the text (``ленин`` finds "Ленина", not "Маленина")."""
    return f"(^|[ ,.-]){re.escape(word)}"


def _address(query: Query) -> Q | None:
    """Every word in the address, then the first number as the house, the second as the flat."""
    if not query.words or not query.numbers:
        return None
    condition = Q()
    for word in query.words:
        condition &= Q(address__iregex=_word(word))
    house = re.escape(query.numbers[0])
    condition &= Q(address__iregex=rf"(д\.|дом)\s*{house}{_NUMBER_END}")
    if len(query.numbers) > 1:
        flat = re.escape(query.numbers[1])
        condition &= Q(address__iregex=rf"(кв\.|квартира)\s*{flat}{_NUMBER_END}")
    return condition


def _numbered(query: Query) -> QuerySet[Account]:
    """The accounts whose address's first house (and flat) numbers are the query's, through the
    index of migration 0009 on PostgreSQL; every account elsewhere (the regular expressions of
    ``_address`` say the same, more precisely)."""
    rows = Account.objects.all()
    if connection.vendor != "postgresql":
        return rows
    digits = [re.match(r"\d+", number).group() for number in query.numbers[:2]]  # type: ignore[union-attr]
    rows = rows.annotate(_house=RawSQL(HOUSE_SQL, ())).filter(_house=digits[0])  # noqa: S611 - constant
    if len(digits) > 1:
        rows = rows.annotate(_flat=RawSQL(FLAT_SQL, ())).filter(_flat=digits[1])  # noqa: S611 - constant
    return rows


def _ids(rows: QuerySet[Any], limit: int) -> list[int]:
    return list(rows.values_list("pk" if rows.model is Account else "account_id", flat=True)[:limit])


def _named(rows: QuerySet[Any], field: str, condition: Q, words: tuple[str, ...], limit: int) -> list[int]:
    """The ids of ``rows`` whose ``field`` matches ``condition``, at most ``limit``. On PostgreSQL a
    single word lists first the names it starts, in the order of the B-tree of migration 0010,
    which PostgreSQL reads from the prefix on and leaves at ``limit``: a common surname fills the
    list from it, where the trigram index would collect every one of its thousands of names
    before listing any. The trigram index finds the rest (the word inside a name)."""
    ids: list[int] = []
    if connection.vendor == "postgresql" and len(words) == 1:
        # Starting the name, the word starts a word of it: a part of ``condition``'s matches.
        starts = (
            rows.annotate(_name=Collate(Lower(field), "C"))
            .filter(_name__startswith=words[0])
            .order_by("_name")
        )
        ids = list(starts.values_list("pk", flat=True)[:limit])
        if len(ids) >= limit:
            return ids
    more = rows.filter(condition).exclude(pk__in=ids) if ids else rows.filter(condition)
    return ids + list(more.values_list("pk", flat=True)[: limit - len(ids)])


def _matches(query: Query, limit: int) -> list[int]:
    """The ids of the accounts ``query`` names: one lookup per way of naming an account, each
    on its own index (a single OR across the joins would read every account)."""
    found: list[int] = []
    serials = {query.text, query.text.upper(), query.text.lower()}
    found += _ids(Meter.objects.filter(serial__in=serials), limit)
    if "@" in query.text:
        found += _ids(AccountLink.objects.filter(user__email=query.text.lower()), limit)
    if query.digits:
        found += _ids(Account.objects.filter(number=query.digits), limit)
        found += _ids(Meter.objects.filter(serial=query.digits), limit)
        try:
            phone_parse(query.text)
        except PhoneInvalid:
            pass
        else:
            found += _ids(phone_accounts(query.text), limit)
    address = _address(query)
    if address is not None:
        found += _ids(_numbered(query).filter(address), limit)
    elif query.words:
        # A surname (and perhaps a first name): each word starts a word of the payer's name or
        # of a login's full name; or they all are words of the street.
        by_name, by_login, by_street = Q(), Q(), Q()
        for word in query.words:
            by_name &= Q(holder_name__iregex=_word(word))
            by_login &= Q(full_name__iregex=_word(word))
            by_street &= Q(address__iregex=_word(word))
        found += _named(Account.objects.all(), "holder_name", by_name, query.words, limit)
        # The logins first, at most ``limit``, then their accounts: in one query PostgreSQL reads
        # every login of a common name (a join) or every link (a subquery with LIMIT).
        logins = _named(User.objects.all(), "full_name", by_login, query.words, limit)
        found += _ids(AccountLink.objects.filter(user_id__in=logins), limit) if logins else []
        found += _ids(Account.objects.filter(by_street), limit)
    return found


def customers_find(text: str, limit: int = LIMIT) -> list[Account]:
    """The accounts ``text`` names, in the order of their numbers, at most ``limit``."""
    query = query_parse(text)
    if not query.text:
        return []
    ids = set(_matches(query, limit))
    return list(Account.objects.filter(pk__in=ids).order_by("number")[:limit])
