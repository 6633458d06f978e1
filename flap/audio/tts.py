"""Text to speech with espeak-ng, so FLAP can be tried with nothing but a photo.

espeak-ng is small, offline and speaks about a hundred languages; the voice is robotic, which is fine for
trying the controls.  The text goes in through stdin (never the command line, so text starting with '-' is text),
and voices are checked against what the installed espeak-ng knows, so a typo gives a clear error.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from flap.errors import FlapError, InputError

DEFAULT_VOICE = "en-us"

#: Voices suggested when an unknown one is asked for (the web page's menu is flap.webapp.voices).
SUGGESTED_VOICES: tuple[str, ...] = ("en-us", "en-gb", "fr-fr", "de", "es", "it", "pt-br", "nl", "pl", "ru", "hi", "cmn", "ja")

SPEED_RANGE = (80, 400)  # words per minute (espeak-ng -s)
PITCH_RANGE = (0, 99)  # espeak-ng -p
_VOICE_PATTERN = re.compile(r"^([a-z]{2,3}(?:-[a-z0-9]+)*)(?:\+([a-z0-9_]+))?$", re.IGNORECASE)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TIMEOUT_S = 120
#: Longest text spoken anywhere, shared limits or not: about six minutes of speech at the default speed, which
#: espeak-ng speaks in seconds and a server can still turn into motion and video (README: time per minute).
MAX_TEXT_CHARS = 5000


class SpeechSynthesisError(FlapError):
    """espeak-ng is missing or failed; the message says how to fix it."""


@dataclass(frozen=True)
class SpeechSettings:
    voice: str = DEFAULT_VOICE
    speed: int = 150  # words per minute
    pitch: int = 50


def espeak_executable() -> str:
    """Path of espeak-ng (or the older espeak); a clear error when neither is installed."""
    for name in ("espeak-ng", "espeak"):
        path = shutil.which(name)
        if path:
            return path
    raise SpeechSynthesisError("Text to speech needs espeak-ng, which is not installed here. Install it "
                               "(Debian/Ubuntu: apt-get install espeak-ng; on a Hugging Face Space list it in packages.txt), "
                               "or upload a recording instead.")


@functools.lru_cache(maxsize=1)
def installed_voices() -> tuple[frozenset[str], frozenset[str]]:
    """(languages, variants) the installed espeak-ng knows, read once."""
    exe = espeak_executable()

    def column(args: list[str], index: int) -> set[str]:
        try:
            out = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            return set()
        return {line.split()[index] for line in out.splitlines()[1:] if len(line.split()) > index}

    languages = {name.lower() for name in column(["--voices"], 1)}
    variants = {name.split("/")[-1].lower() for name in column(["--voices=variant"], 4)}
    return frozenset(languages), frozenset(variants)


def check_voice(voice: str) -> str:
    """Normalise and check a voice such as 'en-us', 'fr-fr' or 'en-gb+f3'."""
    voice = (voice or DEFAULT_VOICE).strip()
    match = _VOICE_PATTERN.match(voice)
    if not match:
        raise InputError(f"'{voice}' is not a voice name; use a language code such as en-us, en-gb, fr-fr or de "
                         "(optionally with a variant, e.g. en-us+f3)")
    language, variant = match.group(1).lower(), (match.group(2) or "").lower()
    languages, variants = installed_voices()
    if languages and language not in languages:
        suggestions = ", ".join(SUGGESTED_VOICES)
        raise InputError(f"espeak-ng has no voice '{language}'. Try one of: {suggestions} (espeak-ng --voices lists all)")
    if variant and variants and variant not in variants:
        raise InputError(f"espeak-ng has no voice variant '{variant}'; try f1..f5 or m1..m7 (espeak-ng --voices=variant lists all)")
    return f"{language}+{variant}" if variant else language


def clean_text(text: str | None, max_chars: int | None = None) -> str:
    """Text ready to speak: control characters removed, whitespace collapsed, length checked (against ``max_chars``
    and never more than MAX_TEXT_CHARS)."""
    text = _CONTROL_CHARS.sub(" ", text or "")
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise InputError("There is no text to speak. Type a sentence, or upload or record speech instead.")
    max_chars = MAX_TEXT_CHARS if max_chars is None else min(int(max_chars), MAX_TEXT_CHARS)
    if len(text) > max_chars:
        raise InputError(f"The text to speak is {len(text)} characters long; the limit here is {max_chars}. Shorten it, "
                         "or upload a recording.")
    return text


def synthesize(text: str, out_path: str | Path, settings: SpeechSettings = SpeechSettings(),
               max_chars: int | None = None) -> Path:
    """Speak ``text`` into a mono WAV file at ``out_path`` (22.05 kHz, espeak-ng's rate) and return its path."""
    text = clean_text(text, max_chars)
    voice = check_voice(settings.voice)
    speed, pitch = int(settings.speed), int(settings.pitch)
    if not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
        raise InputError(f"speech speed must be between {SPEED_RANGE[0]} and {SPEED_RANGE[1]} words per minute; got {speed}")
    if not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
        raise InputError(f"speech pitch must be between {PITCH_RANGE[0]} and {PITCH_RANGE[1]}; got {pitch}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [espeak_executable(), "-v", voice, "-s", str(speed), "-p", str(pitch), "-b", "1", "-w", str(out_path), "--stdin"]
    try:
        proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SpeechSynthesisError(f"espeak-ng took longer than {_TIMEOUT_S} s; shorten the text") from None
    if proc.returncode != 0 or not out_path.is_file() or out_path.stat().st_size <= 44:
        detail = proc.stderr.decode(errors="replace").strip()[-300:]
        raise SpeechSynthesisError(f"espeak-ng could not speak the text ({detail or f'exit code {proc.returncode}'})")
    return out_path


def is_english(voice: str) -> bool:
    """Whether a transcript of this voice's speech helps FLAP's (English-only) phoneme aligner."""
    return (voice or DEFAULT_VOICE).strip().lower().startswith("en")


__all__ = ["DEFAULT_VOICE", "MAX_TEXT_CHARS", "SUGGESTED_VOICES", "SpeechSettings", "SpeechSynthesisError", "check_voice", "clean_text",
           "espeak_executable", "installed_voices", "is_english", "synthesize"]
