"""The account's autopayment in force, for the actions beside an account on the dashboard."""

from __future__ import annotations

from django import template

from meterdesk.customers.models import Account
from meterdesk.payments.autopay import autopay_of
from meterdesk.payments.models import Autopay

register = template.Library()


@register.simple_tag
def autopay_for(account: Account) -> Autopay | None:
    return autopay_of(account)
