"""Locating ffmpeg: the binary shipped by imageio-ffmpeg first (works on any machine), else the system one."""

from __future__ import annotations

import functools
import shutil

from flap.errors import FlapError


@functools.lru_cache(maxsize=1)
def ffmpeg_executable() -> str:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # package missing or its binary unusable on this platform
        found = shutil.which("ffmpeg")
        if found:
            return found
    raise FlapError("ffmpeg was not found: install imageio-ffmpeg (pip) or ffmpeg (apt)")
