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
        close = dur * config.close_fraction
        open_ = dur - close
        rising = (t >= peak - close) & (t <= peak)
        falling = (t > peak) & (t <= peak + open_)
        x = np.clip((t - (peak - close)) / close, 0, 1)
        curve[rising] = np.maximum(curve[rising], _smoothstep(x[rising]))
        y = np.clip((t - peak) / open_, 0, 1)
        curve[falling] = np.maximum(curve[falling], 1.0 - _smoothstep(y[falling]) ** 0.8)
    return curve


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3.0 - 2.0 * x)
