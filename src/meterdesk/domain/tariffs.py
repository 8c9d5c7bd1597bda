"""Pricing a month's consumption under a tariff: zones, and volume bands where a tariff has them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from meterdesk.domain.money import round_money, round_volume

SINGLE = "single"
TWO_ZONE = "two_zone"
THREE_ZONE = "three_zone"
KIND_ZONES = {SINGLE: 1, TWO_ZONE: 2, THREE_ZONE: 3}


@dataclass(frozen=True)
class TariffSpec:
    """A tariff as plain data.

    ``prices`` maps (zone, band) to the price in roubles per kWh including VAT; zones and bands
    count from 1. ``band_limits`` holds the upper bound of each band in kWh per month, cumulative
    and increasing; the last band is open (``None``). A tariff without bands has
    ``band_limits == (None,)``.
    """

    zones: int
    prices: Mapping[tuple[int, int], Decimal]
    band_limits: tuple[Decimal | None, ...] = (None,)

    def __post_init__(self) -> None:
        if self.band_limits[-1] is not None:
            raise ValueError("the last band must be open-ended")
        for zone in range(1, self.zones + 1):
            for band in range(1, len(self.band_limits) + 1):
                if (zone, band) not in self.prices:
                    raise ValueError(f"no price for zone {zone}, band {band}")

    @property
    def has_bands(self) -> bool:
        return len(self.band_limits) > 1

    def price(self, zone: int, band: int = 1) -> Decimal:
        return self.prices[(zone, band)]


@dataclass(frozen=True)
class PricedLine:
    """One priced part of a consumption: a zone (and band), its volume, price and amount."""

    zone: int
    band: int
    volume: Decimal
    price: Decimal
    amount: Decimal


def split_into_bands(total: Decimal, limits: Sequence[Decimal | None], months: Decimal) -> list[Decimal]:
    """Split a total volume into the bands, whose monthly limits are scaled by ``months``."""
    parts: list[Decimal] = []
    lower = Decimal(0)
    for limit in limits:
        if limit is None:
            parts.append(max(total - lower, Decimal(0)))
            break
        upper = limit * months
        parts.append(max(min(total, upper) - lower, Decimal(0)))
        lower = upper
    return parts


def price_volumes(tariff: TariffSpec, volumes: Sequence[Decimal], months: int = 1) -> list[PricedLine]:
    """Price each zone's volume. With bands, the month's total is split into the bands and each
    band's volume is shared among the zones in proportion to their volumes (the largest zone takes
    the rounding remainder so that the parts add up exactly). Amounts are rounded half up to the
    kopeck per line.
    """
    if len(volumes) != tariff.zones:
        raise ValueError(f"expected {tariff.zones} volumes, got {len(volumes)}")
    total = sum(volumes, Decimal(0))
    if not tariff.has_bands or total <= 0:
        return [
            PricedLine(zone, 1, round_volume(v), tariff.price(zone), round_money(v * tariff.price(zone)))
            for zone, v in enumerate(volumes, start=1)
        ]
    lines: list[PricedLine] = []
    band_parts = split_into_bands(total, tariff.band_limits, Decimal(max(1, months)))
    # A zone's share of the volume up to the top of each band is rounded, not each band's share
    # on its own: rounding band by band let a zone's parts miss its volume by a few Wh. The zone
    # with the largest volume takes each band's remainder (a zone with none could go negative).
    reached = Decimal(0)
    given = [Decimal(0)] * tariff.zones
    taker = max(range(1, tariff.zones + 1), key=lambda z: (volumes[z - 1], z))
    for band, band_total in enumerate(band_parts, start=1):
        if band_total == 0:
            continue
        reached += band_total
        shares: dict[int, Decimal] = {}
        for zone, volume in enumerate(volumes, start=1):
            if zone != taker:
                upto = round_volume(reached * volume / total)
                shares[zone] = upto - given[zone - 1]
                given[zone - 1] = upto
        shares[taker] = round_volume(band_total - sum(shares.values(), Decimal(0)))
        for zone in range(1, tariff.zones + 1):
            share = shares[zone]
            if share == 0:
                continue
            price = tariff.price(zone, band)
            lines.append(PricedLine(zone, band, share, price, round_money(share * price)))
    return lines


def total_amount(lines: Sequence[PricedLine]) -> Decimal:
    return sum((line.amount for line in lines), Decimal("0.00"))
