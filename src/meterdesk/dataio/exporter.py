"""`meterdesk export`: the ledger lines of a closed month, and one account's monthly statement.

The charges export streams: the rows come from the database in chunks (``QuerySet.iterator``) and
are written as they come, so a month of millions of lines needs no more memory than one chunk.
Amounts, prices and volumes are written exactly as stored (Decimal text, never floats).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any, TextIO

from meterdesk.billing.models import AccountClose, BillingRun, LedgerEntry, RunStatus
from meterdesk.billing.selectors import Statement, statement_get
from meterdesk.customers.models import Account

#: The charges export's columns, in order, each with the ledger entry's field it is read from.
CHARGE_FIELDS = (
    ("entry_id", "pk"),
    ("period", "period"),
    ("account", "account__number"),
    ("meter_serial", "meter__serial"),
    ("kind", "kind"),
    ("basis", "basis"),
    ("zone", "zone"),
    ("band", "band"),
    ("volume", "volume"),
    ("price", "price"),
    ("amount", "amount"),
    ("reason", "reason"),
    ("posted_on", "posted_on"),
)
CHARGE_COLUMNS = tuple(column for column, _ in CHARGE_FIELDS)
DECIMAL_COLUMNS = {"volume", "price", "amount"}
CSV_DELIMITER = ";"
FORMATS = ("csv", "json", "jsonl")
CHUNK = 2000


class ExportError(Exception):
    """What was asked cannot be exported (the message says why, for the operator)."""


def month_closed_check(period: date) -> None:
    """Raise ExportError unless the monthly close of ``period`` has finished."""
    run = BillingRun.objects.filter(period=period).first()
    if run is not None and run.status == RunStatus.DONE:
        return
    if run is not None or AccountClose.objects.filter(period=period).exists():
        raise ExportError(
            f"the close of {period:%Y-%m} has not finished: run `meterdesk bill --period {period:%Y-%m}` again"
        )
    last = BillingRun.objects.filter(status=RunStatus.DONE).order_by("-period").first()
    tail = f" (the last closed month is {last.period:%Y-%m})" if last else " (no month is closed yet)"
    raise ExportError(f"{period:%Y-%m} is not closed{tail}")


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def charges_iter(period: date) -> Iterator[dict[str, Any]]:
    """Every ledger line of a closed month, by account and posting order, as plain values
    (decimals and dates as text, so that nothing is lost in JSON). Raises ExportError at once
    if the month is not closed."""
    month_closed_check(period)
    return _charges(period)


def _charges(period: date) -> Iterator[dict[str, Any]]:
    rows = (
        LedgerEntry.objects.filter(period=period)
        .order_by("account_id", "pk")
        .values_list(*(field for _, field in CHARGE_FIELDS))
        .iterator(chunk_size=CHUNK)
    )
    label = f"{period:%Y-%m}"
    for row in rows:
        item = dict(zip(CHARGE_COLUMNS, (_text(v) for v in row), strict=True))
        item["period"] = label
        yield item


def charges_write(period: date, out: TextIO, fmt: str = "csv", *, decimal_comma: bool = False) -> int:
    """Write the month's ledger lines to ``out`` as CSV (``;``-separated, with a header), one
    JSON array (``json``) or JSON Lines (``jsonl``). Returns how many lines."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    rows = charges_iter(period)
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, delimiter=CSV_DELIMITER, lineterminator="\r\n")
        writer.writerow(CHARGE_COLUMNS)
        for item in rows:
            writer.writerow(_csv_row(item, decimal_comma))
            count += 1
    elif fmt == "json":
        out.write("[")
        for item in rows:
            out.write(("\n" if count == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
            count += 1
        out.write("\n]\n" if count else "]\n")
    else:
        for item in rows:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
            count += 1
    return count


def _csv_row(item: dict[str, Any], decimal_comma: bool) -> list[Any]:
    cells = []
    for column in CHARGE_COLUMNS:
        value = item[column]
        if value is None:
            value = ""
        elif decimal_comma and column in DECIMAL_COLUMNS:
            value = str(value).replace(".", ",")
        cells.append(value)
    return cells


# --- the statement -------------------------------------------------------------------------


def statement_find(number: str, period: date) -> tuple[Account, Statement]:
    account = Account.objects.filter(number=number).first()
    if account is None:
        raise ExportError(f"no account {number}")
    statement = statement_get(account, period)
    if statement is None:
        month_closed_check(period)
        raise ExportError(
            f"account {number} has no statement for {period:%Y-%m} (not open in that month: "
            f"opened {account.opened_on}{f', closed {account.closed_on}' if account.closed_on else ''})"
        )
    return account, statement


def _line(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "basis": entry.basis,
        "meter_serial": entry.meter.serial if entry.meter is not None else None,
        "zone": entry.zone,
        "band": entry.band,
        "volume": _text(entry.volume),
        "price": _text(entry.price),
        "amount": _text(entry.amount),
        "reason": entry.reason,
    }


def statement_data(number: str, period: date) -> dict[str, Any]:
    """The monthly statement as plain data (decimals as text)."""
    account, statement = statement_find(number, period)
    close = statement.close
    return {
        "account": account.number,
        "payer": account.holder_name,
        "address": account.address,
        "period": f"{period:%Y-%m}",
        "basis": close.basis,
        "opening_balance": _text(close.opening_balance),
        "lines": [_line(e) for e in statement.lines],
        "payments": [
            {
                "posted_on": _text(e.posted_on),
                "amount": _text(e.amount),
                "external_id": e.external_id,
                "source": e.reason,
            }
            for e in statement.payments
        ],
        "penalty": [
            {"amount": _text(e.amount), "reason": e.reason, "detail": e.detail} for e in statement.penalty
        ],
        "totals": {
            "charges": _text(close.charges),
            "recalculations": _text(close.recalculations),
            "payments": _text(close.payments),
            "penalty": _text(close.penalty),
        },
        "closing_balance": _text(close.closing_balance),
        "total_due": _text(statement.total_due),
        "due_date": _text(close.due_date),
    }


def statement_text(data: dict[str, Any]) -> str:
    """The statement for a person to read (a plain-text table)."""
    out = [
        f"Statement of account {data['account']} for {data['period']}",
        f"Payer:   {data['payer']}",
        f"Address: {data['address']}",
        "",
        f"{'Opening balance':<58}{data['opening_balance']:>14}",
        "",
    ]
    if data["lines"]:
        out.append(
            f"{'meter':<12}{'zone':>4} {'band':>4} {'basis':<15}{'volume kWh':>12}{'price':>8}{'amount':>14}"
        )
        for line in data["lines"]:
            out.append(
                f"{line['meter_serial'] or '-':<12}{line['zone']:>4} {line['band']:>4} {line['basis']:<15}"
                f"{line['volume'] or '':>12}{line['price'] or '':>8}{line['amount']:>14}"
                + (f"  {line['reason']}" if line["reason"] else "")
            )
        out.append("")
    totals = data["totals"]
    out.append(f"{'Charges':<58}{totals['charges']:>14}")
    out.append(f"{'Recalculations':<58}{totals['recalculations']:>14}")
    for payment in data["payments"]:
        label = f"Payment {payment['posted_on']} {payment['external_id'] or ''}".rstrip()
        out.append(f"{label:<58}{payment['amount']:>14}")
    out.append(f"{'Penalty':<58}{totals['penalty']:>14}")
    out.append(f"{'Closing balance':<58}{data['closing_balance']:>14}")
    out.append("")
    out.append(f"{'Total due by ' + data['due_date']:<58}{data['total_due']:>14}")
    return "\n".join(out) + "\n"
