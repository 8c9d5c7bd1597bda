"""Writes of the ledger outside the monthly close."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max

from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.customers.models import Account
from meterdesk.domain.periods import add_months, month_start


class PaymentError(Exception):
    code = "payment_error"


class DuplicatePayment(PaymentError):
    """A payment with this external id is already recorded (nothing was changed)."""

    code = "duplicate_payment"

    def __init__(self, entry: LedgerEntry) -> None:
        super().__init__(f"payment {entry.external_id} is already recorded")
        self.entry = entry


def open_period_for(account: Account, day: date) -> date:
    """The month an entry dated ``day`` is posted to: its own month, or the first month of the
    account that is not closed yet (a closed month is never changed)."""
    last_closed = AccountClose.objects.filter(account=account).aggregate(p=Max("period"))["p"]
    period = month_start(day)
    if last_closed is not None and period <= last_closed:
        period = add_months(last_closed, 1)
    return period


def payment_post(
    *,
    account: Account,
    amount: Decimal,
    paid_on: date,
    external_id: str,
    source: str = "",
    detail: dict | None = None,
) -> LedgerEntry:
    """Record a payment received (reduces the balance). Recorded once per ``external_id``."""
    if amount <= 0:
        raise PaymentError("a payment must be a positive amount")
    existing = LedgerEntry.objects.filter(external_id=external_id).first()
    if existing is not None:
        raise DuplicatePayment(existing)
    try:
        with transaction.atomic():
            return LedgerEntry.objects.create(
                account=account,
                period=open_period_for(account, paid_on),
                posted_on=paid_on,
                kind=EntryKind.PAYMENT,
                amount=-amount.quantize(Decimal("0.01")),
                reason=source,
                detail=detail or {},
                external_id=external_id,
            )
    except IntegrityError as exc:  # the same payment recorded concurrently
        raise DuplicatePayment(LedgerEntry.objects.get(external_id=external_id)) from exc
