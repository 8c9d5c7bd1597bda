"""Money and volume arithmetic: Decimal only, rounded half up."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

KOPECK = Decimal("0.01")
KWH_PRECISION = Decimal("0.001")


def round_money(value: Decimal) -> Decimal:
    """Round roubles to the kopeck, half up (the rule for every bill line)."""
    return value.quantize(KOPECK, rounding=ROUND_HALF_UP)


def round_volume(value: Decimal) -> Decimal:
    """Round a volume in kWh to three decimals, half up."""
    return value.quantize(KWH_PRECISION, rounding=ROUND_HALF_UP)
