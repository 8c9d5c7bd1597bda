"""Money and volumes in templates, formatted as on the bill (see ``billing.messages``)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from meterdesk.billing.messages import kwh as kwh_text
from meterdesk.billing.messages import money

register = template.Library()


@register.filter
def rub(amount: Decimal | None) -> str:
    """``1 234,56 ₽`` (a true minus sign for a credit)."""
    return money(amount)


@register.filter
def roubles(amount: Decimal | None) -> str:
    """``1 234,56``: an amount in a column whose header names the unit."""
    return money(amount, symbol=False)


@register.filter
def kwh(volume: Decimal | None) -> str:
    """A volume with its meaningful decimals only: ``309,999``, ``380``."""
    return kwh_text(volume)
