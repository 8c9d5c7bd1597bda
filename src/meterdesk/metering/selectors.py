"""Reads of meters and readings, including the customer-facing history."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from meterdesk.billing.codec import state_loads
from meterdesk.billing.messages import line_words
from meterdesk.billing.models import AccountClose, BillingRun, MeterBillingState, RunStatus
from meterdesk.billing.pricing import MissingPrice, pricing_get
from meterdesk.customers.models import Account, AccountLink, User
from meterdesk.domain import billing as engine
from meterdesk.domain.bootstrap import state_from_history
from meterdesk.domain.month_reading import KINDS as MONTH_KINDS
from meterdesk.domain.month_reading import given_at, month_reading
from meterdesk.domain.periods import add_months, iter_months, month_index, months_between
from meterdesk.domain.profiles import PROFILE_DIR, RulesProfile, profile_load
from meterdesk.domain.readings import CheckedReading, average_monthly, check_reading
from meterdesk.domain.tariffs import PricedLine, price_volumes, total_amount
from meterdesk.metering.models import Meter, MeterStatus, Reading, ReadingKind, ReadingStatus
from meterdesk.sqlrows import Rows
from meterdesk.tariffs.models import Tariff
from meterdesk.tariffs.selectors import NoTariffError, tariff_in_force
from meterdesk.utility.selectors import (
    REFERENCE_STAMP_SUBQUERY,
    Reference,
    reference_get,
    reference_peek,
    utility_get,
    utility_now,
    utility_zone,
)

log = logging.getLogger(__name__)

#: Kinds of reading that count as actual values of a meter.
ACTUAL_KINDS = (ReadingKind.CUSTOMER, ReadingKind.CONTROL, ReadingKind.INITIAL)
#: How far back the average monthly consumption looks.
AVERAGE_LOOKBACK_MONTHS = 12


def accounts_for_user(user: User) -> QuerySet[Account]:
    return Account.objects.filter(links__user=user).order_by("number")


def account_for_user(user: User, number: str) -> Account:
    """The account with this number, if linked to the user; else Account.DoesNotExist."""
    return accounts_for_user(user).get(number=number)


def meter_for_user(user: User, meter_id: int) -> Meter:
    """The meter, if its account is linked to the user; else Meter.DoesNotExist."""
    return Meter.objects.select_related("account").get(pk=meter_id, account__links__user=user)


# Hand-written reads of the reading submission's hot path (see meterdesk.sqlrows).
_METER = Rows(Meter, "m")
_ACCOUNT = Rows(Account, "a")
_READING = Rows(Reading, "r")
_READINGS_SQL = (
    f"SELECT {_READING.columns} FROM {Reading._meta.db_table} r "  # noqa: S608 - names from the model
    "WHERE r.meter_id = %s AND r.status = %s AND r.period >= %s AND r.period <= %s "
    "ORDER BY r.period, r.submitted_at"
)
_STATE_SQL = (
    f"SELECT data FROM {MeterBillingState._meta.db_table} "  # noqa: S608 - names from the model
    "WHERE meter_id = %s AND period < %s ORDER BY period DESC LIMIT 1"
)


@dataclass(frozen=True)
class Prefetched:
    """What a submission needs besides the meter, read by the statement that locked the meter:
    the meter's stored billing state before ``period`` (its JSON, None if none is stored), the
    reference data's stamp and whether ``period`` is closed for the account (``month_closed``)."""

    period: date
    state_data: Any
    stamp: int | None
    month_closed: bool = False


def month_closed_sql(account_column: str) -> str:
    """An SQL expression, true when the month (two parameters: the month, twice) is closed for the
    account ``account_column``: its statement of the month exists, or the month's run has finished.
    A column of a hot-path statement (``meter_lock_for_user``) as well as ``month_closed``."""
    return (
        f"(EXISTS (SELECT 1 FROM {AccountClose._meta.db_table} c "  # noqa: S608 - names from the models
        f"WHERE c.account_id = {account_column} AND c.period = %s) "
        f"OR EXISTS (SELECT 1 FROM {BillingRun._meta.db_table} b "
        f"WHERE b.period = %s AND b.status = '{RunStatus.DONE.value}'))"
    )


