"""``{% account_inspections account %}``: the inspections of an account's meters, for the back
office's account page."""

from __future__ import annotations

from typing import Any

from django import template

from meterdesk.customers.models import Account
from meterdesk.inspections.selectors import inspections_of_account

register = template.Library()


@register.inclusion_tag("inspections/_account.html")
def account_inspections(account: Account) -> dict[str, Any]:
    return {"inspections": list(inspections_of_account(account))}
