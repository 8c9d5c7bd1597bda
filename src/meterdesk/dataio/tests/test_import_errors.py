"""Every kind of bad row is reported with its place (file, row, column), and nothing is loaded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from meterdesk.billing.services import payment_post
from meterdesk.customers.models import Account
from meterdesk.dataio.source import Problem
from meterdesk.dataio.tests.data import Rows, base, counts, write
from meterdesk.testing import AccountFactory, MeterFactory, ReadingFactory, make_tariff

Sections = dict[str, Rows]


def set_(section: str, index: int, **fields: Any) -> Callable[[Sections], None]:
    def mutate(ds: Sections) -> None:
        ds[section][index].update(fields)

    return mutate


def add(section: str, **fields: Any) -> Callable[[Sections], None]:
    def mutate(ds: Sections) -> None:
        ds.setdefault(section, []).append(fields)

    return mutate


def drop(section: str, name: str) -> Callable[[Sections], None]:
    def mutate(ds: Sections) -> None:
        for row in ds[section]:
            row.pop(name, None)

    return mutate


READING = {"account": "5000000001", "serial": "S-1"}
# (id, mutation, file, row, column, a fragment of the message)
CASES: list[tuple[str, Callable[[Sections], None], str, int, str, str]] = [
    # utility
    (
        "utility bad profile",
        add("utility", rules_profile="ru-999"),
        "utility.csv",
        2,
        "rules_profile",
        "expected one of",
    ),
    (
        "utility window",
        add("utility", window_start_day="27", window_end_day="26"),
        "utility.csv",
        2,
        "window_end_day",
        "closes before it opens",
    ),
    ("utility bic", add("utility", bic="04452"), "utility.csv", 2, "bic", "9 digits"),
    ("utility time zone", add("utility", time_zone="Moscow"), "utility.csv", 2, "time_zone", "time zone"),
    ("utility e-mail", add("utility", support_email="support"), "utility.csv", 2, "support_email", "e-mail"),
    # tariffs
    ("tariff kind", set_("tariffs", 0, kind="double"), "tariffs.csv", 2, "kind", "expected one of"),
    ("tariff category", set_("tariffs", 0, category="gas"), "tariffs.csv", 2, "category", "expected one of"),
    ("tariff missing zone price", set_("tariffs", 2, price_t2=""), "tariffs.csv", 4, "price_t2", "2 zone(s)"),
    (
        "tariff extra zone price",
        set_("tariffs", 0, price_t2="3.00"),
        "tariffs.csv",
        2,
        "price_t2",
        "1 zone(s)",
    ),
    (
        "tariff price decimals",
        set_("tariffs", 0, price_t1="6.999"),
        "tariffs.csv",
        2,
        "price_t1",
        "decimal places",
    ),
    (
        "tariff valid_to",
        set_("tariffs", 0, valid_to="2024-06-30"),
        "tariffs.csv",
        2,
        "valid_to",
        "before valid_from",
    ),
    (
        "tariff date",
        set_("tariffs", 0, valid_from="2024-02-30"),
        "tariffs.csv",
        2,
        "valid_from",
        "no such date",
    ),
    (
        "tariff duplicate",
        add(
            "tariffs",
            category="gas_stove",
            kind="single",
            valid_from="2024-07-01",
            valid_to="2025-06-30",
            price_t1="7.00",
        ),
        "tariffs.csv",
        6,
        "valid_from",
        "the same tariff",
    ),
    ("tariff overlap", set_("tariffs", 0, valid_to="2025-07-31"), "tariffs.csv", 3, "valid_from", "overlaps"),
    (
        "tariff band gap",
        add(
            "tariffs",
            region="moscow_region",
            category="rural",
            kind="single",
            valid_from="2024-07-01",
            band="2",
            price_t1="5.00",
        ),
        "tariffs.csv",
        6,
        "band",
        "without gaps",
    ),
    (
        "tariff last band closed",
        add(
            "tariffs",
            region="moscow_region",
            category="rural",
            kind="single",
            valid_from="2024-07-01",
            band_upper_kwh="100",
            price_t1="5.00",
        ),
        "tariffs.csv",
        6,
        "band_upper_kwh",
        "no upper limit",
    ),
    # norms
    ("norm negative", set_("norms", 0, kwh_per_person="-98"), "norms.csv", 2, "kwh_per_person", "negative"),
    ("norm rooms", set_("norms", 0, rooms="0"), "norms.csv", 2, "rooms", "from 1 to 20"),
    ("norm duplicate", set_("norms", 1, residents="1"), "norms.csv", 3, "valid_from", "as row 2"),
    # accounts
    ("account number", set_("accounts", 0, number="500000001"), "accounts.csv", 2, "number", "10 digits"),
    ("account payer missing", set_("accounts", 1, payer=""), "accounts.csv", 3, "payer", "required"),
    (
        "account category",
        set_("accounts", 0, category="flat"),
        "accounts.csv",
        2,
        "category",
        "expected one of",
    ),
    (
        "account date",
        set_("accounts", 0, opened_on="2024/01/01"),
        "accounts.csv",
        2,
        "opened_on",
        "not a date",
    ),
    (
        "account closed before opened",
        set_("accounts", 0, closed_on="2023-12-31"),
        "accounts.csv",
        2,
        "closed_on",
        "before opened_on",
    ),
    (
        "account meter_required",
        set_("accounts", 0, meter_required="maybe"),
        "accounts.csv",
        2,
        "meter_required",
        "expected 1 or 0",
    ),
    ("account duplicate", set_("accounts", 1, number="5000000001"), "accounts.csv", 3, "number", "as row 2"),
    ("account pipe", set_("accounts", 0, address="ул. Тестовая | 1"), "accounts.csv", 2, "address", "'|'"),
    ("account too long", set_("accounts", 0, payer="Я" * 201), "accounts.csv", 2, "payer", "longer than 200"),
    # residents
    (
        "residents unknown account",
        add("residents", account="5000000009", effective_from="2024-01-01", residents="1"),
        "residents.csv",
        3,
        "account",
        "unknown account",
    ),
    (
        "residents duplicate",
        add("residents", account="5000000001", effective_from="2024-01-01", residents="3"),
        "residents.csv",
        3,
        "effective_from",
        "as row 2",
    ),
    (
        "residents negative",
        set_("residents", 0, residents="-1"),
        "residents.csv",
        2,
        "residents",
        "from 0 to 1000",
    ),
    # meters
    ("meter zones", set_("meters", 1, zones="4"), "meters.csv", 3, "zones", "from 1 to 3"),
    ("meter digits", set_("meters", 1, digits="8"), "meters.csv", 3, "digits", "from 5 to 7"),
    (
        "meter initial too many digits",
        set_("meters", 1, initial_t1="123456"),
        "meters.csv",
        3,
        "initial_t1",
        "integer digits",
    ),
    (
        "meter initial decimals",
        set_("meters", 1, initial_t1="99000.5"),
        "meters.csv",
        3,
        "initial_t1",
        "whole kWh",
    ),
    ("meter missing zone", set_("meters", 0, initial_t2=""), "meters.csv", 2, "initial_t2", "required"),
    ("meter extra zone", set_("meters", 1, initial_t2="5"), "meters.csv", 3, "initial_t2", "1 zone(s)"),
    (
        "meter removed before installed",
        set_("meters", 1, removed_on="2023-01-01"),
        "meters.csv",
        3,
        "removed_on",
        "before installed_on",
    ),
    (
        "meter removed without date",
        set_("meters", 1, status="removed"),
        "meters.csv",
        3,
        "removed_on",
        "required for a removed meter",
    ),
    (
        "meter failed without date",
        set_("meters", 1, status="failed"),
        "meters.csv",
        3,
        "failed_on",
        "required for a failed meter",
    ),
    (
        "meter verification",
        set_("meters", 1, verification_due=""),
        "meters.csv",
        3,
        "verification_due",
        "required",
    ),
    (
        "meter unknown account",
        set_("meters", 1, account="5000000009"),
        "meters.csv",
        3,
        "account",
        "unknown account",
    ),
    (
        "meter duplicate",
        add(
            "meters",
            account="5000000001",
            serial="S-1",
            zones="1",
            digits="5",
            installed_on="2024-01-10",
            verification_due="2040-01-01",
            initial_t1="1",
        ),
        "meters.csv",
        4,
        "serial",
        "as row 2",
    ),
    # readings
    (
        "reading unknown serial",
        set_("readings", 0, serial="S-9"),
        "readings.csv",
        2,
        "serial",
        "no meter with this serial",
    ),
    (
        "reading unknown account",
        set_("readings", 0, account="5000000009"),
        "readings.csv",
        2,
        "account",
        "unknown account",
    ),
    ("reading period", set_("readings", 0, period="2025-13"), "readings.csv", 2, "period", "no such month"),
    ("reading future", set_("readings", 2, period="2099-01"), "readings.csv", 4, "period", "future"),
    (
        "reading before installation",
        set_("readings", 0, period="2023-12"),
        "readings.csv",
        2,
        "period",
        "before the meter was installed",
    ),
    ("reading missing zone", set_("readings", 0, t2=""), "readings.csv", 2, "t2", "required"),
    ("reading extra zone", set_("readings", 3, t2="5"), "readings.csv", 5, "t2", "1 zone(s)"),
    (
        "reading too many digits",
        set_("readings", 0, t1="123456"),
        "readings.csv",
        2,
        "t1",
        "integer digits than the meter's 5",
    ),
    ("reading decimals", set_("readings", 0, t1="1100.5"), "readings.csv", 2, "t1", "whole kWh"),
    ("reading negative", set_("readings", 0, t1="-1100"), "readings.csv", 2, "t1", "negative"),
    ("reading not a number", set_("readings", 0, t1="11OO"), "readings.csv", 2, "t1", "not a number"),
    (
        "reading below previous",
        set_("readings", 1, t1="1050"),
        "readings.csv",
        3,
        "t1",
        "below the previous reading 1100 (2025-01, row 2)",
    ),
    (
        "reading below initial",
        set_("readings", 0, t2="400"),
        "readings.csv",
        2,
        "t2",
        "below the previous reading 500 (the meter's initial values)",
    ),
    (
        "reading duplicate month",
        add("readings", **READING, period="2025-02", t1="1200", t2="600"),
        "readings.csv",
        7,
        "period",
        "the first is row 3",
    ),
    ("reading kind", set_("readings", 0, kind="manual"), "readings.csv", 2, "kind", "expected one of"),
    ("reading channel", set_("readings", 0, channel="fax"), "readings.csv", 2, "channel", "expected one of"),
    (
        "reading submitted_at",
        set_("readings", 0, submitted_at="yesterday"),
        "readings.csv",
        2,
        "submitted_at",
        "not a date and time",
    ),
    (
        "reading final without removal",
        set_("readings", 2, kind="final"),
        "readings.csv",
        4,
        "kind",
        "no removed_on",
    ),
    (
        "reading initial month",
        set_("readings", 0, kind="initial"),
        "readings.csv",
        2,
        "kind",
        "month of installation (2024-01)",
    ),
    (
        "reading initial values",
        add("readings", **READING, period="2024-01", kind="initial", t1="999", t2="500"),
        "readings.csv",
        7,
        "t1",
        "must equal the meter's initial values",
    ),
    # payments
    ("payment negative", set_("payments", 0, amount="-10"), "payments.csv", 2, "amount", "negative"),
    ("payment zero", set_("payments", 0, amount="0"), "payments.csv", 2, "amount", "more than zero"),
    ("payment kopecks", set_("payments", 0, amount="10.005"), "payments.csv", 2, "amount", "decimal places"),
    ("payment date", set_("payments", 0, paid_on="2099-01-01"), "payments.csv", 2, "paid_on", "future"),
    (
        "payment external id missing",
        set_("payments", 0, external_id=""),
        "payments.csv",
        2,
        "external_id",
        "required",
    ),
    (
        "payment duplicate",
        add("payments", account="5000000002", paid_on="2025-02-06", amount="5", external_id="P-1"),
        "payments.csv",
        3,
        "external_id",
        "as row 2",
    ),
    (
        "payment unknown account",
        set_("payments", 0, account="5000000009"),
        "payments.csv",
        2,
        "account",
        "unknown account",
    ),
    # whole files
    (
        "unknown column",
        set_("accounts", 0, e_mail="x@example.com"),
        "accounts.csv",
        1,
        "e_mail",
        "unknown column",
    ),
    ("missing column", drop("accounts", "payer"), "accounts.csv", 1, "payer", "required column is missing"),
]


def _problems_text(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


@pytest.mark.parametrize(
    ("mutate", "file", "row", "column", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_row_is_reported_with_its_place_and_nothing_is_loaded(
    run_import, tmp_path, mutate, file, row, column, fragment
):
    ds = base()
    mutate(ds)
    before = counts()
    result = run_import(write(tmp_path / "ds", ds))
    assert not result.loaded
    matches = [
        p
        for p in result.problems
        if (p.file, p.row, p.field) == (file, row, column) and fragment in p.message
    ]
    assert matches, _problems_text(result.problems)
    assert all(p.code for p in result.problems), _problems_text(result.problems)  # every one has its code
    assert counts() == before


def test_the_base_dataset_imports(run_import, tmp_path):
    result = run_import(write(tmp_path / "ds", base()))
    assert result.problems == [], _problems_text(result.problems)


def test_every_bad_row_of_every_file_is_reported_in_one_run(run_import, tmp_path):
    ds = base()
    ds["accounts"][1]["opened_on"] = "31.02.2024"
    ds["meters"][0]["digits"] = "4"
    ds["readings"][3]["t1"] = "abc"
    ds["readings"][4]["period"] = "2025"
    ds["payments"][0]["amount"] = "1,000.00"
    ds["tariffs"][1]["price_t1"] = "x"
    before = counts()
    result = run_import(write(tmp_path / "ds", ds))
    places = [(p.file, p.row, p.field) for p in result.problems]
    assert places == [
        ("tariffs.csv", 3, "price_t1"),
        ("accounts.csv", 3, "opened_on"),
        ("meters.csv", 2, "digits"),
        ("readings.csv", 6, "period"),
        ("payments.csv", 2, "amount"),
    ], _problems_text(result.problems)
    # The readings of a meter or account whose own row is bad are not reported as unknown (the
    # account of S-2 is bad, and so is the meter S-1), and their values cannot be checked against
    # the meter (row 5's "abc"); a cell that is wrong on its own (row 6's period) still is.
    assert counts() == before


def test_readings_of_good_meters_are_all_checked(run_import, tmp_path):
    ds = base()
    ds["readings"][0]["t1"] = "abc"
    ds["readings"][1]["period"] = "2025"
    ds["readings"][3]["t1"] = "99500.5"
    result = run_import(write(tmp_path / "ds", ds))
    assert [(p.file, p.row, p.field) for p in result.problems] == [
        ("readings.csv", 2, "t1"),
        ("readings.csv", 3, "period"),
        ("readings.csv", 5, "t1"),
    ], _problems_text(result.problems)


def test_unknown_file_and_not_utf8(run_import, tmp_path):
    directory = write(tmp_path / "ds", base())
    (directory / "reading.csv").write_text("account;serial\n", encoding="utf-8")
    (directory / "accounts.csv").write_bytes(
        "number;payer;address;category;opened_on\n5000000001;Сидоров;Москва;gas_stove;2024-01-01\n".encode(
            "cp1251"
        )
    )
    before = counts()
    result = run_import(directory)
    text = _problems_text(result.problems)
    assert any(p.file == "reading.csv" and p.code == "unknown_file" for p in result.problems), text
    assert any(
        p.file == "accounts.csv" and p.row == 2 and "not UTF-8" in p.message and p.code == "not_utf8"
        for p in result.problems
    ), text
    assert counts() == before


def test_files_that_are_not_csv_are_ignored_with_a_warning(run_import, tmp_path):
    directory = write(tmp_path / "ds", base())
    (directory / "README.txt").write_text("exported on 2026-11-01", encoding="utf-8")
    result = run_import(directory)
    assert result.problems == []
    assert result.warnings == ["README.txt: not a .csv file, ignored"]


def test_a_row_with_too_many_values(run_import, tmp_path):
    directory = write(tmp_path / "ds", base())
    with (directory / "payments.csv").open("a", encoding="utf-8") as out:
        out.write("5000000002;2025-02-06;1000,00;P-2;;;\n")  # empty trailing cells are fine
        out.write("5000000002;2025-02-06;1000.00;P-3;bank\n")
    result = run_import(directory)
    text = _problems_text(result.problems)
    assert [(p.file, p.row) for p in result.problems] == [("payments.csv", 4)], text
    assert "5 values but the header has 4 columns" in result.problems[0].message


def test_not_a_dataset(run_import, tmp_path):
    path = tmp_path / "data.json"
    path.write_text("{}", encoding="utf-8")
    result = run_import(path)
    assert [str(p) for p in result.problems] == [
        "data.json: not a directory or a .zip archive of CSV files [not_a_dataset]"
    ]


# --- conflicts with what is stored ---------------------------------------------------------


def test_a_stored_account_with_other_data_is_an_error(run_import, tmp_path):
    AccountFactory(
        number="5000000002", holder_name="Орлова Мария", address="другой адрес", rooms=1, residents=1
    )
    before = counts()
    result = run_import(write(tmp_path / "ds", base()))
    [problem] = result.problems
    assert (problem.file, problem.row, problem.field) == ("accounts.csv", 3, "number")
    assert "already stored with other data" in problem.message
    assert "address 'другой адрес' stored" in problem.message
    assert counts() == before


def test_a_stored_reading_with_other_values_is_an_error(run_import, tmp_path):
    first = run_import(write(tmp_path / "one", base()))
    assert first.problems == []
    ds = base()
    ds["readings"][1].update(t1="1201")
    before = counts()
    result = run_import(write(tmp_path / "two", ds))
    [problem] = result.problems
    assert (problem.file, problem.row, problem.field) == ("readings.csv", 3, "t1")
    assert "already stored with other values (1200, 600)" in problem.message
    assert counts() == before


def test_a_reading_for_a_closed_month_is_an_error(run_import, tmp_path):
    from meterdesk.billing.close import billing_close

    ds = base()
    ds["readings"] = ds["readings"][:2]  # S-1 for 2025-01 and 2025-02
    assert run_import(write(tmp_path / "one", ds)).problems == []
    billing_close(date(2025, 2, 1))
    later = base()
    later["readings"].append({**READING, "period": "2025-04", "t1": "1400", "t2": "700"})
    before = counts()
    result = run_import(write(tmp_path / "two", later))
    text = _problems_text(result.problems)
    closed = [p for p in result.problems if "already closed" in p.message]
    # 2025-01 and 2025-02 of S-1 are stored and identical (skipped); S-2's are new but closed.
    assert [(p.row, p.field) for p in closed] == [(5, "period"), (6, "period")], text
    assert counts() == before


def test_a_stored_payment_id_with_other_data_is_an_error(run_import, tmp_path):
    account = AccountFactory(number="5000000003")
    payment_post(account=account, amount=Decimal(5), paid_on=date(2025, 1, 1), external_id="P-1")
    before = counts()
    result = run_import(write(tmp_path / "ds", base()))
    [problem] = result.problems
    assert (problem.file, problem.row, problem.field) == ("payments.csv", 2, "external_id")
    assert "already used by a stored payment of account 5000000003" in problem.message
    assert counts() == before


def test_a_stored_tariff_with_other_prices_is_an_error(run_import, tmp_path):
    make_tariff(prices=("9.50", "4.08"), valid_from=date(2025, 7, 1))
    before = counts()
    result = run_import(write(tmp_path / "ds", base()))
    [problem] = result.problems
    assert (problem.file, problem.row, problem.field) == ("tariffs.csv", 5, "valid_from")
    assert "already stored with other prices" in problem.message
    assert counts() == before


def test_readings_are_checked_against_the_stored_history(run_import, tmp_path):
    meter = MeterFactory(
        account=AccountFactory(number="5000000007"), serial="X-1", zones=1, initial_t1=Decimal(100)
    )
    ReadingFactory(meter=meter, period=date(2025, 1, 1), t1=Decimal(500))
    ds = {"readings": [{"account": "5000000007", "serial": "X-1", "period": "2025-02", "t1": "450"}]}
    before = counts()
    result = run_import(write(tmp_path / "ds", ds))
    [problem] = result.problems
    assert (problem.row, problem.field) == (2, "t1")
    assert "below the previous reading 500 (2025-01, stored)" in problem.message
    assert counts() == before
    assert Account.objects.filter(number="5000000007").exists()
