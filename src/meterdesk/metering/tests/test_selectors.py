"""Selectors: previous values, averages, effective readings, the account's month-by-month history."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.billing.preview import charge_preview, reading_charge
from meterdesk.core.readings import reading_submit
from meterdesk.customers.models import PremisesCategory
from meterdesk.metering.models import Channel, MeterStatus, ReadingKind, ReadingStatus
from meterdesk.metering.selectors import (
    account_history,
    effective_readings,
    meter_average,
    meter_is_failed,
    meter_last_reading,
    meter_previous,
)
from meterdesk.testing import AccountFactory, MeterFactory, ReadingFactory, make_tariff, moscow

D = Decimal
pytestmark = pytest.mark.django_db


def month(year, number):
    return date(year, number, 1)


class TestMeterPrevious:
    def test_initial_values_when_no_readings(self):
        meter = MeterFactory(zones=2, installed_on=date(2025, 3, 10), initial_t1=D(1234), initial_t2=D(567))
        previous = meter_previous(meter, month(2025, 6))
        assert previous.values == (D(1234), D(567))
        assert previous.reading is None
        assert previous.period == month(2025, 3)

    def test_initial_values_of_a_three_zone_meter(self):
        meter = MeterFactory(zones=3)
        assert meter_previous(meter, month(2025, 6)).values == (D(1000), D(500), D(700))

    def test_last_accepted_reading_of_an_earlier_month(self):
        meter = MeterFactory(zones=2)
        ReadingFactory(meter=meter, period=month(2025, 4), t1=D(1100), t2=D(550))
        may = ReadingFactory(meter=meter, period=month(2025, 5), t1=D(1200), t2=D(600))
        ReadingFactory(meter=meter, period=month(2025, 6), t1=D(1300), t2=D(650))  # this month: ignored
        previous = meter_previous(meter, month(2025, 6))
        assert previous.reading == may
        assert previous.values == (D(1200), D(600))
        assert previous.period == month(2025, 5)

    def test_superseded_readings_are_ignored(self):
        meter = MeterFactory(zones=1)
        ReadingFactory(meter=meter, period=month(2025, 4), t1=D(1100))
        ReadingFactory(meter=meter, period=month(2025, 5), t1=D(1999), status=ReadingStatus.SUPERSEDED)
        assert meter_previous(meter, month(2025, 6)).values == (D(1100),)

    def test_final_readings_are_not_actual_values(self):
        meter = MeterFactory(zones=1)
        ReadingFactory(meter=meter, period=month(2025, 4), t1=D(1100))
        ReadingFactory(meter=meter, period=month(2025, 5), t1=D(1150), kind=ReadingKind.FINAL)
        assert meter_previous(meter, month(2025, 6)).values == (D(1100),)

    @pytest.mark.parametrize("control_first", [True, False])
    def test_the_later_of_the_control_and_the_customers_reading_counts(self, control_first):
        meter = MeterFactory(zones=2)
        customer_kwargs = {"t1": D(1100), "t2": D(550), "kind": ReadingKind.CUSTOMER}
        control_kwargs = {
            "t1": D(1105),
            "t2": D(552),
            "kind": ReadingKind.CONTROL,
            "channel": Channel.INSPECTOR,
        }
        first, second = (
            (control_kwargs, customer_kwargs) if control_first else (customer_kwargs, control_kwargs)
        )
        ReadingFactory(meter=meter, period=month(2025, 5), submitted_at=moscow(2025, 5, 16), **first)
        ReadingFactory(meter=meter, period=month(2025, 5), submitted_at=moscow(2025, 5, 20), **second)
        later = second["kind"]
        previous = meter_previous(meter, month(2025, 6))
        assert previous.values == (second["t1"], second["t2"])
        assert previous.reading is not None
        assert previous.reading.kind == later
        assert [r.kind for r in effective_readings(meter)] == [later]

    def test_meter_last_reading(self):
        meter = MeterFactory(zones=1)
        assert meter_last_reading(meter) is None
        ReadingFactory(meter=meter, period=month(2025, 4), t1=D(1100))
        june = ReadingFactory(meter=meter, period=month(2025, 6), t1=D(1300))
        ReadingFactory(meter=meter, period=month(2025, 5), t1=D(1200))
        assert meter_last_reading(meter) == june


class TestMeterAverage:
    def test_no_basis_with_fewer_than_two_readings(self):
        meter = MeterFactory(zones=2)
        assert meter_average(meter, month(2025, 6)) is None
        ReadingFactory(meter=meter, period=month(2025, 4))
        assert meter_average(meter, month(2025, 6)) is None

    def test_average_per_zone(self):
        meter = MeterFactory(zones=2)
        ReadingFactory(meter=meter, period=month(2025, 1), t1=D(1000), t2=D(500))
        ReadingFactory(meter=meter, period=month(2025, 2), t1=D(1100), t2=D(530))
        ReadingFactory(meter=meter, period=month(2025, 4), t1=D(1400), t2=D(620))
        assert meter_average(meter, month(2025, 5)) == (D(400) / 3, D(40))

    def test_rollover_inside_the_history(self):
        meter = MeterFactory(zones=1, digits=5)
        ReadingFactory(meter=meter, period=month(2025, 1), t1=D(99800))
        ReadingFactory(meter=meter, period=month(2025, 2), t1=D(99900))
        ReadingFactory(meter=meter, period=month(2025, 3), t1=D(50), rolled_over=True)
        ReadingFactory(meter=meter, period=month(2025, 4), t1=D(100))
        assert meter_average(meter, month(2025, 5)) == (D(100),)

    def test_rollover_of_a_six_digit_meter(self):
        meter = MeterFactory(zones=1, digits=6)
        ReadingFactory(meter=meter, period=month(2025, 1), t1=D(999900))
        ReadingFactory(meter=meter, period=month(2025, 3), t1=D(100))
        assert meter_average(meter, month(2025, 5)) == (D(100),)

    def test_only_the_last_twelve_months(self):
        meter = MeterFactory(zones=1)
        ReadingFactory(meter=meter, period=month(2024, 1), t1=D(1000))
        ReadingFactory(meter=meter, period=month(2024, 6), t1=D(4800))
        ReadingFactory(meter=meter, period=month(2025, 6), t1=D(6200))
        # For June 2025: January 2024 is 17 months back (ignored), June 2024 is 12 (kept): one point.
        assert meter_average(meter, month(2025, 6)) is None
        # For July 2025: June 2024 is 13 months back: again one point.
        assert meter_average(meter, month(2025, 7)) is None
        ReadingFactory(meter=meter, period=month(2024, 8), t1=D(5000))
        # June 2024 → August 2024: 200 kWh in 2 months.
        assert meter_average(meter, month(2025, 6)) == (D(100),)
        # August 2024 → June 2025: 1200 kWh in 10 months.
        assert meter_average(meter, month(2025, 7)) == (D(120),)

    def test_control_reading_counts(self):
        meter = MeterFactory(zones=1)
        ReadingFactory(meter=meter, period=month(2025, 1), t1=D(1000))
        ReadingFactory(meter=meter, period=month(2025, 3), t1=D(1150))
        ReadingFactory(
            meter=meter,
            period=month(2025, 3),
            t1=D(1200),
            kind=ReadingKind.CONTROL,
            channel=Channel.INSPECTOR,
        )
        assert meter_average(meter, month(2025, 4)) == (D(100),)


class TestMeterIsFailed:
    def test_failed_lost_or_past_verification(self):
        meter = MeterFactory(verification_due=date(2030, 1, 1))
        assert not meter_is_failed(meter, date(2030, 1, 1))
        assert meter_is_failed(meter, date(2030, 1, 2))
        meter.status = MeterStatus.FAILED
        assert meter_is_failed(meter, date(2026, 1, 1))
        meter.status = MeterStatus.LOST
        assert meter_is_failed(meter, date(2026, 1, 1))


@pytest.fixture
def history_meter():
    """A two-zone meter installed in March 2025; the tariff changes on 2025-07-01."""
    account = AccountFactory(opened_on=date(2025, 3, 1))
    meter = MeterFactory(account=account, zones=2, installed_on=date(2025, 3, 10))
    make_tariff(prices=("8.47", "3.43"), valid_from=date(2024, 7, 1), valid_to=date(2025, 6, 30))
    make_tariff(prices=("9.45", "4.08"), valid_from=date(2025, 7, 1))
    ReadingFactory(meter=meter, period=month(2025, 5), t1=D(1100), t2=D(540))
    ReadingFactory(meter=meter, period=month(2025, 6), t1=D(1200), t2=D(580))
    ReadingFactory(meter=meter, period=month(2025, 7), t1=D(1300), t2=D(620))
    return meter


class TestAccountHistory:
    def test_every_month_newest_first(self, history_meter):
        rows = account_history(history_meter.account, until=date(2025, 9, 15))
        assert [row.period for row in rows] == [
            month(2025, 9),
            month(2025, 8),
            month(2025, 7),
            month(2025, 6),
            month(2025, 5),
            month(2025, 4),
            month(2025, 3),
        ]
        assert [row.has_reading for row in rows] == [False, False, True, True, True, False, False]

    def test_months_without_reading_are_empty(self, history_meter):
        rows = {row.period: row for row in account_history(history_meter.account, until=month(2025, 9))}
        august = rows[month(2025, 8)]
        assert len(august.meters) == 1
        assert august.meters[0].reading is None
        assert august.meters[0].consumption == ()
        assert august.amount == D("0.00")
        assert august.total_kwh == 0

    def test_each_month_priced_at_the_tariff_in_force_then(self, history_meter):
        rows = {row.period: row for row in account_history(history_meter.account, until=month(2025, 9))}
        june, july = rows[month(2025, 6)], rows[month(2025, 7)]
        assert june.meters[0].consumption == (D(100), D(40))
        assert [(line.price, line.amount) for line in june.meters[0].lines] == [
            (D("8.47"), D("847.00")),
            (D("3.43"), D("137.20")),
        ]
        assert june.amount == D("984.20")
        assert july.meters[0].consumption == (D(100), D(40))
        assert [(line.price, line.amount) for line in july.meters[0].lines] == [
            (D("9.45"), D("945.00")),
            (D("4.08"), D("163.20")),
        ]
        assert july.amount == D("1108.20")
        assert july.zone_kwh == (D(100), D(40), D(0))
        assert july.total_kwh == D(140)

    def test_first_reading_counts_from_the_initial_values(self, history_meter):
        rows = {row.period: row for row in account_history(history_meter.account, until=month(2025, 9))}
        may = rows[month(2025, 5)].meters[0]
        assert may.consumption == (D(100), D(40))
        assert may.months_covered == 2
        assert rows[month(2025, 6)].meters[0].months_covered == 1
        assert may.amount == D("984.20")

    def test_rollover_in_history(self):
        meter = MeterFactory(zones=1, digits=5, initial_t1=D(99900), installed_on=date(2024, 1, 10))
        make_tariff(prices=("7.87",))
        ReadingFactory(meter=meter, period=month(2024, 2), t1=D(50), rolled_over=True)
        rows = {row.period: row for row in account_history(meter.account, until=month(2024, 3))}
        assert rows[month(2024, 2)].meters[0].consumption == (D(150),)
        assert rows[month(2024, 2)].amount == D("1180.50")

    def test_month_without_tariff_is_not_priced(self):
        meter = MeterFactory(zones=2)
        ReadingFactory(meter=meter, period=month(2024, 2))
        rows = {row.period: row for row in account_history(meter.account, until=month(2024, 2))}
        feb = rows[month(2024, 2)].meters[0]
        assert feb.priced is False
        assert feb.consumption == (D(100), D(50))
        assert feb.amount == D("0.00")

    def test_uses_the_control_reading_and_ignores_superseded(self, history_meter):
        ReadingFactory(
            meter=history_meter, period=month(2025, 8), t1=D(1350), t2=D(630), status=ReadingStatus.SUPERSEDED
        )
        ReadingFactory(meter=history_meter, period=month(2025, 8), t1=D(1400), t2=D(650))
        ReadingFactory(
            meter=history_meter,
            period=month(2025, 8),
            t1=D(1410),
            t2=D(655),
            kind=ReadingKind.CONTROL,
            channel=Channel.INSPECTOR,
        )
        rows = {row.period: row for row in account_history(history_meter.account, until=month(2025, 8))}
        assert rows[month(2025, 8)].meters[0].consumption == (D(110), D(35))
        reading = rows[month(2025, 8)].meters[0].reading
        assert reading is not None
        assert reading.kind == ReadingKind.CONTROL

    def test_a_meter_appears_only_while_installed(self, history_meter):
        account = history_meter.account
        history_meter.removed_on = date(2025, 7, 20)
        history_meter.status = MeterStatus.REMOVED
        history_meter.save()
        new = MeterFactory(account=account, zones=2, installed_on=date(2025, 7, 20))
        rows = {row.period: row for row in account_history(account, until=month(2025, 9))}
        assert [m.meter for m in rows[month(2025, 6)].meters] == [history_meter]
        assert [m.meter for m in rows[month(2025, 7)].meters] == [history_meter, new]
        assert [m.meter for m in rows[month(2025, 8)].meters] == [new]


class TestCharges:
    def test_charge_preview_at_the_prices_of_the_month(self, history_meter):
        # June's values against May's reading, July's against June's: 100 / 40 kWh each month.
        june = charge_preview(meter=history_meter, values=[D(1200), D(580)], period=date(2025, 6, 30))
        july = charge_preview(meter=history_meter, values=[D(1300), D(620)], period=date(2025, 7, 1))
        assert june.consumption == july.consumption == (D(100), D(40))
        assert june.period == date(2025, 6, 1)
        assert june.total == D("984.20")  # 100 × 8.47 + 40 × 3.43
        assert july.total == D("1108.20")  # 100 × 9.45 + 40 × 4.08
        assert [line.basis for line in july.lines] == ["actual", "actual"]

    def test_reading_charge_repeats_what_the_customer_was_shown(self, customer):
        _, meter = customer
        ReadingFactory(meter=meter, period=month(2026, 10), t1=D(1100), t2=D(550))
        result = reading_submit(
            meter_id=meter.pk, values=["1300", "650"], channel=Channel.WEB, now=moscow(2026, 11, 20)
        )
        again = reading_charge(result.reading)
        assert again.total == result.charge.total == D("2298.00")
        assert again.consumption == (D(200), D(100))
        assert again.months == 1

    def test_reading_charge_of_a_rollover(self):
        meter = MeterFactory(zones=1, account=AccountFactory(category=PremisesCategory.GAS_STOVE))
        make_tariff(prices=("7.87",))
        ReadingFactory(meter=meter, period=month(2026, 10), t1=D(99950))
        result = reading_submit(
            meter_id=meter.pk,
            values=["30"],
            channel=Channel.WEB,
            now=moscow(2026, 11, 20),
            confirmed={"rollover:1=30"},
        )
        assert reading_charge(result.reading).consumption == (D(80),)
        assert reading_charge(result.reading).total == D("629.60")
