"""Which of a month's readings of a meter counts (DOMAIN.md "Meters and readings").

The close, the rebill, the preview, the documents and the importer all ask the same question —
which accepted reading of this meter is its position for the month — and answer it here:

* a **final** reading (of a removed meter) counts: it is the meter's last reading;
* otherwise the **latest** of the household's and the inspector's readings counts, by the day it
  was taken; on the **same day** the inspector's control reading wins; two readings of one kind
  on one day are ordered by their moment, then by the order given;
* the **initial** reading of a new meter counts only when there is nothing else.

So a control reading on the 10th followed by the household's on the 20th leaves the household's
values to bill, and a control reading that agrees with the household's later one gives nothing to
recalculate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Generic, TypeVar

# Kinds of a reading (the codes of metering.models.ReadingKind).
CUSTOMER = "customer"
CONTROL = "control"
INITIAL = "initial"
FINAL = "final"

#: The kinds a month's reading is chosen among; any other kind is never chosen.
KINDS = (CUSTOMER, CONTROL, INITIAL, FINAL)

_TIER = {FINAL: 2, CONTROL: 1, CUSTOMER: 1, INITIAL: 0}

T = TypeVar("T")


@dataclass(frozen=True)
class Given(Generic[T]):
    """One accepted reading of a meter for a month, as far as choosing the month's reading goes.

    ``taken_on`` is the day the values were taken (the day it was given, where nothing better is
    known), in the utility's time zone; ``taken_at`` the moment, when known, to order two readings
    of one kind on one day; ``source`` is whatever the caller wants back (a model row, a tuple)."""

    kind: str
    taken_on: date
    values: tuple[Decimal, ...] = ()
    taken_at: datetime | None = None
    source: T | None = None


def given_at(
    kind: str,
    moment: datetime | str,
    zone: tzinfo,
    values: tuple[Decimal, ...] = (),
    source: T | None = None,
) -> Given[T]:
    """A reading known only by when it was given (``moment``: aware, or naive in UTC as SQLite
    returns it, or its ISO text): taken on that day in the utility's time ``zone``."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Given(kind, moment.astimezone(zone).date(), values, moment, source)


def _key(given: Given[T]) -> tuple[int, date, int, float] | None:
    tier = _TIER.get(given.kind)
    if tier is None:
        return None
    moment = given.taken_at.timestamp() if given.taken_at is not None else float("-inf")
    return (tier, given.taken_on, 1 if given.kind == CONTROL else 0, moment)


def month_reading(candidates: Iterable[Given[T]]) -> Given[T] | None:
    """The reading that counts for the month among ``candidates`` (None when none can count)."""
    best: Given[T] | None = None
    best_key: tuple[int, date, int, float] | None = None
    for given in candidates:
        key = _key(given)
        # ``>=``: of two readings alike in every respect, the one given later in order counts.
        if key is not None and (best_key is None or key >= best_key):
            best, best_key = given, key
    return best
