"""Readings through the API: submit, every error code, the confirmation round trip, the history and
the preview; all through reading_submit (the channel is ``api``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail

from meterdesk.api.tests.conftest import ApiClient
from meterdesk.domain.periods import add_months
from meterdesk.metering.models import Channel, MeterStatus, Reading, ReadingStatus
from meterdesk.testing import MeterFactory, ReadingFactory, link
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db


def _this_month() -> date:
    return utility_now().date().replace(day=1)


def submit(api: ApiClient, meter_id: int, values, confirm=None, **extra):
    body: dict = {"values": values}
    if confirm is not None:
        body["confirm"] = confirm
    return api.post_json(f"/meters/{meter_id}/readings", body, **extra)


def test_a_reading_is_accepted_with_its_charge(api, meter, anna, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(api, meter.pk, ["1100", 560])
    assert response.status_code == 201, response.json()
    body = response.json()
    reading = Reading.objects.get()
    assert body["id"] == reading.pk
    assert body["confirmation"] == reading.confirmation
    assert reading.channel == Channel.API
    assert reading.submitted_by == anna
    assert body["meter_id"] == meter.pk
    assert body["account_number"] == meter.account.number
    assert body["period"] == f"{_this_month():%Y-%m}"
    assert [(v["zone"], v["value"]) for v in body["values"]] == [(1, "1100"), (2, "560")]
    assert body["status"] == "accepted"
    assert body["replaced"] is None
    charge = body["charge"]
    assert [(c["zone"], c["kwh"]) for c in charge["consumption"]] == [(1, "100"), (2, "60")]
    assert charge["total"] is not None
    assert all(isinstance(line["amount"], str) for line in charge["lines"])
    assert Decimal(charge["total"]) == sum(Decimal(line["amount"]) for line in charge["lines"])
    assert charge["tariff"]["kind"] == "two_zone"
    # The same e-mail confirmation as every channel.
    assert len(mail.outbox) == 1
    assert reading.confirmation in mail.outbox[0].body


def test_a_second_reading_replaces_the_first(api, meter):
    first = submit(api, meter.pk, ["1100", "560"]).json()
    second = submit(api, meter.pk, ["1110", "565"])
    assert second.status_code == 201
    assert second.json()["replaced"] == first["confirmation"]
    assert Reading.objects.get(pk=first["id"]).status == ReadingStatus.SUPERSEDED


@pytest.mark.parametrize(
    ("values", "code", "zone"),
    [
        (["10", "560"], "reading_below_previous", 1),
        (["123456", "560"], "too_many_digits", 1),
        (["1100.5", "560"], "not_whole", 1),
        ([None, "560"], "required", 1),
        (["1100", ""], "required", 2),
        (["abc", "560"], "not_a_number", 1),
        (["1100", "-5"], "negative", 2),
        (["1100"], "wrong_zone_count", 0),
        ([1100.25, 560], "not_whole", 1),
    ],
)
def test_invalid_values_have_their_codes(api, meter, values, code, zone):
    response = submit(api, meter.pk, values)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    assert body["details"]["issues"][0]["code"] == code
    assert body["details"]["issues"][0]["zone"] == zone
    assert not Reading.objects.exists()


def test_too_many_decimals(api, anna):
    meter = MeterFactory(zones=1, decimal_places=1)
    link(anna, meter.account)
    response = submit(api, meter.pk, ["1100.25"])
    assert response.status_code == 422
    assert response.json()["code"] == "too_many_decimals"
    assert response.json()["details"]["issues"][0]["params"] == {"places": 1}


def test_window_closed_says_when_it_opens(api, meter, settings):
    today = utility_now().date()
    day = 28 if today.day < 28 else 1
    settings.METERDESK_READING_WINDOW = f"{day}-{day}"
    response = submit(api, meter.pk, ["1100", "560"])
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "window_closed"
    assert body["details"]["start_day"] == day
    assert body["details"]["end_day"] == day
    opens = date.fromisoformat(body["details"]["opens_on"])
    assert opens.day == day and opens > today
    assert body["details"]["closes_on"] == body["details"]["opens_on"]
    assert body["message"] == f"Показания принимаются с {day}-го по {day}-е число каждого месяца."


def test_window_closed_in_english(api, meter, settings):
    settings.METERDESK_READING_WINDOW = "28-28" if utility_now().day < 28 else "1-1"
    response = submit(api, meter.pk, ["1100", "560"], HTTP_ACCEPT_LANGUAGE="en")
    assert response.json()["message"].startswith("Readings can be submitted from the ")


def test_meter_not_in_service(api, meter):
    meter.status = MeterStatus.REMOVED
    meter.removed_on = date(2025, 1, 1)
    meter.save()
    response = submit(api, meter.pk, ["1100", "560"])
    assert response.status_code == 422
    assert response.json()["code"] == "meter_not_in_service"


def test_rollover_needs_confirmation_then_is_accepted(api, anna):
    meter = MeterFactory(zones=1, digits=5, initial_t1=Decimal(99500))
    link(anna, meter.account)
    response = submit(api, meter.pk, ["200"])
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "needs_confirmation"
    assert body["details"]["confirm"] == ["rollover:1=200"]
    (confirmation,) = body["details"]["confirmations"]
    assert confirmation["code"] == "rollover"
    assert confirmation["confirm"] == "rollover:1=200"
    assert confirmation["zone"] == 1
    assert "700" in confirmation["message"]
    assert not Reading.objects.exists()

    response = submit(api, meter.pk, ["200"], confirm=body["details"]["confirm"])
    assert response.status_code == 201, response.json()
    assert response.json()["rolled_over"] is True
    assert response.json()["confirmed"] == ["rollover"]
    assert response.json()["charge"]["consumption"][0]["kwh"] == "700"


def test_high_consumption_needs_confirmation(api, anna):
    meter = MeterFactory(zones=1, initial_t1=Decimal(1000))
    link(anna, meter.account)
    now = _this_month()
    ReadingFactory(meter=meter, period=add_months(now, -3), t1=Decimal(1100))
    ReadingFactory(meter=meter, period=add_months(now, -2), t1=Decimal(1200))
    ReadingFactory(meter=meter, period=add_months(now, -1), t1=Decimal(1300))
    response = submit(api, meter.pk, ["9000"])
    assert response.status_code == 422
    assert response.json()["code"] == "needs_confirmation"
    assert response.json()["details"]["confirm"] == ["high_consumption:1=9000"]
    assert submit(api, meter.pk, ["9000"], confirm=["high_consumption:1=9000"]).status_code == 201


def test_a_confirmation_of_one_value_does_not_pass_another(api, anna):
    meter = MeterFactory(zones=1, initial_t1=Decimal(1000))
    link(anna, meter.account)
    now = _this_month()
    ReadingFactory(meter=meter, period=add_months(now, -2), t1=Decimal(1100))
    ReadingFactory(meter=meter, period=add_months(now, -1), t1=Decimal(1200))
    first = submit(api, meter.pk, ["9000"]).json()
    # Confirmed for 9000, sent with 90000: asked again, for 90000.
    again = submit(api, meter.pk, ["90000"], confirm=first["details"]["confirm"])
    assert again.status_code == 422
    assert again.json()["code"] == "needs_confirmation"
    assert again.json()["details"]["confirm"] == ["high_consumption:1=90000"]
    preview = api.post_json(
        f"/meters/{meter.pk}/readings/preview", {"values": ["90000"], "confirm": first["details"]["confirm"]}
    ).json()
    assert [c["confirm"] for c in preview["confirmations_needed"]] == ["high_consumption:1=90000"]
    assert not Reading.objects.filter(period=now).exists()
    # A bare code names no value: refused as invalid, not taken as a confirmation of anything.
    bare = submit(api, meter.pk, ["9000"], confirm=["high_consumption"])
    assert bare.status_code == 422
    assert bare.json()["code"] == "validation_error"
    assert submit(api, meter.pk, ["90000"], confirm=again.json()["details"]["confirm"]).status_code == 201


def test_the_history_of_a_meter(api, meter):
    ReadingFactory(meter=meter, period=date(2024, 2, 1), t1=1050, t2=520)
    submit(api, meter.pk, ["1100", "560"])
    submit(api, meter.pk, ["1110", "565"])
    response = api.get_api(f"/meters/{meter.pk}/readings")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 3
    assert [r["status"] for r in body["items"]] == ["accepted", "superseded", "accepted"]
    assert body["items"][0]["values"][0]["value"] == "1110"
    assert body["items"][2]["period"] == "2024-02"
    assert body["items"][2]["channel"] == "web"
    page = api.get_api(f"/meters/{meter.pk}/readings?limit=1&offset=1").json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [r["values"][0]["value"] for r in page["items"]] == ["1100"]


def test_preview_prices_without_saving(api, meter):
    response = api.post_json(f"/meters/{meter.pk}/readings/preview", {"values": ["1100", "560"]})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["period"] == f"{_this_month():%Y-%m}"
    assert [c["kwh"] for c in body["charge"]["consumption"]] == ["100", "60"]
    assert body["confirmations_needed"] == []
    assert body["window"]["open_now"] is True
    assert not Reading.objects.exists()
    # The same figures as the submission then gives.
    submitted = submit(api, meter.pk, ["1100", "560"]).json()
    assert submitted["charge"] == body["charge"]


def test_preview_lists_the_confirmations_and_refuses_errors(api, anna, meter):
    rolled = MeterFactory(zones=1, digits=5, initial_t1=Decimal(99500))
    link(anna, rolled.account)
    body = api.post_json(f"/meters/{rolled.pk}/readings/preview", {"values": ["200"]}).json()
    assert [c["code"] for c in body["confirmations_needed"]] == ["rollover"]
    assert [c["confirm"] for c in body["confirmations_needed"]] == ["rollover:1=200"]
    assert body["charge"]["consumption"][0]["kwh"] == "700"
    confirmed = api.post_json(
        f"/meters/{rolled.pk}/readings/preview", {"values": ["200"], "confirm": ["rollover:1=200"]}
    )
    assert confirmed.json()["confirmations_needed"] == []
    refused = api.post_json(f"/meters/{meter.pk}/readings/preview", {"values": ["10", "560"]})
    assert refused.status_code == 422
    assert refused.json()["code"] == "reading_below_previous"


def test_preview_of_a_removed_meter(api, meter):
    meter.status = MeterStatus.REMOVED
    meter.save()
    response = api.post_json(f"/meters/{meter.pk}/readings/preview", {"values": ["1100", "560"]})
    assert response.status_code == 422
    assert response.json()["code"] == "meter_not_in_service"


def test_the_body_is_validated(api, meter):
    bodies: tuple[dict, ...] = (
        {},
        {"values": "1100"},
        {"values": []},
        {"values": [True, 1]},
        {"values": ["1"], "confirm": ["x"]},
    )
    for body in bodies:
        response = api.post_json(f"/meters/{meter.pk}/readings", body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_error"
        assert response.json()["details"]["errors"]


@pytest.mark.parametrize("value", ["1" * 29, "9" * 40, 10**29, 10**30, "1" * 29 + ".5", "0" * 10 + "1" * 29])
def test_a_value_of_29_digits_or_more_is_too_many_digits(api, meter, value):
    for path in (f"/meters/{meter.pk}/readings", f"/meters/{meter.pk}/readings/preview"):
        response = api.post_json(path, {"values": [value, "560"]})
        assert response.status_code == 422, (path, response.content)
        expected = "not_whole" if isinstance(value, str) and "." in value else "too_many_digits"
        assert response.json()["code"] == expected
        assert response.json()["details"]["issues"][0]["zone"] == 1
    assert not Reading.objects.exists()
