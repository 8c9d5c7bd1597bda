"""Reference data every installation starts with: the utility's defaults and the Moscow tariffs.

Prices of "urban, gas stoves" and the single rate with electric stoves from 2025-07-01 are the
published Moscow prices quoted in DOMAIN.md. The other prices (zone prices with electric stoves,
rural settlements, "treated as households", and electric stoves before 2025-07-01) are not in
DOMAIN.md: they are derived with the usual 0.7 reducing coefficient for electric stoves and rural
settlements and are marked ``ILLUSTRATIVE`` - replace them with the regional authority's order
before billing real customers (Django admin → Tariffs, or ``meterdesk import``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction

from meterdesk.customers.models import PremisesCategory
from meterdesk.tariffs.models import Norm, Tariff, TariffKind, TariffPrice

D = Decimal

# (valid_from, valid_to): {kind: prices by zone (T1, T2, T3)}
MOSCOW_GAS: dict[tuple[date, date | None], dict[str, tuple[Decimal, ...]]] = {
    (date(2024, 7, 1), date(2025, 6, 30)): {
        TariffKind.SINGLE: (D("6.99"),),
        TariffKind.TWO_ZONE: (D("8.47"), D("3.43")),
        TariffKind.THREE_ZONE: (D("10.16"), D("3.43"), D("6.99")),  # T1 peak, T2 night, T3 semi-peak
    },
    (date(2025, 7, 1), None): {
        TariffKind.SINGLE: (D("7.87"),),
        TariffKind.TWO_ZONE: (D("9.45"), D("4.08")),
        TariffKind.THREE_ZONE: (D("11.24"), D("4.08"), D("7.87")),
    },
}
REDUCING = D("0.7")
ILLUSTRATIVE = "derived with the 0.7 coefficient, not a published price"


def _reduced(prices: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
    return tuple((p * REDUCING).quantize(D("0.01")) for p in prices)


def moscow_tariffs() -> list[tuple[str, str, date, date | None, tuple[Decimal, ...]]]:
    """(category, kind, valid_from, valid_to, zone prices) for every Moscow tariff meterdesk ships."""
    rows = []
    for (start, end), kinds in MOSCOW_GAS.items():
        for kind, prices in kinds.items():
            rows.append((PremisesCategory.GAS_STOVE.value, str(kind), start, end, prices))
            rows.append((PremisesCategory.HOUSEHOLD_LIKE.value, str(kind), start, end, prices))
            electric = _reduced(prices)
            if start == date(2025, 7, 1) and kind == TariffKind.SINGLE:
                electric = (D("7.16"),)  # published (DOMAIN.md)
            rows.append((PremisesCategory.ELECTRIC_STOVE.value, str(kind), start, end, electric))
            rows.append((PremisesCategory.RURAL.value, str(kind), start, end, _reduced(prices)))
    return rows


@transaction.atomic
def tariffs_load_moscow(region: str = "moscow") -> int:
    """Create the Moscow tariffs that do not exist yet. Returns how many were created."""
    created = 0
    for category, kind, start, end, prices in moscow_tariffs():
        tariff, was_created = Tariff.objects.get_or_create(
            region=region, category=category, kind=kind, valid_from=start, defaults={"valid_to": end}
        )
        if was_created:
            created += 1
            TariffPrice.objects.bulk_create(
                TariffPrice(tariff=tariff, zone=zone, band=1, price=price)
                for zone, price in enumerate(prices, start=1)
            )
    return created


#: ILLUSTRATIVE consumption norms, kWh per resident a month, for premises with gas stoves, by
#: rooms (1..4 or more) and residents (1..5 or more); electric stoves and rural premises use 1.3×.
#: They have the shape of a regional order (fewer kWh per person as more people share the
#: premises) but are not the published Moscow figures: load the regional authority's order.
GAS_NORMS = {
    1: (98, 61, 47, 38, 33),
    2: (126, 78, 61, 49, 43),
    3: (143, 89, 69, 56, 49),
    4: (155, 96, 75, 61, 53),
}
NORMS_FROM = date(2024, 1, 1)


@transaction.atomic
def norms_load_moscow(region: str = "moscow") -> int:
    """Create the (illustrative) norms that do not exist yet. Returns how many were created."""
    created = 0
    for category in PremisesCategory.values:
        factor = D("1.3") if category in (PremisesCategory.ELECTRIC_STOVE, PremisesCategory.RURAL) else D(1)
        for rooms, per_resident in GAS_NORMS.items():
            for residents, kwh in enumerate(per_resident, start=1):
                _, was_created = Norm.objects.get_or_create(
                    region=region,
                    category=category,
                    rooms=rooms,
                    residents=residents,
                    valid_from=NORMS_FROM,
                    defaults={"kwh_per_person": (D(kwh) * factor).quantize(D("0.001"))},
                )
                created += was_created
    return created
