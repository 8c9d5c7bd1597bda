"""MeterState <-> JSON (compact, exact: Decimals as strings, periods as YYYY-MM)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from meterdesk.domain.billing import MeterState, Point


def _p(period: date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


def _d(text: str) -> date:
    return date(int(text[:4]), int(text[5:7]), 1)


def _point(point: Point) -> list[Any]:
    return [_p(point.period), [str(t) for t in point.totals], 1 if point.installation else 0]


def _unpoint(raw: list[Any]) -> Point:
    return Point(_d(raw[0]), tuple(Decimal(t) for t in raw[1]), bool(raw[2]))


def state_dumps(state: MeterState) -> str:
    data: dict[str, Any] = {
        "raw": [str(v) for v in state.raw],
        "last": _point(state.last),
    }
    if state.anchors:
        data["anchors"] = [_point(a) for a in state.anchors]
    if any(state.estimated):
        data["est"] = [str(v) for v in state.estimated]
    if state.estimated_norm:
        data["est_norm"] = str(state.estimated_norm)
    if state.estimated_periods:
        data["est_periods"] = [_p(p) for p in state.estimated_periods]
    if state.missing_run:
        data["missing_run"] = state.missing_run
    if state.failed_run:
        data["failed_run"] = state.failed_run
    return json.dumps(data, separators=(",", ":"))


def state_loads(data: str | dict[str, Any]) -> MeterState:
    raw = json.loads(data) if isinstance(data, str) else data
    zones = len(raw["raw"])
    return MeterState(
        raw=tuple(Decimal(v) for v in raw["raw"]),
        last=_unpoint(raw["last"]),
        anchors=tuple(_unpoint(a) for a in raw.get("anchors", ())),
        estimated=tuple(Decimal(v) for v in raw.get("est", ["0"] * zones)),
        estimated_norm=Decimal(raw.get("est_norm", "0")),
        estimated_periods=tuple(_d(p) for p in raw.get("est_periods", ())),
        missing_run=int(raw.get("missing_run", 0)),
        failed_run=int(raw.get("failed_run", 0)),
    )
