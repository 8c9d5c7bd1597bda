"""Months and phone numbers in templates, written the one way every channel writes them."""

from __future__ import annotations

from datetime import date

from django import template

from meterdesk.billing.messages import month_name
from meterdesk.domain.phones import phone_text, phone_uri

register = template.Library()


@register.filter
def month(value: date | None) -> str:
    """``ноябрь 2026`` / ``November 2026`` (``billing.messages.month_name``); also after "за"."""
    return month_name(value) if value else ""


@register.filter
def phone(number: str | None) -> str:
    """``+7 (999) 123-45-67``."""
    return phone_text(number)


@register.filter
def tel(number: str | None) -> str:
    """The ``tel:`` link of a phone number."""
    return phone_uri(number)
