"""Properties of the billing engine that hold for any history (hypothesis).

- Conservation: whatever the pattern of missing months (within the average limit and beyond it
  into the norm) and control readings, once an actual reading arrives the volume billed per zone
  over all months (actual + average − reversed, control credits included) is exactly the meter's
  consumption since installation as its readings show it, and the volume billed by norm nets to 0.
- The run rules: after a meter with six months of readings stops giving them, the months are
  billed by average for at most the profile's limit, then by norm; for a failed meter, at most 3,
  and its readings are ignored.
- A reversal mirrors what was billed: with a band tariff, the reversed average volume per zone
  and band is what the average months billed in that zone and band.
- Determinism and no hidden state: the same input gives the same output; billing many accounts in
  any order, interleaved in any way or in any chunks, gives every account the same lines.
- Every line's amount is its volume × price rounded half up to the kopeck.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meterdesk.domain import billing
from meterdesk.domain.billing import (
    ACTUAL,
    AVERAGE,
    CONTROL,
    NORM,
    NORM_INCREASED,
    RECALCULATION,
    REPLACEMENT,
    AccountBill,
    AccountInfo,
    MeterInfo,
    MeterState,
    MonthReading,
    bill_account,
)
from meterdesk.domain.money import round_money
from meterdesk.domain.periods import add_months
from meterdesk.domain.profiles import profile_load
from meterdesk.domain.tariffs import TariffSpec
from meterdesk.domain.tests.test_billing import NormRow, TablePricing, TariffRow

D = Decimal
METERED = (ACTUAL, AVERAGE, RECALCULATION, CONTROL, REPLACEMENT)
PROFILES = [profile_load("ru-354-current"), profile_load("ru-354-2012")]
FIRST = date(2024, 1, 1)  # the month of installation; billing starts a month later
CATEGORY = "gas_stove"
BANDS = (D(150), D(600), None)

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- Strategies ------------------------------------------------------------------------------------

prices = st.integers(min_value=100, max_value=1500).map(lambda k: D(k) / 100)


@st.composite
def tariff_specs(draw: st.DrawFn, zones: int, banded: bool | None = None) -> TariffSpec:
    with_bands = draw(st.booleans()) if banded is None else banded
    bands = 3 if with_bands else 1
    table = {(z, b): draw(prices) for z in range(1, zones + 1) for b in range(1, bands + 1)}
    return TariffSpec(zones=zones, prices=table, band_limits=BANDS if with_bands else (None,))


@st.composite
def pricings(draw: st.DrawFn, zones: tuple[int, ...], banded: bool | None = None) -> TablePricing:
    """Tariffs for the single rate and the given zone counts with a price change on a random
    month (so that true-ups often fall after it), and norms."""
    change = add_months(FIRST, draw(st.integers(min_value=0, max_value=30)))
    rows = []
    for z in sorted({1, *zones}):
        old, new = draw(tariff_specs(z, banded)), draw(tariff_specs(z, banded))
        rows.append(TariffRow(CATEGORY, z, date(2023, 1, 1), change - timedelta(days=1), old))
        rows.append(TariffRow(CATEGORY, z, change, None, new))
    norms = [
        NormRow(CATEGORY, 2, n, date(2020, 1, 1), D(draw(st.integers(min_value=30, max_value=200))))
        for n in range(0, 6)
    ]
    return TablePricing(rows, norms)


@st.composite
def residents_histories(draw: st.DrawFn) -> tuple[tuple[date, int], ...]:
    first = draw(st.integers(min_value=1, max_value=5))
    changes = draw(
        st.lists(
            st.tuples(st.integers(min_value=0, max_value=900), st.integers(min_value=1, max_value=5)),
            max_size=3,
        )
    )
    return ((date(2020, 1, 1), first), *((date.fromordinal(FIRST.toordinal() + d), n) for d, n in changes))


@dataclass(frozen=True)
class Event:
    """One month of a meter: a 'customer', 'control' or 'final' reading, or 'missing'."""

    kind: str
    used: tuple[int, ...]  # the true consumption of the month per zone
    over: tuple[int, ...]  # how much a customer's value is above the truth (customer only)


@st.composite
def events(draw: st.DrawFn, zones: int, kinds: tuple[str, ...]) -> Event:
    kind = draw(st.sampled_from(kinds))
    used = tuple(draw(st.integers(min_value=0, max_value=2500)) for _ in range(zones))
    over = tuple(draw(st.integers(min_value=0, max_value=300)) for _ in range(zones))
    return Event(kind, used, over if kind == "customer" else (0,) * zones)


@st.composite
def histories(draw: st.DrawFn, zones: int) -> list[Event]:
    """Runs of missing months (0..14 in a row) between readings, ending with a customer's reading
    or with the meter's removal and its final reading."""
    out: list[Event] = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        out += draw(st.lists(events(zones, ("customer", "control")), max_size=4))
        out += draw(st.lists(events(zones, ("missing",)), max_size=14))
        out.append(draw(events(zones, ("customer", "control"))))
    out.append(draw(events(zones, ("customer", "final"))))
    return out


