"""The example dataset of docs/examples imports cleanly, and the data is what the files say."""

from __future__ import annotations

import shutil
import zipfile
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.customers.models import Account, ResidentsChange
from meterdesk.dataio.tests.data import EXAMPLE, counts
from meterdesk.metering.models import Meter, MeterStatus, Reading, ReadingKind, ReadingStatus
from meterdesk.tariffs.models import Norm, Tariff
from meterdesk.utility.models import UtilitySettings

MOSCOW = ZoneInfo("Europe/Moscow")


def test_example_imports_cleanly(run_import):
    result = run_import(EXAMPLE)
    assert result.problems == []
    assert result.warnings == []
    assert result.loaded
    created = {name: r.created for name, r in result.sections.items()}
    assert created == {
        "utility": 0,
        "tariffs": 7,
        "norms": 40,
        "accounts": 5,
        "residents": 4,
        "meters": 5,
        "verifications": 3,
        "readings": 87,
        "balances": 3,
        "payments": 5,
    }
    assert result.sections["utility"].updated > 0
    assert result.sections["tariffs"].extra == {"prices": 13, "bands": 0}


def test_example_data_is_right(run_import):
    run_import(EXAMPLE)
    utility = UtilitySettings.objects.get()
    assert utility.name == "ООО «Пример-Энергосбыт»"
    assert (utility.window_start_day, utility.window_end_day) == (15, 26)
    assert utility.bic == "044525000"

    three = Tariff.objects.get(category="gas_stove", kind="three_zone", valid_from=date(2024, 7, 1))
    assert three.valid_to == date(2025, 6, 30)
    # T1 peak, T2 night, T3 semi-peak (the meter's registers).
    assert [(p.zone, p.band, p.price) for p in three.prices.order_by("zone")] == [
        (1, 1, Decimal("10.16")),
        (2, 1, Decimal("3.43")),
        (3, 1, Decimal("6.99")),
    ]
    assert not three.bands.exists()
    assert Tariff.objects.get(category="electric_stove", kind="single").prices.get().price == Decimal("7.16")
    assert Norm.objects.get(category="electric_stove", rooms=2, residents=1).kwh_per_person == Decimal(
        "163.8"
    )

    flat = Account.objects.get(number="7701000001")
    assert flat.holder_name == "Иванова Анна Сергеевна"
    assert (flat.category, flat.rooms, flat.residents, flat.meter_required) == ("gas_stove", 2, 3, True)
    assert flat.opened_on == date(2019, 3, 1)
    unmetered = Account.objects.get(number="7701000005")
    assert unmetered.meter_required is False
    assert unmetered.residents == 3  # from the latest residents row
    assert list(
        ResidentsChange.objects.filter(account=unmetered).values_list(
            "effective_from", "residents", "reported_on"
        )
    ) == [(date(2010, 1, 1), 2, None), (date(2025, 9, 1), 3, date(2025, 9, 3))]

    old = Meter.objects.get(serial="2210457")
    assert (old.status, old.removed_on, old.zones, old.digits) == (
        MeterStatus.REMOVED,
        date(2025, 10, 14),
        3,
        6,
    )
    assert old.initial_values == (Decimal(320), Decimal(210), Decimal(405))
    decimal_meter = Meter.objects.get(serial="99001122")
    assert decimal_meter.decimal_places == 1
    assert decimal_meter.initial_t2 is None

    readings = Reading.objects.filter(meter=Meter.objects.get(serial="11223344")).order_by("period")
    assert readings.count() == 25
    first = readings.first()
    assert first is not None
    assert (first.period, first.t1, first.t2, first.t3) == (
        date(2024, 11, 1),
        Decimal(18437),
        Decimal(7394),
        None,
    )
    assert first.kind == ReadingKind.CUSTOMER and first.status == ReadingStatus.ACCEPTED
    assert first.channel == "paper"
    assert first.submitted_at == datetime(2024, 11, 16, 18, 6, tzinfo=MOSCOW)
    assert first.account == flat
    assert len({r.confirmation for r in Reading.objects.all()}) == Reading.objects.count()

    # The five-digit meter rolled over 99999 → 0 in the history: marked as such.
    rolled = Reading.objects.filter(meter__serial="40512877", rolled_over=True)
    assert rolled.count() == 1
    control = Reading.objects.get(meter__serial="40512877", kind=ReadingKind.CONTROL)
    assert (control.period, control.channel) == (date(2025, 9, 1), "inspector")
    final = Reading.objects.get(kind=ReadingKind.FINAL)
    assert (final.meter, final.period) == (old, date(2025, 10, 1))
    assert Reading.objects.get(kind=ReadingKind.INITIAL).meter.serial == "55667788"
    assert Reading.objects.get(meter=decimal_meter, period=date(2025, 7, 1)).t1 % 1 != 0

    payment = LedgerEntry.objects.get(external_id="POST-2026-10-08-17")
    assert payment.kind == EntryKind.PAYMENT
    assert payment.amount == Decimal("-2842.09")
    assert payment.posted_on == date(2026, 10, 8)
    assert payment.period == date(2026, 10, 1)
    assert payment.account.number == "7701000003"
    assert payment.reason == "post"
    assert "period" not in payment.detail
    assert LedgerEntry.objects.get(external_id="CARD-7f3a91c2").detail["period"] == "2026-07"

    # Two readings of October 2026: the later is the month's, the earlier kept as superseded.
    october = Reading.objects.filter(meter__serial="11223344", period=date(2026, 10, 1)).order_by(
        "submitted_at"
    )
    assert [(r.t1, r.status) for r in october] == [
        (Decimal(22603), ReadingStatus.SUPERSEDED),
        (Decimal(22638), ReadingStatus.ACCEPTED),
    ]
    # The verification history; the meter's due date follows the latest verification.
    meter = Meter.objects.get(serial="11223344")
    assert meter.verification_due == date(2042, 6, 15)
    assert list(meter.verifications.order_by("verified_on").values_list("verified_on", "next_due")) == [
        (date(2018, 11, 20), date(2034, 11, 20)),
        (date(2026, 6, 15), date(2042, 6, 15)),
    ]
    assert Meter.objects.get(serial="40512877").verification_due == date(2032, 2, 1)
    # Balances carried from the old system: ledger lines of their months.
    carried = LedgerEntry.objects.filter(external_id__startswith="opening:").order_by(
        "account__number", "period", "kind"
    )
    assert [(e.account.number, e.period, e.kind, e.amount) for e in carried] == [
        ("7701000002", date(2026, 7, 1), EntryKind.CHARGE, Decimal("612.40")),
        ("7701000002", date(2026, 8, 1), EntryKind.CHARGE, Decimal("598.10")),
        ("7701000002", date(2026, 8, 1), EntryKind.PENALTY, Decimal("3.05")),
        ("7701000004", date(2026, 8, 1), EntryKind.CHARGE, Decimal("-150.00")),
    ]


