"""The reading form: one field per zone inside the window, a clear notice outside it, the receipt."""

from __future__ import annotations

import re
from datetime import UTC, date
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail

from meterdesk.customers.models import PremisesCategory
from meterdesk.metering.models import Channel, MeterStatus, Reading, ReadingStatus
from meterdesk.testing import MeterFactory, ReadingFactory, link, make_tariff, moscow

pytestmark = pytest.mark.django_db

IN_WINDOW = moscow(2026, 11, 20, 12)


class Clock:
    def __init__(self) -> None:
        self.now = IN_WINDOW


@pytest.fixture
def clock():
    """Controls "now" for the views (they call timezone.now())."""
    c = Clock()
    with mock.patch("django.utils.timezone.now", side_effect=lambda: c.now):
        yield c


@pytest.fixture
def en(client):
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def anna(client, customer, clock):
    """Anna, logged in on 20 November 2026 (the window is open); her meter has a reading for
    October: 1200 / 600."""
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=1200, t2=600)
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return user, meter


def _url(meter) -> str:
    return f"/meters/{meter.pk}/readings/new/"


def _field_error(html: str, field: str) -> str:
    match = re.search(rf'<div class="field-error" id="id_{field}_error">(.*?)</div>', html, re.S)
    assert match, f"no error shown for {field}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


# --- the form ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zones", "labels"),
    [
        (1, ["Single rate"]),
        (2, ["T1 (day)", "T2 (night)"]),
        (3, ["T1 (peak)", "T2 (night)", "T3 (semi-peak)"]),
    ],
)
def test_inside_the_window_there_is_one_field_per_zone(en, customer, clock, zones, labels):
    user = customer[0]
    meter = MeterFactory(zones=zones)
    link(user, meter.account)
    en.force_login(user)
    response = en.get(_url(meter))
    assert response.status_code == 200
    html = response.content.decode()
    for zone, label in enumerate(labels, start=1):
        assert re.search(rf'<label for="id_t{zone}">{re.escape(label)}</label>', html), label
        assert f'name="t{zone}"' in html
    assert f'name="t{zones + 1}"' not in html
    assert [f.name for f in response.context["form"].zone_fields()] == [f"t{z}" for z in range(1, zones + 1)]
    assert meter.serial in html
    assert meter.account.number in html


def test_decimal_meter_fields_ask_for_a_decimal_keyboard(en, customer, clock):
    meter = MeterFactory(zones=1, decimal_places=1)
    link(customer[0], meter.account)
    en.force_login(customer[0])
    html = en.get(_url(meter)).content.decode()
    assert re.search(r'<input type="text" name="t1" inputmode="decimal"', html)


def test_the_form_shows_the_previous_reading(client, anna):
    html = client.get(_url(anna[1])).content.decode()
    assert "The previous values are those of the reading accepted on 20.10.2026." in html
    assert 'id="id_t1_previous">previous: <strong>1200</strong>' in html
    assert 'id="id_t2_previous">previous: <strong>600</strong>' in html


@pytest.mark.parametrize(
    ("now", "opens_en", "opens_ru"),
    [
        (moscow(2026, 11, 14, 23, 59), "15 November 2026", "15 ноября 2026"),
        (moscow(2026, 11, 27, 0, 1), "15 December 2026", "15 декабря 2026"),
        (moscow(2026, 12, 31, 12), "15 January 2027", "15 января 2027"),
    ],
)
def test_outside_the_window_the_form_is_not_offered(client, customer, clock, now, opens_en, opens_ru):
    clock.now = now
    user, meter = customer
    client.force_login(user)
    response = client.get(_url(meter))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="t1"' not in html
    assert 'name="t2"' not in html
    assert opens_ru in html  # Russian by default
    assert "15-го" in html
    assert "26-е" in html
    assert response.context["window"].open is False

    client.cookies["django_language"] = "en"
    html = client.get(_url(meter)).content.decode()
    assert f"The window opens on {opens_en}." in html
    assert "from the 15th to the 26th of each month" in html
    assert 'name="t1"' not in html


