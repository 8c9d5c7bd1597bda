"""Terminals are registered by staff and enrolled by a one-time link; only an enrolled device that
is not revoked shows the terminal's pages."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from meterdesk.terminal.device import COOKIE
from meterdesk.terminal.models import SessionEnd, Terminal, TerminalSession
from meterdesk.terminal.services import enrolment_new, terminal_register, terminal_revoke
from meterdesk.terminal.tests.helpers import enrolled, identify
from meterdesk.testing import MeterFactory, make_tariff, moscow

pytestmark = pytest.mark.django_db


def test_a_screen_that_was_never_enrolled_shows_only_a_notice():
    response = Client().get(reverse("terminal:start"))
    assert response.status_code == 403
    assert "account_number" not in response.content.decode()


def test_a_forged_device_cookie_opens_nothing():
    client = Client()
    client.cookies[COOKIE] = "1:guessed"
    assert client.get(reverse("terminal:start")).status_code == 403


def test_the_enrolment_link_asks_first_and_works_once():
    terminal, token = terminal_register(name="Зал 1", location="Офис")
    client = Client()
    page = client.get(reverse("terminal:enrol", args=[token]))
    assert page.status_code == 200 and COOKIE not in page.cookies  # opening the link changes nothing
    response = client.post(reverse("terminal:enrol", args=[token]))
    assert response.status_code == 200 and response.cookies[COOKIE]["httponly"]
    assert client.get(reverse("terminal:start")).status_code == 200
    assert Client().post(reverse("terminal:enrol", args=[token])).status_code == 404
    terminal.refresh_from_db()
    assert terminal.enrolled_at is not None and token not in terminal.key_hash


def test_an_expired_enrolment_link_does_not_work():
    terminal, token = terminal_register(name="Зал 1", location="Офис")
    Terminal.objects.filter(pk=terminal.pk).update(enrolment_expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().post(reverse("terminal:enrol", args=[token])).status_code == 404


def test_a_revoked_terminal_stops_at_once():
    client, terminal = enrolled()
    terminal_revoke(terminal=terminal)
    assert client.get(reverse("terminal:start")).status_code == 403


def test_a_new_link_enrols_another_screen_and_the_old_one_stops():
    old, terminal = enrolled()
    token = enrolment_new(terminal=terminal)
    assert old.get(reverse("terminal:start")).status_code == 200  # until the new link is used
    new = Client()
    new.post(reverse("terminal:enrol", args=[token]))
    assert new.get(reverse("terminal:start")).status_code == 200
    assert old.get(reverse("terminal:start")).status_code == 403


def test_the_admin_shows_the_link_once_and_counts_sessions_and_readings(admin_client):
    response = admin_client.post(
        reverse("admin:terminal_terminal_add"), {"name": "Зал 2", "location": "Офис на Вавилова"}, follow=True
    )
    shown = [str(m) for m in response.context["messages"] if "/terminal/enrol/" in str(m)]
    terminal = Terminal.objects.get(name="Зал 2")
    assert len(shown) == 1
    token = shown[0].rsplit("/terminal/enrol/", 1)[1].strip("/ ")
    device = Client()
    assert device.post(reverse("terminal:enrol", args=[token])).status_code == 200
    meter = MeterFactory()
    make_tariff()
    with mock.patch("django.utils.timezone.now", return_value=moscow(2026, 11, 20)):  # in the window
        identify(device, meter.account.number, meter.serial)
        given = device.post(reverse("terminal:submit", args=[meter.pk]), {"t1": "1100", "t2": "550"})
        assert given.status_code == 302
        device.post(reverse("terminal:finish"))
    session = TerminalSession.objects.get(terminal=terminal)
    assert session.end == SessionEnd.FINISH and session.ended_at is not None
    listing = admin_client.get(reverse("admin:terminal_terminal_changelist")).content.decode()
    assert "Зал 2" in listing
    changelist = admin_client.get(reverse("admin:terminal_terminal_changelist"))
    counted = {t.name: (t.n_sessions, t.n_readings) for t in changelist.context["cl"].result_list}
    assert counted["Зал 2"] == (1, 1)
    assert token not in listing  # the link is not shown again


def test_revoking_in_the_admin(admin_client):
    client, terminal = enrolled()
    admin_client.post(
        reverse("admin:terminal_terminal_changelist"), {"action": "revoke", "_selected_action": [terminal.pk]}
    )
    terminal.refresh_from_db()
    assert terminal.revoked_at is not None
    assert client.get(reverse("terminal:start")).status_code == 403
