"""Amounts and volumes on the terminal's pages, written the one way (``billing.messages``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import template
from django.conf import settings

from meterdesk.billing.messages import kwh, money, month_name

register = template.Library()


@register.filter
def terminal_rub(amount: Decimal | None) -> str:
    return money(amount) if amount is not None else ""


@register.filter
def terminal_kwh(volume: Decimal | None) -> str:
    return kwh(volume) if volume is not None else ""


@register.filter
def terminal_month(value: date) -> str:
    return month_name(value)


@register.simple_tag
def terminal_idle() -> int:
    """The seconds of inactivity after which the screen ends a session."""
    return int(settings.METERDESK_TERMINAL_IDLE_SECONDS)
