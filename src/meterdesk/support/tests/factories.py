"""Support questions for tests (the back office's too)."""

from __future__ import annotations

from meterdesk.customers.models import Account
from meterdesk.support.models import Thread
from meterdesk.support.services import thread_open


def thread_make(number: str, text: str = "Почему счёт по среднему?", topic: str = "bill") -> Thread:
    """A question from the first login of account ``number``, about it."""
    account = Account.objects.get(number=number)
    user = account.links.select_related("user").first().user  # type: ignore[union-attr]
    return thread_open(user=user, account=account, topic=topic, text=text)
