"""MeterState <-> JSON (compact, exact: Decimals as strings, periods as YYYY-MM).

One meter's state after a month, e.g.::

    {"raw":["12345.000","2345.000"],"last":["2026-09",["1020.000","410.000"],0],
     "anchors":[["2026-03",["610.000","250.000"],0],…],"est":[…],"est_norm":"…",
     "est_periods":["2026-08"],"missing_run":1,"failed_run":0}

A point is ``[period, totals, 1 if installation else 0]``; fields at their default are left out
(a million states are written a month). Any other field of ``MeterState`` is written under its own
name when it differs from its default (Decimals as strings, dates as ISO dates, tuples as lists).

The text is built and read without ``json.dumps`` and with plain ``map``/``tuple`` calls: the
monthly close writes and reads one state per meter, and a dict-walking codec was a fifth of its
time.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Any

from meterdesk.domain.billing import MeterState, Point

_ZERO = Decimal(0)
_PERIODS: dict[str, date] = {}
_LABELS: dict[date, str] = {}

#: The fields written under their short names; any other field is written generically.
_KNOWN = {
    "raw",
    "last",
    "anchors",
    "estimated",
    "estimated_norm",
    "estimated_periods",
    "missing_run",
    "failed_run",
}
_EXTRA = [(f.name, str(f.type), f.default) for f in fields(MeterState) if f.name not in _KNOWN]
#: Fields of ``MeterState`` beyond the known ones (the close's SQL fast path writes only those).
EXTRA_FIELDS = tuple(name for name, _kind, _default in _EXTRA)


def _d(text: str) -> date:
    period = _PERIODS.get(text)
    if period is None:
        period = _PERIODS[text] = date(int(text[:4]), int(text[5:7]), 1)
    return period


def _p(period: date) -> str:
    label = _LABELS.get(period)
    if label is None:
        label = _LABELS[period] = f"{period.year:04d}-{period.month:02d}"
    return label


def _values(values: tuple[Decimal, ...]) -> str:
    # str(Decimal) never needs JSON escaping: digits, sign, point, exponent.
    return '["' + '","'.join(map(str, values)) + '"]' if values else "[]"


def _point(point: Point) -> str:
    return f'["{_p(point.period)}",{_values(point.totals)},{1 if point.installation else 0}]'


def state_dumps(state: MeterState) -> str:
    """The JSON text of a state (the same text as ``json.dumps`` of the object, without spaces)."""
    parts = ['{"raw":', _values(state.raw), ',"last":', _point(state.last)]
    if state.anchors:
        parts += [',"anchors":[', ",".join(map(_point, state.anchors)), "]"]
    if any(state.estimated):
        parts += [',"est":', _values(state.estimated)]
    if state.estimated_norm:
        parts += [',"est_norm":"', str(state.estimated_norm), '"']
    if state.estimated_periods:
        parts += [',"est_periods":["', '","'.join(map(_p, state.estimated_periods)), '"]']
    if state.missing_run:
        parts += [',"missing_run":', str(int(state.missing_run))]
    if state.failed_run:
        parts += [',"failed_run":', str(int(state.failed_run))]
    for name, _kind, default in _EXTRA:
        value = getattr(state, name)
        if value != default:
            parts += [",", json.dumps(name), ":", json.dumps(_encode(value), separators=(",", ":"))]
    parts.append("}")
    return "".join(parts)


def _unpoint(raw: list[Any]) -> Point:
    return Point(_d(raw[0]), tuple(map(Decimal, raw[1])), bool(raw[2]))


def state_loads(data: str | dict[str, Any]) -> MeterState:
    """A state from its JSON text or the decoded object (as a JSON column gives it back)."""
    raw = json.loads(data) if isinstance(data, str) else data
    values = tuple(map(Decimal, raw["raw"]))
    get = raw.get
    anchors = get("anchors")
    est = get("est")
    est_norm = get("est_norm")
    periods = get("est_periods")
    extra = (
        {name: _decode(get(name), kind) for name, kind, _default in _EXTRA if name in raw} if _EXTRA else {}
    )
    return MeterState(
        raw=values,
        last=_unpoint(raw["last"]),
        anchors=tuple(map(_unpoint, anchors)) if anchors else (),
        estimated=tuple(map(Decimal, est)) if est else (_ZERO,) * len(values),
        estimated_norm=Decimal(est_norm) if est_norm else _ZERO,
        estimated_periods=tuple(map(_d, periods)) if periods else (),
        missing_run=int(get("missing_run", 0)),
        failed_run=int(get("failed_run", 0)),
        **extra,
    )


def _encode(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, Point):
        return [value.period.isoformat(), [str(t) for t in value.totals], 1 if value.installation else 0]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decode(value: Any, kind: str) -> Any:
    """A field written by ``_encode``, back to the type its annotation names."""
    inner = kind.removeprefix("tuple[").removesuffix(", ...]")
    if inner != kind:
        return tuple(_decode(v, inner) for v in value)
    if kind == "Decimal":
        return Decimal(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "Point":
        return Point(date.fromisoformat(value[0]), tuple(map(Decimal, value[1])), bool(value[2]))
    return value


_KOPECK = Decimal("0.01")


def db_money(value: Any) -> Decimal:
    """A sum of amounts from the database, in kopecks: SQLite gives decimal columns and their
    sums back as floats (via str, 1100.6 stays 1100.6 rather than 1100.5999999999999…)."""
    return (value if type(value) is Decimal else Decimal(str(value))).quantize(_KOPECK)
