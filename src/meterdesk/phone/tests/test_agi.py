"""The FastAGI server, spoken to over TCP as Asterisk speaks AGI: the variables of a call, then
one answer per command, keys given as Asterisk gives them (the key's code in ``result=``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from unittest import mock

import pytest

from meterdesk.metering.models import Reading
from meterdesk.phone.agi import agi_serve
from meterdesk.phone.models import Call
from meterdesk.phone.tests.helpers import CALLER, IN_WINDOW, customer
from meterdesk.testing import free_port

pytestmark = pytest.mark.django_db(transaction=True)

#: As Asterisk 20 sends them for AGI(agi://127.0.0.1:PORT/ivr) on a call from a mobile.
HEADERS = (
    "agi_network: yes\n"
    "agi_network_script: ivr\n"
    "agi_request: agi://127.0.0.1/ivr\n"
    "agi_channel: PJSIP/trunk-00000007\n"
    "agi_language: ru\n"
    "agi_type: PJSIP\n"
    "agi_uniqueid: 1764912345.7\n"
    "agi_version: 20.5.0\n"
    f"agi_callerid: {CALLER}\n"
    "agi_calleridname: unknown\n"
    "agi_dnid: 88001234567\n"
    "agi_context: from-trunk\n"
    "agi_extension: 88001234567\n"
    "agi_priority: 1\n"
    "\n"
)


def _session(port: int, keys: str) -> list[str]:
    """Play Asterisk: answer each command; a prompt is heard out (result=0 endpos=…), a WAIT FOR
    DIGIT gets the next key of ``keys`` (``.`` a silence). The commands received."""
    commands: list[str] = []
    pending = list(keys)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(HEADERS.encode())
        reader = sock.makefile("r", encoding="utf-8")
        for line in reader:
            command = line.strip()
            commands.append(command)
            if command.startswith("WAIT FOR DIGIT"):
                key = pending.pop(0) if pending else "."
                sock.sendall(b"200 result=%d\n" % (0 if key == "." else ord(key)))
            elif command.startswith("STREAM FILE"):
                sock.sendall(b"200 result=0 endpos=16000\n")
            elif command == "HANGUP":
                sock.sendall(b"200 result=1\n")  # then read on to the end: the session is over
            else:
                sock.sendall(b"200 result=0\n")
    return commands


def test_an_agi_session_gives_a_reading(settings, tmp_path):
    settings.METERDESK_READING_WINDOW = None
    settings.DATA_DIR = tmp_path
    customer()
    port = free_port()
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    tasks: list[asyncio.Task[None]] = []

    async def serve() -> None:
        started = asyncio.Event()
        tasks.append(asyncio.ensure_future(agi_serve("127.0.0.1", port, ready=started)))
        await started.wait()
        ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[0]

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    with mock.patch("django.utils.timezone.now", return_value=IN_WINDOW):
        thread.start()
        assert ready.wait(10)
        commands = _session(port, "111300#1650#19")
    loop.call_soon_threadsafe(tasks[0].cancel)
    thread.join(10)
    assert commands[0] == "ANSWER" and commands[-1] == "HANGUP"
    streams = [c for c in commands if c.startswith("STREAM FILE")]
    assert all(c.endswith('"0123456789*#"') and str(tmp_path) in c for c in streams)
    reading = Reading.objects.get(period__month=11)
    assert (reading.t1, reading.t2, reading.channel) == (1300, 650, "ivr")
    call = Call.objects.get()
    assert (call.via, call.caller, call.outcome, call.readings) == ("agi", CALLER, "reading", 1)
