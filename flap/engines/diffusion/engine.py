"""The full FLAP engine behind the engine interface (flap.engines.base.Engine): availability, prepare a portrait,
render a motion.  The one wrapper around FLAPPipeline.

The pipeline applies the user's controls to the motion first (``flap.motion.controls.apply_controls``, the same
call as for the embedded engine), then calls ``render_frames``, and pastes frames back / writes the video.  The
model works at its own resolution; frames come back at the portrait's crop size.  Pipelines stay loaded across
calls in a module-level cache keyed by weights source, device and dtype.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from flap.engines.base import RenderRequest
from flap.engines.diffusion import loading
from flap.engines.options import FullModelOptions
from flap.errors import EngineUnavailableError
from flap.motion.representation import MotionSequence
from flap.settings import FALSE, settings
from flap.weights import weights_problem, weights_source

log = logging.getLogger("flap.diffusion")
_PIPELINES: dict[tuple, object] = {}
_LOCK = threading.RLock()


@dataclass
class DiffusionState:
    """A prepared portrait: the pipeline's ReferenceState, the pipeline it belongs to, and the crop size."""

    reference: object  # flap.engines.diffusion.pipeline.ReferenceState
    pipeline_key: tuple
    size: int


class DiffusionEngine:
    """FLAP's diffusion renderer.

    source: weights (hub repo id or folder; default $FLAP_MODEL).  preset: "fast" (DeepCache + guidance on the
    first 70% of steps) or "quality" (exact guided sampling).  compile: regional torch.compile of the denoiser
    (default: $FLAP_COMPILE=1; off otherwise, because the first video then waits for compilation).  Without it,
    ahead-of-time compiled artifacts are loaded when the weights have them (``aot/`` beside them, or the folder
    $FLAP_AOT names; FLAP_AOT=0 turns them off); artifacts built for another GPU, torch or shape are skipped
    with a logged note and the model runs eagerly.  device/dtype exist for tests; the engine is offered only
    with CUDA.
    """

    name = "full"

    def __init__(self, source: str | None = None, preset: str = "fast", device: str = "cuda", dtype: str = "bfloat16",
                 compile: bool | None = None):
        if preset not in ("fast", "quality"):
            raise ValueError(f"preset must be 'fast' or 'quality'; got {preset!r}")
        self.source = source
        self.preset = preset
        self.device = device
        self.dtype = dtype
        if compile is None:
            compile = device == "cuda" and settings().compile
        self.compile = compile
        self.note = ""  # what loading said about compiled artifacts (loaded, or why the model runs eagerly)

    # ------------------------------------------------------------------ availability (cheap)
    @staticmethod
    def compiled_loaded() -> bool:
        """Whether a loaded pipeline runs its AOT artifacts (the ZeroGPU duration estimate is shorter then)."""
        return any(getattr(pipe, "_compiled", None) is not None for pipe in list(_PIPELINES.values()))

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
                aot_folder = settings().aot or ""
                if self.compile or aot_folder.lower() in FALSE:
                    pipe.optimize_for_inference(dtype=dtype, compile=self.compile)
                else:
                    self.note = pipe.load_compiled(aot_folder or None, dtype=dtype)
                    log.info(self.note)
                _PIPELINES[key] = pipe
            return _PIPELINES[key]

    # ------------------------------------------------------------------ rendering
    def notes(self, motion: MotionSequence) -> list[str]:
        return []

    def prepare(self, portrait) -> DiffusionState:
        """Encode the aligned face crop once (a PortraitAnalysis, or its (H, W, 3) uint8 crop); the state is reused
        for every render of it."""
        crop = np.asarray(getattr(portrait, "crop", portrait))
        pipe = self.pipeline()
        with _LOCK:
            return DiffusionState(reference=pipe.prepare_reference(crop), pipeline_key=self._key(), size=crop.shape[0])

    def render_frames(self, state: DiffusionState, motion: MotionSequence, request: RenderRequest | None = None,
                      progress: Callable[[int, int], None] | None = None) -> Iterator[np.ndarray]:
        """Yield (S, S, 3) uint8 frames at the crop size, one per motion frame, as they are finished.  The request
        gives the seed and the sampling options (FullModelOptions); progress(done, total) counts denoising steps
        over all windows."""
        import cv2

        from flap.engines.diffusion.sampling import SamplingOptions

        if state.pipeline_key != self._key():
            raise ValueError("this state was prepared by a different FLAP engine configuration; call prepare() again")
        options = request.full_model if request is not None else FullModelOptions()
        seed = request.seed if request is not None else 0
        pipe = self.pipeline()
        sampling = SamplingOptions.fast() if self.preset == "fast" else SamplingOptions.plain()
        with _LOCK:  # one video at a time per process: the reference lives in the model's attention layers
            for frame in pipe.stream(state.reference, motion, options=sampling, seed=seed, progress=progress,
                                     num_inference_steps=options.steps, guidance_scale=options.guidance):
                frame = np.asarray(frame)
                if frame.shape[0] != state.size:
                    frame = cv2.resize(frame, (state.size, state.size), interpolation=cv2.INTER_LANCZOS4)
                yield frame