def month_closed(account_id: int, period: date) -> bool:
    """Whether ``period`` is closed (billed) for the account: a reading for it is not accepted."""
    day = connection.ops.adapt_datefield_value(period)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {month_closed_sql('%s')}", [account_id, day, day])
        row = cursor.fetchone()
    return bool(row and row[0])


_STATE_BEFORE_SUBQUERY = (
    f"(SELECT s.data FROM {MeterBillingState._meta.db_table} s "  # noqa: S608 - names from the model
    "WHERE s.meter_id = m.id AND s.period < %s ORDER BY s.period DESC LIMIT 1)"
)


def meter_lock_for_user(
    user: User,
    meter_id: int,
    *,
    period: date,
    extra_columns: str = "",
    extra_join: str = "",
    extra_params: Sequence[Any] = (),
) -> tuple[Meter, Prefetched, tuple[Any, ...]]:
    """The meter with its account, locked (``SELECT … FOR UPDATE`` of the meter's row) for the
    rest of the caller's transaction, if its account is linked to the user; else
    Meter.DoesNotExist. The same statement reads what a submission of ``period`` needs besides
    (``Prefetched``: the billing state, the reference stamp, whether the month is closed), and
    whatever the caller adds: ``extra_columns`` (a select list starting with a comma) from
    ``extra_join`` (a LEFT JOIN, with ``extra_params``), whose values come back as the third
    item. One statement where the submission took five."""
    # Names from the models; the caller's parts are constants of its own.
    sql = (
        f"SELECT {_METER.columns}, {_ACCOUNT.columns}, {_STATE_BEFORE_SUBQUERY}, "  # noqa: S608
        f"{REFERENCE_STAMP_SUBQUERY}, {month_closed_sql('m.account_id')}{extra_columns} "
        f"FROM {Meter._meta.db_table} m "
        f"JOIN {Account._meta.db_table} a ON a.id = m.account_id {extra_join} "
        f"WHERE m.id = %s AND EXISTS (SELECT 1 FROM {AccountLink._meta.db_table} l "
        "WHERE l.account_id = m.account_id AND l.user_id = %s)"
    )
    if connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF m"
    elif connection.features.has_select_for_update:  # pragma: no cover - no such backend in use
        sql += " FOR UPDATE"
    day = connection.ops.adapt_datefield_value(period)
    params = [day, day, day, *extra_params, meter_id, user.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise Meter.DoesNotExist(f"no meter {meter_id} of the login's accounts")
    meter = _METER.build(row)
    meter.account = _ACCOUNT.build(row, _METER.width)
    at = _METER.width + _ACCOUNT.width
    prefetched = Prefetched(
        period, row[at], None if row[at + 1] is None else int(row[at + 1]), bool(row[at + 2])
    )
    return meter, prefetched, tuple(row[at + 3 :])


def meters_of(account: Account) -> list[Meter]:
    return list(account.meters.order_by("installed_on", "pk"))


def accepted_readings(meter: Meter, *, since: date, until: date) -> list[Reading]:
    """The accepted readings of a meter (of any kind) of the months from ``since`` to ``until``,
    in chronological order (one indexed read, by hand: on the submission's hot path)."""
    adapt = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        cursor.execute(_READINGS_SQL, [meter.pk, ReadingStatus.ACCEPTED.value, adapt(since), adapt(until)])
        rows = cursor.fetchall()
    readings = [_READING.build(row) for row in rows]
    for reading in readings:
        reading.meter = meter
    return readings


def submission_history(meter: Meter, period: date) -> tuple[list[Reading], list[Reading]]:
    """What a reading of ``period`` is checked and priced against, read once: the meter's accepted
    readings of that month and the 12 before it (the average looks no further back; the month's
    reading is superseded), and its ``effective_readings`` before ``period`` (those of the 12
    months, whose last one is the previous reading; all of them, by a second query, when there is
    none in that time)."""
    recent = accepted_readings(meter, since=add_months(period, -AVERAGE_LOOKBACK_MONTHS), until=period)
    earlier = effective_readings(meter, before=period, accepted=recent)
    if not earlier:
        earlier = effective_readings(meter, before=period)
    return recent, earlier


def reading_that_counts(readings: Iterable[Reading]) -> Reading | None:
    """Of one meter's accepted readings of one month, the one that counts for the month
    (``domain.month_reading``: the latest by the day it was given, in the utility's time zone; an
    inspector's control reading on the same day; a final reading always)."""
    listed = list(readings)
    if len(listed) == 1 and listed[0].kind in MONTH_KINDS:
        return listed[0]
    zone = utility_zone(reference_peek().utility)
    counted = month_reading(given_at(r.kind, r.submitted_at, zone, source=r) for r in listed)
    return counted.source if counted is not None else None


def effective_readings(
    meter: Meter, before: date | None = None, *, accepted: Sequence[Reading] | None = None
) -> list[Reading]:
    """Accepted actual readings of a meter, one per month (the one that counts:
    ``reading_that_counts``), in chronological order. From ``accepted`` (the meter's
    ``accepted_readings``) when given, else read from the database."""
    if accepted is None:
        qs = meter.readings.filter(status=ReadingStatus.ACCEPTED, kind__in=ACTUAL_KINDS)
        if before is not None:
            qs = qs.filter(period__lt=before)
        rows: Iterable[Reading] = qs.order_by("period", "submitted_at")
    else:
        rows = (
            r
            for r in accepted
            if r.status == ReadingStatus.ACCEPTED
            and r.kind in ACTUAL_KINDS
            and (before is None or r.period < before)
        )
    by_month: dict[date, list[Reading]] = defaultdict(list)
    for reading in rows:
        by_month[reading.period].append(reading)
    counted = (reading_that_counts(by_month[p]) for p in sorted(by_month))
    return [r for r in counted if r is not None]


@dataclass(frozen=True)
class PreviousValues:
    values: tuple[Decimal, ...]
    reading: Reading | None  # None: the meter's initial values
    period: date  # month of the previous reading (or of installation)
    #: the reading of the month itself, given before, that a new one must also go on from (an
    #: inspector's control reading: ``month_reading_before``); None if there is none
    month_reading: Reading | None = None


def meter_previous(meter: Meter, period: date, *, earlier: Sequence[Reading] | None = None) -> PreviousValues:
    """The values the month's consumption is measured from: the reading that counted for the
    latest earlier month, or the meter's initial values (what a new reading is checked against
    besides: ``submission_check``). ``earlier``: the meter's ``effective_readings`` before
    ``period``, if the caller has them (all, or at least the last; see ``submission_history``)."""
    if earlier is None:
        earlier = effective_readings(meter, before=period)
    if earlier:
        last = earlier[-1]
        return PreviousValues(last.values, last, last.period)
    return PreviousValues(meter.initial_values, None, meter.installed_on.replace(day=1))


def month_reading_before(
    accepted: Iterable[Reading], period: date, *, kind: str, at: datetime
) -> Reading | None:
    """The reading of ``period`` that a new one of ``kind`` given at ``at`` must go on from (as
    well as from the previous month's): of the month's accepted readings given before it, the
    one that counts (``reading_that_counts``), never one of its own kind (the new one replaces
    it) nor a household's (for a household that is its own, which it may correct; an inspector's
    reading is what the meter showed, whatever the household said). ``accepted``: the meter's
    accepted readings of the month (others are skipped)."""
    skipped = {kind, ReadingKind.CUSTOMER}
    candidates = [
        r
        for r in accepted
        if r.period == period
        and r.status == ReadingStatus.ACCEPTED
        and r.kind not in skipped
        and r.submitted_at <= at
    ]
    return reading_that_counts(candidates) if candidates else None


def submission_check(
    *,
    meter: Meter,
    values: Sequence[str | int | Decimal | None],
    period: date,
    at: datetime,
    kind: str = ReadingKind.CUSTOMER,
    history: tuple[Sequence[Reading], Sequence[Reading]] | None = None,
) -> tuple[CheckedReading, PreviousValues]:
    """``values`` checked as a reading of ``kind`` for ``period`` given at ``at``, by
    ``domain.readings.check_reading``: against the reading that counted for the latest earlier
    month (the month is billed from it) and the month's own reading given before
    (``month_reading_before``: an inspector's), with the average of the months before. The
    submission and the preview both ask here. ``history``: the meter's ``submission_history`` of
    ``period``, if the caller has it. Returns the outcome and what it was checked against."""
    accepted, earlier = history if history is not None else submission_history(meter, period)
    previous = meter_previous(meter, period, earlier=earlier)
    before = month_reading_before(accepted, period, kind=kind, at=at)
    about: dict[str, object] | None = None
    if before is not None:
        before.meter = meter
        previous = replace(previous, month_reading=before)
        taken_on = before.submitted_at.astimezone(utility_zone(reference_peek().utility)).date()
        about = {"kind": before.kind, "taken_on": taken_on}
    checked = check_reading(
        meter.shape,
        list(values),
        list(previous.values),
        meter_average(meter, period, earlier=earlier),
        max(1, months_between(previous.period, period)),
        latest=None if before is None else before.values,
        latest_params=about,
    )
    return checked, previous


def meter_average(
    meter: Meter, period: date, *, earlier: Sequence[Reading] | None = None
) -> tuple[Decimal | None, ...] | None:
    """Average monthly consumption per zone over actual readings of the last 12 months before
    ``period``; None when there is no basis. ``earlier``: the meter's ``effective_readings``
    before ``period``, at least those of the 12 months before it."""
    if earlier is None:
        earlier = effective_readings(meter, before=period)
    readings = [r for r in earlier if months_between(r.period, period) <= AVERAGE_LOOKBACK_MONTHS]
    if len(readings) < 2:
        return None
    capacity = meter.shape.capacity
    return tuple(
        average_monthly([(month_index(r.period), r.values[zone]) for r in readings], capacity)
        for zone in range(meter.zones)
    )


def meter_last_reading(meter: Meter) -> Reading | None:
    """The reading that counts for the latest month with an accepted actual reading."""
    # A month has at most one accepted reading of each actual kind: the latest month's are first.
    latest = list(
        meter.readings.filter(status=ReadingStatus.ACCEPTED, kind__in=ACTUAL_KINDS).order_by("-period")[
            : len(ACTUAL_KINDS)
        ]
    )
    return reading_that_counts(r for r in latest if r.period == latest[0].period) if latest else None


def meter_is_failed(meter: Meter, on: date) -> bool:
    """A meter counts as failed when so marked, lost, or past its verification date."""
    return meter.status in (MeterStatus.FAILED, MeterStatus.LOST) or meter.verification_due < on


@dataclass
class MeterMonth:
    meter: Meter
    reading: Reading | None
    consumption: tuple[Decimal, ...] = ()
    lines: list[PricedLine] = field(default_factory=list)
    amount: Decimal = Decimal("0.00")
    months_covered: int = 0
    priced: bool = True


@dataclass
class MonthRow:
    period: date
    meters: list[MeterMonth]

    @property
    def has_reading(self) -> bool:
        return any(m.reading is not None for m in self.meters)

    @property
    def zone_kwh(self) -> tuple[Decimal, ...]:
        totals = [Decimal(0)] * 3
        for m in self.meters:
            for i, v in enumerate(m.consumption):
                totals[i] += v
        return tuple(totals)

    @property
    def total_kwh(self) -> Decimal:
        return sum(self.zone_kwh, Decimal(0))

    @property
    def amount(self) -> Decimal:
        return sum((m.amount for m in self.meters), Decimal("0.00"))


def account_history(account: Account, until: date | None = None) -> list[MonthRow]:
    """Month by month, for the whole life of the account: each meter's reading, the consumption it
    implies since the previous reading, and its charge at that month's tariff (newest first)."""
    utility = utility_get()
    last_month = (until or utility_now(utility).date()).replace(day=1)
    meters = meters_of(account)
    first_month = account.opened_on.replace(day=1)
    per_meter: dict[int, dict[date, MeterMonth]] = {}
    tariff_cache: dict[tuple[int, date], object] = {}
    for meter in meters:
        months: dict[date, MeterMonth] = {}
        prev_values = meter.initial_values
        prev_period = meter.installed_on.replace(day=1)
        capacity = meter.shape.capacity
        for reading in effective_readings(meter):
            if reading.kind == ReadingKind.INITIAL:
                prev_values, prev_period = reading.values, reading.period
                continue
            consumption = tuple(
                (v - p) if v >= p else (v + capacity - p)
                for v, p in zip(reading.values, prev_values, strict=False)
            )
            covered = max(1, months_between(prev_period, reading.period))
            item = MeterMonth(meter, reading, consumption, months_covered=covered)
            key = (meter.zones, reading.period)
            spec = tariff_cache.get(key)
            if spec is None:
                try:
                    spec = tariff_in_force(
                        region=utility.tariff_region,
                        category=account.category,
                        zones=meter.zones,
                        on=reading.period,
                    ).spec
                except NoTariffError:
                    spec = False
                tariff_cache[key] = spec
            if spec:
                item.lines = price_volumes(spec, consumption, months=covered)  # type: ignore[arg-type]
                item.amount = total_amount(item.lines)
            else:
                item.priced = False
            months[reading.period] = item
            prev_values, prev_period = reading.values, reading.period
        per_meter[meter.pk] = months
    rows: list[MonthRow] = []
    for period in reversed(iter_months(first_month, last_month)):
        entries = []
        for meter in meters:
            if meter.installed_on.replace(day=1) > period:
                continue
            if meter.removed_on and meter.removed_on.replace(day=1) < period:
                continue
            entries.append(per_meter[meter.pk].get(period) or MeterMonth(meter, None))
        rows.append(MonthRow(period, entries))
    return rows


def readings_of(meters: Iterable[Meter]) -> QuerySet[Reading]:
    return Reading.objects.filter(meter__in=list(meters)).order_by("-submitted_at")


@dataclass(frozen=True)
class PreviewLine:
    """One line of the month's charge for a meter, as the bill will show it."""

    zone: int  # 1..3, or 0 for a single-rate volume (the norm)
    band: int
    volume: Decimal
    price: Decimal
    amount: Decimal
    basis: str = engine.ACTUAL
    reason: str = ""
    detail: Mapping[str, str] = field(default_factory=dict)
    after_control: bool = False  # the month's values come from an inspector's control reading

    @property
    def words(self) -> str:
        """The basis of the line in plain words, in the active language."""
        return line_words(self.basis, self.reason, self.detail, after_control=self.after_control)

    @property
    def is_reading_line(self) -> bool:
        """The line bills the consumption measured by the reading (not an estimate or a reversal)."""
        return self.basis in READING_BASES


#: Bases whose lines bill the consumption the month's reading measured.
READING_BASES = (engine.ACTUAL, engine.CONTROL, engine.REPLACEMENT)


@dataclass(frozen=True)
class ChargePreview:
    """What the customer sees at once after submitting: the consumption since the previous actual
    reading, and the lines the bill of the month will show for the meter (the same engine as the
    monthly close, from the meter's state after the last closed month)."""

    consumption: tuple[Decimal, ...]
    months: int
    tariff: Tariff | None
    lines: tuple[PreviewLine, ...]
    total: Decimal | None  # None: no price is set for the month, so nothing could be computed
    period: date | None = None
    #: the meter's basis for the month (actual, control, average, norm, …); None when the meter
    #: does not bill this month (a new meter bills from the 1st of the month after installation)
    basis: str | None = engine.ACTUAL

    @property
    def reading_lines(self) -> tuple[PreviewLine, ...]:
        return tuple(line for line in self.lines if line.is_reading_line)

    @property
    def other_lines(self) -> tuple[PreviewLine, ...]:
        """Recalculations of estimated months, and estimates when the reading cannot be used."""
        return tuple(line for line in self.lines if not line.is_reading_line)

    @property
    def has_recalculation(self) -> bool:
        return any(line.basis == engine.RECALCULATION for line in self.lines)


#: The kinds a month is billed from, as the engine names them.
_ENGINE_KIND = {
    ReadingKind.CONTROL: engine.CONTROL_READING,
    ReadingKind.FINAL: engine.FINAL,
    ReadingKind.CUSTOMER: engine.CUSTOMER,
}


def meter_info(meter: Meter) -> engine.MeterInfo:
    """The engine's view of a meter (as the monthly close builds it)."""
    return engine.MeterInfo(
        meter_id=meter.pk,
        zones=meter.zones,
        digits=meter.digits,
        installed_on=meter.installed_on,
        initial=meter.initial_values,
        removed_on=meter.removed_on,
        failed_from=meter.failed_from,
    )


def meter_state_before(
    meter: Meter, period: date, profile: RulesProfile, prefetched: Prefetched | None = None
) -> engine.MeterState:
    """The meter's billing state after the last closed month before ``period``: the state the close
    stored for the latest earlier month, or, for a meter never billed here, one built from its
    accepted actual readings before ``period`` (as ``billing.close`` does). ``prefetched``: the
    stored state as ``meter_lock_for_user`` read it, if it was for ``period``."""
    if prefetched is not None and prefetched.period == period:
        row: Any = None if prefetched.state_data is None else (prefetched.state_data,)
    else:
        with connection.cursor() as cursor:
            cursor.execute(_STATE_SQL, [meter.pk, connection.ops.adapt_datefield_value(period)])
            row = cursor.fetchone()
    if row is not None:
        return state_loads(row[0])
    points = [(r.period, r.values) for r in effective_readings(meter, before=period)]
    return state_from_history(meter_info(meter), points, profile)


def _account_info(account: Account) -> engine.AccountInfo:
    history = [(c.effective_from, c.residents) for c in account.residents_history.order_by("effective_from")]
    return engine.AccountInfo(
        account.pk,
        account.category,
        account.rooms,
        tuple(history or [(account.opened_on, account.residents)]),
        account.meter_required,
    )


def _month_reading(reading: Reading, accepted: Sequence[Reading] | None = None) -> engine.MonthReading | None:
    """The reading the bill of the month will use for the meter, ``reading`` given: it, or an
    accepted reading of another kind of the month that counts instead (``reading_that_counts``).
    ``accepted``: the meter's accepted readings of that month and before, if the caller has them."""
    if reading.kind not in _ENGINE_KIND:
        return None  # an initial reading of a new meter is not a month's reading
    if accepted is None:
        others: Iterable[Reading] = Reading.objects.filter(
            meter_id=reading.meter_id,
            period=reading.period,
            status=ReadingStatus.ACCEPTED,
            kind__in=list(_ENGINE_KIND),
        ).exclude(kind=reading.kind)
    else:
        others = [
            r
            for r in accepted
            if r.period == reading.period
            and r.status == ReadingStatus.ACCEPTED
            and r.kind in _ENGINE_KIND
            and r.kind != reading.kind
        ]
    best = reading_that_counts([reading, *others]) or reading
    best.meter = reading.meter
    return engine.MonthReading(best.values, _ENGINE_KIND[ReadingKind(best.kind)])


def _profile(code: str) -> RulesProfile:
    """The rules profile ``code``, parsed once per process and per change of its file."""
    path = PROFILE_DIR / f"{code}.json"
    try:
        key = (code, path.stat().st_mtime_ns)
    except OSError:
        return profile_load(code)  # raises the unknown-profile error
    found = _PROFILES.get(key)
    if found is None:
        found = _PROFILES[key] = profile_load(code)
    return found


_PROFILES: dict[tuple[str, int], RulesProfile] = {}


def _engine_lines(
    meter: Meter,
    period: date,
    month_reading: engine.MonthReading | None,
    *,
    reference: Reference | None = None,
    prefetched: Prefetched | None = None,
) -> tuple[list[engine.ChargeLine], str | None]:
    """The meter's lines of the month by the billing engine, and its basis (None: not billing).
    Raises MissingPrice when a price or a norm the month needs is not set."""
    ref = reference or reference_get()
    utility = ref.utility
    profile = _profile(utility.rules_profile)
    pricing = pricing_get(utility.tariff_region, ref)
    account = meter.account
    info = meter_info(meter)
    state = meter_state_before(meter, period, profile, prefetched)
    spec = pricing.tariff(account.category, meter.zones, period)
    single = spec
    if meter.zones > 1 and state.estimated_norm:
        single = pricing.tariff(account.category, 1, period)
    result = engine.bill_meter(info, state, month_reading, period, spec, profile, single)
    if result.basis is None:
        return [], None
    if result.needs_norm is None:
        return list(result.lines), result.basis
    # The meter falls back to the norm, which is the account's (priced at the single rate).
    bill = engine.bill_account(
        _account_info(account), [(info, state, month_reading)], period, pricing, profile
    )
    return list(bill.lines), bill.basis


def charge_preview(
    *,
    meter: Meter,
    values: Sequence[Decimal],
    period: date,
    kind: str = ReadingKind.CUSTOMER,
    earlier: Sequence[Reading] | None = None,
    accepted: Sequence[Reading] | None = None,
) -> ChargePreview:
    """The month's charge of a meter if ``values`` are its reading of ``period``, given now: the
    lines of the billing engine (the consumption since the last actual reading and, when earlier
    months were estimated, their recalculation), at the prices of ``period``, from the reading
    that then counts for the month (this one, or the inspector's of the same day). ``earlier`` as
    for ``meter_previous``; ``accepted``: the meter's accepted readings of ``period``, if the
    caller has them (``submission_history``)."""
    period = period.replace(day=1)
    padded: list[Decimal | None] = [*values, None, None]
    given = Reading(
        meter=meter,
        account_id=meter.account_id,
        period=period,
        t1=values[0],
        t2=padded[1],
        t3=padded[2],
        kind=kind,
        status=ReadingStatus.ACCEPTED,
        submitted_at=timezone.now(),
    )
    return _preview(meter, period, tuple(values), _month_reading(given, accepted), earlier=earlier)


def _preview(
    meter: Meter,
    period: date,
    values: tuple[Decimal, ...],
    month_reading: engine.MonthReading | None,
    *,
    earlier: Sequence[Reading] | None = None,
    reference: Reference | None = None,
    prefetched: Prefetched | None = None,
) -> ChargePreview:
    ref = reference or reference_get()
    # The consumption shown per zone is the one since the previous actual reading.
    previous = meter_previous(meter, period, earlier=earlier)
    capacity = meter.shape.capacity
    consumption = tuple(
        (v - p) if v >= p else (v + capacity - p) for v, p in zip(values, previous.values, strict=False)
    )
    months = max(1, months_between(previous.period, period))
    utility = ref.utility
    tariff: Tariff | None
    try:
        tariff = pricing_get(utility.tariff_region, ref).tariff_record(
            meter.account.category, meter.zones, period
        )[1]
    except MissingPrice:
        tariff = None
    try:
        lines, basis = _engine_lines(meter, period, month_reading, reference=ref, prefetched=prefetched)
    except MissingPrice as error:
        log.warning("no price to preview the charge of meter %s for %s: %s", meter.pk, period, error)
        return ChargePreview(consumption, months, None, (), None, period, None)
    control = month_reading is not None and month_reading.kind == engine.CONTROL_READING
    preview_lines = tuple(
        PreviewLine(
            zone=line.zone,
            band=line.band,
            volume=line.volume,
            price=line.price,
            amount=line.amount,
            basis=line.basis,
            reason=line.reason,
            detail=dict(line.detail),
            after_control=control,
        )
        for line in lines
    )
    total = sum((line.amount for line in preview_lines), Decimal("0.00"))
    return ChargePreview(consumption, months, tariff, preview_lines, total, period, basis)


def reading_charge(
    reading: Reading,
    *,
    history: tuple[Sequence[Reading], Sequence[Reading]] | None = None,
    reference: Reference | None = None,
    prefetched: Prefetched | None = None,
) -> ChargePreview:
    """The charge of the month that a reading implies, by the billing engine: what the customer
    is shown on submitting, and again on the receipt page. ``history``: the meter's
    ``submission_history`` of the reading's month as it is now, if the caller has it;
    ``reference``: the reference data to price with; ``prefetched``: as ``meter_lock_for_user``
    read it."""
    period = reading.period.replace(day=1)
    accepted, earlier = history if history is not None else (None, None)
    return _preview(
        reading.meter,
        period,
        reading.values,
        _month_reading(reading, accepted),
        earlier=earlier,
        reference=reference,
        prefetched=prefetched,
    )