def _form_page(client, user, meter) -> str:
    """The submit page as ``user`` sees it now (logged in afresh: sessions last 8 hours)."""
    client.force_login(user)
    response = client.get(_url(meter))
    assert response.status_code == 200
    return response.content.decode()


def test_window_edges_are_inclusive(client, customer, clock):
    user, meter = customer
    for now in (moscow(2026, 11, 15, 0, 0, 1), moscow(2026, 11, 26, 23, 59)):
        clock.now = now
        assert 'name="t1"' in _form_page(client, user, meter), now
    for now in (moscow(2026, 11, 14, 23, 59), moscow(2026, 11, 27, 0, 0, 1)):
        clock.now = now
        assert 'name="t1"' not in _form_page(client, user, meter), now


def test_the_window_follows_moscow_time_not_utc(client, customer, clock):
    user, meter = customer
    # 21:30 UTC on 14 November is already 00:30 on the 15th in Moscow.
    clock.now = moscow(2026, 11, 15, 0, 30)
    assert clock.now.astimezone(UTC).day == 14
    assert 'name="t1"' in _form_page(client, user, meter)
    # 22:30 UTC on 26 November is 01:30 on the 27th in Moscow: closed.
    clock.now = moscow(2026, 11, 27, 1, 30)
    assert clock.now.astimezone(UTC).day == 26
    assert 'name="t1"' not in _form_page(client, user, meter)


def test_a_post_outside_the_window_stores_nothing(client, customer, clock):
    clock.now = moscow(2026, 11, 10, 12)
    user, meter = customer
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.post(_url(meter), {"t1": "1100", "t2": "550"})
    assert response.status_code != 302
    assert Reading.objects.count() == 0
    html = response.content.decode()
    assert "The window opens on 15 November 2026." in html
    assert 'name="t1"' not in html


# --- a good reading ---------------------------------------------------------------------------


def test_valid_post_redirects_to_the_receipt_with_the_charge(
    client, anna, django_capture_on_commit_callbacks
):
    user, meter = anna
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(meter), {"t1": "1 323", "t2": "647"})
    assert response.status_code == 302
    reading = Reading.objects.get(period=date(2026, 11, 1))
    assert response["Location"] == f"/readings/{reading.confirmation}/"
    assert re.fullmatch(r"\d{12}", reading.confirmation)
    assert reading.values == (Decimal(1323), Decimal(647))
    assert reading.status == ReadingStatus.ACCEPTED
    assert reading.channel == Channel.WEB
    assert reading.submitted_by == user
    assert reading.account == meter.account

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert f'<strong data-testid="confirmation">{reading.confirmation}</strong>' in html
    # Consumption 1323 - 1200 = 123 at 9.45 = 1162.35; 647 - 600 = 47 at 4.08 = 191.76.
    rows = re.findall(
        r'<td class="num">(\d+)</td>\s*<td class="num">([\d.]+)</td><td class="num">([\d.,]+)</td>', html
    )
    assert rows == [("123", "9.45", "1,162.35"), ("47", "4.08", "191.76")]
    assert '<td class="num" data-testid="total">1,354.11\u00a0₽</td>' in html
    assert "20.11.2026 12:00" in html
    assert "November 2026" in html

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert reading.confirmation in message.subject
    assert reading.confirmation in message.body
    assert "1,354.11" in message.body
    assert "1,162.35" in message.body
    assert meter.serial in message.body


def test_no_mail_before_the_transaction_commits(client, anna):
    response = client.post(_url(anna[1]), {"t1": "1300", "t2": "650"})
    assert response.status_code == 302
    assert mail.outbox == []  # the mail waits for on_commit, which the test transaction never reaches


