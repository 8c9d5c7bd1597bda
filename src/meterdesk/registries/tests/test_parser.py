"""Every kind of bad input is reported with its line number (the file is then refused whole)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from meterdesk.registries.parser import external_id_for, registry_parse
from meterdesk.registries.tests.conftest import TODAY, line, sber_file

MOSCOW = ZoneInfo("Europe/Moscow")


def problems(data: bytes, layout) -> list[str]:
    return [str(p) for p in registry_parse(data, "r.txt", layout, zone=MOSCOW, today=TODAY).problems]


def test_a_good_file_has_no_problem(sber):
    assert problems(sber_file([line("1"), line("2")]), sber) == []


def test_every_bad_row_is_reported_with_its_line(sber):
    data = sber_file(
        [
            line("1"),
            line("2", day="31-11-2025"),
            line("3", amount="12.50"),
            line("4", amount="-5,00"),
            line("5", amount="0,00"),
            line("6", commission="abc"),
            line("7", time="25-00-00"),
            line("8", period="132025"),
            line("9", day="28-11-2025"),
            line("10", amount="1,005"),
            line(""),
            line("1"),
            "20-11-2025;09-00-00;9038/1;12;7701000001;Иванов",
            line("13", amount=""),
        ]
    )
    got = problems(data, sber)
    assert got == [
        "r.txt:2: date: not a date: expected DD-MM-YYYY (got '31-11-2025')",
        "r.txt:3: amount: not an amount: the decimal mark of this layout is ',' (got '12.50')",
        "r.txt:4: amount: must not be negative (got '-5,00')",
        "r.txt:5: amount: must be more than zero (got '0,00')",
        "r.txt:6: commission: not an amount (got 'abc')",
        "r.txt:7: time: not a time: expected HH-MM-SS (got '25-00-00')",
        "r.txt:8: period: not a month: expected MMYYYY (got '132025')",
        "r.txt:9: date: in the future (today is 27.11.2025) (got '28-11-2025')",
        "r.txt:10: amount: more than 2 decimal places (kopecks) (got '1,005')",
        "r.txt:11: operation id: required: part of the payment's identity (row_key)",
        "r.txt:12: the same payment (date, branch, operation id) as line 1 "
        "(got 'sberbank:2025-11-20/9038/01234/1')",
        "r.txt:13: 6 values separated by ';', but layout 'sberbank' has 10",
        "r.txt:14: amount: required",
    ]


def test_footer_totals_that_do_not_match(sber):
    data = sber_file(
        [line("1", amount="100,00", commission="1,00"), line("2", amount="50,00", commission="0,50")],
        count=3,
        amount="150,01",
        commission="1,40",
        net="148,50",
    )
    assert problems(data, sber) == [
        "r.txt:3: footer count: the footer says 3 payments, the file has 2 (got '3')",
        "r.txt:3: footer amount: the footer's total 150.01 differs from the sum of the rows, 150.00 (got '150,01')",
        "r.txt:3: footer commission: the footer's total 1.40 differs from the sum of the rows, 1.50 (got '1,40')",
    ]


def test_a_footer_that_is_missing_or_unreadable(sber):
    assert problems(sber_file([line("1"), line("2")], footer=False), sber) == [
        f"r.txt:2: expected the footer here: a line starting with '=' (got {line('2')!r})"
    ]
    assert problems(sber_file([line("1")], count="x"), sber) == [
        "r.txt:2: footer count: not a whole number (got 'x')"
    ]
    assert problems(b"", sber) == ["r.txt: the footer (1 line(s) at the end) is missing"]
    assert problems(b"=0;0,00;0,00;0,00;1;21-11-2025\r\n", sber) == ["r.txt: no payments in the file"]


def test_a_utf8_file_for_a_cp1251_layout(sber):
    data = sber_file([line("1", payer="Smith", address="Moscow"), line("2")], encoding="utf-8")
    assert problems(data, sber) == ["r.txt:2: the file is UTF-8 text, but layout 'sberbank' expects cp1251"]


def test_bytes_the_encoding_does_not_have(sber):
    data = sber_file([line("1"), line("2")])
    data = data.replace("Иванова".encode("cp1251"), b"\x98\x98", 1)  # 0x98 is not a cp1251 character
    position = data.index(b"\x98") + 1
    assert problems(data, sber) == [
        f"r.txt:1: not cp1251 text (byte 0x98 at position {position}); is this a file of layout 'sberbank'?"
    ]


def test_blank_lines_are_skipped_and_numbers_kept(sber):
    data = sber_file([line("1"), "", line("2", amount="x")])
    assert problems(data, sber) == ["r.txt:3: amount: not an amount (got 'x')"]


@pytest.mark.parametrize("key", ["sberbank:2025-11-20/9038/1/1", "sberbank:" + "x" * 200])
def test_external_ids_fit_the_ledger(key):
    external = external_id_for(key)
    assert len(external) <= 80
    assert external.startswith("reg:sberbank:")
    assert external_id_for(key) == external


def test_a_trailing_delimiter_header_lines_and_no_footer(tmp_path):
    from pathlib import Path

    from meterdesk.registries.layouts import layout_parse

    layout = layout_parse(
        {
            "name": "plain",
            "encoding": "koi8-r",
            "header_lines": 2,
            "column_count": 4,
            "trailing_delimiter": True,
            "fields": {"operation_id": 1, "date": 2, "account": 3, "amount": 4},
            "row_key": ["date", "operation_id"],
        },
        Path("plain.json"),
    )
    data = "Реестр\nop;date;account;amount;\n7;20.11.2025;7701000001;10.50;\n8;20.11.2025;7701000002;3;x\n".encode(
        "koi8-r"
    )
    parsed = registry_parse(data, "p.txt", layout, zone=MOSCOW, today=TODAY)
    assert [str(p) for p in parsed.problems] == [
        "p.txt:4: 5 values separated by ';', but layout 'plain' has 4"
    ]
    assert [(r.line, r.key, str(r.amount), r.commission) for r in parsed.rows] == [
        (3, "plain:2025-11-20/7", "10.50", 0)
    ]


def test_long_amounts_are_a_problem_not_a_crash(sber):
    data = sber_file(
        [
            line("1", amount="1" * 29 + ",00"),
            line("2", amount="1" * 27 + ",001"),
            line("3", commission="9" * 40),
            line("4", amount="0" * 30 + "5,00"),
            line("5", amount="5," + "0" * 40),
        ],
        amount="1,00",
        commission="1,00",
        net="0,00",
    )
    assert problems(data, sber) == [
        f"r.txt:1: amount: too large (got '{'1' * 29},00')",
        f"r.txt:2: amount: more than 2 decimal places (kopecks) (got '{'1' * 27},001')",
        f"r.txt:3: commission: too large (got '{'9' * 40}')",
    ]


def test_digits_of_other_scripts_are_not_an_amount(sber):
    from dataclasses import replace

    layout = replace(sber, encoding="utf-8")
    data = sber_file(
        [line("1", amount="١٠٠,٠٠"), line("2", commission="１０,００"), line("3", amount="1٣,00")],
        encoding="utf-8",
    )
    assert problems(data, layout) == [
        "r.txt:1: amount: not an amount: only the digits 0-9 (got '١٠٠,٠٠')",
        "r.txt:2: commission: not an amount: only the digits 0-9 (got '１０,００')",
        "r.txt:3: amount: not an amount: only the digits 0-9 (got '1٣,00')",
    ]


def test_a_nul_or_another_control_character_is_a_problem_of_its_field(sber):
    data = sber_file(
        [
            line("1", payer="Ива\x00нова"),
            line("2\x00"),
            line("3", amount="10\x00,00"),
            line("4", address="ул.\x1b[31m"),
        ],
        order="44\x0017",
    )
    assert problems(data, sber) == [
        "r.txt:1: payer: a control character (NUL, ESC …) is not allowed (got 'Ива\\x00нова')",
        "r.txt:2: operation id: a control character (NUL, ESC …) is not allowed (got '2\\x00')",
        "r.txt:3: amount: a control character (NUL, ESC …) is not allowed (got '10\\x00,00')",
        "r.txt:4: address: a control character (NUL, ESC …) is not allowed (got 'ул.\\x1b[31m')",
        "r.txt:5: footer order_number: a control character (NUL, ESC …) is not allowed (got '44\\x0017')",
    ]
