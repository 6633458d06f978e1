"""The motion's channels, the unit in which an imported motion is mixed with an audio-driven one.

Cheap to import (the page builds its channel checkboxes from it without importing the motion importers).
"""

from __future__ import annotations

from typing import Iterable

from flap.errors import MotionFormatError

#: Channel -> the MotionSequence fields it carries.
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "head_pose": ("global_rotation", "translation", "scale"),
    "jaw": ("jaw",),
    "eyelids": ("eyelids",),
    "expression": ("expression", "controls"),
    "eyes": ("eyes",),
}
CHANNELS: tuple[str, ...] = tuple(CHANNEL_FIELDS)
#: How the page and the notes name each channel.
CHANNEL_WORDS: dict[str, str] = {"head_pose": "head pose", "jaw": "jaw", "eyelids": "eyelids", "expression": "expression",
                                 "eyes": "gaze"}
_ALIASES = {"head": "head_pose", "pose": "head_pose", "head pose": "head_pose", "eyelid": "eyelids", "blinks": "eyelids",
            "gaze": "eyes", "eye": "eyes", "expressions": "expression", "face": "expression", "mouth": "jaw"}


def parse_channels(take: Iterable[str] | str) -> list[str]:
    """Normalise a channel selection ('all', 'none', comma-separated text or names) and reject unknown names.
    The one parser of a channel selection: the CLI's --take, the page's checkboxes and the API's ``take``."""
    if isinstance(take, str):
        text = take.strip().lower()
        if text in ("all", "*"):
            return list(CHANNELS)
        if text in ("", "none"):
            return []
        take = [part for part in text.replace(";", ",").split(",") if part.strip()]
    chosen = []
    for name in take:
        key = str(name).strip().lower().replace("-", "_")
        key = _ALIASES.get(key, _ALIASES.get(key.replace("_", " "), key))
        if key not in CHANNELS:
            raise MotionFormatError(f"unknown channel '{name}': choose from {', '.join(CHANNELS)}")
        if key not in chosen:
            chosen.append(key)
    return chosen
