"""A real call answered by voice: baresip dials the English line over loopback and its microphone
is a WAV file in which flite says "yes" (the address read back is right) and then "readings";
the line, hearing it through pocketsphinx, goes to the readings."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from meterdesk.phone.models import Call
from meterdesk.phone.tests.caller import Caller
from meterdesk.phone.tests.helpers import customer
from meterdesk.phone.tests.test_sip_calls import _wait_for
from meterdesk.phone.tests.test_speech import flite_8k

pytestmark = pytest.mark.django_db(transaction=True)


def _microphone(path: Path, folder: Path) -> Path:
    """What the caller says, from the moment the call is answered (8 kHz mono 16-bit, as
    baresip's aufile plays it): "yes", then "readings", each said twice, as callers do when
    the line seems not to hear. Once heard, the second is an answer the next step does not take
    (asked again), so the path is the same whichever of the two the line hears."""
    second = bytes(2 * 8000)
    yes, readings = flite_8k("yes", "rms", folder), flite_8k("readings", "rms", folder)
    pcm = 3 * second + yes + 2 * second + yes + 3 * second + readings + 2 * second + readings + 20 * second
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm)
    return path


@pytest.fixture
def english_line(line, settings):
    """The line of conftest, in English, hearing speech through pocketsphinx."""
    settings.METERDESK_IVR_SPEECH = ["pocketsphinx"]
    line.language = "en"
    return line


def _path_of_live_call(line) -> list[str]:
    for call in list(line.calls.values()):
        live = call.live
        if live is not None:
            return list(live.conversation.path)
    return []


def test_a_caller_says_yes_then_readings_and_the_line_goes_to_the_readings(english_line, tmp_path):
    customer()
    caller = Caller(tmp_path / "caller", microphone=_microphone(tmp_path / "said.wav", tmp_path))
    try:
        caller.command("dial", f"sip:ivr@127.0.0.1:{english_line.sip_port}")
        caller.wait("CALL_ESTABLISHED")
        heard = _wait_for(lambda: "value" in _path_of_live_call(english_line), timeout=60)
        path = _path_of_live_call(english_line)
        caller.command("hangup")
    finally:
        caller.close()
    assert _wait_for(lambda: Call.objects.exists())
    call = Call.objects.get()
    assert heard, (path, call.path, call.inputs, call.outcome)
    assert call.path.split()[:3] == ["address", "menu", "value"]
    assert call.topics.split() == ["readings"]
    assert call.inputs.split()[:2] == ["address:1", "menu:1"]
