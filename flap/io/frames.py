"""A video as it is being made: rendered frames one at a time, with what a writer needs to know about them.

A ``FrameStream`` is what every video-writing path consumes (the whole-file MP4 of ``write_video``, the streamed
segments of flap.streaming, a script that sends frames elsewhere), so rendering and writing never fork.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np


@dataclass
class FrameStream:
    """RGB uint8 frames of ``size`` = (width, height), ``num_frames`` of them at ``fps``, with the speech in
    ``audio`` (a file path, or None for a silent video).  Iterable once: the frames are rendered as they are read."""

    frames: Iterable[np.ndarray]
    fps: float
    size: tuple[int, int]
    num_frames: int
    audio: Path | None = None

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.frames)


def write_video(stream: FrameStream, path) -> Path:
    """Encode the whole stream as one H.264/AAC MP4 (written under a partial name, renamed when complete)."""
    from flap.io.video import VideoWriter

    path = Path(path)
    with VideoWriter(path, stream.fps, stream.size, audio_path=stream.audio, num_frames=stream.num_frames) as writer:
        for frame in stream:
            writer.write(frame, copy=False)  # each frame is a new array, never changed afterwards
    return path


__all__ = ["FrameStream", "write_video"]
