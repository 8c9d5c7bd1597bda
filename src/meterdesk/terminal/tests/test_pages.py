"""A household at the terminal: identify, see the account (masked), give a reading and see its
charge, e-mail the confirmation, finish; the session leaves nothing behind."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse

from meterdesk.metering.models import Channel, Reading
from meterdesk.terminal import device
from meterdesk.terminal.models import SessionEnd, TerminalReading, TerminalSession
from meterdesk.terminal.tests.helpers import enrolled, identify
from meterdesk.testing import AccountFactory, MeterFactory, ReadingFactory, make_tariff, moscow

pytestmark = pytest.mark.django_db

IN_WINDOW = moscow(2026, 11, 20)
BEFORE_WINDOW = moscow(2026, 11, 10)


@pytest.fixture
def household():
    account = AccountFactory(
        number="1234567890",
        holder_name="Иванова Мария Петровна",
        address="г. Москва, ул. Вавилова, д. 12, кв. 5",
    )
    meter = MeterFactory(account=account, serial="40123456", zones=2)
    for month, t1, t2 in ((8, 1000, 500), (9, 1100, 550), (10, 1200, 600)):
        ReadingFactory(meter=meter, period=date(2026, month, 1), t1=Decimal(t1), t2=Decimal(t2))
    make_tariff(prices=("9.45", "4.08"))
    return meter


@pytest.fixture
def at_the_window():
    with mock.patch("django.utils.timezone.now", return_value=IN_WINDOW):
        yield


def test_a_wrong_serial_is_refused_without_saying_which_part(household):
    client, _terminal = enrolled()
    response = client.post(reverse("terminal:start"), {"account_number": "1234567890", "meter_serial": "999"})
    assert response.status_code == 422
    assert "не соответствуют друг другу" in response.content.decode()
    assert client.get(reverse("terminal:account")).status_code == 302


def test_guessing_is_limited_per_device(household, settings):
    settings.METERDESK_LINK_RATE_ADDRESS = "3/h"
    client, _terminal = enrolled()
    for serial in ("1", "2", "3"):
        client.post(reverse("terminal:start"), {"account_number": "1234567890", "meter_serial": serial})
    response = client.post(
        reverse("terminal:start"), {"account_number": "1234567890", "meter_serial": "40123456"}
    )
    assert response.status_code == 429
    assert "Слишком много попыток" in response.content.decode()
    other, _ = enrolled(name="Зал 2")  # another device in the same office is not locked out
    identify(other, "1234567890", "40123456")


def test_the_account_shows_the_money_and_no_more_personal_data_than_needed(household):
    client, terminal = enrolled()
    identify(client, "1234567890", " 4012 3456 ")
    html = client.get(reverse("terminal:account")).content.decode()
    assert "И***а М. П." in html and "Иванова" not in html and "Мария" not in html
    assert "ул. Вавилова, д. 12" in html and "кв. 5" not in html
    assert "Задолженности нет" in html  # nothing charged or paid yet
    session = TerminalSession.objects.get(terminal=terminal)
    assert session.account_id == household.account_id and session.ended_at is None


def test_a_two_zone_reading_shows_its_charge_and_is_recorded_with_the_device(household, at_the_window):
    client, terminal = enrolled()
    identify(client, "1234567890", "40123456")
    form = client.get(reverse("terminal:submit", args=[household.pk])).content.decode()
    assert "1200" in form and "600" in form  # the previous values beside the fields
    response = client.post(reverse("terminal:submit", args=[household.pk]), {"t1": "1300", "t2": "650"})
    assert response.status_code == 302
    page = client.get(response["Location"])
    reading = page.context["reading"]
    assert reading.channel == Channel.TERMINAL
    assert TerminalReading.objects.get(reading=reading).terminal == terminal
    # 100 kWh × 9,45 + 50 kWh × 4,08 = 945 + 204 = 1 149,00 ₽
    assert "1\u202f149,00\u00a0₽" in page.content.decode()
    assert page.context["charge"].total == Decimal("1149.00")


def test_the_rules_of_the_web_with_their_messages(household, at_the_window):
    client, _terminal = enrolled()
    identify(client, "1234567890", "40123456")
    url = reverse("terminal:submit", args=[household.pk])
    below = client.post(url, {"t1": "1100", "t2": "650"})
    assert below.status_code == 422
    assert [code for code, _text in below.context["fields"][0]["errors"]] == ["reading_below_previous"]
    high = client.post(url, {"t1": "9000", "t2": "650"})
    asked = high.context["confirmations"]
    assert [(c["zone"], c["code"]) for c in asked] == [(1, "high_consumption")]
    assert not Reading.objects.filter(channel=Channel.TERMINAL).exists()
    confirmed = client.post(url, {"t1": "9000", "t2": "650", "confirm": [asked[0]["confirm"]]})
    assert confirmed.status_code == 302


def test_outside_the_window_the_form_says_when(household):
    client, _terminal = enrolled()
    identify(client, "1234567890", "40123456")
    with mock.patch("django.utils.timezone.now", return_value=BEFORE_WINDOW):
        response = client.post(reverse("terminal:submit", args=[household.pk]), {"t1": "1300", "t2": "650"})
    assert response.status_code == 422
    assert "Сегодня показания не принимаются." in response.content.decode()


def test_another_accounts_meter_is_not_found(household, at_the_window):
    client, _terminal = enrolled()
    identify(client, "1234567890", "40123456")
    stranger = MeterFactory()
    assert client.get(reverse("terminal:submit", args=[stranger.pk])).status_code == 404
    assert (
        client.post(reverse("terminal:submit", args=[stranger.pk]), {"t1": "2000", "t2": "600"}).status_code
        == 404
    )
    assert (
        client.get(reverse("terminal:preview", args=[stranger.pk]), {"t1": "1", "t2": "1"}).status_code == 404
    )


def test_the_preview_prices_the_values_as_typed(household, at_the_window):
    client, _terminal = enrolled()
    identify(client, "1234567890", "40123456")
    url = reverse("terminal:preview", args=[household.pk])
    assert client.get(url, {"t1": "1300"}).json() == {"state": "incomplete"}
    ok = client.get(url, {"t1": "1300", "t2": "650"}).json()
    assert ok["state"] == "ok" and "1\u202f149,00\u00a0₽" in ok["total"]
    assert client.get(url, {"t1": "1100", "t2": "650"}).json()["state"] == "error"
    assert not Reading.objects.filter(channel=Channel.TERMINAL).exists()


def test_the_confirmation_is_e_mailed_to_an_address_typed_and_at_most_three_times(
    household, at_the_window, django_capture_on_commit_callbacks
):
    client, _terminal = enrolled()
    identify(client, "1234567890", "40123456")
    done = client.post(reverse("terminal:submit", args=[household.pk]), {"t1": "1300", "t2": "650"})
    confirmation = done["Location"].rstrip("/").rsplit("/", 1)[1]
    url = reverse("terminal:email", args=[confirmation])
    assert client.post(url, {"email": "not an address"}).status_code == 422
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            sent = client.post(url, {"email": "maria@example.ru"}, follow=True)
        assert "maria@example.ru" in sent.content.decode()
    assert [m.to for m in mail.outbox] == [["maria@example.ru"]] * 3
    assert confirmation in mail.outbox[0].body
    refused = client.post(url, {"email": "maria@example.ru"})
    assert refused.status_code == 422 and len(mail.outbox) == 3


def test_finish_leaves_nothing_behind(household, at_the_window):
    client, _terminal = enrolled()
    identify(client, "1234567890", "40123456")
    client.post(reverse("terminal:language"), {"language": "en", "next": "/terminal/account/"})
    done = client.post(reverse("terminal:submit", args=[household.pk]), {"t1": "1300", "t2": "650"})
    receipt = done["Location"]
    assert client.get(receipt).status_code == 200
    finished = client.post(reverse("terminal:finish"))
    assert finished["Location"] == reverse("terminal:start") + "?ended=finish"
    for url in (reverse("terminal:account"), receipt, reverse("terminal:submit", args=[household.pk])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("terminal:start"), url
    start = client.get(reverse("terminal:start"))
    assert "no-store" in start["Cache-Control"]
    assert '<html lang="ru">' in start.content.decode()  # the next person starts in Russian
    assert TerminalSession.objects.get().end == SessionEnd.FINISH


def test_every_page_is_not_stored(household):
    client, _terminal = enrolled()
    identify(client, "1234567890", "40123456")
    assert "no-store" in client.get(reverse("terminal:account"))["Cache-Control"]


def test_an_idle_session_is_ended_by_the_server_too(household, settings):
    settings.METERDESK_TERMINAL_IDLE_SECONDS = 60
    client, _terminal = enrolled()
    identify(client, "1234567890", "40123456")
    later = time.time() + 60 + device.GRACE + 1
    with mock.patch("meterdesk.terminal.device.time.time", return_value=later):
        response = client.get(reverse("terminal:account"))
    assert response.status_code == 302 and response["Location"] == reverse("terminal:start")
    assert TerminalSession.objects.get().end == SessionEnd.TIMEOUT
    assert client.get(reverse("terminal:account")).status_code == 302


def test_the_screen_ping_keeps_a_session_and_reports_an_ended_one(household):
    client, _terminal = enrolled()
    assert client.post(reverse("terminal:ping")).status_code == 410
    identify(client, "1234567890", "40123456")
    assert client.post(reverse("terminal:ping")).status_code == 204
    client.post(reverse("terminal:finish"), {"end": "timeout"})
    assert TerminalSession.objects.get().end == SessionEnd.TIMEOUT
    assert client.post(reverse("terminal:ping")).status_code == 410


def test_a_session_is_of_its_terminal(household):
    client, _terminal = enrolled()
    identify(client, "1234567890", "40123456")
    other, _ = enrolled(name="Зал 2")
    other.cookies[device.settings.SESSION_COOKIE_NAME] = client.cookies[
        device.settings.SESSION_COOKIE_NAME
    ].value
    assert other.get(reverse("terminal:account")).status_code == 302


def test_english_on_request(household):
    client, _terminal = enrolled()
    client.post(reverse("terminal:language"), {"language": "en", "next": "/terminal/"})
    html = client.get(reverse("terminal:start")).content.decode()
    assert '<html lang="en">' in html and "Personal account number" in html


def test_the_language_chosen_before_identifying_is_forgotten_too(household):
    client, _terminal = enrolled()
    client.post(reverse("terminal:language"), {"language": "en", "next": "/terminal/"})
    response = client.post(reverse("terminal:finish"), {"end": "timeout"})
    assert response["Location"] == reverse("terminal:start")  # no household's session to speak of
    assert '<html lang="ru">' in client.get(reverse("terminal:start")).content.decode()
    assert not TerminalSession.objects.exists()
