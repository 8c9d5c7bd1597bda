"""In-band DTMF: the keypad's tones found in a call's audio (8 kHz, 16-bit mono PCM) by Goertzel
filters at the eight DTMF frequencies, for callers whose phone or trunk sends no RFC 2833 events.

The audio is cut into blocks of 205 samples (25.6 ms; the frequencies fall close to whole bins).
A block holds a key when: the strongest row tone and the strongest column tone both reach
``LEVEL``; each stands ``PEAK`` above the other tones of its group; the twist (the column tone's
power over the row tone's) lies between ``-REVERSE_TWIST`` and ``NORMAL_TWIST`` dB; and the two
tones carry at least ``SHARE`` of the block's energy (speech and noise spread theirs wide). A key
counts once it is held for ``HOLD`` blocks in a row (about 40 ms or more), and again only after
``RELEASE`` blocks without it: a tone broken by one bad block is not counted twice. ``Keys``
merges these with the RFC 2833 events of the same call, so a key sent both ways counts once.
"""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass, field

RATE = 8000
BLOCK = 205
ROWS = (697.0, 770.0, 852.0, 941.0)
COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")

LEVEL = 300.0  # each tone's amplitude at least this (of 32767): about -41 dBFS
PEAK = 4.0  # a tone's power over the next of its group (6 dB)
NORMAL_TWIST = 8.0  # dB the column tone may be weaker than the row tone
REVERSE_TWIST = 4.0  # dB it may be stronger
SHARE = 0.6  # the two tones' part of the block's energy
HOLD = 2
RELEASE = 2


def _coefficients(frequencies: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(2.0 * math.cos(2.0 * math.pi * f / RATE) for f in frequencies)


_ROW_K = _coefficients(ROWS)
_COLUMN_K = _coefficients(COLUMNS)
_LEVEL_POWER = (LEVEL * BLOCK / 2.0) ** 2  # a sine of amplitude A gives (A·N/2)² at its frequency


def goertzel(samples: array[int] | list[float], coefficient: float) -> float:
    """The power of ``samples`` at the frequency whose ``2·cos(2πf/RATE)`` is ``coefficient``."""
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coefficient * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coefficient * s1 * s2


def block_key(samples: array[int]) -> str:
    """The key whose tones fill this block of ``BLOCK`` samples, or "" for none."""
    energy = sum(x * x for x in samples)
    # Two tones at LEVEL carry at least this much; quieter blocks are not searched.
    if energy < LEVEL * LEVEL * len(samples):
        return ""
    rows = [goertzel(samples, k) for k in _ROW_K]
    row = max(range(4), key=rows.__getitem__)
    if rows[row] < _LEVEL_POWER:
        return ""
    columns = [goertzel(samples, k) for k in _COLUMN_K]
    column = max(range(4), key=columns.__getitem__)
    high, low = columns[column], rows[row]
    if high < _LEVEL_POWER:
        return ""
    if any(p * PEAK > low for i, p in enumerate(rows) if i != row):
        return ""
    if any(p * PEAK > high for i, p in enumerate(columns) if i != column):
        return ""
    twist = 10.0 * math.log10(high / low)
    if not -NORMAL_TWIST <= twist <= REVERSE_TWIST:
        return ""
    # A sine's power at its bin is (A·N/2)²; its energy over the block is A²·N/2.
    tones = (low + high) * 2.0 / len(samples)
    if tones < SHARE * energy:
        return ""
    return KEYPAD[row][column]


@dataclass
class Detector:
    """One call's in-band keys: ``feed`` it the audio as it comes, it returns the keys begun."""

    _pending: array[int] = field(default_factory=lambda: array("h"))
    _candidate: str = ""
    _seen: int = 0
    _current: str = ""  # the key held now (already counted)
    _absent: int = 0

    def feed(self, pcm: bytes) -> list[str]:
        samples = array("h")
        samples.frombytes(pcm[: len(pcm) // 2 * 2])
        if sys.byteorder == "big":
            samples.byteswap()
        self._pending.extend(samples)
        keys: list[str] = []
        while len(self._pending) >= BLOCK:
            block = self._pending[:BLOCK]
            del self._pending[:BLOCK]
            key = self._block(block_key(block))
            if key:
                keys.append(key)
        return keys

    def _block(self, key: str) -> str:
        if self._current:
            if key == self._current:
                self._absent = 0
                return ""
            self._absent += 1
            if self._absent < RELEASE:
                return ""
            self._current, self._absent = "", 0
        if not key:
            self._candidate, self._seen = "", 0
            return ""
        if key == self._candidate:
            self._seen += 1
        else:
            self._candidate, self._seen = key, 1
        if self._seen >= HOLD:
            self._current, self._candidate, self._seen = key, "", 0
            return key
        return ""


@dataclass
class Keys:
    """The keys of one call from both ways they arrive (RFC 2833 events and in-band tones): a key
    heard one way within ``window`` seconds of the same key heard the other way is the same press.
    Each press pairs with at most one of the other way, so a key pressed twice counts twice."""

    window: float = 0.3
    _recent: list[tuple[str, str, float]] = field(default_factory=list)

    def take(self, key: str, way: str, at: float) -> bool:
        """True if ``key``, heard by ``way`` ("rfc2833" or "inband") at ``at`` seconds, is a new press."""
        self._recent = [r for r in self._recent if at - r[2] <= self.window]
        for recent in self._recent:
            if recent[0] == key and recent[1] != way:
                self._recent.remove(recent)
                return False
        self._recent.append((key, way, at))
        return True
