"""Real calls: baresip dials the line over loopback and sends RFC 2833 digits; the reading is
stored and the call logged."""

from __future__ import annotations

import time

import pytest

from meterdesk.metering.models import Reading
from meterdesk.phone.models import Call
from meterdesk.phone.tests.caller import Caller
from meterdesk.phone.tests.helpers import customer

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_call_gives_a_two_zone_reading_by_rfc2833_digits(line, tmp_path):
    customer()
    caller = Caller(tmp_path / "caller")
    try:
        caller.command("dial", f"sip:ivr@127.0.0.1:{line.sip_port}")
        caller.wait("CALL_ESTABLISHED")
        time.sleep(0.5)
        caller.keys("1")  # the address read back is right
        caller.keys("1")  # readings
        caller.keys("1300#1650#1")
        deadline = time.monotonic() + 15
        while not Reading.objects.filter(period__month=11).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        caller.keys("9")
        caller.wait("CALL_CLOSED", timeout=30)
    finally:
        caller.close()
    reading = Reading.objects.get(period__month=11)
    assert (reading.t1, reading.t2, reading.channel) == (1300, 650, "ivr")
    deadline = time.monotonic() + 5
    while not Call.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    call = Call.objects.get()
    assert call.caller == "+79161234567" and call.account_id == reading.account_id
    assert call.outcome == "reading" and call.readings == 1 and call.via == "sip"
    assert "value:1300" in call.inputs and "value:650" in call.inputs
    assert call.path.split()[:2] == ["address", "menu"]
