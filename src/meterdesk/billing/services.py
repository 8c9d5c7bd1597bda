"""Writes of the ledger outside the monthly close: payments, and the deliberate rebill of a month."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q

from meterdesk.billing.close import READING_PRIORITY, _bootstrap, _meter_info
from meterdesk.billing.codec import state_loads
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry, MeterBillingState
from meterdesk.billing.pricing import DbPricing
from meterdesk.customers.models import Account, ResidentsChange, User
from meterdesk.domain import billing as engine
from meterdesk.domain.periods import add_months, month_start
from meterdesk.domain.profiles import RulesProfile, profile_load
from meterdesk.metering.models import Meter, Reading, ReadingStatus
from meterdesk.utility.selectors import utility_get, utility_now

KOPECK = Decimal("0.01")


class PaymentError(Exception):
    code = "payment_error"


class DuplicatePayment(PaymentError):
    """A payment with this external id is already recorded (nothing was changed)."""

    code = "duplicate_payment"

    def __init__(self, entry: LedgerEntry) -> None:
        super().__init__(f"payment {entry.external_id} is already recorded")
        self.entry = entry


def open_period_for(account: Account, day: date) -> date:
    """The month an entry dated ``day`` is posted to: its own month, or the first month of the
    account that is not closed yet (a closed month is never changed)."""
    last_closed = AccountClose.objects.filter(account=account).aggregate(p=Max("period"))["p"]
    period = month_start(day)
    if last_closed is not None and period <= last_closed:
        period = add_months(last_closed, 1)
    return period


def payment_post(
    *,
    account: Account,
    amount: Decimal,
    paid_on: date,
    external_id: str,
    source: str = "",
    detail: dict | None = None,
) -> LedgerEntry:
    """Record a payment received (reduces the balance). Recorded once per ``external_id``."""
    if amount <= 0:
        raise PaymentError("a payment must be a positive amount")
    if amount != amount.quantize(KOPECK):
        raise PaymentError("a payment is a whole number of kopecks")
    existing = LedgerEntry.objects.filter(external_id=external_id).first()
    if existing is not None:
        raise DuplicatePayment(existing)
    try:
        with transaction.atomic():
            return LedgerEntry.objects.create(
                account=account,
                period=open_period_for(account, paid_on),
                posted_on=paid_on,
                kind=EntryKind.PAYMENT,
                amount=-amount.quantize(KOPECK),
                reason=source,
                detail=detail or {},
                external_id=external_id,
            )
    except IntegrityError as exc:  # the same payment recorded concurrently
        raise DuplicatePayment(LedgerEntry.objects.get(external_id=external_id)) from exc


# --- the deliberate rebill of one account's closed month ---------------------------------------------

#: The ``reason`` code of a correction entry posted by ``account_rebill`` (the words are in its detail).
R_REBILL = "rebill"


class RebillError(Exception):
    """The month cannot be billed again as asked (nothing was posted)."""

    code = "rebill_error"


LineKey = tuple[str, int | None, int, int]  # basis, meter, zone, band


@dataclass
class _Billed:
    volume: Decimal = Decimal(0)
    amount: Decimal = Decimal("0.00")
    price: Decimal | None = None
    original: LedgerEntry | None = None  # the close's entry with this key


def account_rebill(
    *, account: Account, period: date, reason: str, user: User | None = None
) -> list[LedgerEntry]:
    """Bill a closed month of one account again, with the data as it is now, and post the
    difference to what was billed for it as ``correction`` entries in the account's first open month.

    The month is computed by the same engine as the close, from the meter states after the month
    before (or from the reading history, as the close bootstraps them), with the month's own
    readings, residents and **that month's** prices. Lines are compared by basis, meter, zone and
    band with what was billed for the month: its close's charges and recalculations, plus the
    corrections of it posted by earlier rebills. Each line that differs gives one correction entry:
    its volume and amount are the differences, its price the month's, ``corrects`` the close's
    entry it corrects (None for a line the close did not have), its detail the month corrected,
    the original basis, the reason and who asked. Nothing is edited; nothing is posted when nothing
    differs, so a second rebill of the same month with the same data posts nothing.

    Not done here: the penalties of later months are not recomputed, and the meter states after
    the month are not changed — a correction that moves a meter's position at the end of the
    month (a lower control reading found later) does not change how the following months were,
    or will be, billed from the old position. A control reading recorded in the open month is
    the engine's way to recalculate that (p.61).
    """
    text = reason.strip()
    if not text:
        raise RebillError("a rebill needs a reason")
    period = month_start(period)
    label = f"{period:%Y-%m}"
    with transaction.atomic():
        # One rebill of an account at a time (a second one then sees the first one's corrections).
        locked = Account.objects.select_for_update().get(pk=account.pk)
        close = AccountClose.objects.select_related("run").filter(account=locked, period=period).first()
        if close is None:
            raise RebillError(f"{label} is not closed for account {locked.number}: the close bills it")
        utility = utility_get()
        profile = profile_load(close.run.rules_profile if close.run is not None else utility.rules_profile)
        bill = _bill_again(locked, period, profile, DbPricing(utility.tariff_region))
        billed = _billed(locked, period, label)
        now: dict[LineKey, engine.ChargeLine] = {}
        for line in bill.lines:
            key = (line.basis, line.meter_id, line.zone, line.band)
            if key in now:  # the engine gives one line per key; add up all the same
                first = now[key]
                line = engine.ChargeLine(
                    first.basis,
                    first.zone,
                    first.volume + line.volume,
                    first.price,
                    first.amount + line.amount,
                    first.meter_id,
                    first.band,
                    first.reason,
                    first.detail,
                )
            now[key] = line
        target = open_period_for(locked, period)
        posted_on = utility_now(utility).date()
        entries = []
        for key in sorted(set(now) | set(billed), key=_sort_key):
            was = billed.get(key, _Billed())
            again = now.get(key)
            volume = again.volume if again is not None else Decimal(0)
            amount = again.amount if again is not None else Decimal("0.00")
            if volume == was.volume and amount == was.amount:
                continue
            basis, meter_id, zone, band = key
            entries.append(
                LedgerEntry.objects.create(
                    account=locked,
                    period=target,
                    posted_on=posted_on,
                    kind=EntryKind.CORRECTION,
                    basis=engine.CORRECTION,
                    meter_id=meter_id,
                    zone=zone,
                    band=band,
                    volume=volume - was.volume,
                    price=again.price if again is not None else was.price,
                    amount=amount - was.amount,
                    reason=R_REBILL,
                    detail={
                        "period": label,
                        "basis": basis,
                        "reason": text,
                        "by": user.pk if user is not None else None,
                        "billed": {"volume": str(was.volume), "amount": str(was.amount)},
                        "rebilled": {"volume": str(volume), "amount": str(amount)},
                    },
                    corrects=was.original,
                )
            )
    return entries


def _sort_key(key: LineKey) -> tuple[Any, ...]:
    basis, meter_id, zone, band = key
    return (meter_id or 0, basis, zone, band)


def _billed(account: Account, period: date, label: str) -> dict[LineKey, _Billed]:
    """What was billed for the month, by line: the close's lines and earlier corrections of it."""
    billed: dict[LineKey, _Billed] = defaultdict(_Billed)
    entries: Iterable[LedgerEntry] = (
        LedgerEntry.objects.filter(account=account)
        .filter(
            Q(period=period, kind__in=[EntryKind.CHARGE, EntryKind.RECALCULATION])
            | Q(kind=EntryKind.CORRECTION)
        )
        .order_by("pk")
    )
    for entry in entries:
        if entry.kind == EntryKind.CORRECTION:
            detail = entry.detail if isinstance(entry.detail, dict) else {}
            if detail.get("period") != label or "basis" not in detail:
                continue  # a correction of another month
            key: LineKey = (str(detail["basis"]), entry.meter_id, entry.zone, entry.band)
        else:
            key = (entry.basis, entry.meter_id, entry.zone, entry.band)
        item = billed[key]
        item.volume += entry.volume or Decimal(0)
        item.amount += entry.amount
        if entry.price is not None:
            item.price = item.price or entry.price
        if item.original is None and entry.kind != EntryKind.CORRECTION:
            item.original = entry
    return dict(billed)