@dataclass
class Scenario:
    meter: MeterInfo
    account: AccountInfo
    pricing: TablePricing
    readings: list[MonthReading | None]  # per billed month, from FIRST + 1
    known: tuple[int, ...]  # consumption per zone shown by the last actual reading since installation

    def periods(self) -> list[date]:
        return [add_months(FIRST, i + 1) for i in range(len(self.readings))]


def build(meter: MeterInfo, history: list[Event]) -> tuple[list[MonthReading | None], tuple[int, ...]]:
    """The accepted reading of each month, and what the readings show was consumed in all."""
    zones = meter.zones
    capacity = 10**meter.digits
    true = [0] * zones  # the meter's real advance since installation
    reported = [0] * zones  # the advance its last actual reading shows (the customer's may be high)
    out: list[MonthReading | None] = []
    for event in history:
        true = [t + u for t, u in zip(true, event.used, strict=True)]
        if event.kind == "missing":
            out.append(None)
            continue
        if event.kind == "customer":  # a customer's value never goes below their previous one
            reported = [max(r, t + o) for r, t, o in zip(reported, true, event.over, strict=True)]
            kind = billing.CUSTOMER
        else:  # the utility's own reading: the truth, maybe below what the customer reported
            reported = list(true)
            kind = billing.CONTROL_READING if event.kind == "control" else billing.FINAL
        values = tuple(D((int(i) + r) % capacity) for i, r in zip(meter.initial, reported, strict=True))
        out.append(MonthReading(values, kind))
    return out, tuple(reported)


@st.composite
def scenarios(draw: st.DrawFn, banded: bool | None = None) -> Scenario:
    zones = draw(st.integers(min_value=1, max_value=3))
    digits = draw(st.integers(min_value=5, max_value=7))
    capacity = 10**digits
    # Often close below the rollover, so that readings cross it.
    near_top = st.integers(min_value=capacity - 3000, max_value=capacity - 1)
    initial = tuple(
        D(draw(st.one_of(near_top, st.integers(min_value=0, max_value=capacity - 1)))) for _ in range(zones)
    )
    history = draw(histories(zones))
    removed = add_months(FIRST, len(history)).replace(day=17) if history[-1].kind == "final" else None
    meter = MeterInfo(
        meter_id=draw(st.integers(min_value=1, max_value=10**6)),
        zones=zones,
        digits=digits,
        installed_on=FIRST.replace(day=draw(st.integers(min_value=1, max_value=31))),
        initial=initial,
        removed_on=removed,
    )
    readings, known = build(meter, history)
    account = AccountInfo(1, CATEGORY, 2, draw(residents_histories()), draw(st.booleans()))
    return Scenario(meter, account, draw(pricings((zones,), banded)), readings, known)


def run(scenario: Scenario, profile: Any) -> list[AccountBill]:
    bills = []
    state: MeterState | None = None
    for period, reading in zip(scenario.periods(), scenario.readings, strict=True):
        bill = bill_account(
            scenario.account, [(scenario.meter, state, reading)], period, scenario.pricing, profile
        )
        state = bill.states[scenario.meter.meter_id]
        bills.append(bill)
    return bills


def zone_volumes(bills: list[AccountBill], zones: int) -> dict[int, Decimal]:
    totals = {z: D(0) for z in range(zones + 1)}
    for bill in bills:
        for line in bill.lines:
            if line.zone == 0:
                totals[0] += line.volume
            else:
                assert line.basis in METERED
                totals[line.zone] += line.volume
    return totals


# --- Conservation ----------------------------------------------------------------------------------


@SETTINGS
@given(scenario=scenarios(), profile=st.sampled_from(PROFILES))
def test_billed_volume_per_zone_is_the_metered_consumption_once_a_reading_arrives(scenario, profile):
    bills = run(scenario, profile)
    totals = zone_volumes(bills, scenario.meter.zones)
    for zone in range(1, scenario.meter.zones + 1):
        assert totals[zone] == scenario.known[zone - 1], f"zone {zone}"
    assert totals[0] == 0, "the volume billed by norm is reversed by the true-up"
    final = bills[-1].states[scenario.meter.meter_id]
    assert final.estimated_periods == () and final.estimated_norm == 0
    assert final.last.totals == tuple(D(k) for k in scenario.known)


