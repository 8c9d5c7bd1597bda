"""The billing engine against worked examples computed by hand (DOMAIN.md "Billing", "Tariffs", "Money").

Every file in ``billing_cases/`` is one account followed month by month: its meters, the tariffs and
norms in force (with their dates), its residents, the accepted reading of each month and, for each
month, the charge lines the rules require, written by hand with the arithmetic in the file. The
test runs the months in order through ``bill_account``, carrying the meters' states from one month
to the next exactly as the monthly close does (starting with no state at all), and compares every
line: basis, zone, band, volume, price, amount, meter and reason, in the order of the bill.

The format of a case file:

- ``profile``: the rules profile code (``ru-354-current`` or ``ru-354-2012``);
- ``account``: ``account_id``, ``category``, ``rooms``, ``residents`` (a list of
  ``[effective from, count]``), ``meter_required``;
- ``meters``: ``meter_id``, ``zones``, ``digits``, ``installed_on``, ``initial`` (one value per
  zone), optional ``removed_on`` and ``failed_from``;
- ``tariffs``: ``category``, ``zones``, ``from``, ``to`` (inclusive, or null), ``prices`` (zone →
  price, or zone → one price per band) and optional ``band_limits`` (the monthly upper bounds of
  every band but the last);
- ``norms``: ``category``, ``rooms``, ``residents``, ``from``, ``kwh`` (per resident a month);
- ``months``: ``period`` (YYYY-MM), ``readings`` (meter id → values, or → ``{"values", "kind"}``),
  and the expected ``basis`` (the month's main basis), ``lines`` and ``total``;
- optional ``net``: over the months ``from``..``to``, the billed volume of each zone (actual,
  average, recalculation, control and replacement lines together), the net single-rate (norm)
  volume, and the sum of the amounts.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

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
    ChargeLine,
    MeterInfo,
    MeterState,
    MonthReading,
    Point,
    average_of,
    bill_account,
    norm_volume,
    person_months,
)
from meterdesk.domain.profiles import RulesProfile, profile_load
from meterdesk.domain.tariffs import TariffSpec

D = Decimal
CASES_DIR = Path(__file__).with_name("billing_cases")
CASE_FILES = sorted(CASES_DIR.glob("*.json"))
METERED_BASES = (ACTUAL, AVERAGE, RECALCULATION, CONTROL, REPLACEMENT)


def month(text: str) -> date:
    """'2025-07' (or a full date) → the first day of that month."""
    return date(int(text[:4]), int(text[5:7]), 1)


def day(text: str) -> date:
    return date.fromisoformat(text)


# --- Prices and norms as plain data: the engine's Pricing protocol -----------------------------------


@dataclass(frozen=True)
class TariffRow:
    category: str
    zones: int
    start: date
    end: date | None
    spec: TariffSpec


@dataclass(frozen=True)
class NormRow:
    category: str
    rooms: int
    residents: int
    start: date
    kwh: Decimal


@dataclass
class TablePricing:
    """Tariffs and norms with their dates; answers exactly one row or fails loudly."""

    tariffs: list[TariffRow]
    norms: list[NormRow] = field(default_factory=list)
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def tariff(self, category: str, zones: int, period: date) -> TariffSpec:
        self.calls.append(("tariff", category, zones, period))
        found = [
            row.spec
            for row in self.tariffs
            if row.category == category
            and row.zones == zones
            and row.start <= period
            and (row.end is None or period <= row.end)
        ]
        if len(found) != 1:
            raise LookupError(f"{len(found)} {zones}-zone tariffs for {category} on {period}")
        return found[0]

    def norm(self, category: str, rooms: int, residents: int, period: date) -> Decimal:
        self.calls.append(("norm", category, rooms, residents, period))
        found = [
            row
            for row in self.norms
            if (row.category, row.rooms, row.residents) == (category, rooms, residents)
            and row.start <= period
        ]
        if not found:
            raise LookupError(f"no norm for {category}, {rooms} rooms, {residents} residents on {period}")
        return max(found, key=lambda row: row.start).kwh


def tariff_spec(zones: int, prices: Mapping[str, Any], band_limits: Sequence[str] = ()) -> TariffSpec:
    table: dict[tuple[int, int], Decimal] = {}
    for zone_text, price in prices.items():
        per_band = price if isinstance(price, list) else [price]
        for band, value in enumerate(per_band, start=1):
            table[(int(zone_text), band)] = D(value)
    limits: tuple[Decimal | None, ...] = (*(D(v) for v in band_limits), None)
    return TariffSpec(zones=zones, prices=table, band_limits=limits)


# --- Loading a case --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    period: date
    readings: dict[int, MonthReading]
    basis: str
    lines: list[tuple[Any, ...]]
    details: list[dict[str, str] | None]
    total: Decimal


@dataclass(frozen=True)
class Case:
    name: str
    profile: RulesProfile
    account: AccountInfo
    meters: list[MeterInfo]
    pricing: TablePricing
    months: list[Month]
    net: dict[str, Any] | None


def _reading(raw: Any) -> MonthReading:
    if isinstance(raw, dict):
        return MonthReading(tuple(D(v) for v in raw["values"]), raw.get("kind", billing.CUSTOMER))
    return MonthReading(tuple(D(v) for v in raw))


def expected_line(raw: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        raw["basis"],
        raw["zone"],
        raw.get("band", 1),
        D(raw["volume"]),
        D(raw["price"]),
        D(raw["amount"]),
        raw["meter"],
        raw["reason"],
    )


def actual_line(line: ChargeLine) -> tuple[Any, ...]:
    return (
        line.basis,
        line.zone,
        line.band,
        line.volume,
        line.price,
        line.amount,
        line.meter_id,
        line.reason,
    )


def load_case(path: Path) -> Case:
    data = json.loads(path.read_text(encoding="utf-8"))
    acc = data["account"]
    account = AccountInfo(
        account_id=acc["account_id"],
        category=acc["category"],
        rooms=acc["rooms"],
        residents=tuple((day(d), n) for d, n in acc["residents"]),
        meter_required=acc.get("meter_required", True),
    )
    meters = [
        MeterInfo(
            meter_id=m["meter_id"],
            zones=m["zones"],
            digits=m["digits"],
            installed_on=day(m["installed_on"]),
            initial=tuple(D(v) for v in m["initial"]),
            removed_on=day(m["removed_on"]) if m.get("removed_on") else None,
            failed_from=day(m["failed_from"]) if m.get("failed_from") else None,
        )
        for m in data.get("meters", [])
    ]
    pricing = TablePricing(
        tariffs=[
            TariffRow(
                t["category"],
                t["zones"],
                day(t["from"]),
                day(t["to"]) if t.get("to") else None,
                tariff_spec(t["zones"], t["prices"], t.get("band_limits", ())),
            )
            for t in data["tariffs"]
        ],
        norms=[
            NormRow(n["category"], n["rooms"], n["residents"], day(n["from"]), D(n["kwh"]))
            for n in data.get("norms", [])
        ],
    )
    months = [
        Month(
            period=month(m["period"]),
            readings={int(k): _reading(v) for k, v in m.get("readings", {}).items()},
            basis=m["basis"],
            lines=[expected_line(line) for line in m["lines"]],
            details=[line.get("detail") for line in m["lines"]],
            total=D(m["total"]),
        )
        for m in data["months"]
    ]
    return Case(path.stem, profile_load(data["profile"]), account, meters, pricing, months, data.get("net"))


def run_case(case: Case) -> Iterator[tuple[Month, AccountBill]]:
    """Bill the case's months in order, carrying the states as the monthly close does."""
    states: dict[int, MeterState] = {}
    for item in case.months:
        triples = [(m, states.get(m.meter_id), item.readings.get(m.meter_id)) for m in case.meters]
        bill = bill_account(case.account, triples, item.period, case.pricing, case.profile)
        yield item, bill
        states = dict(bill.states)