def _bill_again(
    account: Account,
    period: date,
    profile: RulesProfile,
    pricing: DbPricing,
    carried: dict[int, engine.MeterState] | None = None,
) -> engine.AccountBill:
    """The month of one account as the close computes it, from today's data.

    ``carried``: the meters' states after the month before as the rebill has just recomputed
    them; a meter without one starts, as in the close, from its latest stored state before the
    month, else from its reading history."""
    end = engine.period_end(period)
    rows = (
        Meter.objects.filter(account=account, installed_on__lte=end)
        .order_by("installed_on", "id")
        .values_list(
            "id",
            "account_id",
            "zones",
            "digits",
            "installed_on",
            "removed_on",
            "failed_on",
            "verification_due",
            "status",
            "initial_t1",
            "initial_t2",
            "initial_t3",
        )
    )
    meters = [_meter_info(tuple(row)) for row in rows]
    ids = [m.meter_id for m in meters]
    carried = carried or {}
    # The state after the month before; else the latest earlier one; else from the readings.
    states: dict[int, engine.MeterState] = {}
    stored = [i for i in ids if i not in carried]
    for state in MeterBillingState.objects.filter(meter_id__in=stored, period__lt=period).order_by("period"):
        states[state.meter_id] = state_loads(state.data)
    states.update((i, carried[i]) for i in ids if i in carried)
    missing = [m for m in meters if m.meter_id not in states]
    if missing:
        with connection.cursor() as cursor:
            states.update(_bootstrap(cursor, missing, period, profile))
    readings = _month_readings(ids, period)
    residents = tuple(
        ResidentsChange.objects.filter(account=account)
        .order_by("effective_from", "pk")
        .values_list("effective_from", "residents")
    ) or ((account.opened_on, account.residents),)
    info = engine.AccountInfo(account.pk, account.category, account.rooms, residents, account.meter_required)
    triples = [(m, states.get(m.meter_id), readings.get(m.meter_id)) for m in meters]
    return engine.bill_account(info, triples, period, pricing, profile)


def _month_readings(meter_ids: list[int], period: date) -> dict[int, engine.MonthReading]:
    """The reading of each meter that counts for the month, chosen as the close chooses it."""
    readings: dict[int, tuple[int, engine.MonthReading]] = {}
    for meter_id, kind, t1, t2, t3 in Reading.objects.filter(
        meter_id__in=meter_ids, period=period, status=ReadingStatus.ACCEPTED, kind__in=list(READING_PRIORITY)
    ).values_list("meter_id", "kind", "t1", "t2", "t3"):
        rank = READING_PRIORITY[kind]
        if meter_id not in readings or readings[meter_id][0] < rank:
            values = tuple(Decimal(v) for v in (t1, t2, t3) if v is not None)
            readings[meter_id] = (rank, engine.MonthReading(values, kind))
    return {meter_id: reading for meter_id, (_rank, reading) in readings.items()}
