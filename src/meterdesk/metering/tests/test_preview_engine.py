"""The charge shown at once after a submission is the billing engine's: the same lines as the bill,
from the meter's state after the last closed month, with a recalculation of estimated months."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import LedgerEntry, MeterBillingState
from meterdesk.billing.preview import meter_state_before, reading_charge
from meterdesk.core.readings import reading_submit
from meterdesk.customers.models import PremisesCategory
from meterdesk.domain.profiles import profile_load
from meterdesk.metering.models import Channel, ReadingKind
from meterdesk.metering.tests.scenarios import three_estimated_months
from meterdesk.tariffs.models import Norm
from meterdesk.testing import ReadingFactory, make_tariff, moscow

D = Decimal
pytestmark = pytest.mark.django_db
NOW = moscow(2026, 11, 20)


def lines_of(charge):
    return [(line.basis, line.zone, line.volume, line.price, line.amount) for line in charge.lines]


def test_three_estimated_months_then_a_reading_shows_the_actual_and_the_recalculation_lines():
    case = three_estimated_months()
    # The close billed August to October by the average (the state the preview starts from).
    assert list(
        LedgerEntry.objects.filter(account=case.account, period=date(2026, 10, 1))
        .exclude(kind="penalty")
        .values_list("basis", "volume", "amount")
    ) == [("average", D("103.333"), D("976.50")), ("average", D("50.000"), D("204.00"))]

    result = reading_submit(meter_id=case.meter.pk, values=["2000", "1000"], channel=Channel.WEB, now=NOW)
    charge = result.charge
    # Shown per zone: the consumption since the last actual reading (July), over four months.
    assert charge.consumption == (D(380), D(200))
    assert charge.months == 4
    assert charge.basis == "actual"
    assert lines_of(charge) == [
        ("actual", 1, D(380), D("9.45"), D("3591.00")),  # 380 × 9.45
        ("actual", 2, D(200), D("4.08"), D("816.00")),  # 200 × 4.08
        ("recalculation", 1, D("-309.999"), D("9.45"), D("-2929.49")),  # 3 × 103.333 × 9.45 = 2929.49055
        ("recalculation", 2, D("-150.000"), D("4.08"), D("-612.00")),  # 3 × 50 × 4.08
    ]
    assert charge.total == D("865.51")
    assert charge.other_lines[0].detail == {
        "from": "2026-08",
        "to": "2026-10",
        "months": "3",
    }
    with translation.override("en"):
        assert (
            charge.lines[0].words
            == "by your readings: the consumption over 4 months since the reading of 07.2026"
        )
        assert (
            charge.lines[2].words
            == "recalculation of the estimated months 08.2026 to 10.2026 after your readings"
        )
    with translation.override("ru"):
        assert (
            charge.lines[2].words
            == "перерасчёт за месяцы 08.2026–10.2026, начисленные расчётным способом, по вашим показаниям"
        )
    # The receipt shows the same again.
    assert lines_of(reading_charge(result.reading)) == lines_of(charge)


def test_the_preview_is_what_the_close_then_bills():
    case = three_estimated_months()
    result = reading_submit(meter_id=case.meter.pk, values=["2000", "1000"], channel=Channel.WEB, now=NOW)
    billing_close(date(2026, 11, 1))
    billed = list(
        LedgerEntry.objects.filter(account=case.account, period=date(2026, 11, 1))
        .exclude(kind="penalty")
        .order_by("pk")
        .values_list("basis", "zone", "volume", "price", "amount")
    )
    assert billed == lines_of(result.charge)


def test_the_state_comes_from_the_last_closed_month_or_from_the_history():
    case = three_estimated_months()
    profile = profile_load("ru-354-current")
    after_october = meter_state_before(case.meter, date(2026, 11, 1), profile)
    assert after_october.estimated_periods == (date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1))
    # Before the first close there is no stored state: it is built from the readings.
    assert not MeterBillingState.objects.filter(meter=case.meter, period__lt=date(2026, 7, 1)).exists()
    before_july = meter_state_before(case.meter, date(2026, 7, 1), profile)
    assert before_july.raw == (D(1500), D(750))
    assert before_july.estimated_periods == ()
    # A month not closed yet: the latest earlier state is used.
    assert meter_state_before(case.meter, date(2027, 1, 1), profile) == after_october


def test_an_inspector_control_reading_of_the_month_wins_on_the_bill():
    case = three_estimated_months()
    ReadingFactory(
        meter=case.meter,
        period=date(2026, 11, 1),
        t1=D(1990),
        t2=D(990),
        kind=ReadingKind.CONTROL,
        channel=Channel.INSPECTOR,
    )
    result = reading_submit(meter_id=case.meter.pk, values=["2000", "1000"], channel=Channel.WEB, now=NOW)
    charge = result.charge
    assert charge.basis == "control"
    # The customer's own consumption is still shown per zone...
    assert charge.consumption == (D(380), D(200))
    # ...but the bill uses the inspector's values: 370 × 9.45 = 3496.50, 190 × 4.08 = 775.20.
    assert lines_of(charge)[:2] == [
        ("control", 1, D(370), D("9.45"), D("3496.50")),
        ("control", 2, D(190), D("4.08"), D("775.20")),
    ]
    with translation.override("en"):
        assert charge.lines[2].words == (
            "recalculation of the estimated months 08.2026 to 10.2026 after the inspector's control reading"
        )


def test_a_meter_past_its_verification_is_billed_by_the_average_not_by_the_reading(customer):
    """The reading is kept, but a failed meter's readings cannot be used: the month is billed by
    the average, exactly as the close will bill it."""
    _user, meter = customer  # installed 2024-01-10, initial 1000 / 500
    meter.verification_due = date(2026, 10, 31)  # failed from 1 November
    meter.save()
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=D(1340), t2=D(560))
    result = reading_submit(meter_id=meter.pk, values=["1400", "580"], channel=Channel.WEB, now=NOW)
    charge = result.charge
    assert charge.consumption == (D(60), D(20))
    assert charge.basis == "average"
    assert charge.reading_lines == ()
    # 340 / 33 and 60 / 33 kWh a month since the installation (January 2024 to October 2026).
    assert lines_of(charge) == [
        ("average", 1, D("10.303"), D("9.45"), D("97.36")),  # 97.36335
        ("average", 2, D("1.818"), D("4.08"), D("7.42")),  # 7.41744
    ]
    assert charge.total == D("104.78")
    with translation.override("en"):
        assert charge.lines[0].words.startswith(
            "estimated from your average: the meter is faulty or its verification is overdue"
        )


def test_a_failed_meter_without_a_basis_for_the_average_is_billed_by_the_norm(customer):
    _user, meter = customer
    make_tariff(prices=("7.87",))
    Norm.objects.create(
        category=PremisesCategory.GAS_STOVE,
        rooms=2,
        residents=2,
        kwh_per_person=D(78),
        valid_from=date(2024, 1, 1),
    )
    meter.verification_due = date(2026, 10, 31)
    meter.save()
    result = reading_submit(meter_id=meter.pk, values=["1100", "550"], channel=Channel.WEB, now=NOW)
    # Two residents × 78 kWh at the single rate: 156 × 7.87 = 1227.72.
    assert lines_of(result.charge) == [("norm", 0, D("156.000"), D("7.87"), D("1227.72"))]
    assert result.charge.basis == "norm"
    with translation.override("en"):
        assert result.charge.lines[0].words == (
            "by the consumption norm for 2 residents: there are not yet enough readings to estimate from your average"
        )


def test_no_single_rate_price_for_a_norm_means_no_amount_but_the_reading_is_kept(customer):
    _user, meter = customer  # only the two-zone tariff exists
    meter.verification_due = date(2026, 10, 31)
    meter.save()
    result = reading_submit(meter_id=meter.pk, values=["1100", "550"], channel=Channel.WEB, now=NOW)
    assert result.charge.total is None
    assert result.charge.lines == ()
    assert result.reading.pk is not None


def test_a_new_meter_does_not_bill_in_the_month_of_its_installation(customer):
    _user, meter = customer
    meter.installed_on = date(2026, 11, 3)
    meter.save()
    result = reading_submit(meter_id=meter.pk, values=["1010", "505"], channel=Channel.WEB, now=NOW)
    assert result.charge.basis is None
    assert result.charge.lines == ()
    assert result.charge.total == D("0.00")
    assert result.charge.consumption == (D(10), D(5))