def test_single_zone_and_three_zone_receipts(client, customer, clock, django_capture_on_commit_callbacks):
    user = customer[0]
    client.force_login(user)
    client.cookies["django_language"] = "en"
    make_tariff(prices=("6.50",))
    make_tariff(prices=("10.00", "3.00", "7.25"))
    single = MeterFactory(zones=1)  # initial 1000
    triple = MeterFactory(zones=3)  # initial 1000 / 500 / 700
    link(user, single.account)
    link(user, triple.account)

    response = client.post(_url(single), {"t1": "1010"})
    html = client.get(response["Location"]).content.decode()
    assert '<td class="num" data-testid="total">65.00\u00a0₽</td>' in html  # 10 × 6.50

    response = client.post(_url(triple), {"t1": "1004", "t2": "510", "t3": "702"})
    html = client.get(response["Location"]).content.decode()
    # 4 × 10.00 + 10 × 3.00 + 2 × 7.25 = 40.00 + 30.00 + 14.50
    for amount in ("40.00", "30.00", "14.50"):
        assert f'<td class="num">{amount}</td>' in html
    assert '<td class="num" data-testid="total">84.50\u00a0₽</td>' in html
    assert Reading.objects.get(meter=triple).values == (Decimal(1004), Decimal(510), Decimal(702))


def test_a_decimal_comma_is_accepted_on_a_meter_with_decimals(client, customer, clock):
    user = customer[0]
    meter = MeterFactory(zones=2, decimal_places=1)
    link(user, meter.account)
    client.force_login(user)
    response = client.post(_url(meter), {"t1": "1 000,5", "t2": "500.25"})
    assert response.status_code == 422  # two decimals on a one-decimal meter
    assert Reading.objects.count() == 0
    response = client.post(_url(meter), {"t1": "1 000,5", "t2": "500.2"})
    assert response.status_code == 302
    assert Reading.objects.get().values == (Decimal("1000.5"), Decimal("500.2"))


def test_receipt_without_a_tariff_says_so(client, customer, clock):
    user = customer[0]
    meter = MeterFactory(zones=2, account__category=PremisesCategory.RURAL)  # no rural tariff
    link(user, meter.account)
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.post(_url(meter), {"t1": "1100", "t2": "550"})
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert "No tariff is set for this meter yet" in html
    assert 'data-testid="total"' not in html


# --- invalid input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t1", "message"),
    [
        ("", "Enter the value shown on the meter."),
        ("12a4", "Enter digits only, as shown on the meter."),
        ("-5", "A meter reading cannot be negative."),
        ("1300.5", "Enter whole kilowatt-hours only, without the digits after the decimal point."),
        ("123456", "This meter shows at most 5 digits before the decimal point."),
        ("900", "The value is lower than the previous reading (1,200). Check the number."),
    ],
)
def test_invalid_value_is_shown_at_its_field_with_422(client, anna, t1, message):
    _user, meter = anna
    response = client.post(_url(meter), {"t1": t1, "t2": "650"})
    assert response.status_code == 422
    html = response.content.decode()
    assert _field_error(html, "t1") == message
    assert 'id="id_t2_error"' not in html
    assert 'id="error-summary"' in html
    assert f'href="#id_t1">T1 (day): {message}' in html.replace("&#x27;", "'")
    # The typed values are kept.
    assert 'name="t2" value="650"' in html
    assert Reading.objects.filter(period=date(2026, 11, 1)).count() == 0


def test_each_zone_gets_its_own_error(client, anna):
    _user, meter = anna
    response = client.post(_url(meter), {"t1": "abc", "t2": ""})
    assert response.status_code == 422
    html = response.content.decode()
    assert _field_error(html, "t1") == "Enter digits only, as shown on the meter."
    assert _field_error(html, "t2") == "Enter the value shown on the meter."
    assert Reading.objects.filter(period=date(2026, 11, 1)).count() == 0


def test_too_long_input_is_refused(client, anna):
    response = client.post(_url(anna[1]), {"t1": "1" * 25, "t2": "650"})
    assert response.status_code == 422
    assert Reading.objects.filter(period=date(2026, 11, 1)).count() == 0


@pytest.mark.parametrize("t1", ["1" * 29, "9" * 40, "0" * 10 + "1" * 29])
def test_a_value_of_29_digits_or_more_is_too_many_digits(client, anna, t1):
    response = client.post(_url(anna[1]), {"t1": t1, "t2": "650"})
    assert response.status_code == 422
    assert (
        _field_error(response.content.decode(), "t1")
        == "This meter shows at most 5 digits before the decimal point."
    )
    assert Reading.objects.filter(period=date(2026, 11, 1)).count() == 0


