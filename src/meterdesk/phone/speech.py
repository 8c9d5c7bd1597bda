"""Speech on the phone line: the command words and digits a caller may say instead of keying them
(docs/adr/0019-phone-speech-pocketsphinx-vosk.md). The keypad always works; a recognizer is only
there where ``METERDESK_IVR_SPEECH`` names one.

A ``Recognizer`` takes a call's audio as it comes (8 kHz, 16-bit, mono, little-endian PCM, in
pieces of any length) and returns the text of an utterance once its end is heard. It knows only
the words of ``dialog.SPOKEN`` for its language, so what it returns is made of them.

- English: pocketsphinx and the English model its wheel ships, with a grammar of those words. The
  model is of 16 kHz audio: telephone audio is doubled in rate before it is decoded.
- Russian: Vosk with the model in ``METERDESK_IVR_VOSK_MODEL`` (none ships: docs/phone.md says
  where to get one), restricted to those words by a grammar.
"""

from __future__ import annotations

import functools
import json
from array import array
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from meterdesk.phone.dialog import SPOKEN

RATE = 8000  # the line's audio
ENGINES = {"pocketsphinx": "en", "vosk": "ru"}  # each recognizer and the language it serves
LONGEST = 10.0  # seconds: an utterance is cut here (noise that never ends is not kept)
# pocketsphinx's decoder settings beyond the model's own (measured on 8 kHz audio, docs/phone.md)
DECODER: dict[str, Any] = {"silprob": 0.1}


class Recognizer(Protocol):
    def accept(self, pcm: bytes) -> str | None:
        """More of the call's audio; the text of an utterance when its end is in it, else None."""
        ...

    def reset(self) -> None:
        """Forget what was heard of an utterance begun (e.g. the caller pressed a key)."""
        ...


class SpeechUnavailable(ImproperlyConfigured):
    """The settings name a recognizer that cannot be loaded; the message says why."""


def engines() -> list[str]:
    """The recognizers ``METERDESK_IVR_SPEECH`` names, checked."""
    named = list(settings.METERDESK_IVR_SPEECH)
    unknown = [name for name in named if name not in ENGINES]
    if unknown:
        raise SpeechUnavailable(
            f"METERDESK_IVR_SPEECH names {', '.join(unknown)}: the recognizers are "
            f"{', '.join(ENGINES)} (or empty for the keypad only)"
        )
    return named


def recognizer_for(language: str) -> Recognizer | None:
    """A new recognizer for one call in ``language``, or None where none is configured for it
    (then the line takes keys only). Raises ``SpeechUnavailable`` if the one configured cannot
    be loaded."""
    language = language.split("-")[0]
    for engine in engines():
        if ENGINES[engine] != language:
            continue
        if engine == "pocketsphinx":
            return PocketsphinxRecognizer(_words(language))
        return VoskRecognizer(settings.METERDESK_IVR_VOSK_MODEL or "", _words(language))
    return None


def speech_check() -> list[str]:
    """Load every configured recognizer once (at the line's start): the languages that can be
    spoken. Raises ``SpeechUnavailable`` with the reason if one cannot be loaded."""
    languages = [ENGINES[engine] for engine in engines()]
    for language in languages:
        recognizer_for(language)
    return languages


def _words(language: str) -> list[str]:
    return sorted(SPOKEN[language])


def upsample(pcm: bytes) -> bytes:
    """8 kHz samples to 16 kHz for the 16 kHz model: each new sample between two halfway between
    them (the model hears nothing above 4 kHz either way; this only gives it its rate)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) // 2 * 2])
    if not samples:
        return b""
    out = array("h", bytes(4 * len(samples)))
    out[0::2] = samples
    following = samples[1:]
    following.append(samples[-1])
    out[1::2] = array("h", [(a + b) >> 1 for a, b in zip(samples, following, strict=True)])
    return out.tobytes()


# --- English: pocketsphinx ------------------------------------------------------------------------


def _grammar(words: list[str]) -> str:
    """JSGF: one command word, or digits said one by one. Commands stand alone: a grammar that
    lets any word follow any other hears extra words in the noise after a short command."""
    digits = sorted(w for w in words if SPOKEN["en"].get(w, "").isdigit())
    commands = sorted(w for w in words if w not in digits)
    return (
        "#JSGF V1.0;\ngrammar line;\n"
        "public <line> = <command> | <digit>+;\n"
        f"<command> = {' | '.join(commands)};\n"
        f"<digit> = {' | '.join(digits)};\n"
    )


@functools.cache
def _pronunciations(words: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Each word's pronunciations (``word``, ``word(2)``…) from the dictionary the model ships."""
    from pocketsphinx import get_model_path

    wanted = set(words)
    found: list[tuple[str, str]] = []
    path = Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"
    with path.open(encoding="utf-8") as source:
        for line in source:
            name, _sep, phones = line.strip().partition(" ")
            if name.split("(")[0] in wanted:
                found.append((name, phones))
    missing = wanted - {name.split("(")[0] for name, _phones in found}
    if missing:  # pragma: no cover - the words are chosen from the dictionary
        raise SpeechUnavailable(f"pocketsphinx's dictionary has no {', '.join(sorted(missing))}")
    return tuple(found)


