"""The references of ledger entries, statements and meter states are enforced by the database
(migration billing 0003): per statement on PostgreSQL (triggers), by SQLite's native foreign keys
on SQLite (checked at the commit), plus triggers refusing to change a reference on both.

The tests commit (``transaction=True``) so that a check deferred to the commit runs, and so that
the flush after each test (TRUNCATE on PostgreSQL, DELETE FROM each table on SQLite) runs with
ledger lines, corrections, statements and meter states in the tables.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from meterdesk.billing.bulk import bulk_insert
from meterdesk.billing.close import billing_close
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry, MeterBillingState
from meterdesk.billing.tests.helpers import counts, month, reading
from meterdesk.customers.models import Account
from meterdesk.metering.models import Meter
from meterdesk.testing import AccountFactory, MeterFactory

pytestmark = pytest.mark.django_db(transaction=True)

JUL, AUG = month(2025, 7), month(2025, 8)
MISSING = 987_654_321
BILLING_TABLES = ("billing_ledgerentry", "billing_accountclose", "billing_meterbillingstate")


def committed(work: Callable[[], Any]) -> None:
    """Run ``work`` in a transaction and commit it (where SQLite checks its foreign keys)."""
    with transaction.atomic():
        work()


def refused(work: Callable[[], Any]) -> str:
    """``work`` is refused with an IntegrityError, at once or at the commit; returns the message."""
    with pytest.raises(IntegrityError) as caught:
        committed(work)
    return str(caught.value)


def sql(statement: str, params: list[Any] | None = None) -> Callable[[], None]:
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)

    return run


def entry(account_id: int, **fields: Any) -> LedgerEntry:
    return LedgerEntry(
        account_id=account_id,
        period=AUG,
        posted_on=date(2025, 8, 31),
        kind=fields.pop("kind", EntryKind.CHARGE),
        amount=fields.pop("amount", Decimal("100.00")),
        **fields,
    )


def statement(account_id: int) -> AccountClose:
    zero = Decimal(0)
    return AccountClose(
        account_id=account_id,
        period=AUG,
        basis="actual",
        opening_balance=zero,
        charges=Decimal("100.00"),
        recalculations=zero,
        payments=zero,
        penalty=zero,
        closing_balance=Decimal("100.00"),
        due_date=date(2025, 9, 10),
        closed_at=timezone.now(),
    )


def state(meter_id: int, account_id: int) -> MeterBillingState:
    return MeterBillingState(meter_id=meter_id, account_id=account_id, period=AUG, data={"raw": ["1000"]})


@pytest.fixture
def meter() -> Meter:
    return MeterFactory(zones=1)


@pytest.fixture
def billed(meter: Meter) -> Iterator[dict[str, Any]]:
    """An account with a meter, a ledger line on that meter, a correction of it, a statement and a
    meter state (left in the tables for the flush); and an account with nothing."""
    account = meter.account
    line = entry(account.pk, meter=meter, basis="actual")
    line.save()
    correction = entry(account.pk, kind=EntryKind.CORRECTION, amount=Decimal("-10.00"), corrects=line)
    correction.save()
    statement(account.pk).save()
    state(meter.pk, account.pk).save()
    yield {
        "account": account,
        "meter": meter,
        "line": line,
        "correction": correction,
        "idle": AccountFactory(),
    }


# --- inserts ------------------------------------------------------------------------------------------


class TestInserts:
    def test_a_ledger_line_of_a_missing_account_is_refused_and_nothing_is_stored(self):
        message = refused(lambda: entry(MISSING).save())
        assert "account_id" in message or "FOREIGN KEY" in message
        if connection.vendor == "postgresql":
            assert (
                f"billing_ledgerentry.account_id = {MISSING} is not present in customers_account" in message
            )
        assert counts()["ledger"] == 0

    def test_a_ledger_line_of_a_missing_meter_is_refused(self, meter):
        message = refused(lambda: entry(meter.account_id, meter_id=MISSING).save())
        if connection.vendor == "postgresql":
            assert f"billing_ledgerentry.meter_id = {MISSING} is not present in metering_meter" in message
        assert counts()["ledger"] == 0

    def test_a_line_without_a_meter_is_fine(self, meter):
        committed(lambda: entry(meter.account_id).save())
        assert counts()["ledger"] == 1

    def test_a_statement_of_a_missing_account_is_refused(self):
        message = refused(lambda: statement(MISSING).save())
        if connection.vendor == "postgresql":
            assert f"billing_accountclose.account_id = {MISSING} is not present" in message
        assert counts()["closes"] == 0

    @pytest.mark.parametrize("missing", ["meter", "account"])
    def test_a_meter_state_of_a_missing_meter_or_account_is_refused(self, meter, missing):
        meter_id, account_id = (MISSING, meter.account_id) if missing == "meter" else (meter.pk, MISSING)
        message = refused(lambda: state(meter_id, account_id).save())
        if connection.vendor == "postgresql":
            assert f"{missing}_id = {MISSING}" in message
        assert counts()["states"] == 0

    def test_a_bulk_insert_with_one_bad_row_of_many_fails_as_a_whole(self, meter):
        """The close's own way of writing (COPY on PostgreSQL, executemany on SQLite)."""
        columns = ["account_id", "period", "posted_on", "kind", "basis", "meter_id", "zone", "band"]
        columns += ["amount", "reason", "detail", "created_at"]
        now = timezone.now()
        rows = [
            [meter.account_id, AUG, AUG, "charge", "actual", meter.pk, 1, 1, Decimal(i), "", "{}", now]
            for i in range(200)
        ]
        rows[137][5] = MISSING  # one line of a meter that does not exist
        # bulk_insert's COPY runs on the psycopg cursor under Django's, so the error is psycopg's
        # own IntegrityError (ForeignKeyViolation), not Django's wrapper of it.
        with pytest.raises((IntegrityError, psycopg.IntegrityError)):
            committed(lambda: bulk_insert("billing_ledgerentry", columns, rows))
        assert counts()["ledger"] == 0
        rows[137][5] = meter.pk
        committed(lambda: bulk_insert("billing_ledgerentry", columns, rows))
        assert counts()["ledger"] == 200

    def test_a_bulk_create_with_one_bad_row_fails_as_a_whole(self, meter):
        good = [state(meter.pk, meter.account_id)]
        bad = MeterBillingState(meter_id=meter.pk, account_id=MISSING, period=JUL, data={})
        refused(lambda: MeterBillingState.objects.bulk_create([*good, bad]))
        assert counts()["states"] == 0

    def test_a_correction_of_a_missing_entry_is_refused(self, meter):
        message = refused(
            lambda: entry(meter.account_id, kind=EntryKind.CORRECTION, corrects_id=MISSING).save()
        )
        if connection.vendor == "postgresql":
            assert (
                f"billing_ledgerentry.corrects_id = {MISSING} is not present in billing_ledgerentry"
                in message
            )
        assert counts()["ledger"] == 0

    def test_a_correction_of_an_existing_entry_is_stored(self, billed):
        assert billed["correction"].corrects_id == billed["line"].pk
        assert LedgerEntry.objects.filter(corrects=billed["line"]).count() == 1


