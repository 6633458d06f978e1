"""Limits of the web app, read from environment variables once at start-up.

The shared public Space is one small machine for everyone, so it caps speech length, upload size and text length
and renders one video at a time.  A duplicated Space (its own hardware) and a local run have no caps: the shared
Space is recognised by its Hugging Face ``SPACE_ID``, which changes when someone duplicates it.  Every value can be
set explicitly, which wins over these defaults:

=========================  =====================================================================  ============
variable                   meaning                                                                shared Space
=========================  =====================================================================  ============
FLAP_UNLIMITED=1           lift every limit below (e.g. on your own GPU)                          -
FLAP_SHARED=1 / 0          force shared-Space limits on or off (default: SPACE_ID check)          -
FLAP_SHARED_SPACE_ID       id(s) of the shared Space(s), comma-separated                          -
FLAP_MAX_AUDIO_SECONDS     longest speech accepted, seconds (0 or "none": no limit)               60
FLAP_MAX_UPLOAD_MB         largest upload, megabytes (0 or "none": no limit)                      20
FLAP_MAX_TEXT_CHARS        longest text-to-speech input, characters (0 or "none": no limit)       600
FLAP_CONCURRENCY           videos rendered at the same time                                       1
FLAP_QUEUE_SIZE            requests that may wait in the queue (0 or "none": no limit)            20
=========================  =====================================================================  ============
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from flap.settings import env_flag

#: The project's public Space; duplicates get another SPACE_ID and therefore no limits.
SHARED_SPACE_IDS = ("flap-project/FLAP",)

SHARED_DEFAULTS = {"max_audio_seconds": 60.0, "max_upload_mb": 20.0, "max_text_chars": 600, "queue_size": 20}


@dataclass(frozen=True)
class SpaceLimits:
    """What this deployment accepts; ``None`` means no limit."""

    shared: bool = False
    max_audio_seconds: float | None = None
    max_upload_mb: float | None = None
    max_text_chars: int | None = None
    concurrency: int = 1
    queue_size: int | None = None
    on_spaces: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "SpaceLimits":
        env = os.environ if env is None else env
        space_id = env.get("SPACE_ID", "").strip()
        on_spaces = bool(space_id)
        shared_ids = _ids(env.get("FLAP_SHARED_SPACE_ID")) or SHARED_SPACE_IDS
        shared = _flag(env, "FLAP_SHARED", default=space_id.lower() in {i.lower() for i in shared_ids})
        unlimited = _flag(env, "FLAP_UNLIMITED", default=False)
        defaults = SHARED_DEFAULTS if shared and not unlimited else {}

        def limit(name: str, key: str, kind=float):
            if unlimited:
                return None
            return _optional_number(env, name, defaults.get(key), kind)

        concurrency = _optional_number(env, "FLAP_CONCURRENCY", 1, int)
        if concurrency is None or concurrency < 1:
            raise ValueError("FLAP_CONCURRENCY must be a whole number of at least 1")
        return cls(shared=shared and not unlimited,
                   max_audio_seconds=limit("FLAP_MAX_AUDIO_SECONDS", "max_audio_seconds"),
                   max_upload_mb=limit("FLAP_MAX_UPLOAD_MB", "max_upload_mb"),
                   max_text_chars=limit("FLAP_MAX_TEXT_CHARS", "max_text_chars", int),
                   concurrency=concurrency,
                   queue_size=limit("FLAP_QUEUE_SIZE", "queue_size", int),
                   on_spaces=on_spaces)

    @property
    def max_file_size(self) -> int | None:
        """Bytes, for ``launch(max_file_size=...)``."""
        return None if self.max_upload_mb is None else int(self.max_upload_mb * 1024 * 1024)

    def describe(self) -> str:
        """One line for the page: what is capped here and how to lift it (empty when nothing is)."""
        parts = []
        if self.max_audio_seconds is not None:
            parts.append(f"speech up to {self.max_audio_seconds:g} s")
        if self.max_upload_mb is not None:
            parts.append(f"uploads up to {self.max_upload_mb:g} MB")
        if self.max_text_chars is not None:
            parts.append(f"text to speak up to {self.max_text_chars} characters")
        if not parts:
            return ""
        where = "this shared Space" if self.shared else "this server"
        how = "Duplicate the Space to lift them." if self.shared else "Set FLAP_UNLIMITED=1 to lift them."
        return f"Limits on {where}: {', '.join(parts)}. {how}"


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


_flag = env_flag  # the one parser of booleans (flap.settings)


def _optional_number(env: Mapping[str, str], name: str, default, kind=float):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in ("none", "unlimited", "off"):
        return None
    try:
        value = kind(float(raw)) if kind is int else kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number (or 'none' for no limit); got '{raw}'") from None
    if value < 0 or value != value:
        raise ValueError(f"{name} must not be negative; got '{raw}'")
    return None if value == 0 and name != "FLAP_CONCURRENCY" else value
