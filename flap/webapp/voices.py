"""The page's voice menu for text to speech: (label, espeak-ng voice).  Kept here rather than in flap.audio.tts so
building the page does not import the audio stack (scipy) before the server is up."""

from __future__ import annotations

DEFAULT_VOICE = "en-us"  # same as flap.audio.tts.DEFAULT_VOICE (a test checks)

VOICE_CHOICES: tuple[tuple[str, str], ...] = (
    ("English (US)", "en-us"),
    ("English (US), higher voice", "en-us+f3"),
    ("English (UK)", "en-gb"),
    ("English (UK), higher voice", "en-gb+f3"),
    ("French", "fr-fr"),
    ("German", "de"),
    ("Spanish", "es"),
    ("Italian", "it"),
    ("Portuguese (Brazil)", "pt-br"),
    ("Dutch", "nl"),
    ("Polish", "pl"),
    ("Russian", "ru"),
    ("Hindi", "hi"),
    ("Mandarin Chinese", "cmn"),
    ("Japanese", "ja"),
)
