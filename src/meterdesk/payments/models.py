"""Card payments: our record of each attempt, the log of what arrived, and the sandbox's store.

A card payment reaches the ledger only through ``services.payment_settle``, as one
``LedgerEntry`` (kind payment, external id ``card:<provider>:<provider payment id>``) — exactly
once, whatever arrives how many times.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from meterdesk.billing.models import LedgerEntry
from meterdesk.customers.models import Account


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("not started yet")
    PENDING = "pending", _("waiting for the bank")
    WAITING_FOR_CAPTURE = "waiting_for_capture", _("waiting for the bank")
    SUCCEEDED = "succeeded", _("paid")
    CANCELED = "canceled", _("cancelled")


FINAL_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED)
OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.PENDING, PaymentStatus.WAITING_FOR_CAPTURE)


class PaymentChannel(models.TextChoices):
    WEB = "web", _("personal account")
    API = "api", _("API")


class Payment(models.Model):
    """One card payment started by a customer, and what became of it."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="card_payments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=PaymentChannel.choices)
    amount = models.DecimalField(_("amount, ₽"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="RUB")
    provider = models.CharField(_("provider"), max_length=16)
    # Sent to the provider as its Idempotence-Key: the same key never starts a second payment.
    idempotence_key = models.CharField(_("idempotence key"), max_length=64, unique=True)
    provider_payment_id = models.CharField(  # noqa: DJ001 - NULL until the provider has answered
        _("provider's payment id"), max_length=64, null=True, blank=True
    )
    confirmation_url = models.CharField(_("confirmation URL"), max_length=2000, blank=True, default="")
    return_url = models.CharField(_("return URL"), max_length=2000, blank=True, default="")
    description = models.CharField(_("description"), max_length=128)
    status = models.CharField(
        _("status"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    cancellation_reason = models.CharField(_("cancellation reason"), max_length=64, blank=True, default="")
    card = models.CharField(_("card"), max_length=40, blank=True, default="")
    last_error = models.CharField(_("last error"), max_length=300, blank=True, default="")
    entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="card_payment"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("card payment")
        verbose_name_plural = _("card payments")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_payment_id"], name="payment_provider_id_once"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["account", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.pk} {self.account_id} {self.amount} {self.status}"

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def external_id(self) -> str:
        """The ledger's external id of this payment once it succeeded."""
        return f"card:{self.provider}:{self.provider_payment_id}"


class EventKind(models.TextChoices):
    CREATE = "create", _("created at the provider")
    CREATE_FAILED = "create_failed", _("the provider could not be asked")
    NOTIFICATION = "notification", _("notification received")
    SETTLE = "settle", _("status checked with the provider")


class PaymentEvent(models.Model):
    """The append-only log of what arrived and what we asked: rows are only ever added (the
    outcome of a notification is filled in once, when its handling ends)."""

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    provider = models.CharField(_("provider"), max_length=16)
    provider_payment_id = models.CharField(_("provider's payment id"), max_length=64, blank=True, default="")
    kind = models.CharField(_("kind"), max_length=16, choices=EventKind.choices)
    event = models.CharField(_("event"), max_length=64, blank=True, default="")
    status = models.CharField(_("status at the provider"), max_length=20, blank=True, default="")
    body = models.JSONField(_("body"), default=dict, blank=True)
    outcome = models.CharField(_("outcome"), max_length=40, blank=True, default="")
    detail = models.CharField(_("detail"), max_length=300, blank=True, default="")
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")
        indexes = [models.Index(fields=["provider", "provider_payment_id"])]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.event} {self.outcome}"


class SandboxPayment(models.Model):
    """The sandbox provider's own store: what a real provider keeps on its side."""

    id = models.CharField(primary_key=True, max_length=40)
    idempotence_key = models.CharField(max_length=64, unique=True)
    request = models.JSONField(default=dict)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="RUB")
    description = models.CharField(max_length=128)
    metadata = models.JSONField(default=dict)
    return_url = models.CharField(max_length=2000)
    status = models.CharField(max_length=20, default="pending")
    paid = models.BooleanField(default=False)
    cancellation_reason = models.CharField(max_length=64, blank=True, default="")
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    card_type = models.CharField(max_length=20, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    captured_at = models.DateTimeField(null=True, blank=True)
    bank_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sandbox payment")
        verbose_name_plural = _("sandbox payments")

    def __str__(self) -> str:
        return f"{self.pk} {self.amount} {self.status}"