def test_reimport_is_a_no_op(run_import):
    run_import(EXAMPLE)
    before = counts()
    result = run_import(EXAMPLE)
    assert result.problems == []
    assert counts() == before
    assert {name: r.created for name, r in result.sections.items()} == dict.fromkeys(result.sections, 0)
    skipped = {name: r.skipped for name, r in result.sections.items() if name != "utility"}
    assert skipped == {
        "tariffs": 7,
        "norms": 40,
        "accounts": 5,
        "residents": 4,
        "meters": 5,
        "verifications": 3,
        "readings": 87,
        "balances": 3,
        "payments": 5,
    }
    assert result.sections["utility"].updated == 0


def test_a_zip_of_the_files_imports_the_same(run_import, tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in EXAMPLE.glob("*.csv"):
            zf.write(path, f"old-system-export/{path.name}")  # in one folder, as zipping a folder does
    result = run_import(archive)
    assert result.problems == []
    assert Reading.objects.count() == 87


def test_dry_run_checks_and_keeps_nothing(run_import):
    before = counts()
    result = run_import(EXAMPLE, dry_run=True)
    assert result.problems == []
    assert not result.loaded
    assert result.sections["readings"].created == 87
    assert counts() == before


@pytest.mark.parametrize("batch_size", [1, 7])
def test_small_batches_give_the_same_result(run_import, batch_size):
    result = run_import(EXAMPLE, batch_size=batch_size)
    assert result.problems == []
    assert Reading.objects.count() == 87
    assert Meter.objects.count() == 5


def test_comma_separated_files_with_a_bom_and_decimal_commas(run_import, tmp_path):
    target = tmp_path / "ds"
    shutil.copytree(EXAMPLE, target)
    text = (target / "payments.csv").read_text(encoding="utf-8")
    # As a Russian-locale spreadsheet saves it: a BOM, ';' and a decimal comma, dates as DD.MM.YYYY.
    text = text.replace("1770.54", "1 770,54").replace("2026-10-06", "06.10.2026")
    (target / "payments.csv").write_text("\ufeff" + text, encoding="utf-8")
    accounts = (target / "accounts.csv").read_text(encoding="utf-8").splitlines()
    as_commas = ['"' + '","'.join(line.split(";")) + '"' for line in accounts]
    (target / "accounts.csv").write_text("\n".join(as_commas) + "\n", encoding="utf-8")
    result = run_import(target)
    assert result.problems == []
    payment = LedgerEntry.objects.get(external_id="SBR-20261006-000233")
    assert (payment.amount, payment.posted_on) == (Decimal("-1770.54"), date(2026, 10, 6))
    assert Account.objects.get(number="7701000003").address == "г. Москва, Ленинский пр-т, д. 70, кв. 31"
