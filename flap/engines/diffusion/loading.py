"""Whether this machine can run the full model (CUDA, free GPU memory, weights), with messages that say how to fix.

Where the weights are is ``flap.weights``'s job.  Everything here is cheap: no weights are read, so the app can ask
before it offers the engine.
"""

from __future__ import annotations

import os

from flap.settings import settings
from flap.weights import weights_problem

#: Free GPU memory the full model needs at 512x512: bf16 weights (~4.6 GB) plus one guided 16-frame window and
#: VAE decoding; docs/full-model.md has the measured peak.
MIN_FREE_GPU_GB = 16.0


def cuda_problem(min_free_gb: float = MIN_FREE_GPU_GB) -> str | None:
    """Why CUDA cannot run the model here (no GPU, or too little free memory), or None."""
    import torch

    if not torch.cuda.is_available():
        return (f"the full FLAP model needs an NVIDIA GPU with CUDA, and PyTorch {torch.__version__} sees none here "
                f"(torch.cuda.is_available() is False; a CPU-only PyTorch build or no driver). Use the embedded engine, "
                f"or run on a machine with a CUDA GPU with at least {min_free_gb:.0f} GB free")
    if settings().zero_gpu:
        return None  # ZeroGPU lends the GPU per call (>= 40 GB); the main process cannot query its memory
    try:
        free, total = torch.cuda.mem_get_info()
    except RuntimeError:  # a driver that cannot report memory: let loading itself say if it does not fit
        return None
    if free < min_free_gb * 2**30:
        name = torch.cuda.get_device_name()
        return (f"the full FLAP model needs about {min_free_gb:.0f} GB of free GPU memory; {name} has "
                f"{free / 2**30:.1f} GB free of {total / 2**30:.1f} GB. Close other GPU programs or use a larger GPU")
    return None


def availability(source: str | os.PathLike | None = None, min_free_gb: float = MIN_FREE_GPU_GB) -> tuple[bool, str]:
    """(can run, why not / what it will use): every problem is listed, each with its fix."""
    problems = []
    cuda = cuda_problem(min_free_gb)
    if cuda:
        problems.append(cuda)
    weights, note = weights_problem(source)
    if weights:
        problems.append(weights)
    if problems:
        return False, "The full FLAP engine cannot run here: " + " Also: ".join(p.rstrip(".") + "." for p in problems)
    return True, f"The full FLAP engine is ready ({note})."
