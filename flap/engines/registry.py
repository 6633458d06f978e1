"""Choosing an engine by name; the full model is offered only when it can run, with the reason when not."""

from __future__ import annotations

import functools

from flap.errors import EngineUnavailableError


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


def get_engine(name: str):
    if name == "embedded":
        return _embedded()
    if name == "full":
        ok, reason = full_model_status()
        if not ok:
            raise EngineUnavailableError(f"The full model cannot run here: {reason}")
        from flap.engines.diffusion.engine import DiffusionEngine

        return _full_engine(DiffusionEngine)
    raise EngineUnavailableError(f"unknown engine '{name}': use 'embedded' or 'full'")


@functools.lru_cache(maxsize=1)
def _full_engine(cls):
    return cls()
