"""Real calls side by side, and keys sent as tones: baresip callers over loopback.

Several callers at once each give a reading (every one stored once, every call logged) while one
more call's database work is held up: the others go on. A caller whose keys are tones in its
audio (no RFC 2833 events) gives a reading too."""

from __future__ import annotations

import threading
import time
import wave
from pathlib import Path

import pytest

from meterdesk.metering.models import Reading
from meterdesk.phone.backend import CoreBackend
from meterdesk.phone.dialog import AccountRef
from meterdesk.phone.models import Call
from meterdesk.phone.tests.caller import Caller
from meterdesk.phone.tests.helpers import customer
from meterdesk.phone.tests.test_inband import keyed, pcm, quiet

pytestmark = pytest.mark.django_db(transaction=True)

CALLERS = 3  # and the held-up call: four, what one endpoint of this pjsua2 wheel takes
KEYS = ("1", "1", "1300#1", "650#1")  # the address is right; readings; each zone's value, confirmed
SLOW = "+79160000099"


def _number(i: int) -> str:
    return f"+7916000{i:04d}"


def _wait_for(condition, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


class _HeldUp(CoreBackend):
    """The core, but looking up one calling number waits until ``release`` is set."""

    release = threading.Event()

    def callers(self, number: str) -> list[AccountRef]:
        if number == SLOW:
            self.release.wait(120)
        return super().callers(number)


def _give_reading(caller: Caller, port: int) -> None:
    caller.command("dial", f"sip:ivr@127.0.0.1:{port}")
    caller.wait("CALL_ESTABLISHED")
    time.sleep(0.5)
    for keys in KEYS:
        caller.keys(keys)
        time.sleep(0.3)


def test_calls_side_by_side_each_store_a_reading_while_one_is_held_up(line, tmp_path):
    customer(phone=_number(0), serial="50000000")
    meters = [customer(phone=_number(i), serial=f"5000000{i}", tariff=False).meter for i in range(1, CALLERS)]
    meters.insert(0, Reading.objects.get(meter__serial="50000000").meter)
    line.backend_factory = _HeldUp
    _HeldUp.release.clear()
    slow = Caller(tmp_path / "slow", number=SLOW)
    callers = [Caller(tmp_path / f"caller{i}", number=_number(i)) for i in range(CALLERS)]
    try:
        slow.command("dial", f"sip:ivr@127.0.0.1:{line.sip_port}")
        slow.wait("CALL_ESTABLISHED")
        threads = [threading.Thread(target=_give_reading, args=(c, line.sip_port)) for c in callers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        stored = _wait_for(lambda: Reading.objects.filter(period__month=11).count() == CALLERS)
        held_up_meanwhile = not _HeldUp.release.is_set()
        _HeldUp.release.set()
        for caller in callers:
            caller.keys("9")
        for caller in callers:
            caller.wait("CALL_CLOSED", timeout=30)
        slow.command("hangup")
        slow.wait("CALL_CLOSED", timeout=30)
    finally:
        _HeldUp.release.set()
        for caller in [slow, *callers]:
            caller.close()
    assert stored and held_up_meanwhile
    readings = Reading.objects.filter(period__month=11)
    assert sorted(r.meter_id for r in readings) == sorted(m.pk for m in meters)
    assert {(r.t1, r.t2, r.channel) for r in readings} == {(1300, 650, "ivr")}
    assert _wait_for(lambda: Call.objects.count() == CALLERS + 1)
    calls = {c.caller: c for c in Call.objects.all()}
    for i, meter in enumerate(meters):
        call = calls[_number(i)]
        assert call.account_id == meter.account_id and call.readings == 1 and call.outcome == "reading"
    assert calls[SLOW].readings == 0 and calls[SLOW].account_id is None


def _tones_wav(path: Path, groups: tuple[str, ...]) -> Path:
    audio = quiet(1500)
    for keys in groups:
        audio += keyed(keys, ms=90, gap=110) + quiet(1500)
    audio += quiet(3000) + keyed("9") + quiet(20000)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm(audio, noise=50.0))
    return path


def test_keys_sent_as_tones_in_the_audio_give_a_reading(line, tmp_path):
    customer()
    wav = _tones_wav(tmp_path / "keys.wav", KEYS)
    caller = Caller(tmp_path / "caller", microphone=wav)
    try:
        caller.command("dial", f"sip:ivr@127.0.0.1:{line.sip_port}")
        caller.wait("CALL_ESTABLISHED")
        caller.wait("CALL_CLOSED", timeout=60)  # the line hangs up after the 9
    finally:
        caller.close()
    reading = Reading.objects.get(period__month=11)
    assert (reading.t1, reading.t2, reading.channel) == (1300, 650, "ivr")
    assert _wait_for(lambda: Call.objects.exists())
    call = Call.objects.get()
    assert call.outcome == "reading" and call.readings == 1
    assert call.inputs.split() == [
        "address:1",
        "menu:1",
        "value:1300",
        "value_check:1",
        "value:650",
        "value_check:1",
        "menu:9",
    ]
