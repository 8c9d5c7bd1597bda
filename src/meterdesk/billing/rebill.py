"""The rebill: a closed month of one account billed again with today's data, and every later
closed month of the account re-derived from it.

A correction of a past month (a wrong reading, a changed number of residents, a control reading
found late) changes more than that month: the meter's position after it, hence the averages of
the months billed by estimate after it, the true-up when readings came back, the norm months and
what they carry, and the penalties on the debts. ``rebill`` therefore bills the month and each
later closed month again, in order, carrying the recomputed meter states from month to month, and
compares each month with what was billed for it (its close's lines and the corrections of it
posted by earlier rebills). Each difference is posted once, as a ``correction`` entry that names
the month it corrects, at that month's prices, in the account's first open month (the next bill).
The stored meter states of the recomputed months are corrected too, so that the next close goes
on from them and does not true up again what the corrections have already fixed. Then the
penalty of each later month is computed again, by the close's own function, on the corrected
debts, and its difference is posted the same way.

Nothing is edited but the meter states: closed statements and ledger entries stay as they were.
One rebill is one transaction, with the account locked and the close of the account held off
(``_hold_off_the_close``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max

from meterdesk.billing.codec import state_dumps, state_loads
from meterdesk.billing.messages import R_LATE_PAYMENT
from meterdesk.billing.models import (
    AccountClose,
    BillingChunk,
    BillingRun,
    EntryKind,
    LedgerEntry,
    MeterBillingState,
)
from meterdesk.billing.pricing import DbPricing
from meterdesk.customers.models import Account, User
from meterdesk.domain import billing as engine
from meterdesk.domain.periods import add_months, month_start
from meterdesk.domain.profiles import RulesProfile, profile_load
from meterdesk.utility.selectors import rules_profile_get, utility_get, utility_now

#: The ``reason`` code of a correction entry posted by a rebill (the words are in its detail).
R_REBILL = "rebill"

#: Why a month is billed again (stable codes, stored in each correction's detail).
CAUSES = engine.REBILL_CAUSES

#: The ``basis`` named in the detail of a correction of a month's penalty.
PENALTY = "penalty"


class RebillError(Exception):
    """The month cannot be billed again as asked (nothing was posted)."""

    code = "rebill_error"

    def __init__(self, message: str, code: str = "rebill_error") -> None:
        super().__init__(message)
        self.code = code


LineKey = tuple[str, int | None, int, int]  # basis, meter, zone, band


@dataclass
class _Billed:
    volume: Decimal = Decimal(0)
    amount: Decimal = Decimal("0.00")
    price: Decimal | None = None
    original: LedgerEntry | None = None  # the close's entry with this key


def debt_month(detail: Any, period: date) -> date | None:
    """Whose debt a rebill's correction entry of ``period`` is part of, for the penalties: the month
    it corrects when the rebill lowered that month's bill (it was owed less from the start); its
    own month otherwise (an amount added to a past bill is owed with the bill that shows it);
    none for a correction of a penalty (no penalty on a penalty). ``detail``: the entry's."""
    if isinstance(detail, str):
        detail = json.loads(detail)
    if not isinstance(detail, dict):
        return period
    if detail.get("basis") == PENALTY:
        return None
    lowered = detail.get("debt_of")
    return _month(str(lowered)) if lowered else period


def _label(period: date) -> str:
    return f"{period:%Y-%m}"


def _month(label: str) -> date:
    return date(int(label[:4]), int(label[5:7]), 1)


def rebill(
    *, account: Account, period: date, reason: str, cause: str = "other", user: User | None = None
) -> list[LedgerEntry]:
    """Bill ``period`` of the account and every later closed month again; post the differences.

    Returns the entries posted: the lines of each month in order, then the penalties of each;
    none when nothing differs, so a rebill run again with the same data posts nothing."""
    from meterdesk.billing.services import _bill_again  # the month as the close computes it

    text = reason.strip()
    if not text:
        raise RebillError("a rebill needs a reason", "reason_missing")
    if cause not in CAUSES:
        raise RebillError(f"unknown cause {cause!r} (one of: {', '.join(CAUSES)})", "cause_unknown")
    period = month_start(period)
    with transaction.atomic():
        # One rebill of an account at a time (a second one then sees the first one's corrections).
        locked = Account.objects.select_for_update().get(pk=account.pk)
        last = _hold_off_the_close(locked)
        closes = list(
            AccountClose.objects.select_related("run")
            .filter(account=locked, period__gte=period)
            .order_by("period")
        )
        if not closes or closes[0].period != period:
            raise RebillError(
                f"{_label(period)} is not closed for account {locked.number}: the close bills it",
                "month_open",
            )
        assert last is not None  # noqa: S101 - the account has a closed month
        utility = utility_get()
        pricing = DbPricing(utility.tariff_region)
        profiles: dict[str, RulesProfile] = {}

        def profile_of(close: AccountClose) -> RulesProfile:
            code = (
                close.run.rules_profile if close.run is not None else rules_profile_get(utility, close.period)
            )
            if code not in profiles:
                profiles[code] = profile_load(code)
            return profiles[code]

        post = _Poster(
            account=locked,
            target=add_months(last, 1),
            posted_on=utility_now(utility).date(),
            common={
                "cause": cause,
                "reason": text,
                "by": user.pk if user is not None else None,
                "rebill_of": _label(period),
            },
        )
        billed = _billed(locked, [c.period for c in closes])
        carried: dict[int, engine.MeterState] = {}
        for close in closes:
            bill = _bill_again(locked, close.period, profile_of(close), pricing, carried)
            carried.update(bill.states)
            _states_store(locked, close.period, bill.states)
            post.month_lines(close.period, _by_key(bill.lines), billed.get(close.period, {}))
        for close in closes[1:]:
            post.month_penalty(close.period, _penalty_again(locked, close.period, profile_of(close)))
    return post.entries