# --- The worked examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_worked_example(path: Path) -> None:
    case = load_case(path)
    bills: list[AccountBill] = []
    for item, bill in run_case(case):
        where = f"{case.name} {item.period:%Y-%m}"
        got = [actual_line(line) for line in bill.lines]
        assert got == item.lines, where
        for line, detail in zip(bill.lines, item.details, strict=True):
            if detail is not None:
                assert {k: line.detail.get(k) for k in detail} == detail, where
        assert bill.basis == item.basis, where
        assert bill.total == item.total, where
        assert sum((D(line[5]) for line in item.lines), D(0)) == item.total, f"{where}: the file adds up"
        assert bill.period == item.period
        bills.append(bill)
    if case.net is not None:
        check_net(case, bills)


def check_net(case: Case, bills: list[AccountBill]) -> None:
    net = case.net
    assert net is not None
    first, last = month(net["from"]), month(net["to"])
    lines = [line for bill in bills if first <= bill.period <= last for line in bill.lines]
    for zone_text, volume in net["zone_volumes"].items():
        zone = int(zone_text)
        billed = sum(
            (line.volume for line in lines if line.zone == zone and line.basis in METERED_BASES), D(0)
        )
        assert billed == D(volume), f"{case.name}: zone {zone}"
    norm_net = sum((line.volume for line in lines if line.zone == 0), D(0))
    assert norm_net == D(net.get("norm_volume", "0")), f"{case.name}: net norm volume"
    assert sum((line.amount for line in lines), D(0)) == D(net["amount"]), f"{case.name}: amount"