class PocketsphinxRecognizer:
    """pocketsphinx's voice activity detector cuts the audio into utterances; each is decoded
    against the grammar of the words (a dictionary of just those words: a decoder takes some
    tens of milliseconds to make, so one per call is cheap)."""

    def __init__(self, words: list[str]) -> None:
        try:
            from pocketsphinx import Config, Decoder, Endpointer, get_model_path
        except ImportError as error:  # pragma: no cover - a dependency of meterdesk
            raise SpeechUnavailable(f"pocketsphinx cannot be imported: {error}") from error
        model = Path(get_model_path()) / "en-us" / "en-us"
        if not (model / "mdef").is_file():  # pragma: no cover - the wheel ships it
            raise SpeechUnavailable(f"pocketsphinx's English model is not in {model}")
        config = Config(hmm=str(model), dict=None, lm=None, loglevel="FATAL", **DECODER)
        self._decoder = Decoder(config)
        for name, phones in _pronunciations(tuple(words)):
            self._decoder.add_word(name, phones, False)
        self._decoder.add_jsgf_string("line", _grammar(words))
        self._decoder.activate_search("line")
        self._endpointer = Endpointer(sample_rate=RATE)
        self._pending = b""
        self._speaking = 0  # bytes of the utterance begun; 0: none
        self._longest = int(LONGEST * RATE * 2)

    def accept(self, pcm: bytes) -> str | None:
        self._pending += pcm
        size = self._endpointer.frame_bytes
        text = None
        while len(self._pending) >= size:
            frame, self._pending = self._pending[:size], self._pending[size:]
            speech = self._endpointer.process(frame)
            if speech is None:
                continue
            if not self._speaking:
                self._decoder.start_utt()
            self._speaking += len(speech)
            self._decoder.process_raw(upsample(speech), False, False)
            if not self._endpointer.in_speech or self._speaking >= self._longest:
                text = self._end() or text
        return text

    def reset(self) -> None:
        if self._speaking:
            self._decoder.end_utt()
        self._endpointer = type(self._endpointer)(sample_rate=RATE)
        self._pending, self._speaking = b"", 0

    def _end(self) -> str | None:
        self._decoder.end_utt()
        self._speaking = 0
        if self._endpointer.in_speech:  # cut at the longest: start afresh
            self._endpointer = type(self._endpointer)(sample_rate=RATE)
        hypothesis = self._decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None and hypothesis.hypstr else None


# --- Russian: Vosk --------------------------------------------------------------------------------

# What a Vosk model folder holds: the acoustic model, its configuration, and a graph that can
# take a grammar at run time (the small models; the large ones have a fixed HCLG.fst instead).
VOSK_PARTS = ("am/final.mdl", "conf/model.conf")
VOSK_GRAMMAR_GRAPH = ("graph/HCLr.fst", "graph/Gr.fst")


def vosk_grammar(words: list[str]) -> str:
    """Vosk's grammar: a JSON list of the phrases it may hear, and "[unk]" for anything else
    (so that other speech comes out as "[unk]" rather than as the nearest word)."""
    return json.dumps([*words, "[unk]"], ensure_ascii=False)


def vosk_model_check(path: str) -> Path:
    """The model folder, or ``SpeechUnavailable`` saying what is wrong with it."""
    if not path:
        raise SpeechUnavailable(
            "METERDESK_IVR_SPEECH names vosk but METERDESK_IVR_VOSK_MODEL is not set: give the "
            "folder of a Vosk model (e.g. vosk-model-small-ru, see docs/phone.md)"
        )
    folder = Path(path)
    if not folder.is_dir():
        raise SpeechUnavailable(f"METERDESK_IVR_VOSK_MODEL={path}: there is no such folder")
    missing = [part for part in VOSK_PARTS if not (folder / part).is_file()]
    if missing:
        raise SpeechUnavailable(
            f"METERDESK_IVR_VOSK_MODEL={path} is not a Vosk model folder (no {', '.join(missing)}); "
            "give the folder unpacked from the model's zip, the one holding am/ and conf/"
        )
    if not all((folder / part).is_file() for part in VOSK_GRAMMAR_GRAPH):
        raise SpeechUnavailable(
            f"METERDESK_IVR_VOSK_MODEL={path} cannot take a grammar (no graph/HCLr.fst and "
            "graph/Gr.fst): use a small model, e.g. vosk-model-small-ru"
        )
    return folder


@functools.cache
def _vosk_model(path: str) -> Any:
    """One loaded model per process, shared by the calls' recognizers (Vosk allows that)."""
    folder = vosk_model_check(path)
    try:
        import vosk
    except ImportError as error:  # pragma: no cover - a dependency of meterdesk
        raise SpeechUnavailable(f"vosk cannot be imported: {error}") from error
    vosk.SetLogLevel(-1)
    try:
        return vosk.Model(str(folder))
    except Exception as error:
        raise SpeechUnavailable(f"METERDESK_IVR_VOSK_MODEL={path}: Vosk cannot load it ({error})") from error


class VoskRecognizer:
    """Vosk finds the end of an utterance itself, and resamples the line's 8 kHz audio to its
    model's rate."""

    def __init__(self, model_path: str, words: list[str]) -> None:
        import vosk

        self._recognizer = vosk.KaldiRecognizer(_vosk_model(model_path), RATE, vosk_grammar(words))

    def accept(self, pcm: bytes) -> str | None:
        if not self._recognizer.AcceptWaveform(pcm):
            return None
        text = str(json.loads(self._recognizer.Result()).get("text", "")).strip()
        return text or None

    def reset(self) -> None:
        self._recognizer.Reset()
