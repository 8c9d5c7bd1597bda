"""Exports after a close of imported data: the charges match the ledger exactly; statements."""

from __future__ import annotations

import csv
import inspect
import io
import json
from datetime import date
from decimal import Decimal

import pytest

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import LedgerEntry
from meterdesk.billing.selectors import statement_get
from meterdesk.customers.models import Account
from meterdesk.dataio.exporter import (
    CHARGE_COLUMNS,
    ExportError,
    charges_iter,
    charges_write,
    statement_data,
    statement_text,
)
from meterdesk.dataio.tests.data import EXAMPLE
from meterdesk.testing import AccountFactory

OCTOBER = date(2026, 10, 1)


@pytest.fixture
def closed(run_import):
    """The example imported, September and October 2026 closed."""
    assert run_import(EXAMPLE).problems == []
    billing_close(date(2026, 9, 1))
    billing_close(OCTOBER)


def _ledger(period: date) -> list[dict[str, str]]:
    """The ledger lines of a month, as the export should write them (text, in its order)."""
    out = []
    for e in (
        LedgerEntry.objects.filter(period=period)
        .select_related("account", "meter")
        .order_by("account_id", "pk")
    ):
        out.append(
            {
                "entry_id": str(e.pk),
                "period": f"{period:%Y-%m}",
                "account": e.account.number,
                "meter_serial": e.meter.serial if e.meter else "",
                "kind": e.kind,
                "basis": e.basis,
                "zone": str(e.zone),
                "band": str(e.band),
                "volume": "" if e.volume is None else str(e.volume),
                "price": "" if e.price is None else str(e.price),
                "amount": str(e.amount),
                "reason": e.reason,
                "posted_on": e.posted_on.isoformat(),
            }
        )
    return out


def test_csv_matches_the_ledger_exactly(closed):
    out = io.StringIO()
    count = charges_write(OCTOBER, out, "csv")
    text = out.getvalue()
    assert text.startswith(";".join(CHARGE_COLUMNS) + "\r\n")
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    expected = _ledger(OCTOBER)
    assert rows == expected
    assert count == len(expected) == LedgerEntry.objects.filter(period=OCTOBER).count()
    kinds = {r["kind"] for r in rows}
    assert {"charge", "payment"} <= kinds
    bases = {r["basis"] for r in rows if r["kind"] == "charge"}
    assert {"actual", "average", "norm"} <= bases
    total = sum(Decimal(r["amount"]) for r in rows)
    assert total == sum(e.amount for e in LedgerEntry.objects.filter(period=OCTOBER))


def test_json_and_json_lines_match_the_ledger_exactly(closed):
    expected: list[dict[str, object]] = []
    for row in _ledger(OCTOBER):
        item: dict[str, object] = dict(row)
        for name in ("meter_serial", "volume", "price"):
            item[name] = row[name] or None
        for name in ("entry_id", "zone", "band"):
            item[name] = int(row[name])
        expected.append(item)
    out = io.StringIO()
    charges_write(OCTOBER, out, "json")
    assert json.loads(out.getvalue()) == expected
    out = io.StringIO()
    charges_write(OCTOBER, out, "jsonl")
    assert [json.loads(line) for line in out.getvalue().splitlines()] == expected


def test_decimal_comma_for_excel(closed):
    out = io.StringIO()
    charges_write(OCTOBER, out, "csv", decimal_comma=True)
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline=""), delimiter=";"))
    assert rows == [
        {k: (v.replace(".", ",") if k in {"volume", "price", "amount"} else v) for k, v in row.items()}
        for row in _ledger(OCTOBER)
    ]


def test_the_export_streams(closed):
    assert inspect.isgenerator(charges_iter(OCTOBER))
    assert next(charges_iter(OCTOBER))["period"] == "2026-10"


def test_a_month_that_is_not_closed(closed):
    with pytest.raises(ExportError, match=r"2026-11 is not closed \(the last closed month is 2026-10\)"):
        charges_iter(date(2026, 11, 1))
    with pytest.raises(ExportError, match="not closed"):
        statement_data("7701000001", date(2026, 11, 1))


def test_nothing_is_closed(db):
    with pytest.raises(ExportError, match=r"no month is closed yet"):
        charges_write(OCTOBER, io.StringIO())


def test_statement_json(closed):
    account = Account.objects.get(number="7701000002")
    statement = statement_get(account, OCTOBER)
    assert statement is not None
    data = statement_data("7701000002", OCTOBER)
    assert data["account"] == "7701000002"
    assert data["payer"] == "Петров Сергей Иванович"
    assert data["period"] == "2026-10"
    assert data["opening_balance"] == str(statement.close.opening_balance)
    assert data["closing_balance"] == str(statement.close.closing_balance)
    assert data["due_date"] == "2026-11-10"
    assert data["lines"] == [
        {
            "kind": e.kind,
            "basis": e.basis,
            "meter_serial": e.meter.serial if e.meter else None,
            "zone": e.zone,
            "band": e.band,
            "volume": str(e.volume),
            "price": str(e.price),
            "amount": str(e.amount),
            "reason": e.reason,
        }
        for e in statement.lines
    ]
    assert data["payments"] == [
        {"posted_on": "2026-10-15", "amount": "-500.00", "external_id": "CARD-7f3a91c2", "source": "card"}
    ]
    # opening + charges + recalculations + payments + penalty = closing
    totals = data["totals"]
    assert Decimal(data["opening_balance"]) + sum(Decimal(v) for v in totals.values()) == Decimal(
        data["closing_balance"]
    )
    assert json.loads(json.dumps(data)) == data


def test_statement_text(closed):
    text = statement_text(statement_data("7701000005", OCTOBER))
    assert "Statement of account 7701000005 for 2026-10" in text
    assert "Соколова Ольга Петровна" in text
    assert "norm" in text and "no_meter" in text
    assert "Total due by 2026-11-10" in text


def test_statement_errors(closed):
    with pytest.raises(ExportError, match="no account 7709999999"):
        statement_data("7709999999", OCTOBER)
    AccountFactory(number="7709999998", opened_on=date(2026, 11, 1))
    with pytest.raises(ExportError, match="has no statement for 2026-10"):
        statement_data("7709999998", OCTOBER)