def test_every_case_file_is_valid_json_with_the_required_fields() -> None:
    assert len(CASE_FILES) >= 13
    for path in CASE_FILES:
        data = json.loads(path.read_text(encoding="utf-8"))
        assert {"title", "proves", "profile", "account", "tariffs", "months"} <= set(data), path.name
        periods = [month(m["period"]) for m in data["months"]]
        assert periods == sorted(periods) and len(set(periods)) == len(periods), path.name


# --- Rules checked directly --------------------------------------------------------------------------

PROFILE = profile_load("ru-354-current")
PROFILE_2012 = profile_load("ru-354-2012")
SINGLE_2025 = TariffSpec(zones=1, prices={(1, 1): D("7.87")})
TWO_2025 = TariffSpec(zones=2, prices={(1, 1): D("9.45"), (2, 1): D("4.08")})
NORMS = [NormRow("gas_stove", 2, n, date(2024, 1, 1), D(kwh)) for n, kwh in ((1, 126), (2, 78), (3, 61))]
PRICING = TablePricing(
    tariffs=[
        TariffRow("gas_stove", 1, date(2025, 7, 1), None, SINGLE_2025),
        TariffRow("gas_stove", 2, date(2025, 7, 1), None, TWO_2025),
    ],
    norms=NORMS,
)
ACCOUNT = AccountInfo(1, "gas_stove", 2, ((date(2024, 1, 1), 2),))


class TestPersonMonths:
    def test_no_change_is_one_whole_month(self):
        assert person_months([(date(2024, 1, 1), 2)], date(2025, 9, 1)) == [(2, D(1))]

    def test_change_on_the_11th_of_a_30_day_month(self):
        segments = person_months([(date(2024, 1, 1), 2), (date(2025, 9, 11), 3)], date(2025, 9, 1))
        assert segments == [(2, D(10) / D(30)), (3, D(20) / D(30))]

    def test_change_on_the_1st_is_the_whole_month(self):
        residents = [(date(2024, 1, 1), 2), (date(2025, 9, 1), 3)]
        assert person_months(residents, date(2025, 9, 1)) == [(3, D(1))]
        assert person_months(residents, date(2025, 8, 1)) == [(2, D(1))]

    def test_first_entry_mid_month_applies_to_the_days_before_it(self):
        # AccountInfo.residents: the count in force before the first entry is the first entry's.
        assert person_months([(date(2025, 9, 11), 3)], date(2025, 9, 1)) == [(3, D(1))]
        assert person_months([(date(2025, 9, 11), 3)], date(2025, 8, 1)) == [(3, D(1))]

    def test_first_entry_mid_month_then_a_second_change(self):
        residents = [(date(2025, 9, 11), 2), (date(2025, 9, 21), 3)]
        assert person_months(residents, date(2025, 9, 1)) == [(2, D(20) / D(30)), (3, D(10) / D(30))]

    def test_an_empty_premises_before_an_account_opened_mid_month(self):
        # How to prorate the month an account opens in: a leading entry of 0 residents.
        residents = [(date(2025, 9, 1), 0), (date(2025, 9, 11), 3)]
        assert person_months(residents, date(2025, 9, 1)) == [(0, D(10) / D(30)), (3, D(20) / D(30))]

    def test_two_changes_in_a_month_and_unsorted_input(self):
        residents = [(date(2025, 2, 20), 1), (date(2024, 1, 1), 2), (date(2025, 2, 8), 3)]
        assert person_months(residents, date(2025, 2, 1)) == [
            (2, D(7) / D(28)),
            (3, D(12) / D(28)),
            (1, D(9) / D(28)),
        ]

    def test_a_later_entry_for_the_same_day_corrects_the_earlier_one(self):
        # Two entries with the same date: the one recorded later wins, whatever the counts.
        fixed = [(date(2024, 1, 1), 2), (date(2025, 9, 11), 4), (date(2025, 9, 11), 3)]
        assert person_months(fixed, date(2025, 9, 1)) == [(2, D(10) / D(30)), (3, D(20) / D(30))]

    def test_shares_always_add_up_to_one_month(self):
        residents = [
            (date(2024, 1, 1), 2),
            (date(2025, 3, 5), 4),
            (date(2025, 3, 17), 1),
            (date(2025, 3, 31), 3),
        ]
        segments = person_months(residents, date(2025, 3, 1))
        assert [n for n, _ in segments] == [2, 4, 1, 3]
        assert sum(share for _, share in segments) * 31 == 31

    def test_no_residents_at_all(self):
        assert person_months([], date(2025, 9, 1)) == [(0, D(1))]


