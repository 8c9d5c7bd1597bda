"""Reading a registry file by its layout: every problem is collected with its line number.

Pure Python over bytes (no database): ``registry_parse`` returns the rows it understood and every
problem it found. A file with any problem must not be loaded at all (the service refuses it).
Line numbers are those an editor shows: the first line of the file is line 1.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from typing import Any

from meterdesk.dataio.source import Problem
from meterdesk.registries.layouts import Layout

MAX_INTEGER_DIGITS = 12
TEXT_LIMITS = {"branch": 40, "operation_id": 60, "account": 100, "payer": 300, "address": 500}
FIELD_LABELS = {"operation_id": "operation id"}


@dataclass(frozen=True)
class ParsedRow:
    line: int
    raw: str
    key: str  # the bank's identity of the row (see ``row_key``)
    paid_on: date
    paid_at: datetime
    branch: str
    operation_id: str
    account: str  # as the bank sent it
    payer: str
    address: str
    period: date | None
    amount: Decimal
    commission: Decimal

    @property
    def external_id(self) -> str:
        return external_id_for(self.key)


@dataclass
class ParsedFile:
    name: str
    layout: Layout
    rows: list[ParsedRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    footer: dict[str, str] = field(default_factory=dict)  # what the footer said, by field
    data_lines: int = 0  # lines that are payments (good or bad)

    @property
    def amount(self) -> Decimal:
        return sum((r.amount for r in self.rows), Decimal("0.00"))

    @property
    def commission(self) -> Decimal:
        return sum((r.commission for r in self.rows), Decimal("0.00"))


def external_id_for(key: str) -> str:
    """The ledger's external id of a row: ``reg:`` + its key, or a hash of a key too long for it."""
    text = f"reg:{key}"
    if len(text) <= 80:
        return text
    bank = key.split(":", 1)[0][:20]
    return f"reg:{bank}:#{hashlib.sha256(key.encode()).hexdigest()[:48]}"


class _Bad(ValueError):
    pass


def _amount(text: str, layout: Layout, *, positive: bool) -> Decimal:
    compact = text.replace("\u00a0", " ")
    if layout.thousands_separator:
        compact = compact.replace(layout.thousands_separator, "")
    compact = compact.strip()
    sep = re.escape(layout.decimal_separator)
    # ASCII digits only (Python's \d and Decimal also take Arabic-Indic and other digits), and
    # the digits counted on the text, before any arithmetic (Decimal keeps 28 of them).
    match = re.fullmatch(rf"(-?)([0-9]+)(?:{sep}([0-9]+))?", compact)
    if match is None:
        if any(ch.isdigit() and not ch.isascii() for ch in compact):
            raise _Bad("not an amount: only the digits 0-9")
        other = "." if layout.decimal_separator == "," else ","
        if other in compact:
            raise _Bad(f"not an amount: the decimal mark of this layout is {layout.decimal_separator!r}")
        raise _Bad("not an amount")
    sign, whole, fraction = match.groups()
    if sign:
        raise _Bad("must not be negative")
    whole = whole.lstrip("0") or "0"
    fraction = (fraction or "").rstrip("0")
    if len(fraction) > 2:
        raise _Bad("more than 2 decimal places (kopecks)")
    if len(whole) > MAX_INTEGER_DIGITS:
        raise _Bad("too large")
    number = Decimal(f"{whole}.{fraction}" if fraction else whole)
    if positive and number == 0:
        raise _Bad("must be more than zero")
    return number.quantize(Decimal("0.01"))


#: Characters no field may hold: the control characters (a NUL, which PostgreSQL refuses in text;
#: an escape sequence), but the tab that may separate the fields.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
CONTROL_MESSAGE = "a control character (NUL, ESC …) is not allowed"


def _strptime(text: str, fmt: str, what: str) -> datetime:
    try:
        return datetime.strptime(text, fmt)  # noqa: DTZ007 - a naive date or time, made aware below
    except ValueError as exc:
        shown = fmt.replace("%d", "DD").replace("%m", "MM").replace("%Y", "YYYY").replace("%y", "YY")
        shown = shown.replace("%H", "HH").replace("%M", "MM").replace("%S", "SS")
        raise _Bad(f"not a {what}: expected {shown}") from exc


def _split(line: str, layout: Layout) -> list[str]:
    if layout.quote is None:
        cells = line.split(layout.delimiter)
    else:
        cells = next(csv.reader([line], delimiter=layout.delimiter, quotechar=layout.quote))
    return cells


