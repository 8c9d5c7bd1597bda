"""Service requests: the utility's services with their prices (reference data, every price kept
with the day it applies from), and the households' requests for them, from order to outcome.

A paid service that was done is posted once to the ledger (``EntryKind.SERVICE``) and shows on the
next bill as a line of its own; a free one, a cancelled or a failed one posts nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from meterdesk.billing.models import LedgerEntry
from meterdesk.customers.models import Account


class Service(models.Model):
    """One version of a service: a change of its price or words is a new row with a later
    ``valid_from`` (the old one stays, and the requests made at its price keep pointing at it)."""

    code = models.SlugField(_("code"), max_length=40)
    name_ru = models.CharField(_("name in Russian"), max_length=120)
    name_en = models.CharField(_("name in English"), max_length=120)
    description_ru = models.TextField(_("description in Russian"), blank=True, default="")
    description_en = models.TextField(_("description in English"), blank=True, default="")
    # Roubles including VAT; 0: the service is free.
    price = models.DecimalField(_("price, ₽ (VAT included)"), max_digits=10, decimal_places=2)
    active = models.BooleanField(_("offered"), default=True)
    valid_from = models.DateField(_("valid from"))

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["code", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["code", "valid_from"], name="orders_service_version_once"),
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="orders_service_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name_ru} ({self.price} ₽ from {self.valid_from:%d.%m.%Y})"

    def name(self, language: str | None) -> str:
        return self.name_en if (language or "ru").startswith("en") else self.name_ru

    def description(self, language: str | None) -> str:
        return self.description_en if (language or "ru").startswith("en") else self.description_ru

    @property
    def free(self) -> bool:
        return self.price == 0


class Channel(models.TextChoices):
    WEB = "web", pgettext_lazy("service request", "personal account")
    API = "api", _("API")
    PHONE = "phone", _("phone line")
    OFFICE = "office", _("office")


class Status(models.TextChoices):
    ORDERED = "ordered", pgettext_lazy("service request", "ordered")
    SCHEDULED = "scheduled", pgettext_lazy("service request", "scheduled")
    DONE = "done", pgettext_lazy("service request", "done")
    CANCELLED = "cancelled", pgettext_lazy("service request", "cancelled")
    FAILED = "failed", pgettext_lazy("service request", "failed")


#: The statuses a request leaves no more.
FINAL = (Status.DONE, Status.CANCELLED, Status.FAILED)

#: The time windows a visit is scheduled in.
WINDOWS = ("09:00–12:00", "12:00–15:00", "15:00–18:00")


class ServiceRequest(models.Model):
    # "З-000123": set from the id right after the insert (NULL only inside that transaction).
    number = models.CharField(_("number"), max_length=16, unique=True, null=True, blank=True)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="service_requests", verbose_name=_("personal account")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ordered by"),
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="requests", verbose_name=_("service")
    )
    price = models.DecimalField(_("price when ordered, ₽"), max_digits=10, decimal_places=2)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ORDERED)
    preferred_on = models.DateField(_("preferred day"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True, default="")
    scheduled_on = models.DateField(_("scheduled for"), null=True, blank=True)
    window = models.CharField(_("time window"), max_length=16, blank=True, default="")
    scheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("scheduled by"),
    )
    outcome = models.TextField(_("outcome"), blank=True, default="")
    done_on = models.DateField(_("done on"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True, default="")
    # The ledger line of a paid service done: one at most (unique).
    entry = models.OneToOneField(
        LedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ledger entry"),
    )
    created_at = models.DateTimeField(_("ordered at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("service request")
        verbose_name_plural = _("service requests")
        indexes = [
            models.Index(fields=["status", "scheduled_on"], name="orders_request_queue"),
            models.Index(fields=["account", "-created_at"], name="orders_request_of_account"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.service.name_ru}"

    @property
    def final(self) -> bool:
        return self.status in FINAL