def test_a_meter_out_of_service_accepts_nothing(client, anna):
    meter = anna[1]
    meter.status = MeterStatus.REMOVED
    meter.save()
    response = client.post(_url(meter), {"t1": "1300", "t2": "650"})
    assert response.status_code == 422
    assert "This meter is no longer in service" in response.content.decode()
    assert Reading.objects.filter(period=date(2026, 11, 1)).count() == 0


# --- confirmations ---------------------------------------------------------------------------


def test_rollover_asks_for_confirmation_then_accepts_it(client, customer, clock):
    user = customer[0]
    meter = MeterFactory(zones=2, digits=5, initial_t1=Decimal(99950), initial_t2=Decimal(500))
    link(user, meter.account)
    client.force_login(user)
    client.cookies["django_language"] = "en"

    response = client.post(_url(meter), {"t1": "30", "t2": "550"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="confirm-box"' in html
    assert re.search(r'<input type="checkbox" name="confirm" value="rollover:1=30" id="confirm-1">', html)
    assert "the consumption is 80 kWh" in html
    assert 'value="high_consumption' not in html
    # The typed values stay in the form for the second submission.
    assert 'name="t1" value="30"' in html
    assert Reading.objects.count() == 0

    response = client.post(_url(meter), {"t1": "30", "t2": "550", "confirm": "rollover:1=30"})
    assert response.status_code == 302
    reading = Reading.objects.get()
    assert reading.rolled_over is True
    assert reading.confirmed == "rollover"
    assert reading.values == (Decimal(30), Decimal(550))
    html = client.get(response["Location"]).content.decode()
    # 80 kWh × 9.45 = 756.00; 50 kWh × 4.08 = 204.00
    assert re.search(r'<td class="num">80</td>\s*<td class="num">9.45</td><td class="num">756.00</td>', html)
    assert '<td class="num" data-testid="total">960.00\u00a0₽</td>' in html
    assert "passed its maximum and started again from zero" in html


def test_a_confirmation_for_the_wrong_thing_does_not_pass(client, customer, clock):
    user = customer[0]
    meter = MeterFactory(zones=2, digits=5, initial_t1=Decimal(99950), initial_t2=Decimal(500))
    link(user, meter.account)
    client.force_login(user)
    for wrong in ("high_consumption:1=30", "rollover", "rollover:2=30", "anything", "rollover:1=30\x00"):
        response = client.post(_url(meter), {"t1": "30", "t2": "550", "confirm": wrong})
        assert response.status_code == 200, wrong
        assert 'value="rollover:1=30"' in response.content.decode()
    assert Reading.objects.count() == 0


def test_high_consumption_asks_for_confirmation_then_accepts_it(client, customer, clock):
    user, meter = customer
    # An average of 100 / 50 kWh a month: September 1100/550, October 1200/600.
    ReadingFactory(meter=meter, period=date(2026, 9, 1), t1=1100, t2=550)
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=1200, t2=600)
    client.force_login(user)
    client.cookies["django_language"] = "en"

    # 600 kWh in T1 is more than 5 × 100.
    response = client.post(_url(meter), {"t1": "1800", "t2": "650"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="confirm-box"' in html
    assert re.search(
        r'<input type="checkbox" name="confirm" value="high_consumption:1=1800" id="confirm-1">', html
    )
    assert "a consumption of 600 kWh, more than 5 times your average of 100 kWh" in html
    assert Reading.objects.filter(period=date(2026, 11, 1)).count() == 0

    response = client.post(_url(meter), {"t1": "1800", "t2": "650", "confirm": "high_consumption:1=1800"})
    assert response.status_code == 302
    reading = Reading.objects.get(period=date(2026, 11, 1))
    assert reading.confirmed == "high_consumption"
    assert reading.rolled_over is False


def test_a_confirmed_value_changed_afterwards_is_asked_about_again(client, customer, clock):
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 9, 1), t1=1100, t2=550)
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=1200, t2=600)
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.post(_url(meter), {"t1": "1800", "t2": "650"})
    assert 'value="high_consumption:1=1800"' in response.content.decode()
    # "Yes, the value is right" ticked for 1800, and the value changed to 9800 before sending.
    response = client.post(_url(meter), {"t1": "9800", "t2": "650", "confirm": "high_consumption:1=1800"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="confirm-box"' in html
    assert "a consumption of 8,600 kWh" in html
    assert 'value="high_consumption:1=9800"' in html
    assert 'value="high_consumption:1=1800"' not in html
    assert Reading.objects.filter(period=date(2026, 11, 1)).count() == 0
    response = client.post(_url(meter), {"t1": "9800", "t2": "650", "confirm": "high_consumption:1=9800"})
    assert response.status_code == 302
    assert Reading.objects.get(period=date(2026, 11, 1)).t1 == 9800


def test_each_zone_asks_with_its_own_box(client, customer, clock):
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 9, 1), t1=1100, t2=550)
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=1200, t2=600)
    client.force_login(user)
    client.cookies["django_language"] = "en"
    html = client.post(_url(meter), {"t1": "1800", "t2": "1650"}).content.decode()
    assert 'value="high_consumption:1=1800" id="confirm-1"' in html
    assert 'value="high_consumption:2=1650" id="confirm-2"' in html
    assert '<label for="confirm-2">Yes, the value is right (T2 (night): 1650)</label>' in html
    response = client.post(_url(meter), {"t1": "1800", "t2": "1650", "confirm": "high_consumption:2=1650"})
    assert 'value="high_consumption:1=1800" id="confirm-1"' in response.content.decode()
    assert 'value="high_consumption:2=1650"' not in response.content.decode()
    response = client.post(
        _url(meter),
        {"t1": "1800", "t2": "1650", "confirm": ["high_consumption:2=1650", "high_consumption:1=1800"]},
    )
    assert response.status_code == 302


