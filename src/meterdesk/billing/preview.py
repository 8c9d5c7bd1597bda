"""The charge of a reading, by the billing engine, as the bill of its month will show it: what a
channel shows on a reading (the check before it is stored, the answer, the receipt, the
confirmation e-mail). Billing owns pricing: metering does not import this module; the readings'
core (``meterdesk.core.readings``) puts the two together."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from meterdesk.billing.codec import state_loads
from meterdesk.billing.messages import line_words
from meterdesk.billing.models import MeterBillingState
from meterdesk.billing.pricing import MissingPrice, pricing_get
from meterdesk.customers.models import Account
from meterdesk.domain import billing as engine
from meterdesk.domain.bootstrap import state_from_history
from meterdesk.domain.periods import months_between
from meterdesk.domain.profiles import PROFILE_DIR, RulesProfile, profile_load
from meterdesk.metering.models import Meter, Reading, ReadingKind, ReadingStatus
from meterdesk.metering.selectors import effective_readings, meter_previous, reading_that_counts
from meterdesk.tariffs.models import Tariff
from meterdesk.utility.selectors import Reference, reference_get, rules_profile_get

log = logging.getLogger(__name__)


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


def charge_dumps(charge: ChargePreview) -> str:
    """The charge as JSON text (the confirmation e-mail shows the same figures later; one string
    is the cheapest thing to store with it)."""
    data = {
        "consumption": [str(v) for v in charge.consumption],
        "months": charge.months,
        "lines": [
            {
                "zone": line.zone,
                "band": line.band,
                "volume": str(line.volume),
                "price": str(line.price),
                "amount": str(line.amount),
                "basis": line.basis,
                "reason": line.reason,
                "detail": dict(line.detail),
                "after_control": line.after_control,
            }
            for line in charge.lines
        ],
        "total": None if charge.total is None else str(charge.total),
        "period": None if charge.period is None else charge.period.isoformat(),
        "basis": charge.basis,
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def charge_loads(text: str | dict[str, Any]) -> ChargePreview:
    """``charge_dumps`` read back (without the tariff record, which the e-mail does not show)."""
    data: dict[str, Any] = json.loads(text) if isinstance(text, str) else text
    return ChargePreview(
        consumption=tuple(Decimal(v) for v in data["consumption"]),
        months=data["months"],
        tariff=None,
        lines=tuple(
            PreviewLine(
                zone=line["zone"],
                band=line["band"],
                volume=Decimal(line["volume"]),
                price=Decimal(line["price"]),
                amount=Decimal(line["amount"]),
                basis=line["basis"],
                reason=line["reason"],
                detail=line["detail"],
                after_control=line["after_control"],
            )
            for line in data["lines"]
        ),
        total=None if data["total"] is None else Decimal(data["total"]),
        period=None if data["period"] is None else date.fromisoformat(data["period"]),
        basis=data["basis"],
    )


@dataclass(frozen=True)
class StoredState:
    """The meter's billing state stored by the close for the latest month before ``period``, as a
    caller read it with the meter (``state_before_sql``): its JSON, None if none is stored."""

    period: date
    data: Any


_STATE_SQL = (
    f"SELECT data FROM {MeterBillingState._meta.db_table} "  # noqa: S608 - names from the model
    "WHERE meter_id = %s AND period < %s ORDER BY period DESC LIMIT 1"
)


def state_before_sql(meter_column: str) -> str:
    """A scalar subquery: the stored state's JSON of the meter ``meter_column`` for the latest
    month before the month given as its one parameter (NULL if none), for a statement that reads
    the meter (``StoredState``)."""
    return (
        f"(SELECT s.data FROM {MeterBillingState._meta.db_table} s "  # noqa: S608 - names from the model
        f"WHERE s.meter_id = {meter_column} AND s.period < %s ORDER BY s.period DESC LIMIT 1)"
    )


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
    meter: Meter, period: date, profile: RulesProfile, stored: StoredState | None = None
) -> engine.MeterState:
    """The meter's billing state after the last closed month before ``period``: the state the close
    stored for the latest earlier month, or, for a meter never billed here, one built from its
    accepted actual readings before ``period`` (as ``billing.close`` does). ``stored``: the stored
    state as the caller read it with the meter, used if it was read for ``period``."""
    if stored is not None and stored.period == period:
        row: Any = None if stored.data is None else (stored.data,)
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
    reference: Reference,
    stored: StoredState | None = None,
) -> tuple[list[engine.ChargeLine], str | None]:
    """The meter's lines of the month by the billing engine, and its basis (None: not billing).
    Raises MissingPrice when a price or a norm the month needs is not set."""
    utility = reference.utility
    profile = _profile(rules_profile_get(utility, period))
    pricing = pricing_get(utility.tariff_region, reference)
    account = meter.account
    info = meter_info(meter)
    state = meter_state_before(meter, period, profile, stored)
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
    at: datetime | None = None,
    history: tuple[Sequence[Reading], Sequence[Reading]] | None = None,
    reference: Reference | None = None,
    stored: StoredState | None = None,
) -> ChargePreview:
    """The month's charge of a meter if ``values`` are its reading of ``period`` of ``kind``,
    given at ``at`` (now): the lines of the billing engine (the consumption since the last actual
    reading and, when earlier months were estimated, their recalculation), at the prices of
    ``period``, from the reading that then counts for the month (this one, or the inspector's of
    the same day). ``history``: the meter's ``submission_history`` of ``period``, if the caller
    has it; ``reference``: the reference data to price with; ``stored``: as ``meter_state_before``."""
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
        submitted_at=at or timezone.now(),
    )
    return reading_charge(given, history=history, reference=reference, stored=stored)


def reading_charge(
    reading: Reading,
    *,
    history: tuple[Sequence[Reading], Sequence[Reading]] | None = None,
    reference: Reference | None = None,
    stored: StoredState | None = None,
) -> ChargePreview:
    """The charge of the month that a reading implies, by the billing engine: what the customer
    is shown on submitting, and again on the receipt page. ``history``: the meter's
    ``submission_history`` of the reading's month (the reading itself left out), if the caller
    has it; ``reference`` and ``stored`` as for ``charge_preview``."""
    ref = reference or reference_get()
    meter = reading.meter
    period = reading.period.replace(day=1)
    values = reading.values
    accepted, earlier = history if history is not None else (None, None)
    month_reading = _month_reading(reading, accepted)
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
        lines, basis = _engine_lines(meter, period, month_reading, reference=ref, stored=stored)
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
