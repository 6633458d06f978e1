"""The full FLAP engine as the app and CLI see it: availability, prepare a portrait, render a motion.

The integrator applies the user's controls to the motion first (``flap.motion.controls.apply_controls``, the
same call as for the embedded engine), then calls ``render_frames``, and pastes frames back / writes the video.
Pipelines stay loaded across calls in a module-level cache keyed by weights source, device and dtype.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from flap.engines.diffusion import loading
from flap.errors import EngineUnavailableError
from flap.motion.representation import MotionSequence
from flap.weights import weights_problem, weights_source

_PIPELINES: dict[tuple, object] = {}
_LOCK = threading.RLock()


@dataclass
class DiffusionState:
    """A prepared portrait: the pipeline's ReferenceState plus the pipeline it belongs to."""

    reference: object  # flap.engines.diffusion.pipeline.ReferenceState
    pipeline_key: tuple


class DiffusionEngine:
    """FLAP's diffusion renderer.

    source: weights (hub repo id or folder; default $FLAP_MODEL).  preset: "fast" (DeepCache + guidance on the
    first 70% of steps) or "quality" (exact guided sampling).  compile: regional torch.compile of the denoiser
    (default: $FLAP_COMPILE=1; off otherwise, because the first video then waits for compilation).  device/dtype
    exist for tests; the engine is offered only with CUDA.
    """

    name = "flap-diffusion"

    def __init__(self, source: str | None = None, preset: str = "fast", device: str = "cuda", dtype: str = "bfloat16",
                 compile: bool | None = None):
        if preset not in ("fast", "quality"):
            raise ValueError(f"preset must be 'fast' or 'quality'; got {preset!r}")
        self.source = source
        self.preset = preset
        self.device = device
        self.dtype = dtype
        if compile is None:
            compile = device == "cuda" and os.environ.get("FLAP_COMPILE", "") in ("1", "true", "yes")
        self.compile = compile

    # ------------------------------------------------------------------ availability (cheap)
    def availability(self) -> tuple[bool, str]:
        """(can run, reason): CUDA present, enough free GPU memory, weights configured and present or resolvable.
        Reads no weights."""
        if self.device != "cuda":
            problem, note = weights_problem(self.source)
            return (False, f"The full FLAP engine cannot run here: {problem}") if problem else (True, note)
        return loading.availability(self.source)

    # ------------------------------------------------------------------ loading
    def _key(self) -> tuple:
        return (weights_source(self.source), self.device, self.dtype, self.compile)

    def pipeline(self):
        """The loaded pipeline (loaded once per weights source, device and dtype, then reused)."""
        key = self._key()
        with _LOCK:
            if key not in _PIPELINES:
                if self.device == "cuda":
                    problem = loading.cuda_problem()
                    if problem:
                        raise EngineUnavailableError(f"The full FLAP engine cannot run here: {problem}.")
                import torch

                from flap.engines.diffusion.pipeline import FLAPPipeline

                dtype = getattr(torch, self.dtype)
                pipe = FLAPPipeline.from_pretrained(key[0], dtype=dtype).to(self.device)
                pipe.optimize_for_inference(dtype=dtype, compile=self.compile)
                _PIPELINES[key] = pipe
            return _PIPELINES[key]

    # ------------------------------------------------------------------ rendering
    def prepare(self, reference_rgb: np.ndarray) -> DiffusionState:
        """Encode the aligned face crop ((H, W, 3) uint8) once; the state is reused for every render of it."""
        pipe = self.pipeline()
        with _LOCK:
            return DiffusionState(reference=pipe.prepare_reference(reference_rgb), pipeline_key=self._key())

    def render_frames(self, state: DiffusionState, motion: MotionSequence,
                      progress: Callable[[int, int], None] | None = None, steps: int = 20, guidance: float = 3.5,
                      seed: int = 0) -> Iterator[np.ndarray]:
        """Yield (H, W, 3) uint8 frames at the crop size, one per motion frame, as they are finished.

        progress(done, total) counts denoising steps over all windows."""
        from flap.engines.diffusion.sampling import SamplingOptions

        if state.pipeline_key != self._key():
            raise ValueError("this state was prepared by a different FLAP engine configuration; call prepare() again")
        pipe = self.pipeline()
        options = SamplingOptions.fast() if self.preset == "fast" else SamplingOptions.plain()
        with _LOCK:  # one video at a time per process: the reference lives in the model's attention layers
            yield from pipe.stream(state.reference, motion, options=options, seed=seed, progress=progress,
                                   num_inference_steps=int(steps), guidance_scale=float(guidance))
