"""Bank registries of payments: each file loaded, and each of its rows with what became of it.

A row is matched to an account when the file is loaded (a ledger payment is posted), or waits in
the unmatched queue until staff assign it to an account (the payment is posted then) or reject it
(the money goes back to the bank). A row the bank sent again in a later file is recorded as a
duplicate of the first and posts nothing. Rows are never deleted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from meterdesk.billing.models import LedgerEntry
from meterdesk.customers.models import Account


class Registry(models.Model):
    """One file of payments from a bank, loaded once (by its content hash)."""

    name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("content hash (SHA-256)"), max_length=64, unique=True)
    layout = models.CharField(_("layout"), max_length=60)
    bank = models.CharField(_("bank"), max_length=60)
    loaded_at = models.DateTimeField(_("loaded at"))
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("loaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    first_paid_on = models.DateField(_("first payment on"), null=True, blank=True)
    last_paid_on = models.DateField(_("last payment on"), null=True, blank=True)
    rows_total = models.PositiveIntegerField(_("rows"))
    rows_matched = models.PositiveIntegerField(_("matched on load"))
    rows_unmatched = models.PositiveIntegerField(_("unmatched on load"))
    rows_duplicate = models.PositiveIntegerField(_("already loaded before"))
    amount_total = models.DecimalField(_("amount, ₽"), max_digits=14, decimal_places=2)
    commission_total = models.DecimalField(_("bank commission, ₽"), max_digits=14, decimal_places=2)
    amount_matched = models.DecimalField(_("matched amount, ₽"), max_digits=14, decimal_places=2)
    amount_unmatched = models.DecimalField(_("unmatched amount, ₽"), max_digits=14, decimal_places=2)
    footer = models.JSONField(_("footer"), default=dict, blank=True)

    class Meta:
        verbose_name = _("payment registry")
        verbose_name_plural = _("payment registries")
        ordering = ["-loaded_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"


class RowStatus(models.TextChoices):
    MATCHED = "matched", _("matched")
    UNMATCHED = "unmatched", _("unmatched")
    ASSIGNED = "assigned", _("assigned by staff")
    REJECTED = "rejected", _("rejected")
    DUPLICATE = "duplicate", _("already loaded")


class UnmatchedReason(models.TextChoices):
    UNKNOWN_ACCOUNT = "unknown_account", _("unknown account number")
    CLOSED_ACCOUNT = "closed_account", _("account closed")
    MALFORMED_ACCOUNT = "malformed_account", _("malformed account number")


#: The ledger's ``reason`` (the source) of a payment from a registry.
SOURCE = "registry"
POSTED = (RowStatus.MATCHED, RowStatus.ASSIGNED)


class RegistryRow(models.Model):
    """One payment of a registry, as the bank sent it, and what became of it."""

    registry = models.ForeignKey(
        Registry, verbose_name=_("registry"), on_delete=models.PROTECT, related_name="rows"
    )
    line = models.PositiveIntegerField(_("line"))
    row_key = models.CharField(_("bank's identity of the row"), max_length=255)
    external_id = models.CharField(_("external id"), max_length=80)
    paid_at = models.DateTimeField(_("paid at"))
    paid_on = models.DateField(_("paid on"))
    branch = models.CharField(_("branch"), max_length=40, blank=True, default="")
    operation_id = models.CharField(_("operation"), max_length=60, blank=True, default="")
    account_number = models.CharField(_("account number as sent"), max_length=100, blank=True, default="")
    payer = models.CharField(_("payer"), max_length=300, blank=True, default="")
    address = models.CharField(_("address"), max_length=500, blank=True, default="")
    period = models.DateField(_("month paid for"), null=True, blank=True)
    amount = models.DecimalField(_("amount, ₽"), max_digits=14, decimal_places=2)
    commission = models.DecimalField(_("bank commission, ₽"), max_digits=14, decimal_places=2)
    raw = models.TextField(_("line of the file"))
    status = models.CharField(_("status"), max_length=12, choices=RowStatus.choices)
    reason = models.CharField(
        _("why unmatched"), max_length=24, choices=UnmatchedReason.choices, blank=True, default=""
    )
    account = models.ForeignKey(
        Account,
        verbose_name=_("personal account"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registry_rows",
    )
    entry = models.OneToOneField(
        LedgerEntry,
        verbose_name=_("ledger payment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registry_row",
    )
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("first loaded as"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="repeats",
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolution_note = models.TextField(_("note or reason of rejection"), blank=True, default="")

    class Meta:
        verbose_name = _("registry row")
        verbose_name_plural = _("registry rows")
        ordering = ["registry_id", "line"]
        constraints = [
            models.UniqueConstraint(fields=["registry", "line"], name="registry_row_line_once"),
            # A bank's operation is counted once: only its repeats (status duplicate) share its key.
            models.UniqueConstraint(
                fields=["row_key"], condition=~Q(status="duplicate"), name="registry_row_key_once"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["matched", "assigned"], entry__isnull=False, account__isnull=False)
                | (~Q(status__in=["matched", "assigned"]) & Q(entry__isnull=True)),
                name="registry_row_posted_has_entry",
            ),
        ]
        indexes = [models.Index(fields=["status", "paid_on"])]

    def __str__(self) -> str:
        return f"{self.registry_id}:{self.line} {self.account_number} {self.amount}"
