"""Writes of the ledger outside the monthly close: payments, and the deliberate rebill of a month."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Max

from meterdesk.billing.close_read import MONTH_KINDS, meter_info_from_row, month_readings, states_bootstrap
from meterdesk.billing.codec import state_loads
from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry, MeterBillingState
from meterdesk.billing.pricing import DbPricing
from meterdesk.billing.rebill import R_REBILL, RebillError, rebill  # noqa: F401 - the rebill's names, re-exported
from meterdesk.customers.models import Account, ResidentsChange, User
from meterdesk.domain import billing as engine
from meterdesk.domain.periods import add_months, month_start
from meterdesk.domain.profiles import RulesProfile
from meterdesk.metering.models import Meter, Reading, ReadingStatus

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


def service_charge_post(
    *, account: Account, amount: Decimal, done_on: date, external_id: str, detail: dict
) -> LedgerEntry:
    """Post the price of a paid service done on ``done_on`` (``orders``) to the account's first
    open month, so that the next bill shows it as a line of its own (``EntryKind.SERVICE``).
    Posted once per ``external_id``: a second call returns the first entry. The account's close
    is held off meanwhile (as a rebill holds it), so the entry lands in a month not yet closed."""
    from meterdesk.billing.messages import B_SERVICE
    from meterdesk.billing.rebill import _hold_off_the_close

    if amount <= 0 or amount != amount.quantize(KOPECK):
        raise PaymentError("a service's price is a positive whole number of kopecks")
    with transaction.atomic():
        existing = LedgerEntry.objects.filter(external_id=external_id).first()
        if existing is not None:
            return existing
        last = _hold_off_the_close(account)
        period = month_start(done_on)
        if last is not None and period <= last:
            period = add_months(last, 1)
        return LedgerEntry.objects.create(
            account=account,
            period=period,
            posted_on=done_on,
            kind=EntryKind.SERVICE,
            basis=B_SERVICE,
            amount=amount,
            detail=detail,
            external_id=external_id,
        )


# --- the deliberate rebill of one account's closed month ---------------------------------------------


def account_rebill(
    *, account: Account, period: date, reason: str, cause: str = "other", user: User | None = None
) -> list[LedgerEntry]:
    """Bill a closed month of one account again with the data as it is now, carry it through every
    later closed month (meter states, averages, true-ups, norm months, penalties), and post each
    month's difference to what was billed for it as ``correction`` entries, at that month's
    prices, in the account's first open month. ``reason``: why, in words (required); ``cause``:
    one of ``rebill.CAUSES``; ``user``: who asked. Returns the entries posted (none when nothing
    differs). One transaction; the account's close waits for it. See ``billing.rebill``."""
    return rebill(account=account, period=period, reason=reason, cause=cause, user=user)


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
    meters = [meter_info_from_row(tuple(row)) for row in rows]
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
            states.update(states_bootstrap(cursor, missing, period, profile))
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
    return month_readings(
        Reading.objects.filter(
            meter_id__in=meter_ids, period=period, status=ReadingStatus.ACCEPTED, kind__in=MONTH_KINDS
        ).values_list("meter_id", "kind", "t1", "t2", "t3", "submitted_at")
    )