class TestNormVolume:
    def test_norm_times_residents(self):
        assert norm_volume(ACCOUNT, date(2025, 9, 1), PRICING) == (D("156.000"), "2×78")

    def test_prorated_by_days_with_each_count_at_its_own_norm(self):
        # 2 × 78 × 10/30 + 3 × 61 × 20/30 = 52 + 122 = 174
        account = AccountInfo(1, "gas_stove", 2, ((date(2024, 1, 1), 2), (date(2025, 9, 11), 3)))
        volume, residents = norm_volume(account, date(2025, 9, 1), PRICING)
        assert volume == D("174.000")
        assert residents == "2×78×0.3333+3×61×0.6667"


def two_zone_meter(**changes: Any) -> MeterInfo:
    base: dict[str, Any] = {
        "meter_id": 7,
        "zones": 2,
        "digits": 5,
        "installed_on": date(2025, 6, 10),
        "initial": (D(100), D(50)),
    }
    return MeterInfo(**{**base, **changes})


class TestMeterState:
    def test_initial_state_is_the_installation_point(self):
        state = MeterState.initial(two_zone_meter())
        assert state.raw == (D(100), D(50))
        assert state.last == Point(date(2025, 6, 1), (D(0), D(0)), installation=True)
        assert state.estimated == (D(0), D(0))
        assert state.anchors == ()

    def test_a_state_built_without_estimates_can_be_billed_by_average(self):
        # MeterState's own defaults (estimated=()) must be a valid state, not a crash.
        state = MeterState(
            raw=(D(700), D(350)),
            last=Point(date(2025, 9, 1), (D(600), D(300))),
            anchors=(Point(date(2025, 6, 1), (D(0), D(0)), installation=True),),
        )
        bill = bill_account(ACCOUNT, [(two_zone_meter(), state, None)], date(2025, 10, 1), PRICING, PROFILE)
        assert [(line.basis, line.zone, line.volume) for line in bill.lines] == [
            (AVERAGE, 1, D("200.000")),
            (AVERAGE, 2, D("100.000")),
        ]
        assert bill.states[7].estimated == (D("200.000"), D("100.000"))


class TestAverage:
    def _state(self, months_back: int, *, installation: bool) -> MeterState:
        return MeterState(
            raw=(D(0), D(0)),
            last=Point(date(2025, 9, 1), (D(601), D(301))),
            anchors=(Point(date(2025, 9 - months_back, 1), (D(0), D(0)), installation=installation),),
        )

    def test_six_months_of_readings(self):
        assert average_of(self._state(6, installation=False), PROFILE) == (D("100.167"), D("50.167"))

    def test_young_meter_over_its_actual_period(self):
        assert average_of(self._state(3, installation=True), PROFILE) == (D("200.333"), D("100.333"))

    def test_young_meter_under_three_months_has_no_basis(self):
        assert average_of(self._state(2, installation=True), PROFILE) is None

    def test_a_short_span_of_readings_that_is_not_the_whole_life_of_the_meter_is_no_basis(self):
        assert average_of(self._state(3, installation=False), PROFILE) is None


