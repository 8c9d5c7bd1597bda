"""Reads of payments through the provider and of the payments an account received."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from meterdesk.billing.models import LedgerEntry
from meterdesk.billing.selectors import payments_of
from meterdesk.customers.models import Account, User
from meterdesk.payments.models import Payment, PaymentPart, PaymentStatus


def payment_for_user(user: User, payment_id: int) -> Payment:
    """The card payment, if its account is linked to the user; else Payment.DoesNotExist."""
    return Payment.objects.select_related("account", "entry").get(pk=payment_id, account__links__user=user)


def payment_parts(payment: Payment) -> list[PaymentPart]:
    """The accounts the payment pays, each with its amount and (once paid) its ledger entry."""
    return list(payment.parts.select_related("account", "entry"))


def payments_open_of(account: Account, limit: int = 10) -> QuerySet[Payment]:
    """The account's latest card payments that did not end in the ledger (waiting or cancelled)."""
    return (
        Payment.objects.filter(account=account)
        .exclude(status=PaymentStatus.SUCCEEDED)
        .order_by("-created_at", "-pk")[:limit]
    )


def payment_channel(entry: LedgerEntry) -> str:
    """How a payment ledger entry arrived, in words: card, bank registry, imported, …"""
    external = entry.external_id or ""
    reason = (entry.reason or "").lower()
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    if reason == "sbp":
        return _("by SBP")
    if external.startswith("card:") and detail.get("autopay"):
        return _("by card, automatically")
    if external.startswith("card:") or reason == "card":
        return _("by card")
    if "registry" in reason or external.startswith(("registry:", "reg:")) or "registry" in detail:
        return _("bank registry")
    if "import_row" in detail:
        return _("imported")
    return _("payment received")


@dataclass(frozen=True)
class PaymentRow:
    entry: LedgerEntry
    channel: str

    @property
    def amount(self) -> Decimal:
        return -self.entry.amount


def payment_rows(account: Account) -> list[PaymentRow]:
    """Every payment in the account's ledger, newest first (all channels)."""
    return [PaymentRow(entry, payment_channel(entry)) for entry in payments_of(account)]


def customer_state(payment: Payment) -> str:
    """What the customer is told: paid, waiting for the bank, cancelled (or not started)."""
    if payment.status == PaymentStatus.SUCCEEDED:
        return "paid"
    if payment.status == PaymentStatus.CANCELED:
        return "cancelled"
    if payment.status == PaymentStatus.CREATED:
        return "not_started"
    return "waiting"
