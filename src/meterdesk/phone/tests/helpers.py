"""What the phone line's tests share: a customer with a phone number, a two-zone meter with a
reading of last month, and a tariff; a conversation driven key by key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone

from meterdesk.customers.models import Phone, PremisesCategory, User
from meterdesk.metering.models import Meter
from meterdesk.phone.backend import CoreBackend
from meterdesk.phone.dialog import Action, Conversation, Say
from meterdesk.testing import (
    AccountFactory,
    MeterFactory,
    ReadingFactory,
    UserFactory,
    link,
    make_tariff,
    moscow,
)

IN_WINDOW = moscow(2026, 11, 20, 12)
CALLER = "+79161234567"


@dataclass
class Customer:
    user: User
    meter: Meter

    @property
    def number(self) -> str:
        return self.meter.account.number


def customer(
    *, phone: str | None = CALLER, zones: int = 2, serial: str = "40001122", tariff: bool = True
) -> Customer:
    if tariff:  # one for all the customers of a test
        make_tariff(
            category=PremisesCategory.GAS_STOVE,
            prices=("9.45", "4.08")[:zones] if zones < 3 else ("10.32", "8.60", "4.08"),
        )
    account = AccountFactory(address="г. Москва, ул. Ленина, д. 5, кв. 12")
    meter = MeterFactory(account=account, zones=zones, serial=serial)
    ReadingFactory(
        meter=meter, period=date(2026, 10, 1), t1=Decimal(1200), t2=Decimal(600) if zones > 1 else None
    )
    user = UserFactory(email_verified_at=timezone.now())
    link(user, account)
    if phone:
        Phone.objects.create(user=user, number=phone)
    return Customer(user, meter)


def said(actions: list[Action]) -> str:
    return " ".join(a.text for a in actions if isinstance(a, Say))


def keys(conversation: Conversation, sequence: str) -> str:
    """Press each key of ``sequence`` (``.`` for a silence); everything the line said."""
    out: list[Action] = []
    for key in sequence:
        out += conversation.silence() if key == "." else conversation.press(key)
    return said(out)


def conversation(caller: str = CALLER, language: str = "ru") -> Conversation:
    return Conversation(CoreBackend(), caller=caller, language=language)
