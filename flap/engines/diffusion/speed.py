"""Inference speed settings the pipeline applies itself, so that what the benchmark times is what users run.

Measured on an H100 (benchmarks/bench_diffusion.py, docs/full-model.md):
- attention: cuDNN's fused attention ran the largest reference attention (32 x 8 heads, 4096 queries, 8192 keys,
  head size 40) in 4.6 ms against 8.4 ms for flash attention; PyTorch does not put it first by default, so the
  sampler asks for it first and falls back, in order, to flash, memory-efficient and plain attention wherever a
  backend cannot run a shape or a GPU lacks it.
- channels-last (NHWC) convolutions: 6-8 % faster with ``torch.compile`` (no NCHW<->NHWC copies around cuDNN's
  kernels), 8-10 % slower eager (PyTorch's eager GroupNorm is slow on NHWC), hence on exactly when compiling.
- cuDNN autotuning: every window has the same shapes, so the first window's search pays for the rest.
- regional compilation: all blocks of one class share one code object, and dynamo keeps only 8 compiled
  variants per code object by default; the UNet has more block shapes than that, and past the limit dynamo
  silently runs the rest eagerly, so the limits are raised before compiling.
"""

from __future__ import annotations

import contextlib

import torch

ATTENTION_PREFERENCE = ("CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH")


def attention_preference(device: torch.device | str):
    """A context in which SDPA tries the backends in ``ATTENTION_PREFERENCE`` order (CUDA only; a no-op elsewhere)."""
    if torch.device(device).type != "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backends = [getattr(SDPBackend, name) for name in ATTENTION_PREFERENCE if hasattr(SDPBackend, name)]
    try:
        return sdpa_kernel(backends, set_priority=True)
    except TypeError:  # torch < 2.6: no priority order; allowing all of them keeps PyTorch's own choice
        return sdpa_kernel(backends)


def tune_convolutions(device: torch.device | str) -> None:
    """Let cuDNN time its convolution algorithms once per shape (fixed window shapes make this pay at once)."""
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = True


def allow_block_recompiles(per_code: int = 64, total: int = 512) -> None:
    """Raise dynamo's per-code-object compile limits so every block shape of a regionally compiled UNet gets
    its own compiled variant (the option names changed across torch versions; unknown ones are skipped)."""
    import torch._dynamo

    for name, value in (("recompile_limit", per_code), ("cache_size_limit", per_code),
                        ("accumulated_recompile_limit", total), ("accumulated_cache_size_limit", total)):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, max(value, getattr(torch._dynamo.config, name)))
