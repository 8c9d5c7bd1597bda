"""Tariffs: prices per zone (and per volume band) for a premises category, valid between dates."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import PremisesCategory


class TariffKind(models.TextChoices):
    SINGLE = "single", _("single-rate")
    TWO_ZONE = "two_zone", _("two-zone (day/night)")
    THREE_ZONE = "three_zone", _("three-zone (peak/semi-peak/night)")


KIND_ZONES = {TariffKind.SINGLE: 1, TariffKind.TWO_ZONE: 2, TariffKind.THREE_ZONE: 3}
ZONES_KIND = {v: k for k, v in KIND_ZONES.items()}


class Tariff(models.Model):
    """The prices for one category and kind, from ``valid_from`` to ``valid_to`` (inclusive)."""

    region = models.CharField(_("region"), max_length=40, default="moscow")
    category = models.CharField(_("category"), max_length=20, choices=PremisesCategory.choices)
    kind = models.CharField(_("kind"), max_length=12, choices=TariffKind.choices)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)

    class Meta:
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        constraints = [
            models.UniqueConstraint(
                fields=["region", "category", "kind", "valid_from"], name="tariff_unique_start"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gte=models.F("valid_from")),
                name="tariff_valid_range",
            ),
        ]
        indexes = [models.Index(fields=["region", "category", "kind", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.region} {self.category} {self.kind} from {self.valid_from}"

    @property
    def zones(self) -> int:
        return KIND_ZONES[TariffKind(self.kind)]


class TariffBand(models.Model):
    """A volume band (social norm): consumption up to ``upper_kwh`` a month; the last band is open."""

    tariff = models.ForeignKey(
        Tariff, on_delete=models.CASCADE, related_name="bands", verbose_name=_("tariff")
    )
    band = models.PositiveSmallIntegerField(_("band"), validators=[MinValueValidator(1)])
    upper_kwh = models.DecimalField(
        _("up to, kWh a month"), max_digits=10, decimal_places=3, null=True, blank=True
    )

    class Meta:
        verbose_name = _("volume band")
        verbose_name_plural = _("volume bands")
        ordering = ["band"]
        constraints = [models.UniqueConstraint(fields=["tariff", "band"], name="tariff_band_unique")]

    def __str__(self) -> str:
        return f"band {self.band}: up to {self.upper_kwh if self.upper_kwh is not None else '∞'} kWh"


class TariffPrice(models.Model):
    """The price of one zone (in one band), roubles per kWh including VAT."""

    tariff = models.ForeignKey(
        Tariff, on_delete=models.CASCADE, related_name="prices", verbose_name=_("tariff")
    )
    zone = models.PositiveSmallIntegerField(_("zone"), validators=[MinValueValidator(1)])
    band = models.PositiveSmallIntegerField(_("band"), default=1, validators=[MinValueValidator(1)])
    price = models.DecimalField(
        _("price, ₽/kWh"), max_digits=8, decimal_places=2, validators=[MinValueValidator(0)]
    )

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["zone", "band"]
        constraints = [models.UniqueConstraint(fields=["tariff", "zone", "band"], name="tariff_price_unique")]

    def __str__(self) -> str:
        return f"T{self.zone} band {self.band}: {self.price} ₽/kWh"


class Norm(models.Model):
    """A consumption norm set by the regional authority: kWh per resident per month, by premises
    category, number of rooms and number of residents (the last value of each means "or more")."""

    region = models.CharField(_("region"), max_length=40, default="moscow")
    category = models.CharField(_("category"), max_length=20, choices=PremisesCategory.choices)
    rooms = models.PositiveSmallIntegerField(_("rooms (or more)"), validators=[MinValueValidator(1)])
    residents = models.PositiveSmallIntegerField(_("residents (or more)"), validators=[MinValueValidator(1)])
    kwh_per_person = models.DecimalField(_("kWh per resident a month"), max_digits=8, decimal_places=3)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)

    class Meta:
        verbose_name = _("consumption norm")
        verbose_name_plural = _("consumption norms")
        constraints = [
            models.UniqueConstraint(
                fields=["region", "category", "rooms", "residents", "valid_from"], name="norm_unique_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.rooms} rooms {self.residents} residents: {self.kwh_per_person} kWh"
