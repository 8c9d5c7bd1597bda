"""Reads of logins and account links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from meterdesk.customers.models import Account, AccountLink, User


def email_masked(email: str) -> str:
    """``anna.petrova@example.com`` → ``a***a@e***.com``: enough for its owner to recognise."""
    local, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    name = local[:1] + "***" + (local[-1] if len(local) > 2 else "")
    return f"{name}@{host[:1]}***{dot}{tld}"


@dataclass(frozen=True)
class LoginRow:
    """One login that sees an account, as the account's other logins are shown it."""

    link_id: int
    email: str  # masked, except the viewer's own
    linked_at: datetime
    is_viewer: bool


def account_logins(account: Account, viewer: User) -> list[LoginRow]:
    """The logins linked to the account, oldest first; e-mails masked but the viewer's."""
    links = AccountLink.objects.filter(account=account).select_related("user").order_by("linked_at", "pk")
    return [
        LoginRow(
            link_id=link.pk,
            email=link.user.email if link.user_id == viewer.pk else email_masked(link.user.email),
            linked_at=link.linked_at,
            is_viewer=link.user_id == viewer.pk,
        )
        for link in links
    ]
