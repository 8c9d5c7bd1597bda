"""The API's submission and preview check a reading against the same previous values: an
inspector's control reading of the month given before counts (metering.selectors.submission_check)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from meterdesk.metering.models import Channel, Reading, ReadingKind
from meterdesk.testing import MeterFactory, ReadingFactory, link, make_tariff
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db


def _control(meter, t1, t2=None):
    """The inspector's reading of this month, given an hour ago."""
    given = timezone.now() - timedelta(hours=1)
    return ReadingFactory(
        meter=meter,
        period=utility_now().date().replace(day=1),
        t1=Decimal(t1),
        t2=None if t2 is None else Decimal(t2),
        kind=ReadingKind.CONTROL,
        channel=Channel.INSPECTOR,
        submitted_at=given,
    )


def _both(api, meter, body):
    """The preview's answer and the submission's, in English."""
    preview = api.post_json(f"/meters/{meter.pk}/readings/preview", body, HTTP_ACCEPT_LANGUAGE="en")
    submitted = api.post_json(f"/meters/{meter.pk}/readings", body, HTTP_ACCEPT_LANGUAGE="en")
    return preview, submitted


def test_below_the_inspectors_reading_of_the_month_preview_and_submission_agree(api, meter):
    """The meter (initial 1000 / 500) was read by the inspector at 1990 / 990 an hour ago."""
    reading = _control(meter, 1990, 990)
    preview, submitted = _both(api, meter, {"values": ["1950", "995"]})
    assert preview.status_code == submitted.status_code == 422
    assert preview.json() == submitted.json()
    body = submitted.json()
    assert body["code"] == "reading_below_previous"
    (issue,) = body["details"]["issues"]
    day = timezone.localtime(reading.submitted_at, utility_now().tzinfo).date()
    assert issue["zone"] == 1
    assert issue["params"] == {"previous": "1990", "kind": "control", "taken_on": day.isoformat()}
    assert issue["message"] == (
        f"The value is lower than the inspector's control reading of {day:%d.%m.%Y} (1,990). Check the number."
    )
    assert Reading.objects.filter(meter=meter).count() == 1


def test_a_pass_through_zero_after_the_inspector_preview_and_submission_agree(api, anna):
    meter = MeterFactory(zones=1, digits=5, initial_t1=Decimal(99000))
    link(anna, meter.account)
    make_tariff(prices=("7.87",))
    _control(meter, 99990)
    preview, submitted = _both(api, meter, {"values": ["20"]})
    assert preview.status_code == 200 and submitted.status_code == 422
    (needed,) = preview.json()["confirmations_needed"]
    (asked,) = submitted.json()["details"]["confirmations"]
    assert needed["confirm"] == asked["confirm"] == "rollover:1=20"
    assert needed["message"] == asked["message"]
    assert "inspector's control reading" in asked["message"] and "30 kWh" in asked["message"]
    # Billed since the meter's initial 99 000: 1 020 kWh, in the preview and on acceptance.
    assert preview.json()["charge"]["consumption"][0]["kwh"] == "1020"
    accepted = api.post_json(
        f"/meters/{meter.pk}/readings",
        {"values": ["20"], "confirm": ["rollover:1=20"]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["rolled_over"] is True
    assert preview.json()["charge"]["total"] is not None
    assert accepted.json()["charge"] == preview.json()["charge"]


def test_at_or_above_the_inspectors_reading_is_accepted(api, meter):
    _control(meter, 1990, 990)
    preview, submitted = _both(api, meter, {"values": ["1990", "1000"]})
    assert preview.status_code == 200 and submitted.status_code == 201
    assert preview.json()["charge"] == submitted.json()["charge"]
