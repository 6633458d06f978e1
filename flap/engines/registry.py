"""Choosing an engine by name; the full model is offered only when it can run, with the reason when not.

Both engines present the same interface to the pipeline: ``name``, ``prepare(portrait_analysis)`` and
``render_frames(state, motion, progress=..., config=...)`` yielding frames at the portrait's crop size.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from flap.errors import EngineUnavailableError

#: The engines a job can ask for, by name.
ENGINE_NAMES: tuple[str, ...] = ("embedded", "full")


@functools.lru_cache(maxsize=None)
def _embedded():
    from flap.engines.embedded import EmbeddedRenderer

    return EmbeddedRenderer()


def full_model_status() -> tuple[bool, str]:
    """(available, reason) for the full diffusion model, cheaply (no weights are loaded)."""
    try:
        from flap.engines.diffusion.engine import DiffusionEngine
    except ImportError as exc:
        return False, f"the full model's code could not be imported ({exc}); install the requirements"
    return DiffusionEngine().availability()


@dataclass
class _FullState:
    inner: object
    size: int


class FullModelEngine:
    """The diffusion engine behind the pipeline's interface: it takes the portrait's aligned crop as the reference
    and returns frames at the crop size (the model works at its own resolution)."""

    name = "full"

    def __init__(self, engine=None):
        if engine is None:
            from flap.engines.diffusion.engine import DiffusionEngine

            engine = DiffusionEngine()
        self.engine = engine

    def prepare(self, portrait) -> _FullState:
        return _FullState(inner=self.engine.prepare(portrait.crop), size=portrait.size)

    def render_frames(self, state: _FullState, motion, progress=None, config=None, **_):
        import cv2

        from flap.engines.diffusion.options import FullModelOptions

        options = config.full_model if config is not None else FullModelOptions()
        seed = config.seed if config is not None else 0
        for frame in self.engine.render_frames(state.inner, motion, progress=progress, steps=options.steps,
                                               guidance=options.guidance, seed=seed):
            frame = np.asarray(frame)
            if frame.shape[0] != state.size:
                frame = cv2.resize(frame, (state.size, state.size), interpolation=cv2.INTER_LANCZOS4)
            yield frame


def get_engine(name: str):
    if name == "embedded":
        return _embedded()
    if name == "full":
        ok, reason = full_model_status()
        if not ok:
            raise EngineUnavailableError(reason if reason.lower().startswith("the full") else f"The full model cannot run here: {reason}")
        return _full()
    raise EngineUnavailableError(f"unknown engine '{name}': use one of {', '.join(ENGINE_NAMES)}")


@functools.lru_cache(maxsize=1)
def _full() -> FullModelEngine:
    return FullModelEngine()
