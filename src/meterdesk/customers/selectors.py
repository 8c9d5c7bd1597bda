"""Reads of logins, account links, a login's phone numbers and consents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from meterdesk.customers.models import Account, AccountLink, Consent, Phone, User
from meterdesk.domain.phones import PhoneInvalid, phone_format, phone_parse


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


@dataclass(frozen=True)
class PhoneRow:
    """One of a login's phone numbers as the profile shows it."""

    id: int
    number: str  # E.164
    text: str  # +7 (916) 123-45-67
    label: str
    label_text: str
    added_at: datetime


def phone_row(phone: Phone) -> PhoneRow:
    return PhoneRow(
        id=phone.pk,
        number=phone.number,
        text=phone_format(phone.number),
        label=phone.label,
        label_text=str(phone.get_label_display()),
        added_at=phone.added_at,
    )


def phones_of(user: User) -> list[PhoneRow]:
    """The login's phone numbers, in the order they were added."""
    return [phone_row(phone) for phone in Phone.objects.filter(user=user).order_by("added_at", "pk")]


def phone_accounts(number: str) -> QuerySet[Account]:
    """The open accounts of a calling number, for the phone line to identify the caller: those
    linked to an active, verified login that has the number in its profile. ``number`` may be in
    any form a caller ID comes in (``+79161234567``, ``79161234567``, ``89161234567``); one that
    names no number matches nothing. One query, through the index on ``Phone.number``."""
    try:
        e164 = phone_parse(number)
    except PhoneInvalid:
        return Account.objects.none()
    logins = Phone.objects.filter(
        number=e164, user__is_active=True, user__email_verified_at__isnull=False
    ).values("user_id")
    return (
        Account.objects.filter(closed_on__isnull=True, links__user_id__in=logins)
        .distinct()
        .order_by("number")
    )


def consent_of(user: User) -> Consent | None:
    """The login's latest consent to personal data processing, with its text (None: none given)."""
    return Consent.objects.select_related("text").filter(user=user).order_by("-given_at", "-pk").first()
