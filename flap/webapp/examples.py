"""The page's example gallery, built from the bundled files in examples/ (all redistributable, see its README).

Every example runs on the embedded engine on a CPU in seconds.  A row whose files are missing is left out rather
than breaking the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class Example:
    label: str
    portrait: str  # relative to examples/
    audio: str | None = None  # relative to examples/; None: speak ``text``
    transcript: str | None = None  # a .txt relative to examples/
    text: str = ""  # text to speak when there is no audio
    emotion: str = "neutral"
    voice: str = "en-us"


EXAMPLES: tuple[Example, ...] = (
    Example("Eileen Collins, recorded speech", "portraits/astronaut.jpg", "speech/hello.wav", "speech/hello.txt"),
    Example("Grace Hopper, MP3, happy", "portraits/grace_hopper.jpg", "speech/science.mp3", "speech/science.txt",
            emotion="happy"),
    Example("Photo only: typed text, spoken by espeak-ng", "portraits/astronaut.jpg",
            text="Hi! I am a photo that learned to talk. Type anything, and I will say it.", emotion="surprised",
            voice="en-gb+f3"),
)


@dataclass(frozen=True)
class ExampleRow:
    """Values in the order of the page's example inputs: portrait, audio, transcript, text, voice, emotion."""

    label: str
    portrait: str
    audio: str | None
    transcript: str
    text: str
    voice: str
    emotion: str

    def values(self) -> list:
        return [self.portrait, self.audio, self.transcript, self.text, self.voice, self.emotion]


def example_rows(root: Path = EXAMPLES_DIR) -> list[ExampleRow]:
    """The examples whose files exist, with absolute paths and transcripts read in."""
    rows = []
    for ex in EXAMPLES:
        portrait = root / ex.portrait
        audio = root / ex.audio if ex.audio else None
        transcript_file = root / ex.transcript if ex.transcript else None
        if not portrait.is_file() or (audio is not None and not audio.is_file()):
            continue
        transcript = ""
        if transcript_file is not None and transcript_file.is_file():
            transcript = transcript_file.read_text(encoding="utf-8", errors="replace").strip()
        rows.append(ExampleRow(ex.label, str(portrait), str(audio) if audio else None, transcript, ex.text, ex.voice,
                               ex.emotion))
    return rows
