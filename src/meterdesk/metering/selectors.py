"""Reads of meters and readings, including the customer-facing history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet

from meterdesk.customers.models import Account, User
from meterdesk.domain.month_reading import KINDS as MONTH_KINDS
from meterdesk.domain.month_reading import given_at, month_reading
from meterdesk.domain.periods import add_months, iter_months, month_index, months_between
from meterdesk.domain.readings import CheckedReading, average_monthly, check_reading
from meterdesk.domain.tariffs import PricedLine, price_volumes, total_amount
from meterdesk.metering.models import Meter, MeterStatus, Reading, ReadingKind, ReadingStatus
from meterdesk.sqlrows import Rows
from meterdesk.tariffs.selectors import NoTariffError, tariff_in_force
from meterdesk.utility.selectors import (
    reference_peek,
    utility_get,
    utility_now,
    utility_zone,
)

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
_READING = Rows(Reading, "r")
_READINGS_SQL = (
    f"SELECT {_READING.columns} FROM {Reading._meta.db_table} r "  # noqa: S608 - names from the model
    "WHERE r.meter_id = %s AND r.status = %s AND r.period >= %s AND r.period <= %s "
    "ORDER BY r.period, r.submitted_at"
)


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
        authoritative=kind == ReadingKind.CONTROL,
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
