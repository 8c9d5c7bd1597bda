"""The reading that counts for a month, as the household is shown it (the charge on submitting,
the receipt, the API's preview, the previous reading, the last reading): the latest by day; an
inspector's control reading only when it is the later one or on the same day (``domain.month_reading``,
as the close bills it)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterdesk.billing.preview import charge_preview, reading_charge
from meterdesk.core.readings import reading_submit
from meterdesk.metering.models import Channel, ReadingKind
from meterdesk.metering.selectors import effective_readings, meter_last_reading, meter_previous
from meterdesk.metering.tests.scenarios import three_estimated_months
from meterdesk.testing import MeterFactory, ReadingFactory, moscow

D = Decimal
pytestmark = pytest.mark.django_db
NOV = date(2026, 11, 1)
NOW = moscow(2026, 11, 20, 15)


def lines_of(charge):
    return [(line.basis, line.zone, line.volume, line.price, line.amount) for line in charge.lines]


def control(meter, period, t1, t2, at):
    return ReadingFactory(
        meter=meter,
        period=period,
        t1=D(t1),
        t2=D(t2),
        kind=ReadingKind.CONTROL,
        channel=Channel.INSPECTOR,
        submitted_at=at,
    )


#: The scenario's meter (July 1620 / 800, August to October by average) read 2000 / 1000 in
#: November: 380 × 9.45 = 3591.00 and 200 × 4.08 = 816.00, the estimates reversed.
BY_THE_HOUSEHOLD = [
    ("actual", 1, D(380), D("9.45"), D("3591.00")),
    ("actual", 2, D(200), D("4.08"), D("816.00")),
]
#: By the inspector's 1990 / 990: 370 × 9.45 = 3496.50, 190 × 4.08 = 775.20.
BY_THE_INSPECTOR = [
    ("control", 1, D(370), D("9.45"), D("3496.50")),
    ("control", 2, D(190), D("4.08"), D("775.20")),
]


def test_a_control_reading_before_the_households_leaves_the_households_to_bill():
    case = three_estimated_months()
    control(case.meter, NOV, 1990, 990, moscow(2026, 11, 10))
    result = reading_submit(meter_id=case.meter.pk, values=["2000", "1000"], channel=Channel.WEB, now=NOW)
    assert result.charge.basis == "actual"
    assert lines_of(result.charge)[:2] == BY_THE_HOUSEHOLD
    assert lines_of(reading_charge(result.reading))[:2] == BY_THE_HOUSEHOLD  # the receipt
    # The API's preview of the same values, given now, too.
    preview = charge_preview(meter=case.meter, values=[D(2000), D(1000)], period=NOV)
    assert lines_of(preview)[:2] == BY_THE_HOUSEHOLD


def test_a_control_reading_of_the_same_day_is_billed():
    case = three_estimated_months()
    control(case.meter, NOV, 1990, 990, moscow(2026, 11, 20, 9))
    result = reading_submit(meter_id=case.meter.pk, values=["2000", "1000"], channel=Channel.WEB, now=NOW)
    assert result.charge.basis == "control"
    assert lines_of(result.charge)[:2] == BY_THE_INSPECTOR
    assert lines_of(reading_charge(result.reading))[:2] == BY_THE_INSPECTOR


def test_the_receipt_of_the_households_reading_shows_a_later_control_reading_billed():
    case = three_estimated_months()
    result = reading_submit(meter_id=case.meter.pk, values=["2000", "1000"], channel=Channel.WEB, now=NOW)
    control(case.meter, NOV, 1990, 990, moscow(2026, 11, 22))
    assert lines_of(reading_charge(result.reading))[:2] == BY_THE_INSPECTOR


def test_the_api_preview_given_today_after_a_control_reading_today_is_the_inspectors(monkeypatch):
    case = three_estimated_months()
    control(case.meter, NOV, 1990, 990, moscow(2026, 11, 20, 9))
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    preview = charge_preview(meter=case.meter, values=[D(2000), D(1000)], period=NOV)
    assert lines_of(preview)[:2] == BY_THE_INSPECTOR


def test_the_previous_reading_of_a_month_is_the_one_that_counts():
    """August: the inspector read 1250 on the 10th, the household 1300 on the 20th: September's
    reading is compared with the household's 1300; with the inspector on the 25th, with 1250."""
    meter = MeterFactory(zones=1)
    aug, sep = date(2025, 8, 1), date(2025, 9, 1)
    early = ReadingFactory(
        meter=meter, period=aug, t1=D(1250), kind=ReadingKind.CONTROL, submitted_at=moscow(2025, 8, 10)
    )
    household = ReadingFactory(meter=meter, period=aug, t1=D(1300), submitted_at=moscow(2025, 8, 20))
    assert meter_previous(meter, sep).reading == household
    assert effective_readings(meter) == [household]
    early.submitted_at = moscow(2025, 8, 25)
    early.save()
    assert meter_previous(meter, sep).reading == early
    assert effective_readings(meter) == [early]


def test_the_last_reading_of_a_meter_is_the_one_that_counts():
    """On one day the control reading counts, even when the household gave its own later that day."""
    meter = MeterFactory(zones=1)
    aug = date(2025, 8, 1)
    inspector = ReadingFactory(
        meter=meter, period=aug, t1=D(1250), kind=ReadingKind.CONTROL, submitted_at=moscow(2025, 8, 20, 9)
    )
    ReadingFactory(meter=meter, period=aug, t1=D(1300), submitted_at=moscow(2025, 8, 20, 18))
    assert meter_last_reading(meter) == inspector
    assert effective_readings(meter) == [inspector]
