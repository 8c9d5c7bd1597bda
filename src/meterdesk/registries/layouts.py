"""Layouts of bank registries: how one bank writes its daily file of payments (docs/registries.md).

A layout is data, a JSON file: the shipped ones are in ``registries/layouts/``; a utility adds its
own, without code changes, to the directory named by the setting ``METERDESK_REGISTRY_LAYOUTS``
(environment variable of the same name). A layout there with the name of a shipped one replaces it.
Every layout is checked when it is read; a wrong one is refused with the file and the key at fault.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings

SHIPPED_DIR = Path(__file__).resolve().parent / "layouts"

#: The fields a row may have. Required in every layout: date, account, amount.
FIELDS = (
    "date",  # the day of the payment
    "time",  # its time (the date alone is midnight)
    "branch",  # the bank's branch / office / terminal
    "operation_id",  # the bank's number of the operation
    "account",  # the utility's account number, as the payer gave it
    "payer",  # the payer's full name
    "address",  # the payer's address
    "period",  # the month paid for
    "amount",  # what the payer paid to the utility (credited to the account)
    "commission",  # the bank's fee (not credited)
)
REQUIRED_FIELDS = ("date", "account", "amount")
#: The control totals a footer may carry, and the fields it may also just record.
FOOTER_TOTALS = ("count", "amount", "commission", "net")
FOOTER_INFO = ("order_number", "order_date")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")


class LayoutError(Exception):
    """A layout file is missing or wrong (the message names the file and the key)."""


@dataclass(frozen=True)
class Footer:
    lines: int = 1  # the last N non-empty lines of the file are the footer
    prefix: str = ""  # the footer's first line starts with this (stripped before splitting)
    fields: dict[str, int] = field(default_factory=dict)  # total or info -> column (1-based)


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    bank: str  # the sender's identity: part of every row's key (two layouts of one bank share it)
    encoding: str
    delimiter: str
    quote: str | None
    header_lines: int
    column_count: int
    trailing_delimiter: bool
    fields: dict[str, int]  # field -> column (1-based)
    row_key: tuple[str, ...]
    date_format: str
    time_format: str
    period_format: str
    decimal_separator: str
    thousands_separator: str
    account_pattern: str
    footer: Footer | None
    source: str  # the file it was read from
    description: str = ""

    @property
    def account_re(self) -> re.Pattern[str]:
        return re.compile(self.account_pattern)


def _fail(source: Path, key: str, message: str) -> LayoutError:
    return LayoutError(f"{source}: {key}: {message}" if key else f"{source}: {message}")


def _check_format(source: Path, key: str, value: Any, sample: datetime) -> str:
    if not isinstance(value, str) or "%" not in value:
        raise _fail(source, key, "a strftime format such as %d.%m.%Y")
    try:
        datetime.strptime(sample.strftime(value), value)  # noqa: DTZ007 - a format check only
    except ValueError as exc:
        raise _fail(source, key, f"not a usable format ({exc})") from exc
    return value


def _columns(source: Path, key: str, value: Any, allowed: tuple[str, ...]) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _fail(source, key, "an object of name: column number")
    out: dict[str, int] = {}
    for name, column in value.items():
        if name not in allowed:
            raise _fail(source, f"{key}.{name}", f"unknown; expected some of {', '.join(allowed)}")
        if not isinstance(column, int) or isinstance(column, bool) or column < 1:
            raise _fail(source, f"{key}.{name}", "a column number counted from 1")
        out[name] = column
    used: dict[int, str] = {}
    for name, column in out.items():
        if column in used:
            raise _fail(source, f"{key}.{name}", f"column {column} is already {used[column]}")
        used[column] = name
    return out


def layout_parse(data: Any, source: Path) -> Layout:
    """A layout from the decoded JSON of ``source``; raises ``LayoutError`` on anything wrong."""
    if not isinstance(data, dict):
        raise _fail(source, "", "a layout is a JSON object")
    known = {
        "name",
        "title",
        "description",
        "bank",
        "encoding",
        "delimiter",
        "quote",
        "header_lines",
        "column_count",
        "trailing_delimiter",
        "fields",
        "row_key",
        "date_format",
        "time_format",
        "period_format",
        "decimal_separator",
        "thousands_separator",
        "account_pattern",
        "footer",
    }
    for key in data:
        if key not in known:
            raise _fail(source, key, "unknown key")
    name = data.get("name", source.stem)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _fail(source, "name", "lower-case letters, digits, '-' and '_' (at most 60)")
    if name != source.stem:
        raise _fail(source, "name", f"must be the file's name without .json ({source.stem!r})")
    encoding = data.get("encoding", "utf-8")
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError) as exc:
        raise _fail(source, "encoding", f"unknown encoding {encoding!r}") from exc
    delimiter = data.get("delimiter", ";")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n":
        raise _fail(source, "delimiter", "one character, e.g. ';'")
    quote = data.get("quote")
    if quote is not None and (not isinstance(quote, str) or len(quote) != 1 or quote == delimiter):
        raise _fail(source, "quote", "null (no quoting) or one character other than the delimiter")
    header_lines = data.get("header_lines", 0)
    if not isinstance(header_lines, int) or isinstance(header_lines, bool) or header_lines < 0:
        raise _fail(source, "header_lines", "a whole number, 0 or more")
    if "fields" not in data:
        raise _fail(source, "fields", "required")
    fields = _columns(source, "fields", data["fields"], FIELDS)
    for required in REQUIRED_FIELDS:
        if required not in fields:
            raise _fail(source, f"fields.{required}", "required")
    column_count = data.get("column_count", max(fields.values()))
    if not isinstance(column_count, int) or isinstance(column_count, bool) or column_count < 1:
        raise _fail(source, "column_count", "a whole number, 1 or more")
    for field_name, column in fields.items():
        if column > column_count:
            raise _fail(
                source, f"fields.{field_name}", f"column {column} is past column_count {column_count}"
            )
    row_key = data.get("row_key", [f for f in ("date", "branch", "operation_id") if f in fields])
    if not isinstance(row_key, list) or not row_key or not all(isinstance(k, str) for k in row_key):
        raise _fail(source, "row_key", 'a list of field names, e.g. ["date", "branch", "operation_id"]')
    for key in row_key:
        if key not in fields:
            raise _fail(source, "row_key", f"{key!r} is not one of the layout's fields")
    if row_key == ["date"]:
        raise _fail(source, "row_key", "the date alone cannot tell two payments apart")
    sample = datetime(2024, 12, 31, 23, 59, 58)  # noqa: DTZ001 - a format check only
    date_format = _check_format(source, "date_format", data.get("date_format", "%d.%m.%Y"), sample)
    time_format = _check_format(source, "time_format", data.get("time_format", "%H:%M:%S"), sample)
    period_format = _check_format(source, "period_format", data.get("period_format", "%m%Y"), sample)
    decimal_separator = data.get("decimal_separator", ".")
    if decimal_separator not in (".", ","):
        raise _fail(source, "decimal_separator", "'.' or ','")
    thousands_separator = data.get("thousands_separator", "")
    if thousands_separator not in ("", " ", "'") or thousands_separator == decimal_separator:
        raise _fail(source, "thousands_separator", "'' (none), ' ' or \"'\"")
    account_pattern = data.get("account_pattern", r"\d{10}")
    try:
        re.compile(account_pattern)
    except (re.error, TypeError) as exc:
        raise _fail(source, "account_pattern", f"not a regular expression ({exc})") from exc
    trailing = data.get("trailing_delimiter", False)
    if not isinstance(trailing, bool):
        raise _fail(source, "trailing_delimiter", "true or false")
    footer = _footer(source, data.get("footer"))
    bank = data.get("bank", name)
    if not isinstance(bank, str) or not NAME_RE.match(bank):
        raise _fail(source, "bank", "lower-case letters, digits, '-' and '_' (at most 60)")
    title = data.get("title", name)
    description = data.get("description", "")
    if not isinstance(title, str) or not isinstance(description, str):
        raise _fail(source, "title", "text")
    return Layout(
        name=name,
        title=title,
        bank=bank,
        encoding=codecs.lookup(encoding).name,
        delimiter=delimiter,
        quote=quote,
        header_lines=header_lines,
        column_count=column_count,
        trailing_delimiter=trailing,
        fields=fields,
        row_key=tuple(row_key),
        date_format=date_format,
        time_format=time_format,
        period_format=period_format,
        decimal_separator=decimal_separator,
        thousands_separator=thousands_separator,
        account_pattern=account_pattern,
        footer=footer,
        source=str(source),
        description=description,
    )


def _footer(source: Path, value: Any) -> Footer | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail(source, "footer", "null (no footer) or an object")
    for key in value:
        if key not in ("lines", "prefix", "fields"):
            raise _fail(source, f"footer.{key}", "unknown key")
    lines = value.get("lines", 1)
    if not isinstance(lines, int) or isinstance(lines, bool) or lines < 1:
        raise _fail(source, "footer.lines", "a whole number, 1 or more")
    prefix = value.get("prefix", "")
    if not isinstance(prefix, str):
        raise _fail(source, "footer.prefix", "text")
    fields = _columns(source, "footer.fields", value.get("fields", {}), FOOTER_TOTALS + FOOTER_INFO)
    if not any(name in fields for name in FOOTER_TOTALS):
        raise _fail(source, "footer.fields", f"name at least one control total: {', '.join(FOOTER_TOTALS)}")
    return Footer(lines=lines, prefix=prefix, fields=fields)


def layout_read(path: Path) -> Layout:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(path, "", f"cannot be read ({exc.strerror})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, "", f"not a JSON file in UTF-8 ({exc})") from exc
    return layout_parse(data, path)


def layout_dirs() -> list[Path]:
    """Where layouts are read from, in order (a later one replaces an earlier one of the same name)."""
    dirs = [SHIPPED_DIR]
    own = getattr(settings, "METERDESK_REGISTRY_LAYOUTS", None)
    if own:
        dirs.append(Path(own))
    return dirs


def layouts_available() -> dict[str, Layout]:
    """Every layout by name. A wrong layout file raises ``LayoutError``."""
    found: dict[str, Layout] = {}
    for directory in layout_dirs():
        if not directory.is_dir():
            if directory != SHIPPED_DIR:
                raise LayoutError(f"{directory}: METERDESK_REGISTRY_LAYOUTS is not a directory")
            continue
        for path in sorted(directory.glob("*.json")):
            layout = layout_read(path)
            found[layout.name] = layout
    return found


def layout_get(name: str) -> Layout:
    """The layout called ``name`` (from the utility's directory first, then the shipped ones)."""
    for directory in reversed(layout_dirs()):
        path = directory / f"{name}.json"
        if NAME_RE.match(name) and path.is_file():
            return layout_read(path)
    names: list[str] = []
    for directory in layout_dirs():
        if directory.is_dir():
            names.extend(p.stem for p in directory.glob("*.json"))
    known = ", ".join(sorted(set(names))) or "none"
    raise LayoutError(f"no registry layout {name!r}; known: {known}")