def _decode_lines(data: bytes, layout: Layout, name: str, problems: list[Problem]) -> list[str] | None:
    """The file's lines as text (line ends removed); None (with problems) if it is not in the
    layout's encoding. Each line that cannot be decoded is reported."""
    chunks = data.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    if layout.encoding != "utf-8" and any(b >= 0x80 for b in data):
        # Cyrillic in cp1251 is almost never valid UTF-8: a file that is, was sent in UTF-8.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            first = next(n for n, chunk in enumerate(chunks, start=1) if any(b >= 0x80 for b in chunk))
            problems.append(
                Problem(
                    name,
                    first,
                    "",
                    f"the file is UTF-8 text, but layout {layout.name!r} expects {layout.encoding}",
                )
            )
            return None
    lines: list[str] = []
    for number, chunk in enumerate(chunks, start=1):
        try:
            text = chunk.decode(layout.encoding)
        except UnicodeDecodeError as exc:
            problems.append(
                Problem(
                    name,
                    number,
                    "",
                    f"not {layout.encoding} text (byte 0x{chunk[exc.start]:02x} at position {exc.start + 1}); "
                    f"is this a file of layout {layout.name!r}?",
                )
            )
            continue
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        lines.append(text.rstrip("\r"))
    return None if problems else lines


def registry_parse(data: bytes, name: str, layout: Layout, *, zone: tzinfo, today: date) -> ParsedFile:
    """Every row and every problem of a registry file. ``today``: no payment may be later."""
    result = ParsedFile(name=name, layout=layout)
    problems = result.problems
    lines = _decode_lines(data, layout, name, problems)
    if lines is None:
        return result
    numbered = [(n, text) for n, text in enumerate(lines, start=1) if n > layout.header_lines]
    numbered = [(n, text) for n, text in numbered if text.strip()]
    footer_lines: list[tuple[int, str]] = []
    if layout.footer is not None:
        if len(numbered) < layout.footer.lines:
            problems.append(
                Problem(name, None, "", f"the footer ({layout.footer.lines} line(s) at the end) is missing")
            )
            return result
        footer_lines = numbered[-layout.footer.lines :]
        numbered = numbered[: -layout.footer.lines]
    if not numbered:
        problems.append(Problem(name, None, "", "no payments in the file"))
    seen: dict[str, int] = {}
    for number, text in numbered:
        row = _row(number, text, layout, name, zone, today, problems)
        result.data_lines += 1
        if row is None:
            continue
        if row.key in seen:
            key_names = ", ".join(FIELD_LABELS.get(k, k) for k in layout.row_key)
            problems.append(
                Problem(name, number, "", f"the same payment ({key_names}) as line {seen[row.key]}", row.key)
            )
            continue
        seen[row.key] = number
        result.rows.append(row)
    if footer_lines:
        _footer_check(footer_lines, result, problems)
    problems.sort(key=lambda p: p.row or 0)
    return result


