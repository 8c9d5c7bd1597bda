"""The monthly charge of one account under Decree 354, as plain functions over plain data.

The engine works month by month. For every meter it carries a small ``MeterState`` from one closed
month to the next: the last actual position of the meter, a few earlier actual positions (enough
for the average), and what has been billed by estimate since the last actual reading. Given the
state after month P-1, the accepted reading of month P (if any) and the prices of month P,
``bill_account`` returns the charge lines of P, each with its basis, and the states after P. The
monthly close is therefore O(1) per account, deterministic, and independent of how accounts are
chunked.

Bases (DOMAIN.md "Billing"):
- ``actual``: consumption per zone since the last actual reading × the zone's price;
- ``average`` (p.59): no reading, or a failed meter: the average monthly consumption per zone over
  at least ``average_min_months`` of actual readings (``average_min_months_young`` for a young
  meter), for at most ``missing_average_periods`` (readings missing) or ``failed_average_periods``
  (meter failed) periods in a row;
- ``norm`` (p.60, p.42): after that, or with no basis for an average, or with no meter: the norm per
  resident × residents (by days when the count changes within the month), at the single-rate price;
  ``norm_increased`` × the profile's coefficient (1.5) where a meter is required but absent, and
  (p.60) for a failed meter still in place after its ``failed_average_periods`` estimated periods
  (only the plain norm of such a month is an estimate a later actual reading reverses);
- ``recalculation`` (true-up): when actual readings arrive after estimated months, the estimated
  volume is reversed at this month's prices, next to the actual line for the whole consumption
  since the last actual reading;
- ``control``: the month's reading is an inspector's control reading (``domain.month_reading``
  says which reading counts): the consumption since the last actual reading is charged; a value
  below the one billed before is a credit, a recalculation (p.61; ``statement_kind``);
- ``replacement``: the final reading of a removed meter; the new meter bills from the 1st of the
  month after it was commissioned.

A value below the previous one is a rollover (consumption = value + 10^digits − previous) when a
customer gave it: the reading rules accept it only as a confirmed rollover. A reading taken by the
utility (control, or the final reading of a removed meter) is the truth about the meter, and the
customer's last value may have been too high: of the two explanations of the difference (no
rollover, or one rollover between the two values) the one with the smaller volume is taken, so a
value a little below the customer's is a credit, and so is a value just below 10^digits after a
customer's value just past zero.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol

from meterdesk.domain.money import round_money, round_volume
from meterdesk.domain.periods import add_months, month_start, months_between
from meterdesk.domain.profiles import RulesProfile
from meterdesk.domain.tariffs import TariffSpec, price_volumes

ACTUAL = "actual"
AVERAGE = "average"
NORM = "norm"
NORM_INCREASED = "norm_increased"
RECALCULATION = "recalculation"
CONTROL = "control"
REPLACEMENT = "replacement"
CORRECTION = "correction"
BASES = (ACTUAL, AVERAGE, NORM, NORM_INCREASED, RECALCULATION, CONTROL, REPLACEMENT, CORRECTION)

# Kinds of a month's reading.
CUSTOMER = "customer"
CONTROL_READING = "control"
FINAL = "final"

# Reasons (stable codes; the portal and the bill turn them into words).
R_READINGS = "readings"
R_ROLLOVER = "rollover"
R_MISSING = "readings_missing"
R_FAILED = "meter_failed"
R_AVERAGE_EXHAUSTED = "average_periods_exhausted"
#: a failed, lost or expired meter still in place after its estimated periods (p.60): the norm
#: times the increasing coefficient
R_FAILED_EXHAUSTED = "meter_failed_average_exhausted"
R_NO_BASIS = "no_basis_for_average"
R_NO_METER = "no_meter"
R_METER_NEW = "meter_being_commissioned"
R_TRUE_UP = "estimates_reversed"
R_CONTROL = "control_reading"
R_FINAL = "final_reading"
#: the part of a control (or final) reading below the values billed before: a credit of them (p.61)
R_BELOW_BILLED = "below_billed_values"

# Why a closed month is billed again (``billing.rebill``; stored with each of its corrections).
REBILL_CAUSES = (
    "reading_corrected",
    "control_reading",
    "residents_changed",
    "meter_corrected",
    "prices_corrected",
    "other",
)

# The two sums of a statement a line counts in (and the kind of its ledger entry).
KIND_CHARGE = "charge"
KIND_RECALCULATION = "recalculation"

ZERO = Decimal(0)


class Pricing(Protocol):
    """Prices and norms in force in a month (the caller may cache them)."""

    def tariff(self, category: str, zones: int, period: date) -> TariffSpec: ...

    def norm(self, category: str, rooms: int, residents: int, period: date) -> Decimal:
        """The consumption norm, kWh per resident per month."""
        ...


@dataclass(frozen=True)
class MeterInfo:
    meter_id: int
    zones: int
    digits: int
    installed_on: date
    initial: tuple[Decimal, ...]
    removed_on: date | None = None
    #: the first day on which the meter counts as failed (marked failed or lost, or the day after
    #: its verification was due); None while it works
    failed_from: date | None = None

    @property
    def capacity(self) -> Decimal:
        return Decimal(10) ** self.digits

    @property
    def first_period(self) -> date:
        """Billing by this meter starts on the 1st of the month after commissioning."""
        return add_months(month_start(self.installed_on), 1)


@dataclass(frozen=True)
class Point:
    """An actual position of a meter: cumulative consumption per zone since installation."""

    period: date
    totals: tuple[Decimal, ...]
    installation: bool = False  # the meter's initial values, not a reading


@dataclass(frozen=True)
class MeterState:
    """What the engine remembers about a meter after a closed month."""

    raw: tuple[Decimal, ...]  # the last actual values as shown on the meter
    last: Point  # the last actual point
    anchors: tuple[Point, ...] = ()  # earlier actual points, oldest first, kept for the average
    estimated: tuple[Decimal, ...] = ()  # per zone: volume billed by average since the last actual
    estimated_norm: Decimal = ZERO  # volume billed by norm (single rate) since the last actual
    estimated_periods: tuple[date, ...] = ()  # every period billed by estimate (average or norm)
    missing_run: int = 0  # periods in a row billed by average because readings were missing
    failed_run: int = 0  # periods in a row billed by average because the meter failed

    @classmethod
    def initial(cls, meter: MeterInfo) -> MeterState:
        """The state of a meter that has billed nothing yet: its initial values, at the
        installation point (the start of its actual period, for a young meter's average)."""
        zeros = tuple(ZERO for _ in range(meter.zones))
        return cls(
            raw=tuple(meter.initial),
            last=Point(month_start(meter.installed_on), zeros, installation=True),
            estimated=zeros,
        )

    @property
    def estimated_volumes(self) -> tuple[Decimal, ...]:
        """``estimated`` with one value per zone (the field's default ``()`` means none)."""
        return self.estimated or tuple(ZERO for _ in self.raw)


@dataclass(frozen=True)
class MonthReading:
    """The accepted reading of a meter that counts for the month (``domain.month_reading``)."""

    values: tuple[Decimal, ...]
    kind: str = CUSTOMER


@dataclass(frozen=True)
class AccountInfo:
    account_id: int
    category: str
    rooms: int
    #: (effective from, residents), chronological; the count in force before the first entry is
    #: the first entry's
    residents: tuple[tuple[date, int], ...]
    meter_required: bool = True


@dataclass(frozen=True)
class ChargeLine:
    basis: str
    zone: int  # 1..3, or 0 for a single-rate (norm) volume
    volume: Decimal
    price: Decimal
    amount: Decimal
    meter_id: int | None = None
    band: int = 1
    reason: str = ""
    detail: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountBill:
    period: date
    lines: tuple[ChargeLine, ...]
    states: Mapping[int, MeterState]
    basis: str  # the main basis of the month, for summaries

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


def statement_kind(basis: str, reason: str) -> str:
    """Whether a line counts in the statement's charges or its recalculations.

    Only a difference from what was billed before is a recalculation: estimates reversed (a
    true-up), and what a control or final reading takes back from values billed before. A month
    billed from an inspector's control reading is a charge, like one billed from the household's."""
    if basis == RECALCULATION or reason == R_BELOW_BILLED:
        return KIND_RECALCULATION
    return KIND_CHARGE


def failed_from(
    *, verification_due: date, failed_on: date | None, marked_failed: bool, installed_on: date
) -> date:
    """The first day a meter counts as failed: the day it was found failed or lost (or, marked so
    without a date, since installation), or the day after its verification was due."""
    days = [verification_due + timedelta(days=1)]
    if failed_on is not None:
        days.append(failed_on)
    elif marked_failed:
        days.append(installed_on)
    return min(days)


def period_end(period: date) -> date:
    return period.replace(day=calendar.monthrange(period.year, period.month)[1])


def is_failed(meter: MeterInfo, period: date) -> bool:
    """A meter failed at any time in the month cannot give that month's readings."""
    return meter.failed_from is not None and meter.failed_from <= period_end(period)


def average_of(state: MeterState, profile: RulesProfile) -> tuple[Decimal, ...] | None:
    """Average monthly consumption per zone over at least ``average_min_months`` of actual
    readings up to the last one; for a meter that has worked less than that, over its whole
    actual period if it is at least ``average_min_months_young``; else None (no basis)."""
    last = state.last
    span_anchor: Point | None = None
    for anchor in reversed(state.anchors):
        if months_between(anchor.period, last.period) >= profile.average_min_months:
            span_anchor = anchor
            break
    if span_anchor is None and state.anchors:
        oldest = state.anchors[0]
        if (
            oldest.installation
            and months_between(oldest.period, last.period) >= profile.average_min_months_young
        ):
            span_anchor = oldest
    if span_anchor is None:
        return None
    span = Decimal(months_between(span_anchor.period, last.period))
    return tuple(
        round_volume(max(a - b, ZERO) / span) for a, b in zip(last.totals, span_anchor.totals, strict=True)
    )


def _keep_anchors(anchors: Sequence[Point], last: Point, profile: RulesProfile) -> tuple[Point, ...]:
    """The earlier points still needed for an average: those less than ``average_min_months``
    before the last point, plus the latest one at least that far back (and the installation
    point while the meter is young)."""
    kept: list[Point] = []
    far: Point | None = None
    for anchor in anchors:
        if months_between(anchor.period, last.period) >= profile.average_min_months:
            far = anchor
        else:
            kept.append(anchor)
    return ((far,) if far else ()) + tuple(kept)


def _lines(
    spec: TariffSpec,
    volumes: Sequence[Decimal],
    months: int,
    basis: str,
    meter_id: int | None,
    reason: str,
    detail: Mapping[str, str],
    sign: int = 1,
    single_rate: bool = False,
) -> list[ChargeLine]:
    """Price volumes (made positive for the band split, then signed)."""
    magnitudes = [abs(v) for v in volumes]
    if all(v == 0 for v in magnitudes):
        return []
    negative = [v < 0 for v in volumes]
    # A mix of signs cannot share bands: price each zone on its own then.
    if (any(negative) and not all(negative)) or (sign < 0 and any(negative)):
        out: list[ChargeLine] = []
        for zone, v in enumerate(volumes, start=1):
            if v == 0:
                continue
            s = sign * (-1 if v < 0 else 1)
            price = spec.price(zone if not single_rate else 1)
            out.append(
                ChargeLine(
                    basis,
                    0 if single_rate else zone,
                    s * abs(v),
                    price,
                    s * round_money(abs(v) * price),
                    meter_id,
                    1,
                    reason,
                    dict(detail),
                )
            )
        return out
    s = sign * (-1 if all(negative) else 1)
    priced = price_volumes(spec, magnitudes, months=max(1, months))
    return [
        ChargeLine(
            basis,
            0 if single_rate else p.zone,
            s * p.volume,
            p.price,
            s * p.amount,
            meter_id,
            p.band,
            reason,
            dict(detail),
        )
        for p in priced
    ]


def _period_label(period: date) -> str:
    return f"{period:%Y-%m}"


def person_months(residents: Sequence[tuple[date, int]], period: date) -> list[tuple[int, Decimal]]:
    """(residents, share of the month) segments for the month, from the residents history.

    Each entry holds from its date until the day before the next one. The first entry's count also
    holds before its date (nothing earlier is known; to prorate the month an account opens in,
    give a leading entry of 0 residents from the 1st). Of two entries with the same date, the one
    given later wins (a correction)."""
    if not residents:
        return [(0, Decimal(1))]
    start, end = period, period_end(period)
    days = Decimal((end - start).days + 1)
    segments: list[tuple[int, Decimal]] = []
    ordered = sorted(residents, key=lambda entry: entry[0])  # stable: same-day entries keep their order
    for index, (effective, count) in enumerate(ordered):
        seg_start = start if index == 0 else max(start, effective)
        nxt = ordered[index + 1][0] if index + 1 < len(ordered) else None
        seg_end = end if nxt is None else min(end, nxt - timedelta(days=1))
        if seg_end < seg_start:
            continue
        segments.append((count, Decimal((seg_end - seg_start).days + 1) / days))
    return segments


def norm_volume(account: AccountInfo, period: date, pricing: Pricing) -> tuple[Decimal, str]:
    """The month's volume by norm (kWh) and a description of the residents used."""
    total = ZERO
    parts = []
    for count, share in person_months(account.residents, period):
        per_person = pricing.norm(account.category, account.rooms, count, period)
        total += per_person * count * share
        parts.append(f"{count}×{per_person}" + ("" if share == 1 else f"×{share:.4f}"))
    return round_volume(total), "+".join(parts)


@dataclass
class _MeterResult:
    lines: list[ChargeLine]
    state: MeterState
    basis: str | None  # None: the meter does not bill this month
    needs_norm: str | None = None  # the reason, when the meter falls back to the norm
    #: in the commissioning month, the state that starts from the month's reading; used when the
    #: premises is billed by the norm for that month (no other meter billed it)
    commissioning_start: MeterState | None = None


def bill_meter(
    meter: MeterInfo,
    state: MeterState,
    reading: MonthReading | None,
    period: date,
    spec: TariffSpec,
    profile: RulesProfile,
    single: TariffSpec | None = None,
) -> _MeterResult:
    """One meter's part of the month (the norm fallback is priced by ``bill_account``).

    ``spec`` is the tariff for the meter's zones, ``single`` the single-rate tariff of the
    category (for reversing norm volumes); it defaults to ``spec`` for a one-zone meter."""
    if period < meter.first_period:
        start = None
        if reading is not None and reading.kind != FINAL and period == month_start(meter.installed_on):
            zeros = tuple(ZERO for _ in reading.values)
            start = MeterState(
                raw=tuple(reading.values), last=Point(period, zeros, installation=True), estimated=zeros
            )
        return _MeterResult([], state, None, commissioning_start=start)
    removed = month_start(meter.removed_on) if meter.removed_on else None
    if removed is not None and period > removed:
        return _MeterResult([], state, None)
    failed = is_failed(meter, period)
    if reading is not None and not failed:
        return _bill_actual(meter, state, reading, period, spec, single or spec, profile)
    run = state.failed_run if failed else state.missing_run
    limit = profile.failed_average_periods if failed else profile.missing_average_periods
    average = average_of(state, profile)
    reason = R_FAILED if failed else R_MISSING
    if average is not None and run < limit:
        detail = {"average_from": _period_label(state.last.period), "run": str(run + 1), "limit": str(limit)}
        lines = _lines(spec, average, 1, AVERAGE, meter.meter_id, reason, detail)
        new = replace(
            state,
            estimated=tuple(e + a for e, a in zip(state.estimated_volumes, average, strict=True)),
            estimated_periods=(*state.estimated_periods, period),
            failed_run=state.failed_run + 1 if failed else 0,
            missing_run=state.missing_run if failed else state.missing_run + 1,
        )
        return _MeterResult(lines, new, AVERAGE)
    if failed and _failed_estimates_exhausted(meter, state, period, run, limit, average):
        why = R_FAILED_EXHAUSTED
    else:
        why = R_NO_BASIS if average is None else R_AVERAGE_EXHAUSTED
    return _MeterResult([], state, NORM, needs_norm=why)


def _failed_estimates_exhausted(
    meter: MeterInfo,
    state: MeterState,
    period: date,
    run: int,
    limit: int,
    average: tuple[Decimal, ...] | None,
) -> bool:
    """Whether a failed meter has had its ``limit`` estimated periods (p.59 a) and is still in
    place at the end of the month: p.60 then bills the norm times the increasing coefficient.

    With an average, the periods are those billed by it (``failed_run``); without a basis for one,
    the periods billed by estimate since the month the meter failed. A meter removed within the
    month (replaced) is billed the plain norm for it: the sanction is for a meter left in place."""
    if meter.removed_on is not None and meter.removed_on <= period_end(period):
        return False
    if average is not None:
        return run >= limit
    if meter.failed_from is None:  # not failed (the caller asks only for a failed meter)
        return False
    since = month_start(meter.failed_from)
    return sum(1 for p in state.estimated_periods if p >= since) >= limit


def _consumption(
    value: Decimal, before: Decimal, capacity: Decimal, authoritative: bool
) -> tuple[Decimal, bool]:
    """The volume between two values of a zone, and whether it crosses the meter's rollover."""
    used = value - before
    if authoritative:
        if used < 0 and -used > capacity / 2:
            return used + capacity, True  # rolled over past zero
        if used > capacity / 2:
            return used - capacity, True  # the customer's last value was past zero, the meter was not
        return used, False  # negative: the customer reported more than the meter showed, a credit
    if used < 0:
        return used + capacity, True
    return used, False


def _bill_actual(
    meter: MeterInfo,
    state: MeterState,
    reading: MonthReading,
    period: date,
    spec: TariffSpec,
    single: TariffSpec,
    profile: RulesProfile,
) -> _MeterResult:
    # A control or final reading is the utility's own (see the module's docstring).
    authoritative = reading.kind in (CONTROL_READING, FINAL)
    consumption: list[Decimal] = []
    rolled = False
    for value, before in zip(reading.values, state.raw, strict=True):
        used, crossed = _consumption(value, before, meter.capacity, authoritative)
        consumption.append(used)
        rolled = rolled or crossed
    months = max(1, months_between(state.last.period, period))
    basis = {CONTROL_READING: CONTROL, FINAL: REPLACEMENT}.get(reading.kind, ACTUAL)
    reason = {CONTROL_READING: R_CONTROL, FINAL: R_FINAL}.get(reading.kind, R_READINGS)
    detail = {"since": _period_label(state.last.period), "months": str(months)}
    if rolled:
        detail["rollover"] = "1"
    lines = _lines(spec, consumption, months, basis, meter.meter_id, reason, detail)
    if authoritative:
        lines = [replace(line, reason=R_BELOW_BILLED) if line.volume < 0 else line for line in lines]
    if state.estimated_periods:
        periods = state.estimated_periods
        true_up = {
            "from": _period_label(periods[0]),
            "to": _period_label(periods[-1]),
            "months": str(len(periods)),
        }
        # Each estimate was billed month by month with one month's band limits: reverse it over
        # as many months as it was billed in, so that the reversal mirrors what was billed. Every
        # average period counts in one of the two runs (a failed run is forgotten only if the
        # meter worked again before any reading); the other estimated periods were by norm.
        average_months = state.missing_run + state.failed_run
        norm_months = len(periods) - average_months
        lines += _lines(
            spec,
            state.estimated_volumes,
            max(1, average_months),
            RECALCULATION,
            meter.meter_id,
            R_TRUE_UP,
            true_up,
            -1,
        )
        if state.estimated_norm:
            lines += _lines(
                single,
                [state.estimated_norm],
                max(1, norm_months),
                RECALCULATION,
                meter.meter_id,
                R_TRUE_UP,
                {**true_up, "norm": "1"},
                -1,
                single_rate=True,
            )
    last = Point(period, tuple(t + c for t, c in zip(state.last.totals, consumption, strict=True)))
    new = MeterState(
        raw=tuple(reading.values),
        last=last,
        anchors=_keep_anchors((*state.anchors, state.last), last, profile),
        estimated=tuple(ZERO for _ in consumption),
    )
    return _MeterResult(lines, new, basis)


def bill_account(
    account: AccountInfo,
    meters: Sequence[tuple[MeterInfo, MeterState | None, MonthReading | None]],
    period: date,
    pricing: Pricing,
    profile: RulesProfile,
) -> AccountBill:
    """The charge lines of one account for one month, and its meters' states after it."""
    lines: list[ChargeLine] = []
    states: dict[int, MeterState] = {}
    bases: list[str] = []
    norm_meter: tuple[MeterInfo, MeterState, str] | None = None
    billing_meters = 0
    starts: dict[int, MeterState] = {}
    single = pricing.tariff(account.category, 1, period)
    for meter, state, reading in meters:
        current = state or MeterState.initial(meter)
        spec = pricing.tariff(account.category, meter.zones, period) if meter.zones > 1 else single
        result = bill_meter(meter, current, reading, period, spec, profile, single)
        states[meter.meter_id] = result.state
        if result.commissioning_start is not None:
            starts[meter.meter_id] = result.commissioning_start
        if result.basis is None:
            continue
        billing_meters += 1
        lines.extend(result.lines)
        if result.needs_norm is not None:
            # One norm for the premises: on a failed meter left in place (p.60) if there is one.
            if norm_meter is None or (
                result.needs_norm == R_FAILED_EXHAUSTED and norm_meter[2] != R_FAILED_EXHAUSTED
            ):
                norm_meter = (meter, result.state, result.needs_norm)
        else:
            bases.append(result.basis)
    if norm_meter is not None or billing_meters == 0:
        volume, residents = norm_volume(account, period, pricing)
        basis, reason, meter_id = NORM, R_NO_METER, None
        if norm_meter is not None:
            meter, state, reason = norm_meter
            meter_id = meter.meter_id
            # The plain norm is an estimate of the consumption, reversed by a later actual reading
            # (a meter verified again); the increase of p.60 on top of it is a sanction, kept
            # (docs/billing.md, "The increased norm of a failed meter").
            states[meter.meter_id] = replace(
                state,
                estimated_norm=state.estimated_norm + volume,
                estimated_periods=(*state.estimated_periods, period),
            )
            if reason == R_FAILED_EXHAUSTED:
                basis = NORM_INCREASED
                volume = round_volume(volume * profile.no_meter_coefficient)
        elif any(
            m.installed_on <= period_end(period)
            and (m.removed_on is None or m.removed_on > period_end(period))
            for m, _, _ in meters
        ):
            reason = R_METER_NEW
            # The norm bills the whole commissioning month: a reading given at its end becomes the
            # new meter's starting point, so those days are not billed again next month. (After a
            # replacement the old meter's final reading bills the month, and the new meter starts
            # from its initial values instead.)
            states.update(starts)
        elif account.meter_required:
            basis = NORM_INCREASED
            volume = round_volume(volume * profile.no_meter_coefficient)
        detail = {"residents": residents}
        if basis == NORM_INCREASED:
            detail["coefficient"] = str(profile.no_meter_coefficient)
            if reason == R_FAILED_EXHAUSTED:
                detail["limit"] = str(profile.failed_average_periods)
        lines.extend(_lines(single, [volume], 1, basis, meter_id, reason, detail, single_rate=True))
        bases.append(basis)
    main = next(
        (b for b in (CONTROL, REPLACEMENT, ACTUAL, AVERAGE, NORM_INCREASED, NORM) if b in bases), NORM
    )
    return AccountBill(period, tuple(lines), states, main)
