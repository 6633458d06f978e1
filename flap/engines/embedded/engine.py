"""The embedded engine behind the engine interface (flap.engines.base.Engine): the CPU renderer plus the inputs only
it uses, the FLAME expression offsets computed from the motion when a FLAME model is configured."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from flap.engines.base import FrameProgress, RenderRequest
from flap.engines.embedded.renderer import EmbeddedRenderer, PreparedPortrait
from flap.motion.representation import MotionSequence


class EmbeddedEngine:
    """Always available: no weights, no GPU."""

    name = "embedded"

    def __init__(self, renderer: EmbeddedRenderer | None = None):
        self.renderer = renderer or EmbeddedRenderer()

    def availability(self) -> tuple[bool, str]:
        return True, "CPU, no weights"

    def prepare(self, portrait) -> PreparedPortrait:
        return self.renderer.prepare(portrait)

    def notes(self, motion: MotionSequence) -> list[str]:
        """The note when the motion has FLAME expression coefficients and no FLAME model is configured to show
        them.  A configured but unusable model raises here, before any frame is rendered."""
        from flap.flame.landmark_offsets import expression_status

        if not motion.has_flame_expression:
            return []
        note = expression_status(motion, _flame_model() is not None)
        return [note] if note else []

    def render_frames(self, state: PreparedPortrait, motion: MotionSequence, request: RenderRequest | None = None,
                      progress: FrameProgress | None = None) -> Iterator[np.ndarray]:
        return self.renderer.render_frames(state, motion, progress=progress, expression_offsets=_offsets(motion))


def _flame_model():
    from flap.flame.loading import load_flame_model_if_configured

    return load_flame_model_if_configured()  # None when not configured; loaded once per file


def _offsets(motion: MotionSequence) -> np.ndarray | None:
    """Landmark offsets for the motion's FLAME expression, when it has one and a FLAME model is configured."""
    if not motion.has_flame_expression:
        return None
    model = _flame_model()
    if model is None:
        return None
    from flap.flame.landmark_offsets import expression_offsets

    return expression_offsets(motion, model)