# --- deletes ------------------------------------------------------------------------------------------


class TestDeletes:
    @pytest.mark.parametrize(
        "table", ["billing_ledgerentry", "billing_accountclose", "billing_meterbillingstate"]
    )
    def test_an_account_still_referenced_cannot_be_deleted(self, table):
        """By plain SQL, not only through the ORM's PROTECT. Each table on its own: an account
        without a meter, referenced from one table only."""
        account = AccountFactory()
        meter = MeterFactory(zones=1)
        if table == "billing_ledgerentry":
            entry(account.pk).save()
        elif table == "billing_accountclose":
            statement(account.pk).save()
        else:  # a state whose meter belongs to another account (the meter moved)
            state(meter.pk, account.pk).save()
        message = refused(sql("DELETE FROM customers_account WHERE id = %s", [account.pk]))
        if connection.vendor == "postgresql":
            assert f"customers_account id = {account.pk} is still referenced" in message
            assert f"{table}.account_id" in message
        assert Account.objects.filter(pk=account.pk).exists()

    @pytest.mark.parametrize("table", ["billing_ledgerentry", "billing_meterbillingstate"])
    def test_a_meter_still_referenced_cannot_be_deleted(self, meter, table):
        if table == "billing_ledgerentry":
            entry(meter.account_id, meter=meter).save()
        else:
            state(meter.pk, meter.account_id).save()
        message = refused(sql("DELETE FROM metering_meter WHERE id = %s", [meter.pk]))
        if connection.vendor == "postgresql":
            assert f"metering_meter id = {meter.pk} is still referenced" in message
        assert Meter.objects.filter(pk=meter.pk).exists()

    def test_an_account_or_meter_without_billing_rows_can_be_deleted(self, billed):
        idle = billed["idle"]
        lonely = MeterFactory(zones=1)
        committed(sql("DELETE FROM metering_meter WHERE id = %s", [lonely.pk]))
        committed(sql("DELETE FROM customers_account WHERE id IN (%s, %s)", [idle.pk, lonely.account_id]))
        assert not Account.objects.filter(pk__in=[idle.pk, lonely.account_id]).exists()
        # Deleting nothing is fine too (and takes no lock).
        committed(sql("DELETE FROM customers_account WHERE id = %s", [MISSING]))

    def test_a_corrected_entry_cannot_be_deleted_but_goes_with_its_correction(self, billed):
        line, correction = billed["line"], billed["correction"]
        message = refused(sql("DELETE FROM billing_ledgerentry WHERE id = %s", [line.pk]))
        if connection.vendor == "postgresql":
            assert "billing_ledgerentry.corrects_id" in message
        assert LedgerEntry.objects.filter(pk=line.pk).exists()
        # The entry and its correction in one statement: nothing is left referring to anything.
        committed(sql("DELETE FROM billing_ledgerentry WHERE id IN (%s, %s)", [line.pk, correction.pk]))
        assert not LedgerEntry.objects.exists()

    def test_an_account_goes_once_its_billing_rows_are_gone(self, billed):
        account, meter = billed["account"], billed["meter"]

        def everything() -> None:
            for table in ("billing_ledgerentry", "billing_accountclose", "billing_meterbillingstate"):
                sql(f"DELETE FROM {table} WHERE account_id = %s", [account.pk])()  # noqa: S608
            sql("DELETE FROM metering_meter WHERE id = %s", [meter.pk])()
            sql("DELETE FROM customers_account WHERE id = %s", [account.pk])()

        committed(everything)
        assert not Account.objects.filter(pk=account.pk).exists()

    def test_emptying_accounts_or_meters_with_billing_rows_is_refused(self, billed):
        """PostgreSQL: ``TRUNCATE … CASCADE`` (which empties the tables with foreign keys to it, but
        not the billing tables, which have none) is refused by the AFTER TRUNCATE triggers. SQLite
        has no TRUNCATE: the equivalent, ``DELETE FROM`` the table and every table that refers to it
        but the billing ones, is refused by the native, deferred foreign keys at the commit, and the
        only references it would leave dangling are the billing rows'."""
        before = counts()
        for table in ("customers_account", "metering_meter"):
            if connection.vendor == "postgresql":
                message = refused(sql(f"TRUNCATE {table} CASCADE"))
                assert f"{table} is still referenced from" in message
                continue
            emptied = _sqlite_cascade(table)
            dangling: set[tuple[str, str]] = set()

            def empty(emptied: list[str] = emptied, dangling: set[tuple[str, str]] = dangling) -> None:
                with connection.cursor() as cursor:
                    for name in emptied:
                        cursor.execute(f"DELETE FROM {name}")  # noqa: S608 - table names of the schema
                    cursor.execute("PRAGMA foreign_key_check")  # (table, rowid, parent, key)
                    dangling.update((row[0], row[2]) for row in cursor.fetchall())

            message = refused(empty)
            assert "FOREIGN KEY constraint failed" in message
            assert dangling == {
                ("billing_ledgerentry", "metering_meter"),
                ("billing_meterbillingstate", "metering_meter"),
            } | (
                {
                    ("billing_ledgerentry", "customers_account"),
                    ("billing_accountclose", "customers_account"),
                    ("billing_meterbillingstate", "customers_account"),
                }
                if table == "customers_account"
                else set()
            )
        assert Account.objects.count() == 2
        assert Meter.objects.count() == 1
        assert counts() == before