class TestReadingBelowThePrevious:
    """DOMAIN.md: below the previous value is a rollover (consumption = current + 10^digits − previous);
    a reading taken by the utility (control, or the final reading of a removed meter) that is lower
    than what the customer reported is the customer's over-report, credited."""

    def _bill(self, kind: str, values: tuple[int, ...], *, removed: date | None = None) -> AccountBill:
        meter = two_zone_meter(removed_on=removed)
        state = MeterState(
            raw=(D(99950), D(40000)), last=Point(date(2025, 8, 1), (D(500), D(200))), estimated=(D(0), D(0))
        )
        reading = MonthReading(tuple(D(v) for v in values), kind)
        return bill_account(ACCOUNT, [(meter, state, reading)], date(2025, 9, 1), PRICING, PROFILE)

    def test_customer_value_below_previous_is_a_rollover(self):
        bill = self._bill(billing.CUSTOMER, (30, 40100))
        assert [(line.zone, line.volume) for line in bill.lines] == [(1, D(80)), (2, D(100))]
        assert bill.lines[0].detail["rollover"] == "1"
        assert bill.states[7].last.totals == (D(580), D(300))
        assert bill.states[7].raw == (D(30), D(40100))

    def test_control_value_just_past_zero_is_a_rollover(self):
        bill = self._bill(billing.CONTROL_READING, (30, 40100))
        assert [(line.basis, line.zone, line.volume) for line in bill.lines] == [
            (CONTROL, 1, D(80)),
            (CONTROL, 2, D(100)),
        ]

    def test_control_value_a_little_lower_is_a_credit(self):
        bill = self._bill(billing.CONTROL_READING, (99900, 40100))
        assert [(line.basis, line.zone, line.volume, line.amount) for line in bill.lines] == [
            (CONTROL, 1, D(-50), D("-472.50")),
            (CONTROL, 2, D(100), D("408.00")),
        ]
        assert "rollover" not in bill.lines[0].detail
        assert bill.states[7].last.totals == (D(450), D(300))

    def test_final_value_a_little_lower_is_a_credit_not_a_rollover(self):
        bill = self._bill(billing.FINAL, (99900, 40100), removed=date(2025, 9, 17))
        assert [(line.basis, line.zone, line.volume, line.amount) for line in bill.lines] == [
            (REPLACEMENT, 1, D(-50), D("-472.50")),
            (REPLACEMENT, 2, D(100), D("408.00")),
        ]

    def test_control_value_just_below_the_top_after_a_customer_value_just_past_zero_is_a_credit(self):
        # The customer reported 00030 (a rollover) too early: the meter shows 99980.
        meter = two_zone_meter()
        state = MeterState(
            raw=(D(30), D(40000)), last=Point(date(2025, 8, 1), (D(500), D(200))), estimated=(D(0), D(0))
        )
        reading = MonthReading((D(99980), D(40100)), billing.CONTROL_READING)
        bill = bill_account(ACCOUNT, [(meter, state, reading)], date(2025, 9, 1), PRICING, PROFILE)
        assert [(line.zone, line.volume) for line in bill.lines] == [(1, D(-50)), (2, D(100))]
        assert bill.states[7].last.totals == (D(450), D(300))

    def test_customer_value_far_above_is_consumption_not_a_credit(self):
        bill = self._bill(billing.CUSTOMER, (99950, 95000))
        assert [(line.zone, line.volume) for line in bill.lines] == [(1, D(0)), (2, D(55000))]

    def test_final_value_just_past_zero_is_a_rollover(self):
        bill = self._bill(billing.FINAL, (30, 40100), removed=date(2025, 9, 17))
        assert [(line.basis, line.volume) for line in bill.lines] == [
            (REPLACEMENT, D(80)),
            (REPLACEMENT, D(100)),
        ]


