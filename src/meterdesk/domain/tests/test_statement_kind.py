"""Which sum of the statement a line counts in: only a difference from what was billed before is a
recalculation (``domain.billing.statement_kind``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.domain import billing as engine
from meterdesk.domain.profiles import profile_load
from meterdesk.domain.tariffs import TariffSpec

D = Decimal


@pytest.mark.parametrize(
    ("basis", "reason", "kind"),
    [
        (engine.ACTUAL, engine.R_READINGS, "charge"),
        (engine.CONTROL, engine.R_CONTROL, "charge"),  # a month billed from the inspector's reading
        (engine.CONTROL, engine.R_BELOW_BILLED, "recalculation"),  # what it takes back
        (engine.REPLACEMENT, engine.R_FINAL, "charge"),
        (engine.REPLACEMENT, engine.R_BELOW_BILLED, "recalculation"),
        (engine.RECALCULATION, engine.R_TRUE_UP, "recalculation"),
        (engine.AVERAGE, engine.R_MISSING, "charge"),
        (engine.NORM, engine.R_NO_METER, "charge"),
    ],
)
def test_statement_kind(basis, reason, kind):
    assert engine.statement_kind(basis, reason) == kind


def test_a_control_reading_below_the_billed_values_marks_only_the_zones_below():
    """Two zones after a month billed to 520 / 210: the inspector reads 500 / 240. Zone 1, 20 kWh
    below, is a credit of what was billed; zone 2, 30 kWh more, is this month's charge."""
    meter = engine.MeterInfo(1, 2, 6, date(2024, 1, 10), (D(0), D(0)))
    state = engine.MeterState(raw=(D(520), D(210)), last=engine.Point(date(2025, 7, 1), (D(520), D(210))))
    spec = TariffSpec(zones=2, prices={(1, 1): D("9.45"), (2, 1): D("4.08")})
    result = engine.bill_meter(
        meter,
        state,
        engine.MonthReading((D(500), D(240)), engine.CONTROL_READING),
        date(2025, 8, 1),
        spec,
        profile_load("ru-354-current"),
    )
    assert [
        (line.zone, line.volume, line.reason, engine.statement_kind(line.basis, line.reason))
        for line in result.lines
    ] == [
        (1, D(-20), engine.R_BELOW_BILLED, "recalculation"),
        (2, D(30), engine.R_CONTROL, "charge"),
    ]