def test_ordinary_consumption_needs_no_confirmation(client, customer, clock):
    user, meter = customer
    ReadingFactory(meter=meter, period=date(2026, 9, 1), t1=1100, t2=550)
    ReadingFactory(meter=meter, period=date(2026, 10, 1), t1=1200, t2=600)
    client.force_login(user)
    response = client.post(_url(meter), {"t1": "1700", "t2": "850"})  # exactly 5 × the average
    assert response.status_code == 302


# --- resubmission ---------------------------------------------------------------------------


def test_a_second_submission_replaces_the_first_and_both_stay(client, anna):
    _user, meter = anna
    first_response = client.post(_url(meter), {"t1": "1300", "t2": "650"})
    first = Reading.objects.get(period=date(2026, 11, 1))
    second_response = client.post(_url(meter), {"t1": "1310", "t2": "655"})
    assert second_response.status_code == 302

    readings = list(Reading.objects.filter(period=date(2026, 11, 1)).order_by("pk"))
    assert len(readings) == 2
    old, new = readings
    assert old.pk == first.pk
    assert old.status == ReadingStatus.SUPERSEDED
    assert new.status == ReadingStatus.ACCEPTED
    assert new.replaces_id == old.pk
    assert new.values == (Decimal(1310), Decimal(655))
    assert old.confirmation != new.confirmation
    assert second_response["Location"] == f"/readings/{new.confirmation}/"

    new_page = client.get(second_response["Location"]).content.decode()
    assert "It replaces your earlier reading for this month." in new_page
    # Measured from October (1200 / 600), not from the replaced submission:
    # 110 × 9.45 + 55 × 4.08 = 1039.50 + 224.40
    assert '<td class="num" data-testid="total">1,263.90\u00a0₽</td>' in new_page
    old_page = client.get(first_response["Location"]).content.decode()
    assert "replaced by a later submission" in old_page
    # October's and the new November reading are the accepted ones.
    assert Reading.objects.filter(status=ReadingStatus.ACCEPTED, meter=meter).count() == 2


def test_the_previous_reading_shown_is_the_latest_accepted(client, anna):
    meter = anna[1]
    client.post(_url(meter), {"t1": "1300", "t2": "650"})
    html = client.get(_url(meter)).content.decode()
    assert 'id="id_t1_previous">previous: <strong>1300</strong>' in html
    assert 'id="id_t2_previous">previous: <strong>650</strong>' in html
