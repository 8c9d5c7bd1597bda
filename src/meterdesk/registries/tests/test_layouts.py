"""Layouts: the shipped one, a utility's own from METERDESK_REGISTRY_LAYOUTS, and wrong ones."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterdesk.registries.layouts import LayoutError, layout_get, layouts_available
from meterdesk.registries.parser import registry_parse
from meterdesk.registries.tests.conftest import TODAY, line, sber_file

MOSCOW = ZoneInfo("Europe/Moscow")

#: A utility's own layout: UTF-8, comma-separated, a title line, other columns, no footer.
OWN: dict[str, Any] = {
    "name": "vtb-daily",
    "title": "VTB daily (test)",
    "bank": "vtb",
    "encoding": "utf-8",
    "delimiter": ",",
    "quote": '"',
    "header_lines": 1,
    "column_count": 6,
    "fields": {"operation_id": 1, "date": 2, "time": 3, "account": 4, "payer": 5, "amount": 6},
    "row_key": ["operation_id"],
    "date_format": "%Y-%m-%d",
    "time_format": "%H:%M",
    "decimal_separator": ".",
    "thousands_separator": " ",
    "footer": None,
}


def test_the_shipped_layout_reads_a_cp1251_file(sber):
    assert sber.encoding == "cp1251"
    data = sber_file(
        [
            line("100231", "7701000001", "1770,54", "17,71"),
            line("100232", "7701000002", "500,00", "0,00", time="23-59-59", address="", period=""),
        ]
    )
    assert "Иванова".encode("cp1251") in data  # really cp1251, not UTF-8
    parsed = registry_parse(data, "r.txt", sber, zone=MOSCOW, today=TODAY)
    assert parsed.problems == []
    first, second = parsed.rows
    assert (first.line, first.account, first.amount, first.commission) == (
        1,
        "7701000001",
        Decimal("1770.54"),
        Decimal("17.71"),
    )
    assert first.payer == "Иванова Анна Сергеевна"
    assert first.address == "г. Москва, ул. Профсоюзная, д. 43, кв. 118"
    assert first.period == date(2025, 10, 1)
    assert first.paid_at == datetime(2025, 11, 20, 9, 14, 5, tzinfo=MOSCOW)
    assert first.key == "sberbank:2025-11-20/9038/01234/100231"
    assert first.external_id == "reg:sberbank:2025-11-20/9038/01234/100231"
    assert (second.period, second.address, second.paid_at.hour) == (None, "", 23)
    assert parsed.footer["count"] == "2"
    assert parsed.footer["order_number"] == "4417"
    assert parsed.amount == Decimal("2270.54")


def test_a_layout_from_the_settings_directory(settings, tmp_path):
    (tmp_path / "vtb-daily.json").write_text(json.dumps(OWN), encoding="utf-8")
    settings.METERDESK_REGISTRY_LAYOUTS = str(tmp_path)
    assert set(layouts_available()) == {"sberbank", "vtb-daily"}
    layout = layout_get("vtb-daily")
    data = (
        "\ufeffРеестр ВТБ за 20.11.2025\n"
        'A-1,2025-11-20,10:05,7701000001,"Иванова, Анна",1 500.50\n'
        "A-2,2025-11-20,11:00,7701000002,Петров,200\n"
    ).encode()
    parsed = registry_parse(data, "vtb.csv", layout, zone=MOSCOW, today=TODAY)
    assert parsed.problems == []
    assert [(r.line, r.key, r.payer, r.amount) for r in parsed.rows] == [
        (2, "vtb:A-1", "Иванова, Анна", Decimal("1500.50")),
        (3, "vtb:A-2", "Петров", Decimal("200.00")),
    ]
    assert parsed.rows[0].paid_at == datetime(2025, 11, 20, 10, 5, tzinfo=MOSCOW)


def test_a_utility_layout_replaces_a_shipped_one_of_the_same_name(settings, tmp_path):
    own = dict(OWN, name="sberbank", title="Our Sberbank")
    (tmp_path / "sberbank.json").write_text(json.dumps(own), encoding="utf-8")
    settings.METERDESK_REGISTRY_LAYOUTS = str(tmp_path)
    assert layout_get("sberbank").title == "Our Sberbank"
    assert layouts_available()["sberbank"].encoding == "utf-8"


def test_an_unknown_layout_names_the_known_ones():
    with pytest.raises(LayoutError, match="no registry layout 'nope'; known: sberbank"):
        layout_get("nope")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"encoding": "klingon"}, "encoding: unknown encoding 'klingon'"),
        ({"colour": "red"}, "colour: unknown key"),
        ({"name": "other"}, "name: must be the file's name without .json"),
        ({"fields": {"date": 1, "account": 2}}, "fields.amount: required"),
        ({"fields": {**OWN["fields"], "amount": 4}}, "fields.amount: column 4 is already account"),
        ({"fields": {**OWN["fields"], "amount": 9}}, "fields.amount: column 9 is past column_count 6"),
        ({"fields": {**OWN["fields"], "colour": 7}}, "fields.colour: unknown"),
        ({"row_key": ["branch"]}, "row_key: 'branch' is not one of the layout's fields"),
        ({"row_key": ["date"]}, "row_key: the date alone cannot tell two payments apart"),
        ({"date_format": "dd.mm.yyyy"}, "date_format: a strftime format"),
        ({"decimal_separator": ";"}, "decimal_separator: '.' or ','"),
        ({"delimiter": ";;"}, "delimiter: one character"),
        (
            {"footer": {"lines": 1, "fields": {"order_number": 1}}},
            "footer.fields: name at least one control total",
        ),
        ({"footer": {"lines": 0, "fields": {"count": 1}}}, "footer.lines: a whole number, 1 or more"),
        ({"account_pattern": "("}, "account_pattern: not a regular expression"),
    ],
)
def test_a_wrong_layout_is_refused_with_its_key(settings, tmp_path, change, message):
    (tmp_path / "vtb-daily.json").write_text(json.dumps({**OWN, **change}), encoding="utf-8")
    settings.METERDESK_REGISTRY_LAYOUTS = str(tmp_path)
    with pytest.raises(LayoutError) as caught:
        layout_get("vtb-daily")
    assert message in str(caught.value)
    assert "vtb-daily.json" in str(caught.value)


def test_a_layout_that_is_not_json_is_refused(settings, tmp_path):
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    settings.METERDESK_REGISTRY_LAYOUTS = str(tmp_path)
    with pytest.raises(LayoutError, match=r"broken\.json: not a JSON file"):
        layouts_available()


def test_a_missing_layout_directory_is_reported(settings, tmp_path):
    settings.METERDESK_REGISTRY_LAYOUTS = str(tmp_path / "absent")
    with pytest.raises(LayoutError, match="is not a directory"):
        layouts_available()


def test_the_examples_in_docs_parse(settings, sber):
    """docs/examples: the Sberbank-style registry, and a utility's own layout with its file."""
    docs = Path(__file__).resolve().parents[4] / "docs" / "examples"
    today = date(2026, 11, 27)
    parsed = registry_parse(
        (docs / "registry-sberbank-2026-11-20.txt").read_bytes(), "s.txt", sber, zone=MOSCOW, today=today
    )
    assert parsed.problems == []
    assert len(parsed.rows) == 7 and parsed.footer["count"] == "7"
    assert parsed.rows[0].payer == "Иванова Анна Сергеевна"


def test_the_example_layout_in_docs_reads_its_example_file(settings, tmp_path):
    """As docs/registries.md says: copy the layout into the directory, named after its "name"."""
    docs = Path(__file__).resolve().parents[4] / "docs" / "examples"
    shutil.copy(docs / "registry-layout-example.json", tmp_path / "vtb-daily.json")
    settings.METERDESK_REGISTRY_LAYOUTS = str(tmp_path)
    layout = layout_get("vtb-daily")
    data = (docs / "registry-vtb-daily-2026-11-20.csv").read_bytes()
    parsed = registry_parse(data, "v.csv", layout, zone=MOSCOW, today=date(2026, 11, 27))
    assert parsed.problems == []
    assert [(r.line, r.key, r.amount, r.period) for r in parsed.rows] == [
        (2, "vtb:VTB-000917", Decimal("1770.54"), date(2026, 10, 1)),
        (3, "vtb:VTB-000918", Decimal("900.00"), date(2026, 10, 1)),
    ]
