"""What the back office reads: an account's whole picture, through the account views of
``core.accounts`` and the apps' own selectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.apps import apps

from meterdesk.billing.selectors import account_balance, statements_of
from meterdesk.core.accounts import MeterCard, StatementTotals, meter_card, statement_totals
from meterdesk.customers.models import Account, AccountLink
from meterdesk.customers.selectors import PhoneRow, phones_of
from meterdesk.metering.models import Reading
from meterdesk.metering.selectors import meters_of, readings_of
from meterdesk.payments.selectors import PaymentRow, payment_rows
from meterdesk.utility.selectors import reference_get

#: How many of each list the account's page shows (the newest).
SHOWN = 12


@dataclass(frozen=True)
class Person:
    """A login linked to the account, with its contacts."""

    full_name: str
    email: str
    verified: bool
    phones: list[PhoneRow]


@dataclass(frozen=True)
class AccountPicture:
    account: Account
    people: list[Person]
    meters: list[MeterCard]
    readings: list[Reading]  # the latest, of every channel
    statements: list[StatementTotals]
    payments: list[PaymentRow]
    balance: Decimal
    letters: list[Any]  # mail.models.Letter
    calls: list[Any]  # phone.models.Call


def people_of(account: Account) -> list[Person]:
    links = AccountLink.objects.filter(account=account).select_related("user").order_by("linked_at", "pk")
    return [
        Person(link.user.full_name, link.user.email, link.user.email_verified, phones_of(link.user))
        for link in links
    ]


def _model(app: str, name: str) -> Any:
    """A channel's model, looked up by name: the channels are peers of the back office, which
    shows their records when the app is installed and imports none of them."""
    return apps.get_model(app, name) if apps.is_installed(f"meterdesk.{app}") else None


def letters_of(account: Account) -> list[Any]:
    """The letters that gave readings of the account (by its number or one of its meters)."""
    Letter = _model("mail", "Letter")
    if Letter is None:
        return []
    return list(
        Letter.objects.filter(items__account_number=account.number)
        .union(Letter.objects.filter(items__meter__account=account))
        .order_by("-received_at")[:SHOWN]
    )


def calls_of(account: Account) -> list[Any]:
    Call = _model("phone", "Call")
    if Call is None:
        return []
    return list(Call.objects.filter(account=account).order_by("-started_at", "-pk")[:SHOWN])


def account_picture(account: Account, today: date) -> AccountPicture:
    reference = reference_get()
    meters = meters_of(account)
    balance = account_balance(account)
    readings = readings_of(meters).select_related("meter")[:SHOWN] if meters else []
    return AccountPicture(
        account=account,
        people=people_of(account),
        meters=[meter_card(m, account, today, reference) for m in meters],
        readings=list(readings),
        statements=[statement_totals(close) for close in statements_of(account)[:SHOWN]],
        payments=payment_rows(account)[:SHOWN],
        balance=balance,
        letters=letters_of(account),
        calls=calls_of(account),
    )


def account_of(number: str) -> Account | None:
    return Account.objects.filter(number=number).first()
