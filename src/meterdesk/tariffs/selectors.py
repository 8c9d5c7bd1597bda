"""Reads of tariffs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q

from meterdesk.domain.tariffs import TariffSpec
from meterdesk.tariffs.models import ZONES_KIND, Tariff


class NoTariffError(LookupError):
    """No tariff is in force for the category, kind and date."""


@dataclass(frozen=True)
class TariffInForce:
    tariff: Tariff
    spec: TariffSpec


def tariff_in_force(*, region: str, category: str, zones: int, on: date) -> TariffInForce:
    """The tariff of a category and number of zones in force on a date."""
    kind = ZONES_KIND[zones]
    tariff = (
        Tariff.objects.filter(region=region, category=category, kind=kind, valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .order_by("-valid_from")
        .prefetch_related("prices", "bands")
        .first()
    )
    if tariff is None:
        raise NoTariffError(f"no {kind} tariff for {category} in {region} on {on}")
    return TariffInForce(tariff, tariff_spec(tariff))


def tariff_spec(tariff: Tariff) -> TariffSpec:
    bands = sorted(tariff.bands.all(), key=lambda b: b.band)
    limits: tuple[Decimal | None, ...] = tuple(b.upper_kwh for b in bands) if bands else (None,)
    prices = {(p.zone, p.band): p.price for p in tariff.prices.all()}
    return TariffSpec(zones=tariff.zones, prices=prices, band_limits=limits)


def tariffs_current(*, region: str, on: date) -> list[Tariff]:
    """Every tariff in force on a date, for the tariff page."""
    return list(
        Tariff.objects.filter(region=region, valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .order_by("category", "kind")
        .prefetch_related("prices", "bands")
    )
