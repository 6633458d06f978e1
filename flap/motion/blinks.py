"""Blinks as a random process: a requested rate, natural 100-300 ms durations, the same seed gives the same blinks.

The number of blinks over a clip follows the requested rate closely (one blink per stratified slot, jittered),
because users and checks compare counts; intervals still vary by a factor of about three, as real blinks do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BlinkConfig:
    min_duration_s: float = 0.14
    max_duration_s: float = 0.30
    close_fraction: float = 0.4  # share of the blink spent closing; opening is slower
    slot_jitter: float = 0.7  # share of each slot where the blink may fall
    snap_to_pause_s: float = 0.6  # move a blink onto a nearby speech pause start if one is this close


def blink_times(duration_s: float, rate_per_min: float, rng: np.random.Generator, config: BlinkConfig = BlinkConfig(),
                pause_starts_s: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Peak times and durations (seconds) of the blinks in a clip."""
    if rate_per_min <= 0 or duration_s <= 0:
        return np.zeros(0), np.zeros(0)
    expected = rate_per_min * duration_s / 60.0
    count = int(np.floor(expected) + (rng.random() < expected - np.floor(expected)))
    if count == 0:
        return np.zeros(0), np.zeros(0)
    slot = duration_s / count
    margin = (1.0 - config.slot_jitter) / 2.0
    peaks = (np.arange(count) + margin + config.slot_jitter * rng.random(count)) * slot
    if pause_starts_s is not None and len(pause_starts_s):
        pauses = np.asarray(pause_starts_s, dtype=float)
        for i, peak in enumerate(peaks):
            nearest = pauses[np.argmin(np.abs(pauses - peak))]
            lo, hi = i * slot, (i + 1) * slot
            if abs(nearest - peak) < config.snap_to_pause_s and lo <= nearest + 0.1 < hi:
                peaks[i] = nearest + 0.1
    durations = rng.uniform(config.min_duration_s, config.max_duration_s, size=count)
    durations = np.minimum(durations, 0.8 * slot)
    return peaks, durations


def blink_curve(num_frames: int, fps: float, rate_per_min: float, seed: int | np.random.Generator = 0,
                config: BlinkConfig = BlinkConfig(), pause_starts_s: np.ndarray | None = None) -> np.ndarray:
    """(num_frames,) eyelid closure in [0, 1]; each blink peaks at 1 on a frame so no blink is lost to sampling."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    curve = np.zeros(num_frames, dtype=np.float32)
    peaks, durations = blink_times(num_frames / fps, rate_per_min, rng, config, pause_starts_s)
    t = np.arange(num_frames) / fps
    for peak, dur in zip(peaks, durations):
        peak = np.round(peak * fps) / fps  # align the full closure with a frame
        curve = np.maximum(curve, blink_profile(t, peak, dur, config))
    return curve


def blink_profile(t: np.ndarray, peak: float, duration: float, config: BlinkConfig = BlinkConfig()) -> np.ndarray:
    """Closure of one blink at times ``t`` (0 outside it): a quick close to 1 at ``peak``, a slower reopening.
    Shared by the clip-level curve and the live generator, which schedules blinks one at a time."""
    t = np.asarray(t, dtype=np.float64)
    close = duration * config.close_fraction
    open_ = duration - close
    out = np.zeros(t.shape, np.float32)
    rising = (t >= peak - close) & (t <= peak)
    falling = (t > peak) & (t <= peak + open_)
    out[rising] = _smoothstep(np.clip((t[rising] - (peak - close)) / close, 0, 1))
    out[falling] = 1.0 - _smoothstep(np.clip((t[falling] - peak) / open_, 0, 1)) ** 0.8
    return out


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3.0 - 2.0 * x)
