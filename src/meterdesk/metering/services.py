"""Writes of readings: ``reading_store``, the locked write of a reading the rules accepted.

A channel does not call it alone: ``meterdesk.core.readings.reading_submit`` locks the meter,
checks the reading (``metering.check.reading_rules`` with the charge from billing) and stores it
with this, in one transaction."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import connection

from meterdesk.customers.models import User
from meterdesk.metering.check import Ruling
from meterdesk.metering.models import Reading, ReadingStatus
from meterdesk.sqlrows import Rows


@dataclass(frozen=True)
class StoredReading:
    reading: Reading
    #: the month's reading of the same kind it superseded, if any
    replaced: Reading | None


_READING = Rows(Reading, "r")
_SUPERSEDE_SQL = "UPDATE metering_reading SET status = %s WHERE id = %s AND status = %s"


def _supersede(reading: Reading) -> bool:
    """Mark the month's accepted reading superseded, if it still is (one statement, by hand)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _SUPERSEDE_SQL, [ReadingStatus.SUPERSEDED.value, reading.pk, ReadingStatus.ACCEPTED.value]
        )
        changed = cursor.rowcount == 1
    if changed:
        reading.status = ReadingStatus.SUPERSEDED
    return changed


def _new_confirmation_number() -> str:
    """A random 12-digit number (unique: the insert skips a taken one, and the caller tries again)."""
    return f"{secrets.randbelow(10**12):012d}"


def reading_store(*, ruling: Ruling, channel: str, submitted_by: User | None = None) -> StoredReading:
    """Store the reading of ``ruling``, which must accept it (``Ruling.refusal`` None), and which
    was made in this transaction after the meter was locked (so that no other submission for the
    meter comes between): the month's accepted reading of the same kind is superseded (both stay
    in history), the new one inserted with a new confirmation number."""
    if not connection.in_atomic_block:
        raise RuntimeError("reading_store runs in the transaction that locked the meter and checked it")
    refusal = ruling.refusal
    if refusal is not None:
        raise refusal
    assert ruling.checked is not None  # noqa: S101 - an accepted reading has checked values
    meter, checked = ruling.meter, ruling.checked
    existing = ruling.replaces
    # Only a reading still accepted is superseded (the row lock of the UPDATE waits for any
    # other writer of it, as SELECT … FOR UPDATE did).
    if existing is not None and not _supersede(existing):
        existing = None  # pragma: no cover - changed by another writer meanwhile
    padded = [*checked.values, None, None][:3]
    reading = Reading(
        meter=meter,
        account=meter.account,
        period=ruling.period,
        t1=checked.values[0],
        t2=padded[1],
        t3=padded[2],
        kind=ruling.kind,
        channel=channel,
        status=ReadingStatus.ACCEPTED,
        submitted_at=ruling.at,
        submitted_by=submitted_by,
        replaces=existing,
        confirmed=",".join(sorted({c.code for c in checked.confirmations})),
        rolled_over=any(checked.rolled_over),
    )
    # Stored as save() would (Reading has no signal receivers), by hand: on the hot path. A
    # confirmation number already taken (one chance in 10^12 per reading stored) stores
    # nothing; the next number is tried.
    while True:
        reading.confirmation = _new_confirmation_number()
        if _READING.insert_unless_taken(reading, "confirmation") is not None:
            break
    reading.meter = meter
    return StoredReading(reading, existing)
