"""Reads for the documents: what a bill, a receipt and a reading confirmation show.

Each ``*_get`` returns plain data (or None when there is no such document for this login or
account); ``documents.render`` draws it. The access rule is the personal account's: a document of
an account not linked to the login is not found, exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.selectors import Statement, statement_get
from meterdesk.core.accounts import amount_due
from meterdesk.customers.models import Account, User
from meterdesk.documents.models import EbillSubscription
from meterdesk.domain import billing as engine
from meterdesk.metering.models import Meter, Reading, ReadingKind, ReadingStatus
from meterdesk.metering.selectors import account_for_user, meter_previous, reading_that_counts
from meterdesk.utility.models import UtilitySettings
from meterdesk.utility.selectors import utility_get

#: Bases of lines that bill the consumption between two readings (the bill shows both readings).
READING_BASES = (engine.ACTUAL, engine.CONTROL, engine.REPLACEMENT)
#: The kinds of reading a month is billed from.
_MONTH_KINDS = [ReadingKind.CUSTOMER, ReadingKind.CONTROL, ReadingKind.FINAL]


@dataclass(frozen=True)
class MeterReadings:
    """The readings a bill shows for a meter: the previous actual one and the month's own."""

    meter: Meter
    previous: tuple[Decimal, ...]
    previous_period: date
    current: tuple[Decimal, ...] | None  # None: no reading for the month (estimated)
    current_kind: str = ""


@dataclass(frozen=True)
class BillData:
    account: Account
    period: date
    statement: Statement
    utility: UtilitySettings
    readings: dict[int, MeterReadings] = field(default_factory=dict)

    @property
    def total_due(self) -> Decimal:
        return amount_due(self.statement.close)

    @property
    def total_due_kopecks(self) -> int:
        return int((self.total_due * 100).to_integral_value())


def month_reading(meter: Meter, period: date) -> Reading | None:
    """The accepted reading of the month that the close used for the meter (the one that counts,
    ``metering.selectors.reading_that_counts``)."""
    return reading_that_counts(
        Reading.objects.filter(
            meter=meter, period=period, status=ReadingStatus.ACCEPTED, kind__in=_MONTH_KINDS
        ).order_by("submitted_at", "pk")
    )


def meter_readings(meter: Meter, period: date) -> MeterReadings:
    previous = meter_previous(meter, period)
    current = month_reading(meter, period)
    if current is not None:
        current.meter = meter
    return MeterReadings(
        meter=meter,
        previous=previous.values,
        previous_period=previous.period,
        current=current.values if current is not None else None,
        current_kind=current.kind if current is not None else "",
    )


def bill_data(account: Account, period: date) -> BillData | None:
    """The bill of a closed month of the account; None when the month is not closed for it."""
    statement = statement_get(account, period)
    if statement is None:
        return None
    meters: dict[int, Meter] = {}
    for line in statement.lines:
        if line.meter is not None and line.basis in READING_BASES:
            meters[line.meter.pk] = line.meter
    readings = {pk: meter_readings(meter, period) for pk, meter in meters.items()}
    return BillData(account, period, statement, utility_get(), readings)


def bill_for_user(user: User, number: str, period: date) -> BillData | None:
    try:
        account = account_for_user(user, number)
    except Account.DoesNotExist:
        return None
    return bill_data(account, period)


def account_by_number(number: str) -> Account | None:
    return Account.objects.filter(number=number).first()


def payment_for_user(user: User, entry_id: int) -> LedgerEntry | None:
    """A payment (ledger entry) of an account linked to the login."""
    return (
        LedgerEntry.objects.select_related("account")
        .filter(pk=entry_id, kind=EntryKind.PAYMENT, account__links__user=user)
        .first()
    )


def payment_of_account(account: Account, entry_id: int) -> LedgerEntry | None:
    return (
        LedgerEntry.objects.select_related("account")
        .filter(pk=entry_id, kind=EntryKind.PAYMENT, account=account)
        .first()
    )


def reading_for_user(user: User, confirmation: str) -> Reading | None:
    return (
        Reading.objects.select_related("meter__account", "account")
        .filter(confirmation=confirmation, account__links__user=user)
        .first()
    )


def ebill_subscribed(user: User, account: Account) -> EbillSubscription | None:
    return EbillSubscription.objects.filter(user=user, account=account).first()


def ebill_recipients(period: date) -> QuerySet[EbillSubscription]:
    """The subscriptions whose account has a closed month ``period`` (active logins with an
    e-mail), account by account."""
    return (
        EbillSubscription.objects.select_related("user", "account")
        .filter(account__closes__period=period, user__is_active=True)
        .exclude(user__email="")
        .order_by("account_id", "user_id")
    )
