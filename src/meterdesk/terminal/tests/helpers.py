"""A terminal enrolled the way staff enrol one, and a household at it."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from meterdesk.terminal.models import Terminal
from meterdesk.terminal.services import terminal_register


def enrolled(name: str = "Зал 1", location: str = "Офис на Профсоюзной") -> tuple[Client, Terminal]:
    """A client holding the device cookie of a newly registered terminal, set by its enrolment link."""
    terminal, token = terminal_register(name=name, location=location)
    client = Client()
    response = client.post(reverse("terminal:enrol", args=[token]))
    assert response.status_code == 200
    terminal.refresh_from_db()
    return client, terminal


def identify(client: Client, number: str, serial: str) -> None:
    response = client.post(reverse("terminal:start"), {"account_number": number, "meter_serial": serial})
    assert response.status_code == 302 and response["Location"] == reverse("terminal:account"), response