# --- updates ------------------------------------------------------------------------------------------


class TestUpdates:
    @pytest.mark.parametrize(
        ("table", "column"),
        [
            ("billing_ledgerentry", "account_id"),
            ("billing_ledgerentry", "meter_id"),
            ("billing_ledgerentry", "corrects_id"),
            ("billing_ledgerentry", "id"),
            ("billing_accountclose", "account_id"),
            ("billing_meterbillingstate", "account_id"),
            ("billing_meterbillingstate", "meter_id"),
        ],
    )
    def test_a_reference_cannot_change_even_to_an_existing_row(self, billed, table, column):
        """Append-only: even to a row that exists (the other account, meter, entry)."""
        other_meter = MeterFactory(zones=1, account=billed["idle"])
        new_value = {
            "account_id": billed["idle"].pk,
            "meter_id": other_meter.pk,
            "corrects_id": billed["correction"].pk,
            "id": MISSING,
        }[column]
        row_id = billed["line"].pk if table == "billing_ledgerentry" else _only_id(table)
        message = refused(sql(f"UPDATE {table} SET {column} = %s WHERE id = %s", [new_value, row_id]))  # noqa: S608
        if connection.vendor == "postgresql":
            assert f"{table}.{column} cannot change" in message
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {column} = %s", [new_value])  # noqa: S608
            assert cursor.fetchone()[0] == 0

    def test_other_columns_can_change(self, billed):
        committed(sql("UPDATE billing_ledgerentry SET reason = 'x' WHERE id = %s", [billed["line"].pk]))
        committed(sql("UPDATE billing_accountclose SET basis = 'norm'"))
        committed(sql("UPDATE billing_meterbillingstate SET data = '{}'"))

    @pytest.mark.parametrize("table", ["customers_account", "metering_meter"])
    def test_the_id_of_a_referenced_account_or_meter_cannot_change(self, billed, table):
        """Referenced by billing rows only (the account has no meter: the meters' own foreign key
        would refuse it anyway)."""
        if table == "customers_account":
            row_id = AccountFactory().pk
            statement(row_id).save()
        else:
            row_id = billed["meter"].pk
        refused(sql(f"UPDATE {table} SET id = %s WHERE id = %s", [MISSING, row_id]))  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE id = %s", [row_id])  # noqa: S608
            assert cursor.fetchone()[0] == 1