@st.composite
def settled_meters(draw: st.DrawFn) -> tuple[Scenario, int]:
    """Six months of customer readings, then ``missing`` months without any, then a reading."""
    zones = draw(st.integers(min_value=1, max_value=3))
    meter = MeterInfo(7, zones, 6, date(2024, 1, 15), tuple(D(1000) for _ in range(zones)))
    missing = draw(st.integers(min_value=0, max_value=14))
    history = draw(st.lists(events(zones, ("customer",)), min_size=6, max_size=6))
    history += draw(st.lists(events(zones, ("missing",)), min_size=missing, max_size=missing))
    history.append(draw(events(zones, ("customer",))))
    readings, known = build(meter, history)
    account = AccountInfo(1, CATEGORY, 2, ((date(2020, 1, 1), draw(st.integers(1, 5))),))
    return Scenario(meter, account, draw(pricings((zones,))), readings, known), missing


@SETTINGS
@given(case=settled_meters(), profile=st.sampled_from(PROFILES))
def test_missing_readings_are_averaged_up_to_the_limit_then_normed_then_trued_up(case, profile):
    scenario, missing = case
    bills = run(scenario, profile)
    limit = profile.missing_average_periods
    bases = [bill.basis for bill in bills]
    assert bases[:6] == [ACTUAL] * 6
    assert bases[6 : 6 + missing] == [AVERAGE] * min(missing, limit) + [NORM] * max(0, missing - limit)
    assert bases[-1] == ACTUAL
    for bill in bills[6 : 6 + missing]:
        expected = billing.R_MISSING if bill.basis == AVERAGE else billing.R_AVERAGE_EXHAUSTED
        assert {line.reason for line in bill.lines} <= {expected}
    reversals = [line for line in bills[-1].lines if line.basis == RECALCULATION]
    assert bool(reversals) == any(bill.lines for bill in bills[6:-1])
    totals = zone_volumes(bills, scenario.meter.zones)
    assert [totals[z] for z in range(1, scenario.meter.zones + 1)] == [D(k) for k in scenario.known]
    assert totals[0] == 0


@st.composite
def failing_meters(draw: st.DrawFn) -> tuple[Scenario, int]:
    """Six months of customer readings, then ``failed`` months of a failed meter whose customer
    goes on giving readings (or not)."""
    zones = draw(st.integers(min_value=1, max_value=3))
    failed = draw(st.integers(min_value=1, max_value=8))
    meter = MeterInfo(
        7, zones, 6, date(2024, 1, 15), tuple(D(1000) for _ in range(zones)), failed_from=add_months(FIRST, 7)
    )
    history = draw(st.lists(events(zones, ("customer",)), min_size=6, max_size=6))
    history += draw(st.lists(events(zones, ("customer", "missing")), min_size=failed, max_size=failed))
    readings, _ = build(meter, history)
    account = AccountInfo(1, CATEGORY, 2, ((date(2020, 1, 1), draw(st.integers(1, 5))),))
    return Scenario(meter, account, draw(pricings((zones,))), readings, ()), failed


@SETTINGS
@given(case=failing_meters(), profile=st.sampled_from(PROFILES))
def test_a_failed_meter_is_averaged_three_periods_then_normed_increased_and_its_readings_ignored(
    case, profile
):
    scenario, failed_months = case
    bills = run(scenario, profile)
    limit = profile.failed_average_periods
    assert [bill.basis for bill in bills[:6]] == [ACTUAL] * 6
    assert [bill.basis for bill in bills[6:]] == [AVERAGE] * min(failed_months, limit) + [
        NORM_INCREASED
    ] * max(0, failed_months - limit)
    for bill in bills[6:]:
        assert all(line.basis in (AVERAGE, NORM_INCREASED) for line in bill.lines)
        assert {line.reason for line in bill.lines if line.basis == AVERAGE} <= {billing.R_FAILED}
        assert {line.reason for line in bill.lines if line.basis == NORM_INCREASED} <= {
            billing.R_FAILED_EXHAUSTED
        }
    meter_id = scenario.meter.meter_id
    assert bills[-1].states[meter_id].raw == bills[5].states[meter_id].raw


# --- Bands: the reversal mirrors what was billed ---------------------------------------------------------


