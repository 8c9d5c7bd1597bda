"""Prompts rendered by espeak-ng as telephone audio, cached by the text's hash, replaced by a
recording of the same name."""

from __future__ import annotations

import wave

from meterdesk.phone.prompts import fixed_prompts, prompt_file, prompt_key, prompts_render, wav_seconds


def test_a_prompt_is_8khz_mono_16bit_speech_rendered_once(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.METERDESK_IVR_PROMPTS = None
    path = prompt_file("Введите номер лицевого счёта.", "ru")
    with wave.open(str(path)) as sound:
        assert (sound.getframerate(), sound.getnchannels(), sound.getsampwidth()) == (8000, 1, 2)
        frames = sound.readframes(sound.getnframes())
    assert 1.0 < wav_seconds(path) < 6.0
    assert (
        max(abs(int.from_bytes(frames[i : i + 2], "little", signed=True)) for i in range(0, len(frames), 2))
        > 1000
    )
    stamp = path.stat().st_mtime_ns
    assert prompt_file("Введите номер лицевого счёта.", "ru") == path and path.stat().st_mtime_ns == stamp
    assert prompt_file("Введите номер лицевого счёта.", "en") != path


def test_a_recording_replaces_the_rendering(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.METERDESK_IVR_PROMPTS = tmp_path
    recorded = tmp_path / f"{prompt_key('Здравствуйте.', 'ru')}.wav"
    recorded.write_bytes(b"RIFF")
    assert prompt_file("Здравствуйте.", "ru") == recorded
    assert prompt_file("До свидания.", "ru").parent == tmp_path / "data" / "prompts"


def test_the_fixed_prompts_are_rendered_ahead(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.METERDESK_IVR_PROMPTS = None
    russian = fixed_prompts("ru")
    assert any("Чтобы передать показания, нажмите 1" in t for t in russian)
    assert any("десять цифр" in t for t in russian)
    assert prompts_render(("ru",)) == len(russian) == len(list((tmp_path / "prompts").glob("*.wav")))
