"""In-band DTMF on generated audio: keys found through noise, at the edges of the twist and the
duration, and nothing found in speech-like sound, music-like chords or a key sent both ways."""

from __future__ import annotations

import math
import random
from array import array

import pytest

from meterdesk.phone.inband import COLUMNS, KEYPAD, RATE, ROWS, Detector, Keys, block_key

_FREQUENCIES = {key: (ROWS[r], COLUMNS[c]) for r, line in enumerate(KEYPAD) for c, key in enumerate(line)}


def tone(key: str, ms: float, level: float = 6000.0, twist_db: float = 0.0) -> list[float]:
    low, high = _FREQUENCIES[key]
    high_level = level * 10 ** (twist_db / 20)
    return [
        level * math.sin(2 * math.pi * low * n / RATE) + high_level * math.sin(2 * math.pi * high * n / RATE)
        for n in range(int(RATE * ms / 1000))
    ]


def quiet(ms: float) -> list[float]:
    return [0.0] * int(RATE * ms / 1000)


def pcm(samples: list[float], noise: float = 0.0, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    out = array("h", (max(-32768, min(32767, int(x + rng.gauss(0, noise)))) for x in samples))
    return out.tobytes()


def heard(audio: bytes, frame: int = 320) -> str:
    """Feed ``audio`` in 20 ms frames, as a call's audio arrives."""
    detector = Detector()
    return "".join(key for i in range(0, len(audio), frame) for key in detector.feed(audio[i : i + frame]))


def keyed(keys: str, ms: float = 80, gap: float = 80, **kwargs: float) -> list[float]:
    out = quiet(gap)
    for key in keys:
        out += tone(key, ms, **kwargs) + quiet(gap)
    return out


def test_every_key_of_the_pad_is_found():
    keys = "".join(KEYPAD)
    assert heard(pcm(keyed(keys))) == keys


def test_keys_are_found_through_noise():
    # White noise some 20 dB under the tones.
    assert heard(pcm(keyed("1300#1650#1"), noise=420.0)) == "1300#1650#1"


def test_a_key_held_long_counts_once_and_a_key_pressed_twice_counts_twice():
    assert heard(pcm(quiet(40) + tone("5", 600) + quiet(60))) == "5"
    assert heard(pcm(keyed("55", ms=60, gap=60))) == "55"


def test_a_tone_broken_by_a_short_dropout_counts_once():
    assert heard(pcm(tone("8", 120) + quiet(15) + tone("8", 120) + quiet(80))) == "8"


def test_too_short_a_tone_is_not_a_key():
    assert heard(pcm(keyed("7", ms=20, gap=100))) == ""
    assert heard(pcm(keyed("7", ms=60, gap=100))) == "7"


def test_twist_within_the_limits_counts_beyond_them_not():
    assert heard(pcm(keyed("9", twist_db=-7))) == "9"
    assert heard(pcm(keyed("9", twist_db=3))) == "9"
    assert heard(pcm(keyed("9", twist_db=-12))) == ""
    assert heard(pcm(keyed("9", twist_db=7))) == ""


def test_one_tone_alone_or_too_quiet_is_not_a_key():
    row_only = [6000 * math.sin(2 * math.pi * ROWS[0] * n / RATE) for n in range(RATE // 5)]
    assert heard(pcm(row_only)) == ""
    assert heard(pcm(keyed("1", level=100))) == ""


def _voice(ms: float, pitch: float, seed: int) -> list[float]:
    """A vowel-like sound: a glottal pitch with many harmonics under formants, its pitch wandering."""
    rng = random.Random(seed)
    out, phase = [], 0.0
    for n in range(int(RATE * ms / 1000)):
        f0 = pitch * (1 + 0.08 * math.sin(2 * math.pi * 3 * n / RATE))
        phase += 2 * math.pi * f0 / RATE
        value = 0.0
        for h in range(1, 30):
            f = h * f0
            if f > RATE / 2:
                break
            formant = sum(math.exp(-(((f - c) / 120) ** 2)) for c in (700, 1220, 2600))
            value += (1500 / h + 4000 * formant) * math.sin(h * phase)
        out.append(value + rng.gauss(0, 200))
    return out


@pytest.mark.parametrize(("pitch", "seed"), [(110, 1), (140, 2), (210, 3), (240, 4)])
def test_speech_like_sound_is_not_a_key(pitch, seed):
    assert heard(pcm(_voice(1500, pitch, seed), seed=seed)) == ""


def test_a_chord_of_three_tones_is_not_a_key():
    chord = [
        4000 * (math.sin(2 * math.pi * 697 * n / RATE) + math.sin(2 * math.pi * 1209 * n / RATE))
        + 5000 * math.sin(2 * math.pi * 440 * n / RATE)
        for n in range(RATE // 2)
    ]
    assert heard(pcm(chord)) == ""


def test_block_key_reads_one_block():
    block = array("h", (int(x) for x in tone("#", 30)[:205]))
    assert block_key(block) == "#"
    assert block_key(array("h", [0] * 205)) == ""


def test_a_key_sent_both_ways_counts_once_and_twice_pressed_twice():
    keys = Keys()
    assert keys.take("1", "rfc2833", 10.00)
    assert not keys.take("1", "inband", 10.05)  # the same press, heard in the audio too
    assert keys.take("1", "rfc2833", 10.25)  # pressed again
    assert not keys.take("1", "inband", 10.30)
    assert keys.take("2", "inband", 10.50)
    assert not keys.take("2", "rfc2833", 10.52)
    assert keys.take("2", "inband", 11.50)  # long after: a new press
    assert keys.take("3", "rfc2833", 12.0) and keys.take("3", "rfc2833", 12.1)  # one way: each counts
