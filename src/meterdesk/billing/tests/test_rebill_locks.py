"""A rebill and the close of the same account never run at the same time.

PostgreSQL: the rebill locks the chunks that cover the account in the later runs (the row a
chunk's close locks first) and holds the runs' table in SHARE mode (no run is created or finished
meanwhile); a second connection asking for either with a short ``lock_timeout`` is refused, and so
is a rebill while a close holds the chunk. SQLite: one writing transaction at a time; a second
writer with a short busy timeout gets "database is locked". The tests commit (``transaction=True``),
with a rebill held open in a thread.

The meter: 100 kWh a month to July (700); August keyed as 1400 instead of 800 and billed, then
September to November by average; December's reading 1200 and its run prepared, not closed.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import date
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection

from meterdesk.billing import rebill as rebill_module
from meterdesk.billing.close import billing_close, chunk_close, run_prepare
from meterdesk.billing.models import AccountClose, BillingChunk, EntryKind, LedgerEntry
from meterdesk.billing.services import account_rebill
from meterdesk.billing.tests.helpers import D, lines, month, reading
from meterdesk.metering.models import Meter, Reading, ReadingStatus
from meterdesk.testing import MeterFactory

pytestmark = pytest.mark.django_db(transaction=True)

AUG, SEP, OCT, NOV, DEC = (month(2025, m) for m in (8, 9, 10, 11, 12))
WAIT = 0.3  # seconds the other connection waits for a lock before it is refused


@pytest.fixture
def meter(prices) -> Meter:
    meter = MeterFactory(zones=1, installed_on=date(2024, 12, 20), initial_t1=D(0))
    for number in range(1, 8):
        reading(meter, month(2025, number), 100 * number)
    reading(meter, AUG, 1400)
    for period in (AUG, SEP, OCT, NOV):
        billing_close(period)
    Reading.objects.filter(meter=meter, period=AUG).update(status=ReadingStatus.SUPERSEDED)
    reading(meter, AUG, 800)
    reading(meter, DEC, 1200)
    run_prepare(DEC)  # as `meterdesk bill` does before its workers close the chunks
    return meter


def _chunk(meter: Meter) -> BillingChunk:
    return BillingChunk.objects.get(
        run__period=DEC, first_account_id__lte=meter.account_id, last_account_id__gte=meter.account_id
    )


def _other_postgres() -> psycopg.Connection[Any]:
    params = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(name, None)
    # For the session (a SET in a transaction would go with its rollback).
    params["options"] = f"{params.get('options', '')} -c lock_timeout={int(WAIT * 1000)}".strip()
    return psycopg.connect(**params)


def _other_sqlite() -> sqlite3.Connection:
    return sqlite3.connect(connection.settings_dict["NAME"], timeout=WAIT, isolation_level=None)


def test_the_close_waits_for_a_rebill_and_goes_on_from_what_it_wrote(meter, monkeypatch):
    inside, release = threading.Event(), threading.Event()
    store = rebill_module._states_store
    posted: list[LedgerEntry] = []
    failed: list[BaseException] = []

    def held(*args: Any, **kwargs: Any) -> None:
        store(*args, **kwargs)
        if not inside.is_set():
            inside.set()
            release.wait(30)

    def rebill() -> None:
        try:
            posted.extend(
                account_rebill(account=meter.account, period=AUG, reason="800", cause="reading_corrected")
            )
        except BaseException as error:  # reported by the test below
            failed.append(error)
        finally:
            connection.close()

    monkeypatch.setattr(rebill_module, "_states_store", held)
    chunk = _chunk(meter)
    thread = threading.Thread(target=rebill)
    thread.start()
    try:
        assert inside.wait(30)
        if connection.vendor == "postgresql":
            other = _other_postgres()
            try:
                # What a chunk's close does first, and what creating or finishing a run does.
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    other.execute("SELECT id FROM billing_billingchunk WHERE id = %s FOR UPDATE", [chunk.pk])
                other.rollback()
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    other.execute("UPDATE billing_billingrun SET status = status WHERE period = %s", [DEC])
                other.rollback()
            finally:
                other.close()
        else:
            other_sqlite = _other_sqlite()
            try:
                with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                    other_sqlite.execute("BEGIN IMMEDIATE")
            finally:
                other_sqlite.close()
    finally:
        release.set()
        thread.join(60)
    assert not failed
    assert len([e for e in posted if e.detail["basis"] != "penalty"]) == 4

    chunk_close(chunk.pk)

    # From the corrected state: 400 kWh since August and the 3 × 100 kWh by average reversed.
    assert lines(meter.account, DEC, kind__in=[EntryKind.CHARGE, EntryKind.RECALCULATION]) == [
        ("actual", meter.pk, 1, 1, D("400.000"), D("7.87"), D("3148.00")),
        ("recalculation", meter.pk, 1, 1, D("-300.000"), D("7.87"), D("-2361.00")),
    ]
    december = AccountClose.objects.get(account=meter.account, period=DEC)
    assert december.recalculations == D("-2361.00") + sum(e.amount for e in posted)


def test_a_rebill_waits_for_a_running_close_of_the_account(meter):
    chunk = _chunk(meter)
    if connection.vendor == "postgresql":
        closing = _other_postgres()
        closing.execute("SELECT id FROM billing_billingchunk WHERE id = %s FOR UPDATE", [chunk.pk])
        wait, restore = f"SET lock_timeout = '{int(WAIT * 1000)}ms'", "RESET lock_timeout"
    else:
        closing_sqlite = _other_sqlite()
        closing_sqlite.execute("BEGIN IMMEDIATE")
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            (was,) = cursor.fetchone()
        wait, restore = f"PRAGMA busy_timeout = {int(WAIT * 1000)}", f"PRAGMA busy_timeout = {was}"
    try:
        with connection.cursor() as cursor:
            cursor.execute(wait)
        try:
            with pytest.raises(OperationalError):
                account_rebill(account=meter.account, period=AUG, reason="800", cause="reading_corrected")
        finally:
            with connection.cursor() as cursor:
                cursor.execute(restore)
        assert not LedgerEntry.objects.filter(kind=EntryKind.CORRECTION).exists()
    finally:
        if connection.vendor == "postgresql":
            closing.rollback()
            closing.close()
        else:
            closing_sqlite.execute("ROLLBACK")
            closing_sqlite.close()
    # The close done (here: gone), the rebill goes through.
    posted = account_rebill(account=meter.account, period=AUG, reason="800", cause="reading_corrected")
    assert len([e for e in posted if e.detail["basis"] != "penalty"]) == 4