class TestAccountLevel:
    def test_no_meter_required_is_norm_times_the_coefficient(self):
        bill = bill_account(ACCOUNT, [], date(2025, 9, 1), PRICING, PROFILE)
        assert [actual_line(line) for line in bill.lines] == [
            (NORM_INCREASED, 0, 1, D("234.000"), D("7.87"), D("1841.58"), None, billing.R_NO_METER)
        ]
        assert bill.lines[0].detail == {"residents": "2×78", "coefficient": "1.5"}

    def test_a_removed_meter_without_a_successor_is_no_meter(self):
        meter = two_zone_meter(removed_on=date(2025, 8, 20))
        state = MeterState.initial(meter)
        bill = bill_account(ACCOUNT, [(meter, state, None)], date(2025, 9, 1), PRICING, PROFILE)
        assert [(line.basis, line.volume) for line in bill.lines] == [(NORM_INCREASED, D("234.000"))]
        assert bill.states[7] == state

    def test_meter_in_its_commissioning_month_bills_nothing_and_starts_from_its_reading(self):
        meter = two_zone_meter(installed_on=date(2025, 9, 12))
        reading = MonthReading((D(150), D(70)))
        bill = bill_account(ACCOUNT, [(meter, None, reading)], date(2025, 9, 1), PRICING, PROFILE)
        # The month's reading becomes the starting point (the norm bills this month's days).
        assert bill.states[7].raw == (D(150), D(70))
        assert bill.states[7].last.period == date(2025, 9, 1)
        assert bill.states[7].last.installation
        assert [(line.basis, line.reason, line.meter_id) for line in bill.lines] == [
            (NORM, billing.R_METER_NEW, None)
        ]

    def test_meter_before_its_first_period_without_reading_keeps_its_state(self):
        meter = two_zone_meter(installed_on=date(2025, 9, 12))
        bill = bill_account(ACCOUNT, [(meter, None, None)], date(2025, 9, 1), PRICING, PROFILE)
        assert bill.states[7] == MeterState.initial(meter)

    def test_the_pricing_is_asked_only_for_the_billed_month(self):
        pricing = TablePricing(PRICING.tariffs, PRICING.norms)
        bill_account(ACCOUNT, [(two_zone_meter(), None, None)], date(2025, 7, 1), pricing, PROFILE)
        assert {call[-1] for call in pricing.calls} == {date(2025, 7, 1)}

    @pytest.mark.parametrize(
        ("bases", "main"),
        [
            ([ACTUAL, AVERAGE], ACTUAL),
            ([AVERAGE, CONTROL], CONTROL),
            ([REPLACEMENT, ACTUAL], REPLACEMENT),
            ([AVERAGE], AVERAGE),
        ],
    )
    def test_main_basis_of_a_month_with_two_meters(self, bases, main):
        meters = []
        for meter_id, basis in enumerate(bases, start=1):
            meter = two_zone_meter(
                meter_id=meter_id, removed_on=date(2025, 9, 20) if basis == REPLACEMENT else None
            )
            state = MeterState(
                raw=(D(700), D(350)),
                last=Point(date(2025, 8, 1), (D(600), D(300))),
                anchors=(Point(date(2025, 2, 1), (D(0), D(0))),),
                estimated=(D(0), D(0)),
            )
            kind = {CONTROL: billing.CONTROL_READING, REPLACEMENT: billing.FINAL}.get(basis, billing.CUSTOMER)
            reading = None if basis == AVERAGE else MonthReading((D(800), D(400)), kind)
            meters.append((meter, state, reading))
        bill = bill_account(ACCOUNT, meters, date(2025, 9, 1), PRICING, PROFILE)
        assert bill.basis == main


