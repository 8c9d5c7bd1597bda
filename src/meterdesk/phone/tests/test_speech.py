"""Speech recognition on the phone line: real English speech (Debian's flite voices, passed
through a telephone band to 8 kHz) fed to the pocketsphinx recognizer as a call's audio arrives;
the Vosk path's plumbing without a model (none ships: Russian recognition itself is not tested).

What pocketsphinx hears on 8 kHz audio, measured with these voices: the seven commands, yes, no,
repeat and the digits, except "six" (its /s/ sounds lie above 4 kHz, which the telephone cuts
off: it comes out as nothing or as other digits). The commands are tested with the voices "kal"
and "rms", the other words with "rms"; "slt" and "awb" lose a few words more (docs/phone.md)."""

from __future__ import annotations

import json
import math
import operator
import subprocess
import wave
from array import array
from pathlib import Path

import pytest

from meterdesk.phone import speech
from meterdesk.phone.dialog import SPOKEN

COMMANDS = ("readings", "tariff", "balance", "payment", "office", "services", "operator")
HEARD_DIGITS = ("zero", "one", "two", "three", "four", "five", "seven", "eight", "nine")


def telephone(samples: array[int], rate: int) -> array[int]:
    """16 kHz speech as a telephone channel passes it at 8 kHz: cut off above 3.4 kHz (a
    windowed-sinc low-pass), then every other sample."""
    if rate == speech.RATE:
        return samples
    assert rate == 2 * speech.RATE, rate  # flite's voices are 8 or 16 kHz
    width, cutoff = 32, 3400 / rate
    taps = [
        (2 * cutoff if k == 0 else math.sin(2 * math.pi * cutoff * k) / (math.pi * k))
        * (0.54 + 0.46 * math.cos(math.pi * k / width))
        for k in range(-width, width + 1)
    ]
    padded = [0] * width + list(samples) + [0] * width
    return array(
        "h",
        (
            max(-32768, min(32767, round(sum(map(operator.mul, taps, padded[i : i + 2 * width + 1])))))
            for i in range(0, len(samples), 2)
        ),
    )


def flite_8k(text: str, voice: str, folder: Path) -> bytes:
    """``text`` spoken by flite, as the line receives it: 8 kHz, 16-bit mono PCM, with half a
    second of silence before and after."""
    path = folder / f"{voice}-{text.replace(' ', '_')}.wav"
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True)  # noqa: S603, S607
    with wave.open(str(path)) as sound:
        rate = sound.getframerate()
        samples = array("h")
        samples.frombytes(sound.readframes(sound.getnframes()))
    silence = bytes(speech.RATE)  # half a second
    return silence + telephone(samples, rate).tobytes() + silence


def hear(recognizer: speech.Recognizer, pcm: bytes, piece: int = 320) -> list[str]:
    """The texts the recognizer returns as the audio comes in 20 ms packets, as RTP brings it."""
    texts = []
    for start in range(0, len(pcm), piece):
        text = recognizer.accept(pcm[start : start + piece])
        if text is not None:
            texts.append(text)
    return texts


@pytest.fixture
def english():
    """A new recognizer, as each call has."""
    return speech.PocketsphinxRecognizer(sorted(SPOKEN["en"]))


@pytest.mark.parametrize("voice", ["kal", "rms"])
@pytest.mark.parametrize("word", COMMANDS)
def test_each_command_said_is_heard(english, tmp_path, voice, word):
    assert hear(english, flite_8k(word, voice, tmp_path)) == [word]


@pytest.mark.parametrize("word", [*HEARD_DIGITS, "yes", "no", "repeat"])
def test_digits_yes_no_and_repeat_said_are_heard(english, tmp_path, word):
    assert hear(english, flite_8k(word, "rms", tmp_path)) == [word]


def test_digits_said_one_by_one_are_one_utterance(english, tmp_path):
    assert hear(english, flite_8k("four five", "rms", tmp_path)) == ["four five"]
    assert hear(english, flite_8k("nine zero seven", "kal", tmp_path)) == ["nine zero seven"]


def test_silence_and_a_pressed_key_give_nothing(english, tmp_path):
    assert hear(english, bytes(3 * 2 * speech.RATE)) == []
    pcm = flite_8k("balance", "kal", tmp_path)
    half = len(pcm) // 2 // 2 * 2
    assert hear(english, pcm[:half]) == []
    english.reset()  # the caller pressed a key: the utterance begun is dropped
    assert hear(english, pcm) == ["balance"]


def test_the_grammar_has_a_command_or_digits(english):
    grammar = speech._grammar(sorted(SPOKEN["en"]))
    assert "public <line> = <command> | <digit>+;" in grammar
    assert "<digit> = eight | five | four | nine | one | seven | six | three | two | zero;" in grammar
    assert "readings" in grammar.split("<command> =")[1].split(";")[0]


def test_upsample_doubles_the_rate_halfway_between():
    pcm = array("h", [0, 100, -100]).tobytes()
    assert array("h", speech.upsample(pcm)).tolist() == [0, 50, 100, 0, -100, -100]
    assert speech.upsample(b"") == b""


# --- the settings -----------------------------------------------------------------------------------


def test_no_recognizer_unless_configured(settings):
    settings.METERDESK_IVR_SPEECH = []
    assert speech.recognizer_for("en") is None and speech.recognizer_for("ru") is None
    settings.METERDESK_IVR_SPEECH = ["pocketsphinx"]
    assert isinstance(speech.recognizer_for("en"), speech.PocketsphinxRecognizer)
    assert speech.recognizer_for("ru") is None  # pocketsphinx has no Russian model
    assert speech.speech_check() == ["en"]