def _sqlite_cascade(table: str) -> list[str]:
    """``table`` and the tables that refer to it, directly or not (what ``TRUNCATE … CASCADE`` would
    empty on PostgreSQL), except the billing tables: their references are the ones under test."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        parents = {}
        for (name,) in cursor.fetchall():
            cursor.execute(f"PRAGMA foreign_key_list({name})")
            parents[name] = {row[2] for row in cursor.fetchall()}
    emptied = [table]
    for name in emptied:  # grows while it is walked: breadth first
        emptied += sorted(
            child
            for child, referenced in parents.items()
            if name in referenced and child not in emptied and child not in BILLING_TABLES
        )
    return emptied


def _only_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table}")  # noqa: S608
        (row,) = cursor.fetchall()
    return int(row[0])


# --- the close, the flush, the objects in the database -------------------------------------------------


def test_a_full_close_still_works(prices):
    """Two months closed for good (committed): lines, statements and states on real accounts and
    meters pass the checks, and the flush after the test removes them."""
    one = MeterFactory(zones=1)
    reading(one, JUL, 1150)
    reading(one, AUG, 1300)
    two = MeterFactory(zones=2)
    reading(two, JUL, 1200, 580)
    AccountFactory(rooms=2, residents=2)  # no meter: norm
    billing_close(JUL, force=True)
    summary = billing_close(AUG)
    assert summary.accounts == 3
    assert counts()["closes"] == 6
    assert MeterBillingState.objects.filter(period=AUG).count() == 2
    assert LedgerEntry.objects.filter(period=AUG, meter=one, basis="actual").get().amount == Decimal(
        "1180.50"
    )


def test_the_checks_are_in_the_database():
    """A later migration that rebuilt one of these tables on SQLite (or dropped a trigger) would
    lose a check without a word: this says so."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgrelid::regclass::text || ' ' || tgname FROM pg_trigger WHERE tgname LIKE 'billing_refs_%%'"
            )
            found = {row[0] for row in cursor.fetchall()}
            expected = {
                f"{t} billing_refs_{kind}"
                for t, kinds in {
                    "billing_ledgerentry": ("insert", "update", "delete"),
                    "billing_accountclose": ("insert", "update"),
                    "billing_meterbillingstate": ("insert", "update"),
                    "customers_account": ("update", "delete", "truncate"),
                    "metering_meter": ("update", "delete", "truncate"),
                }.items()
                for kind in kinds
            }
            assert found == expected
            cursor.execute(
                "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])",
                [["billing_ledgerentry", "billing_accountclose", "billing_meterbillingstate"]],
            )
            assert cursor.fetchone()[0] == 0  # the per-row checks are gone
        else:
            keys = {}
            for table in ("billing_ledgerentry", "billing_accountclose", "billing_meterbillingstate"):
                cursor.execute(f"PRAGMA foreign_key_list({table})")
                keys[table] = {(row[3], row[2]) for row in cursor.fetchall()}
            assert keys == {
                "billing_ledgerentry": {
                    ("account_id", "customers_account"),
                    ("meter_id", "metering_meter"),
                    ("corrects_id", "billing_ledgerentry"),
                },
                "billing_accountclose": {("account_id", "customers_account")},
                "billing_meterbillingstate": {
                    ("account_id", "customers_account"),
                    ("meter_id", "metering_meter"),
                },
            }
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'billing_refs_%'"
            )
            assert {row[0] for row in cursor.fetchall()} == {
                "billing_refs_billing_ledgerentry_update",
                "billing_refs_billing_accountclose_update",
                "billing_refs_billing_meterbillingstate_update",
            }


