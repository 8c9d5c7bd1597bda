"""The responsible-customer programme: its rules as data, and each month's draw.

A programme says what counts (readings given inside the window for every meter, the bill paid with
no debt left and no penalty) over how many months in a row, and how many prizes a month's draw
gives. A draw is announced with its seed before it is held; held, it keeps the eligible accounts'
count, the hash of the published list, and its winners (programme/draw.py, docs/programme.md).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import Account


class Programme(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_ru = models.CharField(_("name (Russian)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120)
    # What counts, month by month.
    on_time_readings = models.BooleanField(
        _("readings inside the window"),
        default=True,
        help_text=_("every meter of the account has a customer's reading given inside the month's window"),
    )
    no_debt = models.BooleanField(
        _("no debt"),
        default=True,
        help_text=_("the bill the month started with is paid within the month, with no penalty"),
    )
    months = models.PositiveSmallIntegerField(
        _("months in a row"), default=3, validators=[MinValueValidator(1), MaxValueValidator(24)]
    )
    prizes = models.PositiveSmallIntegerField(
        _("prizes per draw"), default=10, validators=[MinValueValidator(1), MaxValueValidator(10000)]
    )
    prize_ru = models.CharField(_("prize (Russian)"), max_length=200, blank=True, default="")
    prize_en = models.CharField(_("prize (English)"), max_length=200, blank=True, default="")
    prize_amount = models.DecimalField(
        _("prize in money, ₽"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("when the prize is money: the sum credited to the winning account (else leave empty)"),
    )
    starts_on = models.DateField(_("from month"), help_text=_("the first day of the first month that counts"))
    ends_on = models.DateField(_("to month"), null=True, blank=True)

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_en if (get_language() or "ru").startswith("en") else self.name_ru

    @property
    def prize(self) -> str:
        return self.prize_en if (get_language() or "ru").startswith("en") else self.prize_ru


class Draw(models.Model):
    """A month's draw: announced (its seed published), then held (winners chosen by the seed)."""

    programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, related_name="draws", verbose_name=_("programme")
    )
    period = models.DateField(_("month"), help_text=_("the last month that counts for it"))
    seed = models.CharField(_("seed"), max_length=64)
    announced_at = models.DateTimeField(_("announced at"))
    held_at = models.DateTimeField(_("held at"), null=True, blank=True)
    eligible = models.PositiveIntegerField(_("eligible accounts"), null=True, blank=True)
    list_sha256 = models.CharField(_("SHA-256 of the published list"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("draw")
        verbose_name_plural = _("draws")
        constraints = [models.UniqueConstraint(fields=["programme", "period"], name="draw_once_a_month")]

    def __str__(self) -> str:
        return f"{self.programme.code} {self.period:%Y-%m}"


class Winner(models.Model):
    draw = models.ForeignKey(Draw, on_delete=models.CASCADE, related_name="winners", verbose_name=_("draw"))
    place = models.PositiveIntegerField(_("place"))
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="prizes", verbose_name=_("account")
    )
    ticket = models.CharField(
        _("ticket"), max_length=64, help_text=_("SHA-256 of the seed and the account's id")
    )
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)
    prize = models.CharField(
        _("prize"), max_length=200, blank=True, default="", help_text=_("as the rules promised it")
    )
    credit = models.ForeignKey(
        "billing.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("credited to the account"),
    )

    class Meta:
        verbose_name = _("winner")
        verbose_name_plural = _("winners")
        ordering = ("draw", "place")
        constraints = [
            models.UniqueConstraint(fields=["draw", "place"], name="winner_place_once"),
            models.UniqueConstraint(fields=["draw", "account"], name="winner_account_once"),
        ]

    def __str__(self) -> str:
        return f"{self.draw} #{self.place}"
