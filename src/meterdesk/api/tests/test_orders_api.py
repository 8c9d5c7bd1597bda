"""Services in the API: the catalogue, an order (idempotent with its key), the account's list,
the errors, and nothing of another login's account."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from meterdesk.orders.catalogue import services_load
from meterdesk.orders.models import ServiceRequest
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _catalogue(db):
    services_load(since=date(2024, 1, 1))


def test_the_catalogue_lists_prices_in_the_asked_language(api):
    answer = api.get_api("/services", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 200
    items = {i["code"]: i for i in answer.json()["items"]}
    assert items["meter-replacement"]["name"] == "Meter replacement"
    assert items["meter-replacement"]["price"] == "3500.00"
    assert items["sealing"]["free"] is True
    ru = {i["code"]: i["name"] for i in api.get_api("/services").json()["items"]}
    assert ru["meter-replacement"] == "Замена прибора учёта"


def test_an_order_is_made_once_per_key_and_listed(api, meter):
    path = f"/accounts/{meter.account.number}/service-requests"
    body = {"service": "meter-replacement", "comment": "Счётчик в тамбуре"}
    first = api.post_json(path, body, HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == 201, first.content
    made = first.json()
    assert made["number"].startswith("З-") and made["price"] == "3500.00"
    assert (made["channel"], made["status"], made["account"]) == ("api", "ordered", meter.account.number)
    again = api.post_json(path, body, HTTP_IDEMPOTENCY_KEY="order-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["number"] == made["number"]
    assert ServiceRequest.objects.count() == 1
    listed = api.get_api(path).json()
    assert listed["total"] == 1 and listed["items"][0]["number"] == made["number"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"service": "no-such-service"}, "service_unknown"),
        ({"service": "verification", "preferred_on": "2020-01-01"}, "day_invalid"),
        ({"service": "Bad Code!"}, "validation_error"),
    ],
)
def test_a_bad_order_is_refused_and_stores_nothing(api, meter, body, code):
    answer = api.post_json(f"/accounts/{meter.account.number}/service-requests", body)
    assert answer.status_code == 422
    assert answer.json()["code"] == code
    assert ServiceRequest.objects.count() == 0


def test_nothing_of_another_login(api, stranger):
    path = f"/accounts/{stranger.account.number}/service-requests"
    assert api.post_json(path, {"service": "verification"}).status_code == 404
    assert api.get_api(path).status_code == 404
    assert ServiceRequest.objects.count() == 0


def test_a_preferred_day_ahead_is_kept(api, meter):
    day = utility_now().date() + timedelta(days=5)
    answer = api.post_json(
        f"/accounts/{meter.account.number}/service-requests",
        {"service": "verification", "preferred_on": day.isoformat()},
    )
    assert answer.status_code == 201
    assert answer.json()["preferred_on"] == day.isoformat()


def test_the_household_cancels_its_request_once(api, meter, stranger):
    path = f"/accounts/{meter.account.number}/service-requests"
    made = api.post_json(path, {"service": "meter-replacement"}).json()
    cancel = f"{path}/{made['number']}/cancel"
    answer = api.post_json(cancel, {"reason": "Заменили сами"})
    assert answer.status_code == 200, answer.content
    assert (answer.json()["status"], answer.json()["reason"]) == ("cancelled", "Заменили сами")
    again = api.post_json(cancel, {})
    assert (again.status_code, again.json()["code"]) == (409, "request_closed")
    assert ServiceRequest.objects.get().status == "cancelled"
    # Another account's request, or one that does not exist: 404, nothing changed.
    other = f"/accounts/{stranger.account.number}/service-requests/{made['number']}/cancel"
    assert api.post_json(other, {}).status_code == 404
    assert api.post_json(f"{path}/З-999999/cancel", {}).json()["code"] == "not_found"