class TestIncreasedNormOfAFailedMeter:
    """p.60: the norm times 1.5 for a failed meter left in place after its estimated periods (the
    cases d, d2 and d3 follow such meters month by month); here, what a later actual reading
    reverses of it."""

    CASE = load_case(CASES_DIR / "d2_failed_meter_replaced.json")

    def test_verified_again_the_plain_norm_is_reversed_and_the_increase_kept(self):
        """The meter of case d2, not replaced but verified again in December.

        January-June: 1201 kWh actual (last reading 21201); July-September by the average
        200.167 kWh (3 x 1575.31); October and November by the norm times 1.5: 234 kWh x 7.87 =
        1841.58 each, of which the plain norm 2 x 78 = 156 kWh is the estimate of the consumption
        and 78 kWh the sanction. December, verified, reading 22400: 22400 - 21201 = 1199 kWh since
        June x 7.87 = 9436.13, and the estimates reversed at December's price: the average
        3 x 200.167 = 600.501 kWh x 7.87 = 4725.94287 -> 4725.94, the plain norm 2 x 156 = 312 kWh
        x 7.87 = 2455.44. Billed for July-December: 4725.93 + 3683.16 + 9436.13 - 4725.94 - 2455.44
        = 10663.84 = the 1199 kWh consumed (9436.13) + the sanction 2 x 78 kWh x 7.87 = 1227.72,
        less the kopeck the three rounded averages fell short of their reversal."""
        case = self.CASE
        meter = dataclasses.replace(case.meters[0], removed_on=None)
        state: MeterState | None = None
        bills: list[AccountBill] = []
        for item in case.months[:10]:  # January-October 2025
            bill = bill_account(
                case.account, [(meter, state, item.readings.get(1))], item.period, case.pricing, case.profile
            )
            bills.append(bill)
            state = bill.states[1]
        november = bill_account(
            case.account, [(meter, state, None)], date(2025, 11, 1), case.pricing, case.profile
        )
        assert [actual_line(line) for line in november.lines] == [
            (NORM_INCREASED, 0, 1, D("234.000"), D("7.87"), D("1841.58"), 1, billing.R_FAILED_EXHAUSTED)
        ]
        assert november.lines[0].detail == {"residents": "2×78", "coefficient": "1.5", "limit": "3"}
        state = november.states[1]
        assert state.estimated_norm == D(312)  # the plain norm of October and November only
        verified = dataclasses.replace(meter, failed_from=None)
        december = bill_account(
            case.account,
            [(verified, state, MonthReading((D(22400),)))],
            date(2025, 12, 1),
            case.pricing,
            case.profile,
        )
        assert [actual_line(line) for line in december.lines] == [
            (ACTUAL, 1, 1, D(1199), D("7.87"), D("9436.13"), 1, billing.R_READINGS),
            (RECALCULATION, 1, 1, D("-600.501"), D("7.87"), D("-4725.94"), 1, billing.R_TRUE_UP),
            (RECALCULATION, 0, 1, D(-312), D("7.87"), D("-2455.44"), 1, billing.R_TRUE_UP),
        ]
        assert december.lines[1].detail == {"from": "2025-07", "to": "2025-11", "months": "5"}
        billed = sum((b.total for b in [*bills[6:], november, december]), D(0))
        assert billed == D("10663.84") == D("9436.13") + D("1227.72") - D("0.01")

    def test_two_meters_one_failed_in_place_the_premises_norm_is_increased_once(self):
        """A working meter without readings beyond its average months and a failed one past its
        three: one norm for the premises, increased, on the failed meter (156 x 1.5 = 234 kWh)."""
        working = two_zone_meter(installed_on=date(2024, 7, 10))
        failed = two_zone_meter(meter_id=8, installed_on=date(2024, 7, 10), failed_from=date(2025, 5, 1))
        last = Point(date(2025, 2, 1), (D(1200), D(600)))
        anchors = (Point(date(2024, 8, 1), (D(0), D(0))),)
        missing = MeterState(raw=(D(1200), D(600)), last=last, anchors=anchors, missing_run=6)
        broken = MeterState(raw=(D(1200), D(600)), last=last, anchors=anchors, failed_run=3)
        bill = bill_account(
            ACCOUNT, [(working, missing, None), (failed, broken, None)], date(2025, 9, 1), PRICING, PROFILE
        )
        assert [actual_line(line) for line in bill.lines] == [
            (NORM_INCREASED, 0, 1, D("234.000"), D("7.87"), D("1841.58"), 8, billing.R_FAILED_EXHAUSTED)
        ]
        assert bill.states[8].estimated_norm == D(156)
        assert bill.states[7] == missing


def test_profiles_hold_the_numbers_of_the_two_texts():
    assert (PROFILE.missing_average_periods, PROFILE.failed_average_periods) == (6, 3)
    assert (PROFILE_2012.missing_average_periods, PROFILE_2012.failed_average_periods) == (3, 3)
    assert (PROFILE.average_min_months, PROFILE.average_min_months_young) == (6, 3)
    assert PROFILE.no_meter_coefficient == D("1.5")
