"""The meter state stored between months must come back exactly as the engine left it."""

from __future__ import annotations

import json
from dataclasses import MISSING, fields, replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from meterdesk.billing.codec import state_dumps, state_loads
from meterdesk.domain.billing import MeterInfo, MeterState, Point

D = Decimal


def _full_state() -> MeterState:
    """A state in which no field has its default value (so that a field the codec forgets shows)."""
    state = MeterState(
        raw=(D("99950"), D("12.5")),
        last=Point(date(2025, 7, 1), (D("800"), D("400.250"))),
        anchors=(
            Point(date(2024, 12, 1), (D(0), D(0)), installation=True),
            Point(date(2025, 1, 1), (D(100), D(50))),
        ),
        estimated=(D("116.667"), D("58.333")),
        estimated_norm=D("156.000"),
        estimated_periods=(date(2025, 8, 1), date(2025, 9, 1), date(2025, 10, 1)),
        missing_run=2,
        failed_run=1,
    )
    extra: dict[str, Any] = {}
    for f in fields(MeterState):
        if f.default is MISSING or getattr(state, f.name) != f.default:
            continue
        if isinstance(f.default, bool) or not isinstance(f.default, int | Decimal):
            pytest.fail(f"give MeterState.{f.name} a value in _full_state()")
        extra[f.name] = type(f.default)(1)
    return replace(state, **extra)


def test_every_field_round_trips():
    state = _full_state()
    assert state_loads(state_dumps(state)) == state
    assert state_loads(json.loads(state_dumps(state))) == state  # as a JSON column gives it back


def test_initial_state_round_trips():
    meter = MeterInfo(
        meter_id=1, zones=3, digits=6, installed_on=date(2025, 3, 12), initial=(D(1), D(2), D(3))
    )
    state = MeterState.initial(meter)
    assert state_loads(state_dumps(state)) == state


def test_compact():
    """Defaults are left out: a million states a month are stored."""
    meter = MeterInfo(meter_id=1, zones=1, digits=5, installed_on=date(2025, 3, 12), initial=(D(7),))
    data = json.loads(state_dumps(MeterState.initial(meter)))
    assert set(data) == {"raw", "last"}
