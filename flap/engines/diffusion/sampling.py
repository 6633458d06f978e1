"""Sampling videos of any length: causal overlapping windows with shared trajectories, and the step-level speed-ups.

Windows: the video is cut into ``window``-frame windows overlapping by ``overlap`` frames, denoised one after the
other.  A window's first frames are the previous window's last ones: at every step they are set to the exact
noisy state the previous window had at that step (not re-noised), so the new frames are denoised in temporal
attention with neighbours on the same trajectory, and the overlap's final latents are blended with linear ramp
weights.  Only one window's tensors and a few frames of trajectory live at once, so memory does not grow with
the video, finished frames stream out as soon as their window is done, and per-window caches (DeepCache) stay
bounded.  (Co-denoising all windows at every step, the other common scheme, needs every window's state and
caches at once.)

Speed-ups, each off in ``SamplingOptions.plain()``:
- ``deepcache_interval`` N: a full UNet pass every N steps; the steps between recompute only the outermost layers
  on cached deep features (DeepCache, Ma et al. 2024; N=3 with the shallowest branch is its default for SD).
- ``guidance_interval``: classifier-free guidance only on that fraction of the steps (Kynkäänniemi et al. 2024
  show guidance is not needed at every noise level); guided steps run conditional and unconditional in one batch.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import numpy as np
import torch

from flap.engines.diffusion.denoising_unet import DeepCache, FLAPDenoisingUNet
from flap.engines.options import FullModelOptions
from flap.engines.diffusion.speed import attention_preference

Progress = Callable[[int, int], None]
_DEFAULTS = FullModelOptions()


@dataclass(frozen=True)
class SamplingOptions:
    """How to sample.  ``plain()`` is exact classifier-free-guided sampling; ``fast()`` adds the speed-ups."""

    num_inference_steps: int = _DEFAULTS.steps
    guidance_scale: float = _DEFAULTS.guidance
    window: int = 16
    overlap: int = 4
    deepcache_interval: int = 1
    deepcache_branch: int = 0
    guidance_interval: tuple[float, float] = (0.0, 1.0)
    decode_chunk: int = 8

    @classmethod
    def plain(cls, **changes) -> "SamplingOptions":
        return replace(cls(), **changes)

    @classmethod
    def fast(cls, **changes) -> "SamplingOptions":
        """DeepCache's SD default (full pass every 3rd step, shallowest branch) and guidance on the first 70% of steps."""
        return replace(cls(deepcache_interval=3, deepcache_branch=0, guidance_interval=(0.0, 0.7)), **changes)

    def validated(self) -> "SamplingOptions":
        if self.num_inference_steps < 1:
            raise ValueError("num_inference_steps must be at least 1")
        if self.window < 1 or not 0 <= self.overlap < self.window:
            raise ValueError(f"need window >= 1 and 0 <= overlap < window; got window {self.window}, overlap {self.overlap}")
        if self.deepcache_interval < 1:
            raise ValueError("deepcache_interval must be at least 1 (1 = off)")
        lo, hi = self.guidance_interval
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"guidance_interval must be 0 <= start <= end <= 1; got {self.guidance_interval}")
        return self

    def guided(self, step: int) -> bool:
        lo, hi = self.guidance_interval
        n = self.num_inference_steps
        return self.guidance_scale != 1.0 and lo * n <= step < hi * n

    def full_pass(self, step: int) -> bool:
        return step % self.deepcache_interval == 0