def _row(
    number: int, text: str, layout: Layout, name: str, zone: tzinfo, today: date, problems: list[Problem]
) -> ParsedRow | None:
    try:
        cells = _split(text, layout)
    except csv.Error as exc:
        problems.append(Problem(name, number, "", f"not a readable line: {exc}"))
        return None
    if layout.trailing_delimiter and len(cells) == layout.column_count + 1 and not cells[-1].strip():
        cells.pop()
    if len(cells) != layout.column_count:
        problems.append(
            Problem(
                name,
                number,
                "",
                f"{len(cells)} values separated by {layout.delimiter!r}, but layout {layout.name!r} "
                f"has {layout.column_count}",
            )
        )
        return None
    raw = {f: cells[c - 1].strip() for f, c in layout.fields.items()}
    values: dict[str, Any] = {}
    ok = True

    def bad(field_name: str, message: str) -> None:
        nonlocal ok
        ok = False
        problems.append(
            Problem(name, number, FIELD_LABELS.get(field_name, field_name), message, raw[field_name])
        )

    controlled = [f for f in raw if CONTROL_CHARACTERS.search(raw[f])]
    for field_name in controlled:
        bad(field_name, CONTROL_MESSAGE)
    if CONTROL_CHARACTERS.search(text) and not controlled:  # in a column of no field
        problems.append(Problem(name, number, "", CONTROL_MESSAGE))
    if not ok or CONTROL_CHARACTERS.search(text):
        return None

    for field_name in ("date", "amount", *layout.row_key):
        if field_name in raw and not raw[field_name] and field_name not in values:
            values[field_name] = None
            what = "part of the payment's identity (row_key)" if field_name in layout.row_key else ""
            bad(field_name, f"required{': ' + what if what else ''}")
    for field_name, limit in TEXT_LIMITS.items():
        if len(raw.get(field_name, "")) > limit:
            bad(field_name, f"longer than {limit} characters")
    paid_on: date | None = None
    if raw["date"]:
        try:
            paid_on = _strptime(raw["date"], layout.date_format, "date").date()
        except _Bad as exc:
            bad("date", str(exc))
        else:
            if paid_on > today:
                bad("date", f"in the future (today is {today:%d.%m.%Y})")
    moment = time(0)
    if raw.get("time"):
        try:
            moment = _strptime(raw["time"], layout.time_format, "time").time()
        except _Bad as exc:
            bad("time", str(exc))
    period: date | None = None
    if raw.get("period"):
        try:
            period = _strptime(raw["period"], layout.period_format, "month").date().replace(day=1)
        except _Bad as exc:
            bad("period", str(exc))
    amount = commission = Decimal("0.00")
    if raw["amount"]:
        try:
            amount = _amount(raw["amount"], layout, positive=True)
        except _Bad as exc:
            bad("amount", str(exc))
    if raw.get("commission"):
        try:
            commission = _amount(raw["commission"], layout, positive=False)
        except _Bad as exc:
            bad("commission", str(exc))
    if not ok or paid_on is None:
        return None
    key_parts = [paid_on.isoformat() if k == "date" else raw[k] for k in layout.row_key]
    return ParsedRow(
        line=number,
        raw=text,
        key=f"{layout.bank}:{'/'.join(key_parts)}",
        paid_on=paid_on,
        paid_at=datetime.combine(paid_on, moment, tzinfo=zone),
        branch=raw.get("branch", ""),
        operation_id=raw.get("operation_id", ""),
        account=raw["account"],
        payer=raw.get("payer", ""),
        address=raw.get("address", ""),
        period=period,
        amount=amount,
        commission=commission,
    )


def _footer_check(footer_lines: list[tuple[int, str]], result: ParsedFile, problems: list[Problem]) -> None:
    layout = result.layout
    footer = layout.footer
    if footer is None:  # pragma: no cover - called only for a layout with a footer
        return
    number, text = footer_lines[0]
    name = result.name
    if footer.prefix and not text.startswith(footer.prefix):
        problems.append(
            Problem(
                name, number, "", f"expected the footer here: a line starting with {footer.prefix!r}", text
            )
        )
        return
    try:
        cells = _split(text[len(footer.prefix) :], layout)
    except csv.Error as exc:
        problems.append(Problem(name, number, "", f"not a readable footer: {exc}"))
        return
    width = max(footer.fields.values())
    if len(cells) < width:
        problems.append(
            Problem(
                name, number, "", f"the footer has {len(cells)} values, layout {layout.name!r} needs {width}"
            )
        )
        return
    said = {f: cells[c - 1].strip() for f, c in footer.fields.items()}
    for field_name, cell in said.items():
        if CONTROL_CHARACTERS.search(cell):
            problems.append(Problem(name, number, f"footer {field_name}", CONTROL_MESSAGE, cell))
            return
    result.footer = said
    amounts_ok = not problems  # the sums of the rows are known only if every row was understood
    if "count" in said:
        if not re.fullmatch(r"\d+", said["count"]):
            problems.append(Problem(name, number, "footer count", "not a whole number", said["count"]))
        elif int(said["count"]) != result.data_lines:
            problems.append(
                Problem(
                    name,
                    number,
                    "footer count",
                    f"the footer says {int(said['count'])} payments, the file has {result.data_lines}",
                    said["count"],
                )
            )
    expected = {
        "amount": result.amount,
        "commission": result.commission,
        "net": result.amount - result.commission,
    }
    for total, value in expected.items():
        if total not in said:
            continue
        try:
            stated = _amount(said[total], layout, positive=False)
        except _Bad as exc:
            problems.append(Problem(name, number, f"footer {total}", str(exc), said[total]))
            continue
        if amounts_ok and stated != value:
            problems.append(
                Problem(
                    name,
                    number,
                    f"footer {total}",
                    f"the footer's total {stated} differs from the sum of the rows, {value}",
                    said[total],
                )
            )
    if said.get("order_date"):
        try:
            _strptime(said["order_date"], layout.date_format, "date")
        except _Bad as exc:
            problems.append(Problem(name, number, "footer order_date", str(exc), said["order_date"]))
