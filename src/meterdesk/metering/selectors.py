"""Reads of meters and readings, including the customer-facing history."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet

from meterdesk.customers.models import Account, User
from meterdesk.domain.periods import iter_months, month_index, months_between
from meterdesk.domain.readings import average_monthly
from meterdesk.domain.tariffs import PricedLine, price_volumes, total_amount
from meterdesk.metering.models import Meter, MeterStatus, Reading, ReadingKind, ReadingStatus
from meterdesk.tariffs.models import Tariff
from meterdesk.tariffs.selectors import NoTariffError, tariff_in_force
from meterdesk.utility.selectors import utility_get, utility_now

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


def meters_of(account: Account) -> list[Meter]:
    return list(account.meters.order_by("installed_on", "pk"))


def effective_readings(meter: Meter, before: date | None = None) -> list[Reading]:
    """Accepted actual readings of a meter, one per month (a control reading wins over the
    customer's for the same month), in chronological order."""
    qs = meter.readings.filter(status=ReadingStatus.ACCEPTED, kind__in=ACTUAL_KINDS)
    if before is not None:
        qs = qs.filter(period__lt=before)
    by_month: dict[date, Reading] = {}
    priority = {ReadingKind.CONTROL: 2, ReadingKind.CUSTOMER: 1, ReadingKind.INITIAL: 0}
    for reading in qs.order_by("period", "submitted_at"):
        current = by_month.get(reading.period)
        if current is None or priority[ReadingKind(reading.kind)] >= priority[ReadingKind(current.kind)]:
            by_month[reading.period] = reading
    return [by_month[p] for p in sorted(by_month)]


@dataclass(frozen=True)
class PreviousValues:
    values: tuple[Decimal, ...]
    reading: Reading | None  # None: the meter's initial values
    period: date  # month of the previous reading (or of installation)


def meter_previous(meter: Meter, period: date) -> PreviousValues:
    """The values a new reading for ``period`` is compared with: the last accepted actual reading
    of an earlier month, or the meter's initial values."""
    earlier = effective_readings(meter, before=period)
    if earlier:
        last = earlier[-1]
        return PreviousValues(last.values, last, last.period)
    return PreviousValues(meter.initial_values, None, meter.installed_on.replace(day=1))


def meter_average(meter: Meter, period: date) -> tuple[Decimal | None, ...] | None:
    """Average monthly consumption per zone over actual readings of the last 12 months before
    ``period``; None when there is no basis."""
    readings = [
        r
        for r in effective_readings(meter, before=period)
        if months_between(r.period, period) <= AVERAGE_LOOKBACK_MONTHS
    ]
    if len(readings) < 2:
        return None
    capacity = meter.shape.capacity
    return tuple(
        average_monthly([(month_index(r.period), r.values[zone]) for r in readings], capacity)
        for zone in range(meter.zones)
    )


def meter_last_reading(meter: Meter) -> Reading | None:
    return (
        meter.readings.filter(status=ReadingStatus.ACCEPTED, kind__in=ACTUAL_KINDS)
        .order_by("-period", "-submitted_at")
        .first()
    )


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
class ChargePreview:
    """A consumption priced at a tariff: what the customer sees at once after submitting."""

    consumption: tuple[Decimal, ...]
    months: int
    tariff: Tariff | None
    lines: tuple[PricedLine, ...]
    total: Decimal | None


def charge_preview(*, meter: Meter, consumption: Sequence[Decimal], months: int, on: date) -> ChargePreview:
    """Price a consumption of a meter at the tariff in force on ``on`` (volume bands included)."""
    utility = utility_get()
    try:
        in_force = tariff_in_force(
            region=utility.tariff_region, category=meter.account.category, zones=meter.zones, on=on
        )
    except NoTariffError:
        log.warning("no tariff for meter %s on %s", meter.pk, on)
        return ChargePreview(tuple(consumption), months, None, (), None)
    lines = price_volumes(in_force.spec, list(consumption), months=months)
    return ChargePreview(tuple(consumption), months, in_force.tariff, tuple(lines), total_amount(lines))


def reading_charge(reading: Reading) -> ChargePreview:
    """The consumption a reading implies since the previous one, priced at the tariff of the day
    it was submitted: what the customer was shown on submitting."""
    meter = reading.meter
    previous = meter_previous(meter, reading.period)
    capacity = meter.shape.capacity
    consumption = tuple(
        (v - p) if v >= p else (v + capacity - p)
        for v, p in zip(reading.values, previous.values, strict=False)
    )
    months = max(1, months_between(previous.period, reading.period))
    day = utility_now(None, reading.submitted_at).date()
    return charge_preview(meter=meter, consumption=consumption, months=months, on=day)
