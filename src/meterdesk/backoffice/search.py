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

from django.db.models import Q, QuerySet

from meterdesk.customers.models import Account
from meterdesk.customers.selectors import phone_accounts
from meterdesk.domain.phones import PhoneInvalid, phone_parse

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
    for token in _TOKEN.findall(text.lower()):
        if token[0].isdigit():
            numbers.append(token)
        elif token not in _ADDRESS_WORDS:
            words.append(token)
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


def customers_find(text: str, limit: int = LIMIT) -> list[Account]:
    """The accounts ``text`` names, by account number first, at most ``limit``."""
    query = query_parse(text)
    if not query.text:
        return []
    condition = Q(meters__serial__iexact=query.text)
    if "@" in query.text:
        condition |= Q(links__user__email__iexact=query.text)
    if query.digits:
        condition |= Q(number=query.digits) | Q(meters__serial=query.digits)
        try:
            phone_parse(query.text)
        except PhoneInvalid:
            pass
        else:
            condition |= Q(pk__in=phone_accounts(query.text).values("pk"))
    address = _address(query)
    if address is not None:
        condition |= address
    elif query.words:
        # A surname (and perhaps a first name): each word starts a word of the payer's name or
        # of a login's full name; or they all are words of the street.
        by_name = Q()
        by_login = Q()
        by_street = Q()
        for word in query.words:
            by_name &= Q(holder_name__iregex=_word(word))
            by_login &= Q(links__user__full_name__iregex=_word(word))
            by_street &= Q(address__iregex=_word(word))
        condition |= by_name | by_login | by_street
    found: QuerySet[Account] = Account.objects.filter(condition).distinct().order_by("number")
    return list(found[:limit])
