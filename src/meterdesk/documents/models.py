"""E-bills: a login's choice to get an account's monthly bill by e-mail, and the bills sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import Account


class EbillSubscription(models.Model):
    """A login asked for the bill of an account by e-mail instead of on paper (from ``since``).

    Deleting the row is opting out; the deliveries already made stay recorded."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    account = models.ForeignKey(
        Account,
        on_delete=models.CASCADE,
        related_name="ebill_subscriptions",
        verbose_name=_("personal account"),
    )
    since = models.DateTimeField(_("since"))

    class Meta:
        verbose_name = _("e-bill subscription")
        verbose_name_plural = _("e-bill subscriptions")
        constraints = [models.UniqueConstraint(fields=["user", "account"], name="ebill_subscription_once")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.account_id}"


class EbillDelivery(models.Model):
    """The bill of one account for one month, e-mailed to one address: sent at most once."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", verbose_name=_("personal account")
    )
    period = models.DateField(_("billing month"))
    email = models.EmailField(_("e-mail"))
    sent_at = models.DateTimeField(_("sent at"))

    class Meta:
        verbose_name = _("e-bill sent")
        verbose_name_plural = _("e-bills sent")
        constraints = [
            models.UniqueConstraint(fields=["account", "period", "email"], name="ebill_delivery_once")
        ]
        indexes = [models.Index(fields=["period"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period:%Y-%m} → {self.email}"