@SETTINGS
@given(case=settled_meters(), profile=st.sampled_from(PROFILES), spec=st.data())
def test_with_bands_the_reversal_mirrors_the_band_volumes_billed(case, profile, spec):
    scenario, missing = case
    assume(missing > 0)
    zones = scenario.meter.zones
    # The same prices all along (only the volumes are compared), with bands, constant residents.
    banded = TablePricing(
        [
            TariffRow(CATEGORY, z, date(2020, 1, 1), None, spec.draw(tariff_specs(z, banded=True)))
            for z in sorted({1, zones})
        ],
        scenario.pricing.norms,
    )
    bills = run(
        Scenario(scenario.meter, scenario.account, banded, scenario.readings, scenario.known), profile
    )
    billed: dict[tuple[str, int, int], Decimal] = {}
    for bill in bills[6:-1]:
        for line in bill.lines:
            key = ("norm" if line.zone == 0 else "average", line.zone, line.band)
            billed[key] = billed.get(key, D(0)) + line.volume
    reversed_: dict[tuple[str, int, int], Decimal] = {}
    for line in bills[-1].lines:
        if line.basis == RECALCULATION:
            key = ("norm" if line.zone == 0 else "average", line.zone, line.band)
            reversed_[key] = reversed_.get(key, D(0)) - line.volume
    assert {key[0] for key in billed} == {key[0] for key in reversed_}
    # Each month splits its volume into bands and zones rounding to 0.001 kWh, and the largest
    # zone takes the remainder: up to 0.001 per zone and month either way.
    tolerance = D("0.001") * (missing + 1) * case[0].meter.zones
    for key in set(billed) | set(reversed_):
        assert abs(billed.get(key, D(0)) - reversed_.get(key, D(0))) <= tolerance, key
    norm = {key: volume for key, volume in billed.items() if key[0] == "norm"}
    assert norm == {key: volume for key, volume in reversed_.items() if key[0] == "norm"}, "exact"


# --- Determinism and no hidden state ------------------------------------------------------------------------


@SETTINGS
@given(scenario=scenarios(), profile=st.sampled_from(PROFILES))
def test_billing_is_deterministic(scenario, profile):
    assert run(scenario, profile) == run(scenario, profile)


@st.composite
def portfolios(draw: st.DrawFn) -> list[Scenario]:
    """Several accounts (distinct ids) sharing one pricing object."""
    shared = draw(pricings((1, 2, 3)))
    items = draw(st.lists(scenarios(), min_size=2, max_size=4))
    out = []
    for index, item in enumerate(items, start=1):
        m = item.meter
        meter = MeterInfo(index * 10, m.zones, m.digits, m.installed_on, m.initial, m.removed_on)
        account = AccountInfo(index, CATEGORY, 2, item.account.residents, item.account.meter_required)
        out.append(Scenario(meter, account, shared, item.readings, item.known))
    return out


@settings(SETTINGS, max_examples=30)
@given(accounts=portfolios(), profile=st.sampled_from(PROFILES), data=st.data())
def test_accounts_billed_in_any_order_or_chunks_get_the_same_lines(accounts, profile, data):
    # Each account alone, month after month.
    alone = {s.account.account_id: [bill.lines for bill in run(s, profile)] for s in accounts}
    # All accounts month by month, in a different order each month, in chunks of random sizes,
    # with one shared pricing object, as the monthly close does.
    horizon = max(len(s.readings) for s in accounts)
    states: dict[int, MeterState | None] = {s.meter.meter_id: None for s in accounts}
    together: dict[int, list[Any]] = {s.account.account_id: [] for s in accounts}
    for offset in range(horizon):
        period = add_months(FIRST, offset + 1)
        due = [s for s in accounts if offset < len(s.readings)]
        order = data.draw(st.permutations(due))
        size = data.draw(st.integers(min_value=1, max_value=len(order)))
        for start in range(0, len(order), size):
            for s in order[start : start + size]:
                bill = bill_account(
                    s.account,
                    [(s.meter, states[s.meter.meter_id], s.readings[offset])],
                    period,
                    s.pricing,
                    profile,
                )
                states[s.meter.meter_id] = bill.states[s.meter.meter_id]
                together[s.account.account_id].append(bill.lines)
    assert together == alone


# --- Money ---------------------------------------------------------------------------------------------------


@SETTINGS
@given(scenario=scenarios(), profile=st.sampled_from(PROFILES))
def test_every_amount_is_the_rounded_product_of_its_volume_and_price(scenario, profile):
    for bill in run(scenario, profile):
        for line in bill.lines:
            assert line.amount == round_money(line.volume * line.price), line
            assert line.amount.as_tuple().exponent == -2
            assert line.volume == line.volume.quantize(D("0.001"))
            assert (line.amount < 0) <= (line.volume < 0)
        assert bill.total == sum((line.amount for line in bill.lines), D("0.00"))
