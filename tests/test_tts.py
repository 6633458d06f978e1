"""Text to speech with espeak-ng: the photo-only path of the web app."""

from __future__ import annotations

import shutil

import pytest
import soundfile as sf

from flap.audio import tts
from flap.errors import FlapError, InputError

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None and shutil.which("espeak") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


@needs_espeak
def test_synthesize_writes_speech(tmp_path):
    path = tts.synthesize("Hello there. This is a short test.", tmp_path / "out" / "speech.wav")
    info = sf.info(path)
    assert info.channels == 1 and info.samplerate > 8000
    assert 1.0 < info.duration < 6.0


@needs_espeak
def test_text_is_never_taken_as_options(tmp_path):
    """Text goes through stdin: a leading '-' or '--version' is spoken, not parsed."""
    path = tts.synthesize("--version -w /etc/passwd", tmp_path / "dash.wav")
    assert sf.info(path).duration > 0.5


@needs_espeak
def test_voices_and_variants(tmp_path):
    assert tts.check_voice("EN-GB+F3") == "en-gb+f3"
    longer = tts.synthesize("one two three four", tmp_path / "slow.wav", tts.SpeechSettings(speed=90))
    shorter = tts.synthesize("one two three four", tmp_path / "fast.wav", tts.SpeechSettings(speed=300))
    assert sf.info(longer).duration > sf.info(shorter).duration
    with pytest.raises(InputError, match="no voice 'xx-yy'"):
        tts.check_voice("xx-yy")
    with pytest.raises(InputError, match="variant 'nope'"):
        tts.check_voice("en-us+nope")
    with pytest.raises(InputError, match="not a voice name"):
        tts.check_voice("en us; rm -rf")


@needs_espeak
def test_every_menu_voice_is_installed():
    from flap.webapp.voices import DEFAULT_VOICE, VOICE_CHOICES

    assert DEFAULT_VOICE == tts.DEFAULT_VOICE
    for _, voice in VOICE_CHOICES:
        tts.check_voice(voice)
    for voice in tts.SUGGESTED_VOICES:
        tts.check_voice(voice)


def test_text_checks():
    assert tts.clean_text("  Hello\x00\x07 there \n\n friend ") == "Hello there friend"
    with pytest.raises(InputError, match="no text to speak"):
        tts.clean_text(" \n\t ")
    with pytest.raises(InputError, match="limit here is 10"):
        tts.clean_text("x" * 11, max_chars=10)
    with pytest.raises(InputError, match="speed"):
        tts.synthesize("hi", "/tmp/never.wav", tts.SpeechSettings(speed=5))


def test_missing_espeak_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(tts.shutil, "which", lambda name: None)
    with pytest.raises(FlapError, match="apt-get install espeak-ng"):
        tts.espeak_executable()
    tts.installed_voices.cache_clear()
    try:
        with pytest.raises(FlapError, match="espeak-ng, which is not installed"):
            tts.synthesize("hello", tmp_path / "x.wav")
    finally:
        tts.installed_voices.cache_clear()


def test_transcript_only_helps_english():
    assert tts.is_english("en-gb+f3") and tts.is_english(None)
    assert not tts.is_english("fr-fr")
