"""The back office account page's block of service requests (``{% account_service_requests a %}``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import get_language

from meterdesk.customers.models import Account
from meterdesk.orders.selectors import requests_of_account

register = template.Library()


@register.inclusion_tag("orders/office/_account.html")
def account_service_requests(account: Account) -> dict[str, Any]:
    """The account's latest requests (20), newest first."""
    language = get_language()
    return {"rows": [(r, r.service.name(language)) for r in requests_of_account(account)[:20]]}
