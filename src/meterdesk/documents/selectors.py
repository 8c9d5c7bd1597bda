"""Reads for the documents: what a bill, a receipt and a reading confirmation show.

Each ``*_get`` returns plain data (or None when there is no such document for this login or
account); ``documents.render`` draws it. The access rule is the personal account's: a document of
an account not linked to the login is not found, exactly like one that does not exist.

Besides ``core.accounts.statement_view`` (the month's sums, lines, payments and penalty), the bill
shows what only the paper bill needs, gathered here: the premises (area, residents, the norm of a
month billed by the norm), the meters of the box for handwritten readings, and the debt warning
of Decree 354 p.119.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db.models import Q, QuerySet

from meterdesk.billing.models import AccountClose, BillingRun, EntryKind, LedgerEntry
from meterdesk.billing.selectors import Statement, statement_get
from meterdesk.core.accounts import amount_due
from meterdesk.customers.models import Account, User
from meterdesk.documents.models import EbillSubscription
from meterdesk.domain import billing as engine
from meterdesk.domain.periods import add_months
from meterdesk.metering.models import Meter, MeterStatus, Reading, ReadingKind, ReadingStatus
from meterdesk.metering.selectors import account_for_user, meter_previous, reading_that_counts
from meterdesk.utility.models import UtilitySettings
from meterdesk.utility.selectors import utility_with_bank_details

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
    period: date | None = None  # the month of ``current`` (the bill's)

    @property
    def last(self) -> tuple[tuple[Decimal, ...], date]:
        """The values last known at the end of the bill's month, and their month: the month's
        own reading, else the previous one."""
        if self.current is not None and self.period is not None:
            return self.current, self.period
        return self.previous, self.previous_period


@dataclass(frozen=True)
class NormPart:
    """Residents × the norm per resident, for a share of the month (1: the whole month)."""

    residents: int
    kwh_per_person: Decimal
    share: Decimal


@dataclass(frozen=True)
class NormBilled:
    """How a month billed by the consumption norm (p.42, p.60) was reckoned: the parts of the
    month with their residents and norm, the increasing coefficient if one applied, and the
    volume billed (after the coefficient)."""

    parts: tuple[NormPart, ...]
    coefficient: Decimal | None
    volume: Decimal


@dataclass(frozen=True)
class Premises:
    """The premises as the bill describes them for its month."""

    area: Decimal | None  # total area, m²; None where not known
    rooms: int
    residents: int  # on the last day of the month
    category: str  # ``PremisesCategory``
    norm: NormBilled | None  # None: the month was not billed by the norm


@dataclass(frozen=True)
class DebtWarning:
    """A debt larger than two months' charges (Decree 354 p.118), which the bill warns of (p.119).

    ``debt``: the balance the month opened with less the month's payments, i.e. what is still
    unpaid of the earlier months' bills, all of them past due when this bill goes out.
    ``threshold``: the charges of ``months`` (the bill's month and the one before; twice the
    bill's month when the account has no statement before it)."""

    debt: Decimal
    threshold: Decimal
    months: tuple[date, ...]


@dataclass(frozen=True)
class BillData:
    account: Account
    period: date
    statement: Statement
    utility: UtilitySettings
    readings: dict[int, MeterReadings] = field(default_factory=dict)
    premises: Premises | None = None
    #: The meters of the box for handwritten readings, with the values last known of each.
    slip_meters: tuple[MeterReadings, ...] = ()
    debt_warning: DebtWarning | None = None

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
        period=period,
    )


def norm_parts(text: str) -> tuple[NormPart, ...]:
    """The parts of a norm line's ``residents`` detail, as ``domain.billing.norm_volume`` writes
    it: ``"2×78.000"``, or ``"2×78.000×0.4667+3×78.000×0.5333"`` when the count changed within the
    month. Empty for a text in no such form (a line written by an older version)."""
    parts = []
    for chunk in text.split("+"):
        pieces = chunk.split("×")
        if len(pieces) not in (2, 3):
            return ()
        try:
            share = Decimal(pieces[2]) if len(pieces) == 3 else Decimal(1)
            parts.append(NormPart(int(pieces[0]), Decimal(pieces[1]), share))
        except (ValueError, InvalidOperation):
            return ()
    return tuple(parts)


