"""What a submission is checked against: the latest reading that would count before it. A
household may correct its own reading of the month downwards (a second one replaces the first),
but not go below what the inspector saw this month, nor below what earlier months billed; a pass
through zero is asked about only when the inspector has not already seen it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from meterdesk.core.readings import reading_submit
from meterdesk.domain import readings as rules
from meterdesk.metering.check import NeedsConfirmation, ReadingInvalid
from meterdesk.metering.messages import issue_message
from meterdesk.metering.models import Channel, Reading, ReadingKind, ReadingStatus
from meterdesk.metering.selectors import submission_check
from meterdesk.metering.tests.scenarios import three_estimated_months
from meterdesk.testing import MeterFactory, ReadingFactory, moscow

D = Decimal
pytestmark = pytest.mark.django_db
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
NOW = moscow(2026, 11, 20, 15)
INSPECTED = moscow(2026, 11, 10, 11)


def submit(meter, values, **kwargs):
    kwargs.setdefault("channel", Channel.WEB)
    kwargs.setdefault("now", NOW)
    return reading_submit(meter_id=meter.pk, values=values, **kwargs)


def control(meter, t1, t2=None, at=INSPECTED):
    return ReadingFactory(
        meter=meter,
        period=NOV,
        t1=D(t1),
        t2=None if t2 is None else D(t2),
        kind=ReadingKind.CONTROL,
        channel=Channel.INSPECTOR,
        submitted_at=at,
    )


def five_digit_meter(october):
    """A one-zone five-digit meter that October's reading left at ``october``."""
    meter = MeterFactory(zones=1, digits=5, initial_t1=D(90000), installed_on=date(2026, 1, 10))
    ReadingFactory(meter=meter, period=OCT, t1=D(october))
    return meter


def refused(meter, values, **kwargs):
    with pytest.raises(ReadingInvalid) as caught:
        submit(meter, values, **kwargs)
    return caught.value.issues


def test_below_the_inspectors_reading_of_the_month_is_refused_naming_it():
    """July billed 1620 / 800; the inspector read 1990 / 990 on 10 November. The household's 1950
    on the 20th is above July's but below what the inspector saw: it would be billed."""
    case = three_estimated_months()
    control(case.meter, 1990, 990)
    (issue,) = refused(case.meter, ["1950", "1000"])
    assert (issue.zone, issue.code) == (1, rules.BELOW_PREVIOUS)
    assert issue.params == {"previous": D(1990), "kind": "control", "taken_on": date(2026, 11, 10)}
    with translation.override("en"):
        assert issue_message(issue) == (
            "The value is lower than the inspector's control reading of 10.11.2026 (1,990). Check the number."
        )
    with translation.override("ru"):
        assert issue_message(issue) == (
            "Значение меньше контрольных показаний проверяющего от 10.11.2026 (1\u202f990). Проверьте его."
        )
    assert Reading.objects.filter(meter=case.meter, period=NOV).count() == 1  # the control reading only


def test_the_household_corrects_its_own_reading_downwards_but_not_below_the_inspectors():
    case = three_estimated_months()
    control(case.meter, 1990, 990)
    first = submit(case.meter, ["2100", "1000"]).reading
    second = submit(case.meter, ["2000", "995"], now=moscow(2026, 11, 20, 16))
    assert second.replaced == first
    assert second.previous_values == (D(1620), D(800))  # the month is billed from July's
    (issue,) = refused(case.meter, ["1980", "995"], now=moscow(2026, 11, 20, 17))
    assert issue.params["previous"] == D(1990)
    kept = Reading.objects.get(
        meter=case.meter, period=NOV, kind=ReadingKind.CUSTOMER, status=ReadingStatus.ACCEPTED
    )
    assert kept.t1 == D(2000)


def test_without_a_control_reading_the_households_own_is_no_floor():
    case = three_estimated_months()
    submit(case.meter, ["2100", "1000"])
    result = submit(case.meter, ["1700", "900"], now=moscow(2026, 11, 20, 16))
    assert result.reading.t1 == D(1700)


def test_a_control_reading_given_after_the_household_is_no_floor_for_it():
    case = three_estimated_months()
    control(case.meter, 1990, 990, at=moscow(2026, 11, 22))  # an inspector's visit booked ahead
    assert submit(case.meter, ["1950", "1000"]).reading.t1 == D(1950)


def test_the_inspector_is_not_checked_against_the_households_reading_of_the_month():
    """The inspector's reading is what the meter showed: a household's higher one of the month
    does not refuse it (it is billed instead, with the difference recalculated)."""
    case = three_estimated_months()
    submit(case.meter, ["2100", "1000"])
    result = submit(
        case.meter,
        ["1990", "990"],
        kind=ReadingKind.CONTROL,
        channel=Channel.INSPECTOR,
        now=moscow(2026, 11, 22),
    )
    assert result.reading.status == ReadingStatus.ACCEPTED
    assert result.charge.basis == "control"


def test_a_pass_through_zero_after_the_inspector_is_asked_about_the_inspectors_value():
    """October 99 000; the inspector read 99 990 on the 10th; 20 on the 20th is 30 kWh past zero
    after the inspector (1 020 kWh since October, which the month bills)."""
    meter = five_digit_meter(99000)
    control(meter, 99990)
    with pytest.raises(NeedsConfirmation) as caught:
        submit(meter, ["20"])
    (issue,) = caught.value.issues
    assert issue.code == rules.CONFIRM_ROLLOVER
    assert issue.params["previous"] == D(99990)
    assert issue.params["consumption"] == D(30)
    with translation.override("en"):
        assert issue_message(issue) == (
            "The value is lower than the inspector's control reading of 10.11.2026 (99,990). If the "
            "meter passed its maximum and started again from zero since then, the consumption since "
            "then is 30 kWh. Confirm that this is so."
        )
    token = caught.value.checked.token(issue)
    assert token == "rollover:1=20"
    result = submit(meter, ["20"], confirmed=[token])
    assert result.reading.rolled_over is True
    assert result.charge.consumption == (D(1020),)


def test_a_pass_through_zero_the_inspector_saw_is_not_asked_about():
    """October billed 99 990; the inspector read 20 (past zero) on the 10th; the household's 50
    goes on from there: no confirmation, 60 kWh."""
    meter = five_digit_meter(99990)
    control(meter, 20)
    result = submit(meter, ["50"])
    assert result.reading.rolled_over is True
    assert result.reading.confirmed == ""
    assert result.charge.consumption == (D(60),)


def test_below_the_inspector_and_what_was_billed():
    """October billed 1 300 (the household over-reported); the inspector read 1 250. Below 1 250
    names the inspector; between the two is still below what was billed, and names 1 300."""
    meter = five_digit_meter(1300)
    control(meter, 1250)
    (below_inspector,) = refused(meter, ["1240"])
    assert below_inspector.params["previous"] == D(1250)
    (below_billed,) = refused(meter, ["1280"])
    assert below_billed.params == {"previous": D(1300)}


def test_the_check_answers_as_the_submission_does():
    """``submission_check`` (the preview's) and the submission agree, given at the same moment."""
    case = three_estimated_months()
    control(case.meter, 1990, 990)
    checked, previous = submission_check(meter=case.meter, values=["1950", "1000"], period=NOV, at=NOW)
    assert previous.values == (D(1620), D(800))
    assert previous.month_reading is not None and previous.month_reading.kind == ReadingKind.CONTROL
    assert checked.errors == tuple(refused(case.meter, ["1950", "1000"]))
