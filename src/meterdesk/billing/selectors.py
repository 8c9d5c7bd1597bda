"""Reads of balances, payments and statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet, Sum

from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.customers.models import Account


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
            e for e in entries if e.kind in (EntryKind.CHARGE, EntryKind.RECALCULATION, EntryKind.CORRECTION)
        ],
        payments=[e for e in entries if e.kind == EntryKind.PAYMENT],
        penalty=[e for e in entries if e.kind == EntryKind.PENALTY],
    )