def _hold_off_the_close(account: Account) -> date | None:
    """The account's last closed month, with its close held off until this transaction ends.

    The close does not lock accounts (a million row locks a month); it locks its chunk
    (``chunk_close``), after its run was created. So: no run is created or finished meanwhile
    (``billing_billingrun`` held in SHARE mode, which only blocks writes to it), and the chunks
    that cover the account in every later run are locked — a running close of the account is
    waited for, and one not started yet waits for this rebill, then reads what it wrote. SQLite
    runs one writing transaction at a time (``transaction_mode`` IMMEDIATE): nothing to do."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {BillingRun._meta.db_table} IN SHARE MODE")
    last = _last_closed(account)
    runs = BillingRun.objects.all() if last is None else BillingRun.objects.filter(period__gt=last)
    list(
        BillingChunk.objects.select_for_update()
        .filter(
            run_id__in=list(runs.values_list("pk", flat=True)),
            first_account_id__lte=account.pk,
            last_account_id__gte=account.pk,
        )
        .values_list("pk", flat=True)
    )
    return _last_closed(account)  # a close that held a chunk has committed by now


def _last_closed(account: Account) -> date | None:
    return AccountClose.objects.filter(account=account).aggregate(p=Max("period"))["p"]


def _by_key(lines: Iterable[engine.ChargeLine]) -> dict[LineKey, engine.ChargeLine]:
    """A month's lines by (basis, meter, zone, band): the engine gives one line per key; were it to
    give more, they are added up, as the comparison with the ledger does."""
    out: dict[LineKey, engine.ChargeLine] = {}
    for line in lines:
        key = (line.basis, line.meter_id, line.zone, line.band)
        first = out.get(key)
        if first is not None:
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
        out[key] = line
    return out


def _sort_key(key: LineKey) -> tuple[Any, ...]:
    basis, meter_id, zone, band = key
    return (meter_id or 0, basis, zone, band)


def _billed(account: Account, periods: Sequence[date]) -> dict[date, dict[LineKey, _Billed]]:
    """What was billed for each month, by line: its close's charges and recalculations, and the
    corrections of it posted by earlier rebills (their penalty corrections are not lines)."""
    labels = {_label(p): p for p in periods}
    billed: dict[date, dict[LineKey, _Billed]] = defaultdict(lambda: defaultdict(_Billed))
    closed = LedgerEntry.objects.filter(
        account=account, period__in=list(periods), kind__in=[EntryKind.CHARGE, EntryKind.RECALCULATION]
    )
    corrections = LedgerEntry.objects.filter(account=account, kind=EntryKind.CORRECTION, reason=R_REBILL)
    for entry in sorted([*closed, *corrections], key=lambda e: e.pk):
        if entry.kind == EntryKind.CORRECTION:
            detail = entry.detail if isinstance(entry.detail, dict) else {}
            corrected = labels.get(str(detail.get("period")))
            if corrected is None or "basis" not in detail or detail["basis"] == PENALTY:
                continue  # a correction of another month, or of a penalty
            period = corrected
            key: LineKey = (str(detail["basis"]), entry.meter_id, entry.zone, entry.band)
        else:
            period, key = entry.period, (entry.basis, entry.meter_id, entry.zone, entry.band)
        item = billed[period][key]
        item.volume += entry.volume or Decimal(0)
        item.amount += entry.amount
        if entry.price is not None:
            item.price = item.price or entry.price
        if item.original is None and entry.kind != EntryKind.CORRECTION:
            item.original = entry
    return {period: dict(lines) for period, lines in billed.items()}


def _states_store(account: Account, period: date, states: Mapping[int, engine.MeterState]) -> None:
    """The meters' states after the month, as recomputed: stored where they differ (or are
    missing), so that the next close, the preview and the next rebill go on from them."""
    stored = {
        row.meter_id: row
        for row in MeterBillingState.objects.filter(meter_id__in=list(states), period=period)
    }
    for meter_id, state in states.items():
        text = state_dumps(state)
        row = stored.get(meter_id)
        if row is None:
            MeterBillingState.objects.create(
                meter_id=meter_id, account=account, period=period, data=json.loads(text)
            )
        elif state_dumps(state_loads(row.data)) != text:
            MeterBillingState.objects.filter(pk=row.pk).update(data=json.loads(text))


def _penalty_again(account: Account, period: date, profile: RulesProfile) -> tuple[Decimal, list[Any]]:
    """The penalty of the month computed again, by the close's own function, on the debts as
    corrected (the corrections just posted are in the ledger, read in this transaction)."""
    from meterdesk.billing.close_penalties import penalties_accrued

    return penalties_accrued([account.pk], period, profile).get(account.pk, (Decimal("0.00"), []))


class _Poster:
    """Posts a rebill's correction entries into the account's first open month."""

    def __init__(self, *, account: Account, target: date, posted_on: date, common: dict[str, Any]) -> None:
        self.account = account
        self.target = target
        self.posted_on = posted_on
        self.common = common
        self.entries: list[LedgerEntry] = []

    def month_lines(
        self, period: date, now: dict[LineKey, engine.ChargeLine], billed: dict[LineKey, _Billed]
    ) -> None:
        """One entry per line of the month whose volume or amount differs from what was billed."""
        label = _label(period)
        changes = []
        for key in sorted(set(now) | set(billed), key=_sort_key):
            was = billed.get(key, _Billed())
            again = now.get(key)
            volume = again.volume if again is not None else Decimal(0)
            amount = again.amount if again is not None else Decimal("0.00")
            if volume != was.volume or amount != was.amount:
                changes.append((key, was, volume, amount, again.price if again is not None else was.price))
        # A month whose bill goes down owed less from the start: the penalties on its debt follow
        # (``debt_of``). A month whose bill goes up is owed with the bill that shows the difference.
        lowered = sum((amount - was.amount for _k, was, _v, amount, _p in changes), Decimal(0)) < 0
        for (basis, meter_id, zone, band), was, volume, amount, price in changes:
            detail: dict[str, Any] = {
                "period": label,
                "basis": basis,
                **self.common,
                "billed": {"volume": str(was.volume), "amount": str(was.amount)},
                "rebilled": {"volume": str(volume), "amount": str(amount)},
            }
            if lowered:
                detail["debt_of"] = label
            self._post(
                meter_id=meter_id,
                zone=zone,
                band=band,
                volume=volume - was.volume,
                price=price,
                amount=amount - was.amount,
                detail=detail,
                corrects=was.original,
            )

    def month_penalty(self, period: date, again: tuple[Decimal, list[Any]]) -> None:
        """One entry when the month's penalty, computed again, differs from what was charged: its
        accrual and the earlier corrections of it (a settlement in the month is not its penalty)."""
        label = _label(period)
        charged = LedgerEntry.objects.filter(
            account=self.account, period=period, kind=EntryKind.PENALTY, reason=R_LATE_PAYMENT
        ).first()
        was = charged.amount if charged is not None else Decimal("0.00")
        for entry in LedgerEntry.objects.filter(
            account=self.account, kind=EntryKind.CORRECTION, reason=R_REBILL
        ):
            detail = entry.detail if isinstance(entry.detail, dict) else {}
            if detail.get("period") == label and detail.get("basis") == PENALTY:
                was += entry.amount
        amount, parts = again
        if amount == was:
            return
        self._post(
            meter_id=None,
            zone=0,
            band=1,
            volume=None,
            price=None,
            amount=amount - was,
            detail={
                "period": label,
                "basis": PENALTY,
                **self.common,
                "billed": {"amount": str(was)},
                "rebilled": {"amount": str(amount)},
                "parts": parts,
            },
            corrects=charged,
        )

    def _post(
        self,
        *,
        meter_id: int | None,
        zone: int,
        band: int,
        volume: Decimal | None,
        price: Decimal | None,
        amount: Decimal,
        detail: dict[str, Any],
        corrects: LedgerEntry | None,
    ) -> None:
        self.entries.append(
            LedgerEntry.objects.create(
                account=self.account,
                period=self.target,
                posted_on=self.posted_on,
                kind=EntryKind.CORRECTION,
                basis=engine.CORRECTION,
                meter_id=meter_id,
                zone=zone,
                band=band,
                volume=volume,
                price=price,
                amount=amount,
                reason=R_REBILL,
                detail=detail,
                corrects=corrects,
            )
        )
