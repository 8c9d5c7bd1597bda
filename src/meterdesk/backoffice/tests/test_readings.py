"""Readings keyed in by staff: through the core, with the slip's date, audited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from meterdesk.backoffice.audit import account_changes
from meterdesk.backoffice.services import ReasonRequired, reading_key, slip_moment
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.metering.check import WindowClosed
from meterdesk.metering.models import Channel, Reading, ReadingStatus
from meterdesk.testing import ReadingFactory, moscow
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db

DECEMBER_2 = moscow(2026, 12, 2, 10)  # outside the window of the 15th to the 26th


@pytest.fixture
def window_15_26(settings):
    settings.METERDESK_READING_WINDOW = "15-26"


def test_a_slips_date_counts_for_the_window_not_the_day_it_was_keyed(office_world, window_15_26):
    _user, meter = office_world
    operator = staff_of("operator")
    with mock.patch("django.utils.timezone.now", return_value=DECEMBER_2):
        with pytest.raises(WindowClosed):
            reading_key(
                staff=operator,
                meter=meter,
                values=["1300", "650"],
                channel=Channel.PAPER,
                slip_date=date(2026, 12, 2),
            )
        result = reading_key(
            staff=operator,
            meter=meter,
            values=["1300", "650"],
            channel=Channel.PAPER,
            slip_date=date(2026, 11, 25),
        )
    reading = result.reading
    assert reading.period == date(2026, 11, 1)
    assert reading.submitted_at == moscow(2026, 11, 25, 12)
    assert reading.channel == Channel.PAPER
    assert LogEntry.objects.get().actor == operator


def test_a_slip_of_today_is_given_now():
    assert slip_moment(DECEMBER_2.date(), DECEMBER_2) == DECEMBER_2
    assert slip_moment(date(2026, 11, 25), DECEMBER_2) == moscow(2026, 11, 25, 12)


def test_a_slip_cannot_be_dated_in_the_future(office_world):
    _user, meter = office_world
    with mock.patch("django.utils.timezone.now", return_value=DECEMBER_2), pytest.raises(ValueError):
        reading_key(
            staff=staff_of("operator"),
            meter=meter,
            values=["1300", "650"],
            channel=Channel.PAPER,
            slip_date=date(2026, 12, 3),
        )


def test_replacing_the_months_reading_is_a_correction_that_needs_a_reason(office_world):
    _user, meter = office_world
    operator = staff_of("operator")
    today = utility_now().date()
    first = reading_key(
        staff=operator, meter=meter, values=["1300", "650"], channel=Channel.OPERATOR, slip_date=today
    )
    with pytest.raises(ReasonRequired):
        reading_key(
            staff=operator, meter=meter, values=["1310", "655"], channel=Channel.PAPER, slip_date=today
        )
    assert Reading.objects.filter(meter=meter).count() == 1
    second = reading_key(
        staff=operator,
        meter=meter,
        values=["1310", "655"],
        channel=Channel.PAPER,
        slip_date=today,
        reason="опечатка",
    )
    assert second.replaced is not None and second.replaced.pk == first.reading.pk
    assert Reading.objects.get(pk=first.reading.pk).status == ReadingStatus.SUPERSEDED
    newest, oldest = account_changes(meter.account)
    assert newest.reason == "опечатка"
    assert [(f.before, f.after) for f in newest.fields] == [("1300", "1310"), ("650", "655")]
    assert [(f.before, f.after) for f in oldest.fields] == [(None, "1300"), (None, "650")]
    assert oldest.channel and newest.channel


def test_the_account_page_keys_a_reading_and_shows_it(office_world):
    _user, meter = office_world
    client = client_of(staff_of("operator"))
    url = reverse("backoffice:reading_new", args=[meter.account.number])
    page = client.get(url)
    assert page.status_code == 200
    data = {
        "meter": meter.pk,
        "slip_date": utility_now().date().isoformat(),
        "channel": "paper",
        "t1": "900",
        "t2": "650",
    }
    response = client.post(url, data)
    assert response.status_code == 422
    assert response.context["form"].errors["t1"][0]  # below the previous reading: the core's rule
    response = client.post(url, {**data, "t1": "1300"})
    assert response.status_code == 302
    reading = Reading.objects.get(meter=meter)
    assert response["Location"] == reverse("backoffice:reading", args=[reading.confirmation])
    receipt = client.get(response["Location"])
    assert receipt.context["charge"].consumption == (Decimal(300), Decimal(150))
    assert "бумажный бланк" in receipt.content.decode()
    html = client.get(reverse("backoffice:account", args=[meter.account.number])).content.decode()
    assert f"№ {reading.confirmation}" in html
    assert "бумажный бланк" in html


def test_an_unusual_consumption_is_asked_to_be_confirmed_as_on_the_web(office_world):
    _user, meter = office_world
    for month, (t1, t2) in ((8, (1000, 500)), (9, (1100, 550)), (10, (1200, 600))):
        ReadingFactory(meter=meter, period=date(2026, month, 1), t1=Decimal(t1), t2=Decimal(t2))
    client = client_of(staff_of("operator"))
    url = reverse("backoffice:reading_new", args=[meter.account.number])
    data = {
        "meter": meter.pk,
        "slip_date": utility_now().date().isoformat(),
        "channel": "paper",
        "t1": "9000",
        "t2": "650",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    [asked] = response.context["confirmations"]
    assert asked["code"] == "high_consumption"
    response = client.post(url, {**data, "confirm": [asked["confirm"]]})
    assert response.status_code == 302


def test_a_meter_of_another_account_is_not_found(office_world):
    _user, meter = office_world
    from meterdesk.testing import MeterFactory

    other = MeterFactory()
    client = client_of(staff_of("operator"))
    url = reverse("backoffice:reading_new", args=[meter.account.number])
    assert client.get(url, {"meter": other.pk}).status_code == 404


def test_the_batch_page_takes_one_slip_after_another(office_world):
    _user, meter = office_world
    client = client_of(staff_of("operator"))
    url = reverse("backoffice:reading_batch")
    today = utility_now().date().isoformat()
    response = client.post(url, {"account": "9999999999", "t1": "1300", "t2": "650", "slip_date": today})
    assert response.status_code == 422
    assert response.context["form"].errors["account"]
    response = client.post(url, {"account": "1000 000 042", "t1": "1300", "t2": "650", "slip_date": today})
    assert response.status_code == 200
    assert response.context["form"]["account"].value() in (None, "")  # the next slip's form, empty
    assert response.context["done"][0]["account"] == "1000000042"
    reading = Reading.objects.get(meter=meter)
    assert reading.channel == Channel.PAPER and reading.values == (Decimal(1300), Decimal(650))
    assert reading.confirmation in response.content.decode()


def test_the_batch_page_asks_the_same_confirmations(office_world):
    _user, meter = office_world
    for month, (t1, t2) in ((8, (1000, 500)), (9, (1100, 550)), (10, (1200, 600))):
        ReadingFactory(meter=meter, period=date(2026, month, 1), t1=Decimal(t1), t2=Decimal(t2))
    client = client_of(staff_of("supervisor"))
    url = reverse("backoffice:reading_batch")
    data = {
        "account": meter.account.number,
        "t1": "9000",
        "t2": "650",
        "slip_date": utility_now().date().isoformat(),
    }
    response = client.post(url, data)
    [asked] = response.context["confirmations"]
    assert asked["code"] == "high_consumption" and asked["zone_no"] == 1
    assert 'name="confirm"' in response.content.decode()
    assert not Reading.objects.filter(meter=meter, channel=Channel.PAPER).exists()
    response = client.post(url, {**data, "confirm": [asked["confirm"]]})
    assert response.context["done"][0]["account"] == meter.account.number
    assert Reading.objects.filter(meter=meter, channel=Channel.PAPER).count() == 1


def test_a_slip_dated_outside_the_window_is_refused_on_the_page(office_world, window_15_26):
    _user, meter = office_world
    client = client_of(staff_of("operator"))
    url = reverse("backoffice:reading_new", args=[meter.account.number])
    data = {"meter": meter.pk, "channel": "operator", "t1": "1300", "t2": "650"}
    with mock.patch("django.utils.timezone.now", return_value=DECEMBER_2):
        response = client.post(url, {**data, "slip_date": "2026-12-02"})
        assert response.status_code == 200
        assert "с 15 по 26 число" in response.context["window_closed"]
        assert not Reading.objects.exists()
        response = client.post(url, {**data, "slip_date": "2026-11-20"})
        assert response.status_code == 302
    reading = Reading.objects.get()
    assert reading.channel == Channel.OPERATOR and reading.period == date(2026, 11, 1)


def _november_closed(meter) -> None:
    from django.utils import timezone

    from meterdesk.billing.models import AccountClose

    zero = Decimal(0)
    AccountClose.objects.create(
        account=meter.account, period=date(2026, 11, 1), basis="average", opening_balance=zero, charges=zero,
        recalculations=zero, payments=zero, penalty=zero, closing_balance=zero, due_date=date(2026, 12, 10),
        closed_at=timezone.now(),
    )  # fmt: skip


def test_a_slip_of_a_closed_month_is_refused_or_moved_as_the_profile_says(office_world, monkeypatch):
    import dataclasses

    from meterdesk.metering import check

    _user, meter = office_world
    _november_closed(meter)
    client = client_of(staff_of("operator"))
    url = reverse("backoffice:reading_new", args=[meter.account.number])
    data = {"meter": meter.pk, "channel": "paper", "t1": "1300", "t2": "650", "slip_date": "2026-11-20"}
    with mock.patch("django.utils.timezone.now", return_value=DECEMBER_2):
        response = client.post(url, data)
        assert response.status_code == 422
        assert [e.code for e in response.context["form"].non_field_errors().as_data()] == ["month_closed"]
        assert "Показания за ноябрь 2026 больше не принимаются" in response.content.decode()
        real = check.profile_load
        monkeypatch.setattr(
            check,
            "profile_load",
            lambda code: dataclasses.replace(real(code), closed_month_readings="next_month"),
        )
        response = client.post(url, data, follow=True)
    assert response.status_code == 200
    moved = "Счёт за ноябрь 2026 уже выставлен, поэтому эти показания учтены за декабрь 2026."
    assert moved in response.content.decode()
    assert Reading.objects.get().period == date(2026, 12, 1)