# --- concurrency (two more connections) ---------------------------------------------------------------
#
# PostgreSQL: the SHARE lock of the delete triggers against the inserts' ROW EXCLUSIVE (see billing
# 0003). SQLite: one writer at a time (WAL; Django's transactions are IMMEDIATE), so the other writer
# waits for its busy timeout and gets "database is locked", and the native foreign keys refuse at the
# commit what the triggers refuse on PostgreSQL.

LEDGER_INSERT = (
    "INSERT INTO billing_ledgerentry (account_id, period, posted_on, kind, basis, zone, band, amount, "
    "reason, detail, created_at) VALUES (%s, %s, %s, 'charge', '', 0, 1, 1, '', '{}', CURRENT_TIMESTAMP)"
)
STATEMENT_INSERT = (
    "INSERT INTO billing_accountclose (account_id, period, basis, opening_balance, charges, recalculations, "
    "payments, penalty, closing_balance, due_date, closed_at) "
    "VALUES (%s, %s, 'actual', 0, 0, 0, 0, 0, 0, %s, CURRENT_TIMESTAMP)"
)
SQLITE_TIMEOUT = 0.3  # seconds a second SQLite writer waits for the lock


def _other_connection() -> psycopg.Connection[Any]:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params.pop("server_side_binding", None)
    return psycopg.connect(**params)


