"""Choosing an engine by name; the full model is offered only when it can run, with the reason when not.

Every engine implements flap.engines.base.Engine.  Availability is asked once and cached for a few minutes (the
full model's check imports torch and may ask the Hub, with a 5 s timeout), shared by the CLI, the app and the
pipeline, so a job checks at most once.
"""

from __future__ import annotations

import functools
import threading
import time

from flap.engines.base import Engine
from flap.errors import EngineUnavailableError

#: The engines a job can ask for, by name.
ENGINE_NAMES: tuple[str, ...] = ("embedded", "full")
#: How long an availability answer is reused, seconds.
STATUS_TTL_S = 300.0

_status_lock = threading.Lock()
_status: tuple[float, tuple[bool, str]] | None = None


@functools.lru_cache(maxsize=None)
def _embedded() -> Engine:
    from flap.engines.embedded.engine import EmbeddedEngine

    return EmbeddedEngine()


@functools.lru_cache(maxsize=1)
def _full() -> Engine:
    from flap.engines.diffusion.engine import DiffusionEngine

    return DiffusionEngine()


def full_model_status(refresh: bool = False) -> tuple[bool, str]:
    """(available, reason) for the full diffusion model, cheaply (no weights are loaded); cached for STATUS_TTL_S
    unless ``refresh``."""
    global _status
    with _status_lock:
        if refresh or _status is None or time.monotonic() - _status[0] > STATUS_TTL_S:
            _status = (time.monotonic(), _check_full())
        return _status[1]


def _check_full() -> tuple[bool, str]:
    try:
        engine = _full()
    except ImportError as exc:
        return False, f"the full model's code could not be imported ({exc}); install the requirements"
    try:
        return engine.availability()
    except EngineUnavailableError as exc:
        return False, str(exc)


def availability(name: str) -> tuple[bool, str]:
    """(can run here, reason) for an engine by name, cached as above for the full model."""
    if name == "full":
        return full_model_status()
    if name == "embedded":
        return _embedded().availability()
    return False, f"unknown engine '{name}': use one of {', '.join(ENGINE_NAMES)}"


def get_engine(name: str) -> Engine:
    """The engine called ``name``, or EngineUnavailableError saying why it cannot run here."""
    if name == "embedded":
        return _embedded()
    if name == "full":
        ok, reason = full_model_status()
        if not ok:
            raise EngineUnavailableError(reason if reason.lower().startswith("the full") else f"The full model cannot run here: {reason}")
        return _full()
    raise EngineUnavailableError(f"unknown engine '{name}': use one of {', '.join(ENGINE_NAMES)}")
