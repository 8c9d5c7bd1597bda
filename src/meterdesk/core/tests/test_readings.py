"""core.readings: reading_check reads and writes nothing, and finds what reading_submit then does;
the login's meters only; a refusal leaves the caller's transaction usable, without a savepoint."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from meterdesk.core.readings import ACCEPTED, reading_check, reading_submit
from meterdesk.metering.check import ReadingInvalid, WindowClosed
from meterdesk.metering.models import Channel, Meter, Reading, ReadingKind
from meterdesk.testing import MeterFactory, ReadingFactory, UserFactory, link, moscow
from meterdesk.utility.selectors import utility_get

pytestmark = pytest.mark.django_db

D = Decimal
NOW = moscow(2026, 11, 20)  # inside the 15-26 window


@pytest.fixture
def meter(customer):
    meter = customer[1]
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=D(1100), t2=D(550))
    utility_get()  # the utility's settings, created on first use, before anything is measured
    return meter


def _writes(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]


def test_the_check_writes_nothing_and_finds_the_charge_the_submission_gives(customer, meter):
    user = customer[0]
    with CaptureQueriesContext(connection) as ctx:
        outcome = reading_check(meter_id=meter.pk, login=user, values=["1300", "650"], now=NOW)
    assert _writes(ctx) == []
    assert not any("FOR UPDATE" in q["sql"] for q in ctx.captured_queries)
    assert outcome.code == ACCEPTED and outcome.refusal is None
    assert outcome.period == date(2026, 11, 1)
    result = reading_submit(
        meter_id=meter.pk, login=user, values=["1300", "650"], channel=Channel.WEB, submitted_by=user, now=NOW
    )
    assert outcome.charge == result.charge
    assert outcome.charge is not None and outcome.charge.total == D("2298.00")


def test_a_closed_window_still_comes_with_the_charge(customer, meter):
    outcome = reading_check(meter_id=meter.pk, values=["1300", "650"], now=moscow(2026, 11, 10))
    assert outcome.code == "window_closed" and outcome.error is None
    assert outcome.charge is not None and outcome.charge.total == D("2298.00")
    with pytest.raises(WindowClosed):
        reading_submit(
            meter_id=meter.pk, values=["1300", "650"], channel=Channel.WEB, now=moscow(2026, 11, 10)
        )


def test_missing_confirmations_are_listed_with_the_charge(customer, meter):
    near_the_top = MeterFactory(zones=1, initial_t1=D(99500))
    link(customer[0], near_the_top.account)
    outcome = reading_check(meter_id=near_the_top.pk, values=["200"], now=NOW)
    assert outcome.code == "needs_confirmation"
    assert [issue.code for issue in outcome.needed] == ["rollover"]
    assert outcome.charge is not None and outcome.charge.consumption == (D(700),)
    assert outcome.checked is not None
    confirmed = [outcome.checked.token(issue) for issue in outcome.needed]
    again = reading_check(meter_id=near_the_top.pk, values=["200"], confirmed=confirmed, now=NOW)
    assert again.code == ACCEPTED


def test_a_broken_rule_has_no_charge(customer, meter):
    outcome = reading_check(meter_id=meter.pk, values=["1000", "650"], now=NOW)
    assert outcome.code == "validation_error"
    assert isinstance(outcome.error, ReadingInvalid) and outcome.error.codes == {"reading_below_previous"}
    assert outcome.charge is None


def test_another_logins_meter_is_not_found_but_a_staff_channel_reaches_any(customer, meter):
    stranger = UserFactory(email="boris@example.com")
    with pytest.raises(Meter.DoesNotExist):
        reading_check(meter_id=meter.pk, login=stranger, values=["1300", "650"], now=NOW)
    with pytest.raises(Meter.DoesNotExist):
        reading_submit(
            meter_id=meter.pk, login=stranger, values=["1300", "650"], channel=Channel.WEB, now=NOW
        )
    with pytest.raises(Meter.DoesNotExist):
        reading_check(meter_id=MeterFactory().pk + 1000, values=["1"], now=NOW)
    assert not Reading.objects.filter(period=date(2026, 11, 1)).exists()
    done = reading_submit(
        meter_id=meter.pk,
        values=["1300", "650"],
        channel=Channel.INSPECTOR,
        kind=ReadingKind.CONTROL,
        now=moscow(2026, 11, 10),  # outside the window: an inspector's reading is taken any day
    )
    assert done.reading.kind == ReadingKind.CONTROL


def test_a_refusal_in_the_callers_transaction_leaves_it_usable_without_a_savepoint(customer, meter):
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        with pytest.raises(ReadingInvalid):
            reading_submit(meter_id=meter.pk, values=["1000", "650"], channel=Channel.WEB, now=NOW)
        with pytest.raises(Meter.DoesNotExist):
            reading_submit(meter_id=meter.pk + 1000, values=["1"], channel=Channel.WEB, now=NOW)
        assert Reading.objects.filter(meter=meter).count() == 1  # the transaction still answers
        reading_submit(meter_id=meter.pk, values=["1300", "650"], channel=Channel.WEB, now=NOW)
    assert [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" in q["sql"]] == []
    assert Reading.objects.filter(meter=meter).count() == 2
