"""Prompts as sound: each text the line says becomes a WAV file of telephone audio (8 kHz, mono,
16-bit), rendered by espeak-ng (docs/adr/0017-phone-prompts-espeak-ng.md) and kept under its hash, so that a text is
rendered once; a recorded file of the same name in ``METERDESK_IVR_PROMPTS`` takes its place.
``prompts_render`` renders the fixed prompts ahead of time (``meterdesk ivr prompts``, and the
server at start)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tempfile
import warnings
import wave
from array import array
from pathlib import Path

from django.conf import settings
from django.utils import translation

with warnings.catch_warnings():  # deprecated in 3.11, gone in 3.13: then the Python below
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # pragma: no cover - Python 3.13
        audioop = None  # type: ignore[assignment]

RATE = 8000
VOICES = {"ru": "ru", "en": "en-gb"}


def prompt_key(text: str, language: str) -> str:
    """The file name of a text in a language: the same text, the same file, in every process."""
    return hashlib.sha256(f"{language}\n{text}".encode()).hexdigest()[:24]


def _cache_dir() -> Path:
    folder = Path(settings.DATA_DIR) / "prompts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def resample(samples: array[int], rate: int, to: int = RATE) -> array[int]:
    """16-bit samples from ``rate`` to ``to`` Hz by linear interpolation, after a moving average
    over the ratio's width so that what lies above the new Nyquist frequency does not fold back."""
    if rate == to:
        return samples
    if audioop is not None:  # in C: a line renders prompts while it serves calls, and a Python
        # loop would hold every call of the process up (docs/benchmarks.md, the phone line)
        converted, _state = audioop.ratecv(samples.tobytes(), 2, 1, rate, to, None)
        out = array("h")
        out.frombytes(converted)
        return out
    step = rate / to
    width = max(1, int(step))
    if width > 1:
        acc, smooth = 0, array("h", bytes(2 * len(samples)))
        for i, s in enumerate(samples):
            acc += s
            if i >= width:
                acc -= samples[i - width]
            smooth[i] = acc // min(i + 1, width)
        samples = smooth
    count = int(len(samples) / step)
    out = array("h", bytes(2 * count))
    last = len(samples) - 1
    for i in range(count):
        x = i * step
        j = int(x)
        frac = x - j
        a, b = samples[j], samples[min(j + 1, last)]
        out[i] = int(a + (b - a) * frac)
    return out


def synthesize(text: str, language: str) -> bytes:
    """The text spoken by espeak-ng, as an 8 kHz mono 16-bit WAV file's bytes."""
    voice = VOICES.get(language.split("-")[0], "ru")
    done = subprocess.run(  # noqa: S603 - a fixed program, the text as one argument
        ["espeak-ng", "-v", voice, "-s", "150", "--stdout", text],  # noqa: S607
        capture_output=True,
        check=True,
    )
    with wave.open(io.BytesIO(done.stdout)) as source:
        rate, width, channels = source.getframerate(), source.getsampwidth(), source.getnchannels()
        frames = source.readframes(source.getnframes())
    if width != 2 or channels != 1:  # pragma: no cover - espeak-ng writes mono 16-bit
        raise ValueError(f"espeak-ng wrote {channels} channels of {width} bytes")
    samples = array("h")
    samples.frombytes(frames)
    return wav_bytes(resample(samples, rate))


def wav_bytes(samples: array[int], rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def prompt_file(text: str, language: str) -> Path:
    """The WAV file of ``text``: a recording if there is one, else the rendering (made now if
    it is not there yet; written under a temporary name and renamed, so that concurrent calls
    never read half a file)."""
    key = prompt_key(text, language)
    recorded = settings.METERDESK_IVR_PROMPTS
    if recorded:
        path = Path(recorded) / f"{key}.wav"
        if path.exists():
            return path
    path = _cache_dir() / f"{key}.wav"
    if not path.exists():
        data = synthesize(text, language)
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    return path


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as source:
        return source.getnframes() / source.getframerate()


def fixed_prompts(language: str) -> list[str]:
    """The texts that do not depend on the caller: every step's prompts that take nothing of
    the call, in ``language``: as said with keys only, and where a recognizer listens to the
    language (``METERDESK_IVR_SPEECH``), as said with speech too."""
    from meterdesk.phone.dialog import STEPS, Conversation
    from meterdesk.phone.speech import ENGINES

    texts: list[str] = []
    spoken = any(ENGINES.get(engine) == language for engine in settings.METERDESK_IVR_SPEECH)
    with translation.override(language):
        for speech in (False, True) if spoken else (False,):
            blank = Conversation(backend=None, language=language, speech=speech)  # type: ignore[arg-type]
            for step in STEPS.values():
                for prompt in step.prompts:
                    try:
                        texts.append(prompt(blank))
                    except (AttributeError, IndexError, TypeError, ValueError, AssertionError):
                        continue  # it speaks of the call (an address, a value): rendered when said
    return list(dict.fromkeys(texts))


def prompts_render(languages: tuple[str, ...] = ("ru", "en")) -> int:
    """Render the fixed prompts of every language; the number of files there now."""
    return len([prompt_file(text, lang) for lang in languages for text in fixed_prompts(lang)])
