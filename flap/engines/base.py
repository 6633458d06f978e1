"""The engine interface: what the pipeline needs of a renderer, typed.

An engine reports whether it can run here (cheaply, no weights loaded; the registry caches the answer), prepares a
portrait once, and renders frames for any motion at the portrait's crop size.  Anything an engine needs beyond the
motion (the embedded engine's FLAME expression offsets, the full model's sampling options) is its own business,
read from the job's ``RenderRequest``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol, runtime_checkable

import numpy as np

from flap.engines.options import FullModelOptions
from flap.motion.representation import MotionSequence

FrameProgress = Callable[[int, int], None]


class RenderRequest(Protocol):
    """What an engine may read of a job (flap.job.JobConfig is one)."""

    seed: int

    @property
    def full_model(self) -> FullModelOptions: ...


@runtime_checkable
class Engine(Protocol):
    """A renderer: portrait analysis + motion -> frames."""

    name: str

    def availability(self) -> tuple[bool, str]:
        """(can run here, the reason or what it will use); cheap: no weights are read."""
        ...

    def prepare(self, portrait: Any) -> Any:
        """Per-portrait work (a flap.face.portrait.PortraitAnalysis in), done once and reused for every motion."""
        ...

    def notes(self, motion: MotionSequence) -> list[str]:
        """What the user should know about how this engine shows this motion (e.g. a part it cannot show)."""
        ...

    def render_frames(self, state: Any, motion: MotionSequence, request: RenderRequest | None = None,
                      progress: FrameProgress | None = None) -> Iterator[np.ndarray]:
        """Yield (S, S, 3) uint8 frames at the prepared portrait's crop size, one per motion frame."""
        ...