def _other_sqlite_connection() -> sqlite3.Connection:
    """Another connection to the test database, in autocommit (transactions begun explicitly, like
    Django's), with the foreign keys on and a short busy timeout."""
    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=SQLITE_TIMEOUT, isolation_level=None)
    other.execute("PRAGMA foreign_keys=ON")
    return other


def _qmark(statement: str) -> str:
    return statement.replace("%s", "?")


def _locked_out(other: sqlite3.Connection, statement: str, params: list[Any]) -> None:
    """``statement`` waits for the busy timeout, then fails: the other connection writes."""
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        other.execute(_qmark(statement), params)
    assert time.monotonic() - started >= SQLITE_TIMEOUT * 0.8
    assert not other.in_transaction


def _refused_at_commit(other: sqlite3.Connection) -> set[tuple[str, str]]:
    """The open transaction of ``other`` fails to commit (a deferred foreign key); rolled back.
    Returns the (table, referenced table) of the references it would have left dangling."""
    dangling = {(row[0], row[2]) for row in other.execute("PRAGMA foreign_key_check")}
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY constraint failed"):
        other.execute("COMMIT")
    assert other.in_transaction  # a commit refused by a foreign key leaves the transaction open
    other.execute("ROLLBACK")
    return dangling


def test_a_delete_waits_for_an_uncommitted_insert_and_then_refuses(meter):
    """The race the SHARE lock closes: a ledger line being written for an account while the
    account is deleted."""
    account_id = meter.account_id
    if connection.vendor == "postgresql":
        inserter, deleter = _other_connection(), _other_connection()
        try:
            inserter.execute(LEDGER_INSERT, [account_id, AUG, AUG])  # the check passed; not committed yet
            deleter.execute("SET lock_timeout = '300ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                deleter.execute("DELETE FROM customers_account WHERE id = %s", [account_id])
            deleter.rollback()
            inserter.commit()
            deleter.execute("DELETE FROM metering_meter WHERE account_id = %s", [account_id])
            with pytest.raises(psycopg.errors.ForeignKeyViolation):
                deleter.execute("DELETE FROM customers_account WHERE id = %s", [account_id])
            deleter.rollback()
        finally:
            inserter.close()
            deleter.close()
    else:
        sqlite_inserter, sqlite_deleter = _other_sqlite_connection(), _other_sqlite_connection()
        try:
            sqlite_inserter.execute("BEGIN IMMEDIATE")
            sqlite_inserter.execute(_qmark(LEDGER_INSERT), [account_id, AUG.isoformat(), AUG.isoformat()])
            _locked_out(sqlite_deleter, "DELETE FROM customers_account WHERE id = %s", [account_id])
            sqlite_inserter.execute("COMMIT")
            sqlite_deleter.execute("BEGIN IMMEDIATE")
            sqlite_deleter.execute("DELETE FROM metering_meter WHERE account_id = ?", [account_id])
            sqlite_deleter.execute("DELETE FROM customers_account WHERE id = ?", [account_id])
            assert _refused_at_commit(sqlite_deleter) == {("billing_ledgerentry", "customers_account")}
        finally:
            sqlite_inserter.close()
            sqlite_deleter.close()
    assert Account.objects.filter(pk=account_id).exists()
    assert Meter.objects.filter(pk=meter.pk).exists()
    assert LedgerEntry.objects.filter(account_id=account_id).count() == 1


def test_an_insert_waits_for_an_uncommitted_delete_and_then_refuses():
    """PostgreSQL refuses the insert at once (its trigger, after the statement), SQLite at the
    commit (its deferred foreign key)."""
    account = AccountFactory()
    if connection.vendor == "postgresql":
        inserter, deleter = _other_connection(), _other_connection()
        try:
            deleter.execute("DELETE FROM customers_account WHERE id = %s", [account.pk])  # holds SHARE
            inserter.execute("SET lock_timeout = '300ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                inserter.execute(STATEMENT_INSERT, [account.pk, AUG, AUG])
            inserter.rollback()
            deleter.commit()
            with pytest.raises(psycopg.errors.ForeignKeyViolation):
                inserter.execute(STATEMENT_INSERT, [account.pk, AUG, AUG])
            inserter.rollback()
        finally:
            inserter.close()
            deleter.close()
    else:
        sqlite_inserter, sqlite_deleter = _other_sqlite_connection(), _other_sqlite_connection()
        try:
            sqlite_deleter.execute("BEGIN IMMEDIATE")
            sqlite_deleter.execute("DELETE FROM customers_account WHERE id = ?", [account.pk])
            _locked_out(sqlite_inserter, STATEMENT_INSERT, [account.pk, AUG.isoformat(), AUG.isoformat()])
            sqlite_deleter.execute("COMMIT")
            sqlite_inserter.execute("BEGIN IMMEDIATE")
            sqlite_inserter.execute(_qmark(STATEMENT_INSERT), [account.pk, AUG.isoformat(), AUG.isoformat()])
            assert _refused_at_commit(sqlite_inserter) == {("billing_accountclose", "customers_account")}
        finally:
            sqlite_inserter.close()
            sqlite_deleter.close()
    assert not Account.objects.filter(pk=account.pk).exists()
    assert counts()["closes"] == 0


def test_an_insert_on_an_older_snapshot_does_not_miss_a_concurrent_delete():
    """PostgreSQL, REPEATABLE READ: a snapshot older than a committed deletion still sees the
    account: the check then locks the rows like a foreign key, and the lock fails. SQLite has no
    REPEATABLE READ, but a read transaction in WAL mode keeps its snapshot too: it may not write
    once another connection has committed since (SQLITE_BUSY_SNAPSHOT, at once), and the insert
    in a new transaction is refused by the foreign key at the commit."""
    account = AccountFactory()
    if connection.vendor == "postgresql":
        inserter, deleter = _other_connection(), _other_connection()
        try:
            inserter.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            inserter.execute("SELECT count(*) FROM customers_account")  # the snapshot
            deleter.execute("DELETE FROM customers_account WHERE id = %s", [account.pk])
            deleter.commit()
            with pytest.raises(psycopg.errors.SerializationFailure):
                inserter.execute(LEDGER_INSERT, [account.pk, AUG, AUG])
            inserter.rollback()
        finally:
            inserter.close()
            deleter.close()
    else:
        sqlite_inserter, sqlite_deleter = _other_sqlite_connection(), _other_sqlite_connection()
        params = [account.pk, AUG.isoformat(), AUG.isoformat()]
        try:
            sqlite_inserter.execute("BEGIN")  # deferred: a read transaction, the snapshot
            seen = sqlite_inserter.execute(
                "SELECT count(*) FROM customers_account WHERE id = ?", [account.pk]
            )
            assert seen.fetchone() == (1,)
            sqlite_deleter.execute("DELETE FROM customers_account WHERE id = ?", [account.pk])  # committed
            with pytest.raises(sqlite3.OperationalError, match="database is locked") as stale:
                sqlite_inserter.execute(_qmark(LEDGER_INSERT), params)
            assert stale.value.sqlite_errorname == "SQLITE_BUSY_SNAPSHOT"
            sqlite_inserter.execute("ROLLBACK")
            sqlite_inserter.execute("BEGIN IMMEDIATE")
            sqlite_inserter.execute(_qmark(LEDGER_INSERT), params)
            assert _refused_at_commit(sqlite_inserter) == {("billing_ledgerentry", "customers_account")}
        finally:
            sqlite_inserter.close()
            sqlite_deleter.close()
    assert not Account.objects.filter(pk=account.pk).exists()
    assert counts()["ledger"] == 0
