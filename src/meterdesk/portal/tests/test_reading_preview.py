"""The reading form shows each zone's previous value beside its field, and the consumption and the
charge as the household types (the preview address behind portal/static/portal/preview.js)."""

from __future__ import annotations

import re
from datetime import date
from unittest import mock

import pytest

from meterdesk.domain.money import NARROW_NBSP, NBSP
from meterdesk.metering.models import Reading
from meterdesk.testing import MeterFactory, ReadingFactory, UserFactory, link, moscow

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(client, customer):
    """Anna on 20 November 2026 (the window is open); her meter read 1200 / 600 in October."""
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=1200, t2=600)
    client.force_login(user)
    client.cookies["django_language"] = "en"
    with mock.patch("django.utils.timezone.now", return_value=moscow(2026, 11, 20, 12)):
        yield user, meter


def _preview(client, meter, **values):
    return client.get(f"/meters/{meter.pk}/readings/preview/", values)


def test_each_zone_shows_the_previous_value_beside_its_field(client, anna):
    _user, meter = anna
    html = client.get(f"/meters/{meter.pk}/readings/new/").content.decode()
    for zone, value in ((1, "1200"), (2, "600")):
        assert re.search(
            rf'<span class="previous" id="id_t{zone}_previous">previous: <strong>{value}</strong></span>',
            html,
        )
        # Read out with the field.
        assert re.search(rf'<input [^>]*aria-describedby="id_t{zone}_previous"[^>]*id="id_t{zone}"', html)
    assert f'data-preview="/meters/{meter.pk}/readings/preview/"' in html
    assert re.search(r'<script src="/static/portal/preview\.js" defer></script>', html)


def test_a_meter_without_readings_shows_its_values_at_installation(client, anna):
    user, _meter = anna
    meter = MeterFactory(zones=1, initial_t1=4321)
    link(user, meter.account)
    html = client.get(f"/meters/{meter.pk}/readings/new/").content.decode()
    assert '<span class="previous" id="id_t1_previous">at installation: <strong>4321</strong></span>' in html


def test_the_preview_gives_the_consumption_and_the_charge_without_storing(client, anna):
    _user, meter = anna
    # 150 / 60 kWh since October: 150 × 9.45 + 60 × 4.08 = 1417.50 + 244.80
    response = _preview(client, meter, t1="1350", t2="660")
    assert response.status_code == 200
    assert response.json() == {
        "state": "ok",
        "consumption": ["150 kWh since the previous reading", "60 kWh since the previous reading"],
        "total": f"Charge for November 2026 by these readings: 1,662.30{NBSP}₽",
        "messages": [],
    }
    assert not Reading.objects.filter(meter=meter, period=date(2026, 11, 1)).exists()


def test_the_preview_in_russian(client, anna):
    _user, meter = anna
    client.cookies["django_language"] = "ru"
    answer = _preview(client, meter, t1="1350", t2="660").json()
    assert answer["total"] == f"Начисление за ноябрь 2026 по этим показаниям: 1{NARROW_NBSP}662,30{NBSP}₽"


def test_the_preview_waits_for_every_zone(client, anna):
    _user, meter = anna
    assert _preview(client, meter, t1="1350").json() == {"state": "incomplete"}
    assert _preview(client, meter, t1="1350", t2="  ").json() == {"state": "incomplete"}


def test_the_preview_says_what_is_wrong(client, anna):
    _user, meter = anna
    answer = _preview(client, meter, t1="1100", t2="660").json()
    assert answer["state"] == "error"
    assert len(answer["messages"]) == 1
    assert "1200" in answer["messages"][0] or "1,200" in answer["messages"][0]


def test_the_preview_lists_the_confirmations_a_submission_would_ask(client, anna):
    user, _meter = anna
    meter = MeterFactory(zones=2, digits=5, initial_t1=99950, initial_t2=500)
    link(user, meter.account)
    # 99950 → 30: the meter passed its maximum, which a submission asks to confirm.
    answer = _preview(client, meter, t1="30", t2="550").json()
    assert answer["state"] == "ok"
    assert answer["consumption"][0] == "80 kWh since the previous reading"
    assert len(answer["messages"]) == 1, answer


def test_the_preview_of_someone_elses_meter_is_not_found(client, anna):
    other = MeterFactory()
    link(UserFactory(), other.account)
    assert _preview(client, other, t1="1", t2="1").status_code == 404


def test_the_preview_needs_a_login(client, customer):
    _user, meter = customer
    response = _preview(client, meter, t1="1350", t2="660")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_preview_answers_get_only(client, anna):
    _user, meter = anna
    assert client.post(f"/meters/{meter.pk}/readings/preview/", {"t1": "1", "t2": "1"}).status_code == 405
