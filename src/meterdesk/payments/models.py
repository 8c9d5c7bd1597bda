"""Payments through the provider (by card or by SBP): our record of each attempt and the accounts
it pays, the log of what arrived, the saved cards and autopayments, and the sandbox's store.

A payment reaches the ledger only through ``services.payment_settle``, as one ``LedgerEntry`` per
account it pays (kind payment, external id ``card:<provider>:<provider payment id>``, with
``:<account number>`` when it pays several) — exactly once, whatever arrives how many times.
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
    AUTOPAY = "autopay", _("autopayment")
    LINK = "link", _("payment link")


class PaymentMethod(models.TextChoices):
    """How the customer pays (YooKassa's ``payment_method_data.type``)."""

    CARD = "bank_card", _("bank card")
    SBP = "sbp", _("Faster Payments System (SBP)")


class Confirmation(models.TextChoices):
    """How the customer confirms it: on the provider's page, by a QR code (SBP), or not at all (a
    saved card charged by autopayment)."""

    REDIRECT = "redirect", _("the payment service's page")
    QR = "qr", _("QR code")
    NONE = "none", _("no confirmation (autopayment)")


class Payment(models.Model):
    """One card payment started by a customer, and what became of it."""

    # The first (often the only) account it pays; ``parts`` has every account with its amount.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="card_payments", verbose_name=_("account")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("login"),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=PaymentChannel.choices)
    method = models.CharField(
        _("method"), max_length=12, choices=PaymentMethod.choices, default=PaymentMethod.CARD
    )
    confirmation_type = models.CharField(
        _("confirmation"), max_length=8, choices=Confirmation.choices, default=Confirmation.REDIRECT
    )
    amount = models.DecimalField(_("amount, ₽"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="RUB")
    provider = models.CharField(_("provider"), max_length=16)
    # Sent to the provider as its Idempotence-Key: the same key never starts a second payment.
    idempotence_key = models.CharField(_("idempotence key"), max_length=64, unique=True)
    provider_payment_id = models.CharField(  # noqa: DJ001 - NULL until the provider has answered
        _("provider's payment id"), max_length=64, null=True, blank=True
    )
    confirmation_url = models.CharField(_("confirmation URL"), max_length=2000, blank=True, default="")
    # SBP by QR: the link the QR code holds (a phone opens it in the bank's app).
    qr_data = models.CharField(_("SBP link (QR code)"), max_length=2000, blank=True, default="")
    return_url = models.CharField(_("return URL"), max_length=2000, blank=True, default="")
    description = models.CharField(_("description"), max_length=128)
    status = models.CharField(
        _("status"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    cancellation_reason = models.CharField(_("cancellation reason"), max_length=64, blank=True, default="")
    card = models.CharField(_("card"), max_length=40, blank=True, default="")
    # The fiscal receipt (54-FZ) sent with the payment, as sent.
    receipt = models.JSONField(_("receipt"), default=dict, blank=True)
    # The customer asked to save the card and pay the accounts' bills automatically: when, and
    # the words agreed to. The card is saved (and autopayment turned on) when the payment succeeds.
    save_card = models.BooleanField(_("save the card for autopayment"), default=False)
    consent_at = models.DateTimeField(_("autopayment consent given at"), null=True, blank=True)
    consent_text = models.TextField(_("autopayment consent"), blank=True, default="")
    last_error = models.CharField(_("last error"), max_length=300, blank=True, default="")
    entry = models.OneToOneField(
        LedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="card_payment",
        verbose_name=_("ledger entry"),
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


class PaymentPart(models.Model):
    """One account a payment pays, and how much of it: a payment of a flat and a dacha has two.
    The parts add up to the payment; each gets its own ledger entry (and receipt)."""

    payment = models.ForeignKey(
        Payment, on_delete=models.CASCADE, related_name="parts", verbose_name=_("payment")
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    amount = models.DecimalField(_("amount, ₽"), max_digits=12, decimal_places=2)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    entry = models.OneToOneField(
        LedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_part",
        verbose_name=_("ledger entry"),
    )

    class Meta:
        verbose_name = _("account paid")
        verbose_name_plural = _("accounts paid")
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["payment", "account"], name="payment_part_account_once"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_part_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id}: {self.account_id} {self.amount}"


class EventKind(models.TextChoices):
    CREATE = "create", _("created at the provider")
    CREATE_FAILED = "create_failed", _("the provider could not be asked")
    NOTIFICATION = "notification", _("notification received")
    SETTLE = "settle", _("status checked with the provider")


class PaymentEvent(models.Model):
    """The append-only log of what arrived and what we asked: rows are only ever added (the
    outcome of a notification is filled in once, when its handling ends)."""

    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("payment"),
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


class SavedCard(models.Model):
    """A card the provider saved for payments without the customer (autopayment). meterdesk keeps
    the provider's id of it and what tells the customer which card it is — the scheme and the last
    four digits — never the card's number or anything else of it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_cards",
        verbose_name=_("login"),
    )
    provider = models.CharField(_("provider"), max_length=16)
    method_id = models.CharField(_("provider's id of the saved card"), max_length=64)
    card_type = models.CharField(_("card type"), max_length=20, blank=True, default="")
    last4 = models.CharField(_("last 4 digits"), max_length=4, blank=True, default="")
    payment = models.ForeignKey(
        Payment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("the payment that saved it"),
    )
    saved_at = models.DateTimeField(_("saved at"), default=timezone.now)
    # The customer removed it: it is never charged again.
    forgotten_at = models.DateTimeField(_("removed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("saved card")
        verbose_name_plural = _("saved cards")
        constraints = [
            models.UniqueConstraint(fields=["provider", "method_id"], name="saved_card_method_once"),
        ]

    def __str__(self) -> str:
        return self.masked

    @property
    def masked(self) -> str:
        """``Visa *4242``: all the customer is shown of the card."""
        return f"{self.card_type or 'Card'} *{self.last4}" if self.last4 else (self.card_type or "Card")


class StopReason(models.TextChoices):
    CUSTOMER = "customer", _("stopped by the customer")
    REPLACED = "replaced", _("replaced by another card")
    CARD_UNUSABLE = "card_unusable", _("the card can no longer be charged")
    UNLINKED = "unlinked", _("the login no longer has the account")


class Autopay(models.Model):
    """The household's consent to pay an account's bills automatically with a saved card: who
    gave it, when and in what words. Stopping it keeps the row (``stopped_at``); an account has at
    most one autopayment in force."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="autopays", verbose_name=_("account")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("agreed by"),
    )
    card = models.ForeignKey(
        SavedCard, on_delete=models.PROTECT, related_name="autopays", verbose_name=_("card")
    )
    consent_at = models.DateTimeField(_("consent given at"))
    consent_text = models.TextField(_("consent, as shown"))
    channel = models.CharField(_("channel"), max_length=8, choices=PaymentChannel.choices)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("stopped by"),
    )
    stop_reason = models.CharField(
        _("why stopped"), max_length=16, choices=StopReason.choices, blank=True, default=""
    )

    class Meta:
        verbose_name = _("autopayment")
        verbose_name_plural = _("autopayments")
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(stopped_at__isnull=True),
                name="autopay_one_in_force_per_account",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.card_id} {'stopped' if self.stopped_at else 'on'}"

    @property
    def active(self) -> bool:
        return self.stopped_at is None


class ChargeStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    CHARGING = "charging", _("waiting for the bank")
    RETRY = "retry", _("declined, to be tried again")
    PAID = "paid", _("paid")
    FAILED = "failed", _("declined, not tried again")
    SKIPPED = "skipped", _("nothing to pay")
    CANCELLED = "cancelled", _("autopayment stopped")


OPEN_CHARGE_STATUSES = (ChargeStatus.SCHEDULED, ChargeStatus.CHARGING, ChargeStatus.RETRY)


class AutopayCharge(models.Model):
    """The automatic payment of one monthly bill: unique per account and month, so that a bill is
    never charged twice. Each try is a ``Payment`` of its own (a new idempotence key per try,
    made only once the try before it was declined); ``payment`` is the latest."""

    autopay = models.ForeignKey(
        Autopay, on_delete=models.PROTECT, related_name="charges", verbose_name=_("autopayment")
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    period = models.DateField(_("billing month"))
    due_date = models.DateField(_("due date"))
    bill_amount = models.DecimalField(_("bill, ₽"), max_digits=12, decimal_places=2)
    # The due date, or later when the notice could not go out a day before it.
    charge_on = models.DateField(_("charge on"))
    status = models.CharField(
        _("status"), max_length=10, choices=ChargeStatus.choices, default=ChargeStatus.SCHEDULED
    )
    attempts = models.PositiveSmallIntegerField(_("tries"), default=0)
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("the latest try"),
    )
    amount = models.DecimalField(_("charged, ₽"), max_digits=12, decimal_places=2, null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True, default="")
    notice_sent_at = models.DateTimeField(_("notice sent at"), null=True, blank=True)
    # Declined tries the customer has been told of, and when the receipt of the payment went.
    failures_reported = models.PositiveSmallIntegerField(_("declines reported"), default=0)
    receipt_sent_at = models.DateTimeField(_("receipt sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("automatic payment of a bill")
        verbose_name_plural = _("automatic payments of bills")
        constraints = [
            models.UniqueConstraint(fields=["account", "period"], name="autopay_charge_once_per_bill"),
        ]
        indexes = [models.Index(fields=["status", "charge_on"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period:%Y-%m} {self.status}"


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
    method = models.CharField(max_length=12, blank=True, default="")
    confirmation_type = models.CharField(max_length=8, default="redirect")
    receipt = models.JSONField(default=dict, blank=True)
    # Asked to save the card; once paid, the id it is charged by later and what such a charge
    # does (by the test card it was saved from). No card number is kept.
    save_method = models.BooleanField(default=False)
    method_id = models.CharField(max_length=40, blank=True, default="")
    later_outcome = models.CharField(max_length=20, blank=True, default="")
    # A payment by a saved card: that card's id.
    paid_with = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        verbose_name = _("sandbox payment")
        verbose_name_plural = _("sandbox payments")

    def __str__(self) -> str:
        return f"{self.pk} {self.amount} {self.status}"


class PayLink(models.Model):
    """A short link to pay one account without logging in, sent by SMS to a phone on file for it
    (the phone line offers it). It shows the amount due and the account's street only, and works
    until ``expires_at``; each payment made by it is a ``Payment`` of channel ``link``."""

    code = models.CharField(_("code"), max_length=16, unique=True)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="pay_links", verbose_name=_("account")
    )
    phone = models.CharField(_("sent to"), max_length=16)
    via = models.CharField(_("asked through"), max_length=16, default="phone")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("works until"))

    class Meta:
        verbose_name = _("payment link")
        verbose_name_plural = _("payment links")

    def __str__(self) -> str:
        return self.code