def norm_billed(statement: Statement) -> NormBilled | None:
    """How the month's charge by the norm was reckoned; None when the month was not billed by
    the norm (a recalculation that takes an earlier norm back is not a norm charge)."""
    for entry in statement.lines:
        if entry.kind != EntryKind.CHARGE or entry.basis not in (engine.NORM, engine.NORM_INCREASED):
            continue
        detail = entry.detail if isinstance(entry.detail, dict) else {}
        parts = norm_parts(str(detail.get("residents", "")))
        if not parts:
            continue
        coefficient = detail.get("coefficient") if entry.basis == engine.NORM_INCREASED else None
        return NormBilled(
            parts, Decimal(str(coefficient)) if coefficient else None, entry.volume or Decimal(0)
        )
    return None


def premises_of(account: Account, statement: Statement) -> Premises:
    """The premises in the bill's month: the residents on its last day (the history of changes,
    by the engine's own rule, ``person_months``), the norm if the month was billed by it."""
    period = statement.close.period
    history = [(c.effective_from, c.residents) for c in account.residents_history.order_by("effective_from")]
    segments = engine.person_months(history or [(account.opened_on, account.residents)], period)
    return Premises(
        area=account.area,
        rooms=account.rooms,
        residents=segments[-1][0],
        category=account.category,
        norm=norm_billed(statement),
    )


def slip_meters(account: Account, period: date, known: dict[int, MeterReadings]) -> tuple[MeterReadings, ...]:
    """The meters a household can read at the end of the bill's month: installed by then, not
    removed, nor lost, by then (``metering.check.OUT_OF_SERVICE``), by serial; ``known``: those
    the bill has read already."""
    end = engine.period_end(period)
    lost = Q(status=MeterStatus.LOST) & (Q(failed_on__isnull=True) | Q(failed_on__lte=end))
    meters = (
        Meter.objects.filter(account=account, installed_on__lte=end)
        .exclude(removed_on__lte=end)
        .exclude(status=MeterStatus.REMOVED, removed_on__isnull=True)
        .exclude(lost)
        .order_by("serial", "pk")
    )
    return tuple(known.get(meter.pk) or meter_readings(meter, period) for meter in meters)


def debt_warning(close: AccountClose) -> DebtWarning | None:
    """The warning of p.119 when the debt of earlier months exceeds two months' charges.

    Decree 354 p.118 reckons those two months by the consumption norm; the rules profile defines
    no such figure, so the charges of the last two closed months stand for it (docs/documents.md,
    "The debt warning")."""
    debt = close.opening_balance + close.payments  # payments are negative in the ledger
    if debt <= 0:
        return None
    before = AccountClose.objects.filter(
        account_id=close.account_id, period=add_months(close.period, -1)
    ).first()
    if before is None:
        months: tuple[date, ...] = (close.period,)
        threshold = 2 * close.charges
    else:
        months = (before.period, close.period)
        threshold = before.charges + close.charges
    if debt <= threshold:
        return None
    return DebtWarning(debt=debt, threshold=threshold, months=months)


def bill_utility(period: date) -> UtilitySettings:
    """The utility's settings as the bill of ``period`` prints them: the bank details valid on its
    bill date (the 1st of the next month) as known when the month was closed, so that a later
    change never alters a closed month's bills."""
    run = BillingRun.objects.filter(period=period).values("started_at", "finished_at").first()
    known_at = (run["finished_at"] or run["started_at"]) if run else None
    return utility_with_bank_details(add_months(period, 1), known_at=known_at)


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
    return BillData(
        account,
        period,
        statement,
        bill_utility(period),
        readings,
        premises=premises_of(account, statement),
        slip_meters=slip_meters(account, period, readings),
        debt_warning=debt_warning(statement.close),
    )


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
