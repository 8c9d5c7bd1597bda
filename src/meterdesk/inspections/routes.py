"""An inspector's day as a route: the visits ordered by street, house and flat, read loosely from
the account's address ("г. Москва, ул. Ленина, д. 5, кв. 12")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

_STREET = re.compile(
    r"^(ул\.?|улица|пр-т|проспект|пр\.|пер\.?|переулок|б-р|бульвар|ш\.|шоссе|пл\.|площадь|проезд|наб\.?|"
    r"набережная|мкр\.?|микрорайон|тупик|аллея)\s",
    re.IGNORECASE,
)
_HOUSE = re.compile(r"^(д\.?|дом)\s*(\d+)", re.IGNORECASE)
_FLAT = re.compile(r"^(кв\.?|квартира)\s*(\d+)", re.IGNORECASE)


def address_key(address: str) -> tuple[str, int, int, str]:
    """(street, house, flat, the address) for ordering visits: the street named by its kind
    ("ул.", "проспект" …), else the part before the house; unknown numbers sort first."""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    street, house, flat = "", 0, 0
    for n, part in enumerate(parts):
        if found := _HOUSE.match(part):
            house = int(found[2])
            if not street and n > 0:
                street = parts[n - 1]
        elif found := _FLAT.match(part):
            flat = int(found[2])
        elif _STREET.match(part):
            street = part
    return street.lower(), house, flat, address


def street_of(address: str) -> str:
    """The street of an address as the plan shows it (its own spelling)."""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    for n, part in enumerate(parts):
        if _STREET.match(part):
            return part
        if _HOUSE.match(part) and n > 0:
            return parts[n - 1]
    return parts[0] if parts else ""


def routes_split(items: Sequence[T], inspectors: int, per_inspector: int) -> list[list[T]]:
    """``items`` (already in route order) cut into at most ``inspectors`` runs of at most
    ``per_inspector`` each, as even as can be, so that each inspector keeps whole streets as far
    as the numbers allow."""
    if inspectors < 1 or not items:
        return []
    taken = list(items[: inspectors * per_inspector])
    size, extra = divmod(len(taken), inspectors)
    runs, start = [], 0
    for n in range(inspectors):
        end = start + size + (1 if n < extra else 0)
        if end > start:
            runs.append(taken[start:end])
        start = end
    return runs
