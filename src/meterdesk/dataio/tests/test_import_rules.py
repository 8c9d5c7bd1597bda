"""What an import loads beyond the example: bands, defaults, history rules, incremental loads."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.dataio.tests.data import base, counts, write
from meterdesk.metering.models import Channel, Reading, ReadingKind
from meterdesk.tariffs.models import Tariff
from meterdesk.utility.models import UtilitySettings

MOSCOW = ZoneInfo("Europe/Moscow")


def test_a_tariff_with_volume_bands(run_import, tmp_path):
    ds = {
        "tariffs": [
            {
                "region": "moscow_region",
                "category": "rural",
                "kind": "two_zone",
                "valid_from": "2024-07-01",
                "band": "1",
                "band_upper_kwh": "3900",
                "price_t1": "5.15",
                "price_t2": "2.72",
            },
            {
                "region": "moscow_region",
                "category": "rural",
                "kind": "two_zone",
                "valid_from": "2024-07-01",
                "band": "2",
                "band_upper_kwh": "6000",
                "price_t1": "6.51",
                "price_t2": "3.44",
            },
            {
                "region": "moscow_region",
                "category": "rural",
                "kind": "two_zone",
                "valid_from": "2024-07-01",
                "band": "3",
                "price_t1": "10.01",
                "price_t2": "5.29",
            },
        ]
    }
    result = run_import(write(tmp_path / "ds", ds))
    assert result.problems == []
    assert result.sections["tariffs"].extra == {"prices": 6, "bands": 3}
    tariff = Tariff.objects.get(region="moscow_region")
    assert [(b.band, b.upper_kwh) for b in tariff.bands.all()] == [
        (1, Decimal(3900)),
        (2, Decimal(6000)),
        (3, None),
    ]
    assert {(p.zone, p.band): p.price for p in tariff.prices.all()}[(2, 3)] == Decimal("5.29")


def test_band_limits_must_increase(run_import, tmp_path):
    rows = [
        {
            "category": "rural",
            "kind": "single",
            "valid_from": "2024-07-01",
            "band": "1",
            "band_upper_kwh": "500",
            "price_t1": "5",
        },
        {
            "category": "rural",
            "kind": "single",
            "valid_from": "2024-07-01",
            "band": "2",
            "band_upper_kwh": "400",
            "price_t1": "6",
        },
        {"category": "rural", "kind": "single", "valid_from": "2024-07-01", "band": "3", "price_t1": "7"},
    ]
    result = run_import(write(tmp_path / "ds", {"tariffs": rows}))
    assert [(p.row, p.field) for p in result.problems] == [(3, "band_upper_kwh")]
    assert "above the previous band's 500" in result.problems[0].message


def test_reading_defaults_channel_kind_and_time(run_import, tmp_path):
    assert run_import(write(tmp_path / "ds", base())).problems == []
    reading = Reading.objects.get(meter__serial="S-1", period=date(2025, 2, 1))
    assert (reading.kind, reading.channel) == (ReadingKind.CUSTOMER, Channel.IMPORT)
    assert reading.submitted_at == datetime.combine(date(2025, 2, 28), time(12), tzinfo=MOSCOW)
    assert reading.confirmation.startswith("I")
    rolled = Reading.objects.get(meter__serial="S-2", period=date(2025, 2, 1))
    assert rolled.rolled_over is True  # 99500 → 100 on a five-digit meter: 600 kWh


def test_a_control_reading_may_be_below_the_customers(run_import, tmp_path):
    """An inspector finds the meter at less than the customer reported (p.61: a credit follows);
    the next customer reading is checked against the control reading."""
    ds = base()
    ds["readings"].insert(
        2,
        {
            "account": "5000000001",
            "serial": "S-1",
            "period": "2025-03",
            "t1": "1150",
            "t2": "580",
            "kind": "control",
            "channel": "inspector",
        },
    )
    ds["readings"].append(
        {"account": "5000000001", "serial": "S-1", "period": "2025-04", "t1": "1160", "t2": "590"}
    )
    result = run_import(write(tmp_path / "ds", ds))
    assert result.problems == []
    assert Reading.objects.filter(kind=ReadingKind.CONTROL).count() == 1


def test_new_readings_for_stored_meters_load_and_the_rest_is_skipped(run_import, tmp_path):
    assert run_import(write(tmp_path / "one", base())).problems == []
    more = base()
    more["readings"].append(
        {"account": "5000000001", "serial": "S-1", "period": "2025-04", "t1": "1400", "t2": "700"}
    )
    more["payments"].append(
        {"account": "5000000002", "paid_on": "2025-04-02", "amount": "350.5", "external_id": "P-2"}
    )
    before = counts()
    result = run_import(write(tmp_path / "two", more))
    assert result.problems == []
    assert result.sections["readings"].created == 1
    assert result.sections["readings"].skipped == 5
    assert result.sections["payments"].created == 1
    assert result.sections["accounts"].skipped == 2
    after = counts()
    assert after["readings"] == before["readings"] + 1  # type: ignore[operator]
    assert after["ledger"] == before["ledger"] + 1  # type: ignore[operator]
    # Only the readings file, for meters stored before.
    only = {
        "readings": [
            {"account": "5000000001", "serial": "S-1", "period": "2025-05", "t1": "1500", "t2": "750"}
        ]
    }
    result = run_import(write(tmp_path / "three", only))
    assert result.problems == []
    assert result.sections["readings"].created == 1


def test_a_payment_into_a_closed_month_goes_to_the_open_one(run_import, tmp_path):
    ds = base()
    ds.pop("payments")
    assert run_import(write(tmp_path / "one", ds)).problems == []
    billing_close(date(2025, 3, 1))
    pay = {
        "payments": [
            {
                "account": "5000000001",
                "paid_on": "2025-03-20",
                "amount": "700",
                "external_id": "LATE-1",
                "source": "bank",
            }
        ]
    }
    result = run_import(write(tmp_path / "two", pay))
    assert result.problems == []
    entry = LedgerEntry.objects.get(external_id="LATE-1")
    assert (entry.kind, entry.period, entry.posted_on, entry.amount) == (
        EntryKind.PAYMENT,
        date(2025, 4, 1),
        date(2025, 3, 20),
        Decimal("-700.00"),
    )


def test_utility_settings_change_only_what_is_given(run_import, tmp_path):
    UtilitySettings.objects.create(name="Старое имя", inn="7700543213")
    ds = {"utility": [{"name": "Новое имя", "window_start_day": "20"}]}
    result = run_import(write(tmp_path / "ds", ds))
    assert result.problems == []
    assert result.sections["utility"].updated == 2
    utility = UtilitySettings.objects.get()
    assert (utility.name, utility.window_start_day, utility.inn) == ("Новое имя", 20, "7700543213")


def test_missing_prices_are_warned_about(run_import, tmp_path):
    ds = base()
    ds.pop("tariffs")
    ds["accounts"][1]["category"] = "rural"
    result = run_import(write(tmp_path / "ds", ds))
    assert result.problems == []
    assert any("no two_zone tariff of gas_stove" in w for w in result.warnings)
    assert any("no single tariff of rural" in w and "1 meter(s)" in w for w in result.warnings)
    assert any("no consumption norm of rural" in w for w in result.warnings)
