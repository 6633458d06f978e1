"""Measuring the full model: matrix-multiply ceiling, FLOPs per frame, timed videos, numerical agreement.

Used by benchmarks/bench_diffusion.py (and through it scripts/gpu_full_model.sh).  FLOPs are counted once per kind
of UNet pass with ``torch.utils.flop_counter`` and multiplied by what the sampler actually ran (SamplingStats),
so a run's achieved TFLOP/s counts the work it did, not the work a plain run would have done.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from flap.engines.diffusion.denoising_unet import DeepCache
from flap.engines.diffusion.pipeline import FLAPPipeline, ReferenceState
from flap.engines.diffusion.sampling import SamplingOptions, SamplingStats


def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def matmul_ceiling(device: str, n: int = 8192, dtype: torch.dtype = torch.bfloat16, repeats: int = 10) -> float:
    """Median TFLOP/s of an n x n x n matrix product on random data (the device's practical bf16 peak)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        a @ b
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / float(np.median(times)) / 1e12


def median_seconds(fn, device, repeats: int = 5, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def sdpa_backends(device: str, batch: int, heads: int, queries: int, keys: int, head_dim: int,
                  dtype: torch.dtype = torch.bfloat16) -> dict[str, float | str]:
    """Seconds per SDPA call for each PyTorch attention backend on one shape (the largest reference attention).

    Backends that cannot run the shape are reported with their error."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q = torch.randn(batch, heads, queries, head_dim, device=device, dtype=dtype)
    k = torch.randn(batch, heads, keys, head_dim, device=device, dtype=dtype)
    v = torch.randn_like(k)
    out: dict[str, float | str] = {}
    for name in ("FLASH_ATTENTION", "CUDNN_ATTENTION", "EFFICIENT_ATTENTION", "MATH"):
        backend = getattr(SDPBackend, name, None)
        if backend is None or (name == "MATH" and device != "cpu" and batch * heads * queries * keys > 2**31):
            continue
        try:
            with sdpa_kernel([backend]):
                out[name] = median_seconds(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v), device)
        except Exception as exc:  # a backend that does not support this shape, dtype or device
            out[name] = f"unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return out


def count_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| in float64."""
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@dataclass
class FlopTable:
    """FLOPs per frame of each pass (a frame of a guided step counts twice: two rows)."""

    unet_full: float
    unet_shallow: dict[int, float]
    vae_decode: float
    reference: float  # VAE encode + ReferenceNet + key/value projection, once per video

    def executed(self, stats: SamplingStats, num_frames: int) -> float:
        shallow = sum(self.unet_shallow.get(b, 0.0) * n for b, n in stats.shallow_frames.items())
        return self.unet_full * stats.full_frames + shallow + self.vae_decode * num_frames + self.reference


@torch.no_grad()
def measure_flops(pipe: FLAPPipeline, reference: ReferenceState, frames: int = 16, rows: int = 2) -> FlopTable:
    """Count one guided window's UNet pass (rows x frames), its shallow passes per branch, and VAE decoding."""
    unet = pipe.denoising_unet
    device, dtype = pipe.device, unet.dtype
    c, h, w = pipe.latent_shape
    x = torch.randn(rows, c, frames, h, w, device=device, dtype=dtype)
    tokens = torch.randn(rows * frames, unet.condition_encoder.num_tokens, unet.condition_encoder.config.token_dim,
                         device=device, dtype=dtype)
    unet.set_reference(reference.kv)
    t = torch.tensor(500, device=device)
    per_row_frame = rows * frames
    full = count_flops(lambda: unet(x, t, tokens=tokens)) / per_row_frame
    shallow = {}
    for branch in range(unet.deep_cache_branches + 1):
        cache = DeepCache()
        unet(x, t, tokens=tokens, cache=cache, cache_branch=branch)
        shallow[branch] = count_flops(lambda: unet(x, t, tokens=tokens, cache=cache, shallow=True,
                                                   cache_branch=branch)) / per_row_frame
    latent = torch.randn(1, c, h, w, device=device, dtype=dtype)
    decode = count_flops(lambda: pipe.decode_latents(latent))
    image = torch.zeros(h * pipe.latent_factor, w * pipe.latent_factor, 3, dtype=torch.uint8).numpy()
    ref = count_flops(lambda: pipe.prepare_reference(image))
    unet.set_reference(reference.kv)
    return FlopTable(unet_full=full, unet_shallow=shallow, vae_decode=decode, reference=ref)


@dataclass
class VideoRun:
    """One timed video: seconds per output frame, peak memory, FLOPs and TFLOP/s."""

    label: str
    frames: int
    steps: int
    guidance: float
    options: dict
    seconds: float
    seconds_per_frame: float
    peak_allocated_gb: float | None
    peak_reserved_gb: float | None
    tflop: float | None = None
    tflops_per_s: float | None = None
    stats: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def time_video(pipe: FLAPPipeline, image: np.ndarray, motion, options: SamplingOptions, label: str,
               flops: FlopTable | None = None, seed: int = 0, keep: str | None = None) -> tuple[VideoRun, object]:
    """Run a whole video (reference preparation, sampling, VAE decoding, frames to host memory) and time it.

    keep: 'frames' returns the uint8 frames, 'latents' the final latents (no decoding), None nothing."""
    device = pipe.device
    stats = SamplingStats()
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    synchronize(device)
    t0 = time.perf_counter()
    kept = []
    output = "latents" if keep == "latents" else "frames"
    for item in pipe.stream(image, motion, options=options, seed=seed, stats=stats, output=output):
        if keep:
            kept.append(item if output == "frames" else item.float().cpu())
    synchronize(device)
    seconds = time.perf_counter() - t0
    num_frames = motion.num_frames
    run = VideoRun(label=label, frames=num_frames, steps=options.num_inference_steps, guidance=options.guidance_scale,
                   options=asdict(options), seconds=seconds, seconds_per_frame=seconds / num_frames,
                   peak_allocated_gb=torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
                   peak_reserved_gb=torch.cuda.max_memory_reserved() / 2**30 if cuda else None,
                   stats={"full_frames": stats.full_frames, "shallow_frames": stats.shallow_frames,
                          "windows": stats.windows})
    if flops is not None:
        total = flops.executed(stats, num_frames) if output == "frames" else flops.executed(stats, 0)
        run.tflop = total / 1e12
        run.tflops_per_s = total / seconds / 1e12
    if keep == "frames":
        return run, np.stack(kept)
    if keep == "latents":
        return run, torch.stack(kept)
    return run, None