def test_an_unknown_recognizer_is_a_clear_error(settings):
    settings.METERDESK_IVR_SPEECH = ["pocketsphinx", "whisper"]
    with pytest.raises(
        speech.SpeechUnavailable, match="names whisper: the recognizers are pocketsphinx, vosk"
    ):
        speech.recognizer_for("en")


# --- Vosk, without a model ----------------------------------------------------------------------------


def test_vosk_without_a_model_path_is_a_clear_error(settings):
    settings.METERDESK_IVR_SPEECH = ["vosk"]
    settings.METERDESK_IVR_VOSK_MODEL = None
    with pytest.raises(speech.SpeechUnavailable, match="METERDESK_IVR_VOSK_MODEL is not set"):
        speech.speech_check()
    assert speech.recognizer_for("en") is None  # Vosk serves Russian calls


def test_vosk_with_a_wrong_folder_is_a_clear_error(settings, tmp_path):
    settings.METERDESK_IVR_SPEECH = ["vosk"]
    settings.METERDESK_IVR_VOSK_MODEL = str(tmp_path / "nowhere")
    with pytest.raises(speech.SpeechUnavailable, match="there is no such folder"):
        speech.recognizer_for("ru")
    (tmp_path / "zip" / "vosk-model-small-ru-0.22").mkdir(parents=True)  # one level too high
    settings.METERDESK_IVR_VOSK_MODEL = str(tmp_path / "zip")
    with pytest.raises(
        speech.SpeechUnavailable, match=r"not a Vosk model folder \(no am/final.mdl, conf/model.conf\)"
    ):
        speech.recognizer_for("ru")


def test_vosk_with_a_model_that_takes_no_grammar_is_a_clear_error(tmp_path):
    for part in ("am/final.mdl", "conf/model.conf", "graph/HCLG.fst"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / part).write_bytes(b"")
    with pytest.raises(speech.SpeechUnavailable, match="cannot take a grammar"):
        speech.vosk_model_check(str(tmp_path))
    for part in speech.VOSK_GRAMMAR_GRAPH:
        (tmp_path / part).write_bytes(b"")
    assert speech.vosk_model_check(str(tmp_path)) == tmp_path


def test_vosk_that_cannot_load_the_files_says_so(settings, tmp_path):
    for part in (*speech.VOSK_PARTS, *speech.VOSK_GRAMMAR_GRAPH):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / part).write_bytes(b"not a model")
    settings.METERDESK_IVR_SPEECH = ["vosk"]
    settings.METERDESK_IVR_VOSK_MODEL = str(tmp_path)
    with pytest.raises(speech.SpeechUnavailable, match="Vosk cannot load it"):
        speech.recognizer_for("ru")


def test_the_vosk_grammar_is_the_russian_words_and_unk():
    grammar = json.loads(speech.vosk_grammar(sorted(SPOKEN["ru"])))
    assert grammar[-1] == "[unk]"
    assert {"показания", "тариф", "баланс", "оплата", "офис", "услуги", "оператор"} <= set(grammar)
    assert {"да", "нет", "повторить", "ноль", "девять"} <= set(grammar)
    assert "показания" in speech.vosk_grammar(["показания"])  # UTF-8, not \\u escapes


@pytest.mark.django_db
def test_the_line_does_not_start_with_a_recognizer_that_cannot_load(settings, tmp_path):
    from click.testing import CliRunner

    from meterdesk.cli import main

    settings.METERDESK_IVR_SPEECH = ["vosk"]
    settings.METERDESK_IVR_VOSK_MODEL = str(tmp_path / "vosk-model-small-ru")
    result = CliRunner().invoke(main, ["ivr", "serve", "--sip-port", "5299"])
    assert result.exit_code == 2
    assert "Speech recognition cannot start: METERDESK_IVR_VOSK_MODEL=" in result.output
    assert "there is no such folder" in result.output


def test_vosk_is_given_the_lines_rate_and_grammar_and_returns_finished_utterances(settings, monkeypatch):
    """Vosk's own calls, stood in for (no model ships): what the recognizer asks of it and how it
    reads its answers."""
    import vosk

    made: list[object] = []

    class Kaldi:
        def __init__(self, model, rate, grammar):
            made.append((model, rate, json.loads(grammar)))
            self.results = iter(['{"text": ""}', '{"text": "показания"}'])

        def AcceptWaveform(self, pcm):
            return pcm == b"end"

        def Result(self):
            return next(self.results)

        def Reset(self):
            made.append("reset")

    monkeypatch.setattr(speech, "_vosk_model", lambda path: f"model at {path}")
    monkeypatch.setattr(vosk, "KaldiRecognizer", Kaldi)
    settings.METERDESK_IVR_SPEECH = ["pocketsphinx", "vosk"]
    settings.METERDESK_IVR_VOSK_MODEL = "/srv/vosk-model-small-ru"
    recognizer = speech.recognizer_for("ru")
    assert isinstance(recognizer, speech.VoskRecognizer)
    assert made[0] == ("model at /srv/vosk-model-small-ru", 8000, [*sorted(SPOKEN["ru"]), "[unk]"])
    assert recognizer.accept(b"\0\0" * 160) is None  # speech goes on
    assert recognizer.accept(b"end") is None  # an utterance of nothing
    assert recognizer.accept(b"end") == "показания"
    recognizer.reset()
    assert made[-1] == "reset"
