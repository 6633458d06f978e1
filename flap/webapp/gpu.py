"""The full model's GPU work: the only function decorated with ``@spaces.GPU``.

On a ZeroGPU Space the decorator borrows a GPU for the call, for a duration estimated from the clip (shorter
requests get queue priority, and a too-short estimate cuts the job off); on a dedicated GPU or a CPU machine the
``spaces`` package makes it a no-op, and without the package a local stand-in does the same, so this code runs
unchanged everywhere.  Arguments and results cross a process boundary on ZeroGPU, so they stay picklable
(paths, dataclasses, arrays) and the result drops the portrait analysis.

Estimate: FLAP_GPU_BASE_SECONDS (default 30: loading, warm-up, encoding) + frames x steps x
FLAP_GPU_SECONDS_PER_FRAME_STEP (default 0.008 at 512 px, scaled by area; FLAP_GPU_SECONDS_PER_FRAME_STEP_COMPILED,
default 0.006, when the AOT artifacts are loaded: the H200's measured speeds and a quarter more), capped by
FLAP_GPU_MAX_SECONDS (default 300).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from flap.settings import settings

try:  # the Hugging Face Spaces helper; absent on most machines, and harmless off ZeroGPU
    import spaces
except ImportError:  # pragma: no cover - depends on the environment
    spaces = None


log = logging.getLogger("flap.webapp")


def on_zero_gpu() -> bool:
    return spaces is not None and settings().zero_gpu


def preload_for_zero_gpu() -> bool:
    """On ZeroGPU, load the full model in the main process at start-up, as ZeroGPU expects (it moves the weights
    to the GPU it lends for each call); elsewhere the model loads lazily on first use.  Only when FLAP_MODEL is
    set; FLAP_PRELOAD=0 turns it off.  A failure is logged and left to the first request to report."""
    if not on_zero_gpu() or not settings().model or not settings().preload:
        return False
    try:
        from flap.engines.diffusion.engine import DiffusionEngine

        DiffusionEngine().pipeline()
        return True
    except Exception:
        log.exception("could not preload the full model; the first full-model request will try again")
        return False


@dataclass
class GpuJob:
    """One full-model job: ``kind`` is 'generate' or 'render', ``kwargs`` go to flap.pipeline's function of that name."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    audio_seconds: float = 10.0


def gpu_seconds(job: GpuJob, progress: Any = None) -> int:
    """How long to ask ZeroGPU for: grows with frames, sampling steps and output area."""
    config = job.kwargs.get("config")
    fps = float(getattr(config, "fps", 25.0))
    steps = int(getattr(config, "steps", 20))
    size = int(getattr(config, "size", 512))
    frames = max(1.0, job.audio_seconds * fps)
    s = settings()
    per_step = s.gpu_seconds_per_frame_step_compiled if compiled_loaded() else s.gpu_seconds_per_frame_step
    per_step *= (size / 512.0) ** 2
    estimate = s.gpu_base_seconds + frames * steps * per_step
    return int(min(max(estimate, 20.0), s.gpu_max_seconds))


def compiled_loaded() -> bool:
    """Whether the full model runs from AOT artifacts in this process (never imports torch itself)."""
    import sys

    engine = sys.modules.get("flap.engines.diffusion.engine")
    return bool(engine and engine.DiffusionEngine.compiled_loaded())


def gpu(duration: Callable[..., int] | int) -> Callable[[Callable], Callable]:
    """``spaces.GPU(duration=...)`` when the package is there, else a decorator that changes nothing."""
    if spaces is not None:
        return spaces.GPU(duration=duration)
    return lambda fn: fn


@gpu(duration=gpu_seconds)
def run_full_model(job: GpuJob, progress: Any = None):
    """Run flap.pipeline.generate/render with the full engine (on the borrowed GPU under ZeroGPU)."""
    from flap import pipeline
    from flap.progress import silent

    if job.kind not in ("generate", "render"):
        raise ValueError(f"unknown GPU job kind '{job.kind}'")
    function = pipeline.generate if job.kind == "generate" else pipeline.render
    result = function(**job.kwargs, progress=progress or silent)
    result.portrait = None  # large, and not needed by the app
    return result
