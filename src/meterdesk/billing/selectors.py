"""Reads of balances, payments and statements."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet, Sum

from meterdesk.billing.codec import db_money
from meterdesk.billing.models import AccountClose, BillingRun, EntryKind, LedgerEntry, RunStatus
from meterdesk.customers.models import Account, User
from meterdesk.sqlrows import Rows


@dataclass(frozen=True)
class AccountOverview:
    """What the API's dashboard shows of an account, read in one statement."""

    account: Account
    balance: Decimal
    payment: LedgerEntry | None  # the last payment
    latest: AccountClose | None  # the latest monthly statement
    zones: list[int]  # the zone counts of the meters in service, ascending
    stamp: int | None  # the reference data's stamp (utility.selectors.reference_get)


_ACCOUNT = Rows(Account, "a")
_PAYMENT = Rows(LedgerEntry, "p")
_CLOSE = Rows(AccountClose, "s")


@functools.cache
def _overview_sql() -> str:
    from meterdesk.customers.models import AccountLink
    from meterdesk.metering.models import Meter
    from meterdesk.utility.selectors import REFERENCE_STAMP_SUBQUERY

    ledger, closes, meters = LedgerEntry._meta.db_table, AccountClose._meta.db_table, Meter._meta.db_table
    zones = ", ".join(
        f"EXISTS (SELECT 1 FROM {meters} m WHERE m.account_id = a.id AND m.removed_on IS NULL AND m.zones = {n})"  # noqa: S608
        for n in (1, 2, 3)
    )
    return (
        f"SELECT {_ACCOUNT.columns}, "  # noqa: S608 - names from the models
        f"(SELECT COALESCE(SUM(e.amount), 0) FROM {ledger} e WHERE e.account_id = a.id), "
        f"{_PAYMENT.columns}, {_CLOSE.columns}, {zones}, {REFERENCE_STAMP_SUBQUERY} "
        f"FROM {Account._meta.db_table} a "
        f"LEFT JOIN {ledger} p ON p.id = (SELECT e.id FROM {ledger} e WHERE e.account_id = a.id "
        "AND e.kind = %s ORDER BY e.posted_on DESC, e.id DESC LIMIT 1) "
        f"LEFT JOIN {closes} s ON s.id = (SELECT c.id FROM {closes} c WHERE c.account_id = a.id "
        "ORDER BY c.period DESC LIMIT 1) "
        f"WHERE a.number = %s AND EXISTS (SELECT 1 FROM {AccountLink._meta.db_table} l "
        "WHERE l.account_id = a.id AND l.user_id = %s)"
    )


def account_overview(user: User, number: str) -> AccountOverview | None:
    """The account ``number`` if it is linked to ``user`` (else None), with its balance
    (``account_balance``), last payment (``last_payment``), latest statement, the zone counts
    of its meters in service and the reference stamp: one hand-written statement where the ORM
    took six (the dashboard is the API's most frequent read; tests compare it with those)."""
    with connection.cursor() as cursor:
        cursor.execute(_overview_sql(), [EntryKind.PAYMENT.value, number, user.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    account = _ACCOUNT.build(row)
    at = _ACCOUNT.width
    balance = db_money(row[at])
    at += 1
    payment = None if row[at] is None else _PAYMENT.build(row, at)
    at += _PAYMENT.width
    latest = None if row[at] is None else _CLOSE.build(row, at)
    at += _CLOSE.width
    zones = [n for n, present in zip((1, 2, 3), row[at : at + 3], strict=True) if present]
    stamp = row[at + 3]
    return AccountOverview(account, balance, payment, latest, zones, None if stamp is None else int(stamp))


def month_closed_sql(account_column: str) -> str:
    """An SQL expression, true when the month (two parameters: the month, twice) is closed for the
    account ``account_column``: its statement of the month exists, or the month's run has finished.
    A column of a statement that reads the account for another purpose, as well as ``month_closed``."""
    return (
        f"(EXISTS (SELECT 1 FROM {AccountClose._meta.db_table} c "  # noqa: S608 - names from the models
        f"WHERE c.account_id = {account_column} AND c.period = %s) "
        f"OR EXISTS (SELECT 1 FROM {BillingRun._meta.db_table} b "
        f"WHERE b.period = %s AND b.status = '{RunStatus.DONE.value}'))"
    )


def month_closed(account_id: int, period: date) -> bool:
    """Whether ``period`` is closed (billed) for the account: a reading for it is not accepted."""
    day = connection.ops.adapt_datefield_value(period)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {month_closed_sql('%s')}", [account_id, day, day])
        row = cursor.fetchone()
    return bool(row and row[0])


def account_balance(account: Account) -> Decimal:
    """The sum of the ledger: positive is a debt, negative a credit."""
    total = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]
    return (total or Decimal(0)).quantize(Decimal("0.01"))


def last_payment(account: Account) -> LedgerEntry | None:
    return (
        LedgerEntry.objects.filter(account=account, kind=EntryKind.PAYMENT)
        .order_by("-posted_on", "-pk")
        .first()
    )


def payments_of(account: Account) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(account=account, kind=EntryKind.PAYMENT).order_by("-posted_on", "-pk")


def statements_of(account: Account) -> QuerySet[AccountClose]:
    return AccountClose.objects.filter(account=account).order_by("-period")


@dataclass(frozen=True)
class Statement:
    close: AccountClose
    lines: list[LedgerEntry]
    payments: list[LedgerEntry]
    penalty: list[LedgerEntry]

    @property
    def total_due(self) -> Decimal:
        return max(self.close.closing_balance, Decimal("0.00"))


def statement_get(account: Account, period: date) -> Statement | None:
    """The monthly statement: opening balance, the month's lines, payments, penalty, closing balance."""
    close = AccountClose.objects.filter(account=account, period=period).first()
    if close is None:
        return None
    entries = list(
        LedgerEntry.objects.filter(account=account, period=period)
        .select_related("meter")
        .order_by("kind", "meter_id", "zone", "band", "pk")
    )
    return Statement(
        close=close,
        lines=[
            e
            for e in entries
            if e.kind in (EntryKind.CHARGE, EntryKind.RECALCULATION, EntryKind.CORRECTION, EntryKind.SERVICE)
        ],
        payments=[e for e in entries if e.kind == EntryKind.PAYMENT],
        penalty=[e for e in entries if e.kind == EntryKind.PENALTY],
    )