def plan_windows(num_frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """[start, stop) of each window; all are ``window`` long (the last is moved back to end at the video's end)."""
    if num_frames <= window:
        return [(0, num_frames)]
    stride = window - overlap
    starts = list(range(0, num_frames - window + 1, stride))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return [(s, s + window) for s in starts]


def ramp(n: int, device=None) -> torch.Tensor:
    """Weights of the earlier window over an n-frame overlap: from near 1 down to near 0, linearly."""
    return 1.0 - torch.arange(1, n + 1, device=device, dtype=torch.float32) / (n + 1)


@dataclass
class WindowResult:
    final: torch.Tensor  # (1, C, W, h, w) denoised latents
    tail_states: list[torch.Tensor] = field(default_factory=list)  # per step, the last frames' state before the step


@dataclass
class SamplingStats:
    """What the sampler ran (for the benchmark's FLOP accounting)."""

    full_frames: int = 0  # frame-forwards through the full UNet (guided rows counted twice)
    shallow_frames: dict[int, int] = field(default_factory=dict)  # branch -> frame-forwards through the shallow pass
    windows: int = 0


def denoise_window(model: FLAPDenoisingUNet, scheduler, noise: torch.Tensor, tokens: torch.Tensor,
                   options: SamplingOptions, known: list[torch.Tensor] | None = None, record: int = 0,
                   step_done: Callable[[], None] | None = None, stats: SamplingStats | None = None) -> WindowResult:
    """Denoise one window.

    noise: (1, C, W, h, w) initial noise; tokens: (W, N, D) conditional tokens; known: per step, the states of this
    window's first frames from the previous window; record: how many last frames the next window will know.
    """
    with attention_preference(noise.device):
        return _denoise_window(model, scheduler, noise, tokens, options, known, record, step_done, stats)


def _denoise_window(model, scheduler, noise, tokens, options, known, record, step_done, stats) -> WindowResult:
    scheduler = copy.deepcopy(scheduler)
    scheduler.set_timesteps(options.num_inference_steps, device=noise.device)
    frames = noise.shape[2]
    cond = tokens
    both = torch.cat([tokens, torch.zeros_like(tokens)])  # unconditional = condition dropped, reference kept
    x = noise.to(torch.float32) * scheduler.init_noise_sigma
    cache = DeepCache() if options.deepcache_interval > 1 else None
    cached_rows = 0
    tail: list[torch.Tensor] = []
    for step, t in enumerate(scheduler.timesteps):
        if known:
            x[:, :, : known[step].shape[2]] = known[step]
        if record:
            tail.append(x[:, :, frames - record:].clone())
        guided = options.guided(step)
        rows = 2 if guided else 1
        shallow = cache is not None and not options.full_pass(step) and cached_rows >= rows
        model_in = scheduler.scale_model_input(torch.cat([x] * rows), t)
        eps = model(model_in, t, tokens=both if guided else cond, cache=cache, shallow=shallow,
                    cache_branch=options.deepcache_branch).float()
        if cache is not None and not shallow:
            cached_rows = rows
        if stats is not None:
            if shallow:
                stats.shallow_frames[options.deepcache_branch] = stats.shallow_frames.get(options.deepcache_branch, 0) + rows * frames
            else:
                stats.full_frames += rows * frames
        if guided:
            eps_cond, eps_uncond = eps.chunk(2)
            eps = eps_uncond + options.guidance_scale * (eps_cond - eps_uncond)
        x = scheduler.step(eps, t, x).prev_sample
        if step_done is not None:
            step_done()
    if stats is not None:
        stats.windows += 1
    return WindowResult(final=x, tail_states=tail)


def sample_latents(model: FLAPDenoisingUNet, scheduler, num_frames: int, tokens_for: Callable[[int, int], torch.Tensor],
                   noise_for: Callable[[int, int], torch.Tensor], options: SamplingOptions,
                   progress: Progress | None = None, stats: SamplingStats | None = None
                   ) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (first frame index, (1, C, n, h, w) final latents) in order, as soon as frames are final.

    tokens_for(a, b): conditional tokens of frames [a, b); noise_for(a, b): their initial noise (1, C, b-a, h, w).
    The reference must already be installed in ``model`` (``set_reference``).
    """
    options = options.validated()
    windows = plan_windows(num_frames, options.window, options.overlap)
    total = len(windows) * options.num_inference_steps
    done = 0

    def step_done():
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    states: list[torch.Tensor] | None = None
    pending: torch.Tensor | None = None  # final latents of the frames the next window overlaps
    for k, (a, b) in enumerate(windows):
        next_a = windows[k + 1][0] if k + 1 < len(windows) else b
        result = denoise_window(model, scheduler, noise_for(a, b), tokens_for(a, b), options, known=states,
                                record=b - next_a, step_done=step_done, stats=stats)
        final = result.final
        if pending is not None:
            n = pending.shape[2]
            w = ramp(n, final.device).view(1, 1, n, 1, 1)
            final = final.clone()
            final[:, :, :n] = w * pending + (1 - w) * final[:, :, :n]
        yield a, final[:, :, : next_a - a]
        pending = final[:, :, next_a - a:] if next_a < b else None
        states = result.tail_states


def frame_noise(seed: int, start: int, stop: int, shape: tuple[int, int, int]) -> torch.Tensor:
    """(1, C, stop-start, h, w) float32 noise on the CPU; frame i's noise depends only on (seed, i), so windowing,
    device and video length never change a frame's noise."""
    frames = []
    for i in range(start, stop):
        state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, i]).generate_state(2, dtype=np.uint64)
        generator = torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))
        frames.append(torch.randn(shape, generator=generator))
    return torch.stack(frames, dim=1)[None]
