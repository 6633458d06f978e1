"""Small signal helpers shared by the generator's parts: time shifts, smoothing, shaped pulses, coloured noise."""

from __future__ import annotations

import numpy as np

from flap.audio.features import smooth


def shift_earlier(x: np.ndarray, seconds: float, fps: float) -> np.ndarray:
    """x(t + seconds): the curve moved earlier in time (anticipation), edges held, sub-frame exact."""
    x = np.asarray(x, dtype=np.float32)
    if seconds == 0 or x.size < 2:
        return x.copy()
    t = np.arange(x.size, dtype=np.float64)
    return np.interp(t + seconds * fps, t, x).astype(np.float32)


def smooth_s(x: np.ndarray, sigma_s: float, fps: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing with a width in seconds."""
    return smooth(x, sigma_s * fps)


def pulse_train(num_frames: int, fps: float, times_s: np.ndarray, amplitudes: np.ndarray, shape) -> np.ndarray:
    """Sum of ``shape(tau_seconds) * amplitude`` placed at each event time."""
    t = np.arange(num_frames) / fps
    out = np.zeros(num_frames, np.float32)
    for when, amp in zip(np.asarray(times_s, float), np.asarray(amplitudes, float)):
        lo, hi = np.searchsorted(t, [when - 1.0, when + 2.0])
        out[lo:hi] += amp * shape(t[lo:hi] - when)
    return out


def coloured_noise(num_frames: int, fps: float, rng: np.random.Generator, cutoff_hz: float) -> np.ndarray:
    """Unit-variance Gaussian noise low-passed at about ``cutoff_hz`` (a smooth random wander)."""
    sigma_s = 0.133 / max(cutoff_hz, 1e-3)  # a Gaussian kernel's -3 dB point is ~0.133 / sigma
    pad = int(np.ceil(3 * sigma_s * fps)) + 1
    raw = rng.standard_normal(num_frames + 2 * pad).astype(np.float32)
    low = smooth(raw, sigma_s * fps)[pad: pad + num_frames]
    # Normalise by the theoretical std so short clips do not get inflated wander.
    k = np.exp(-0.5 * (np.arange(-3 * sigma_s * fps, 3 * sigma_s * fps + 1) / max(sigma_s * fps, 1e-3)) ** 2)
    k /= k.sum()
    return (low / max(np.sqrt(np.sum(k ** 2)), 1e-6)).astype(np.float32)


def min_jerk(x: np.ndarray) -> np.ndarray:
    """Minimum-jerk profile on [0, 1] (how people move between two postures)."""
    x = np.clip(x, 0.0, 1.0)
    return x ** 3 * (10 - 15 * x + 6 * x ** 2)


def soft_limit(x: np.ndarray, limit: float) -> np.ndarray:
    """Smoothly compress values toward +-limit (no kinks, unlike clipping)."""
    if limit <= 0:
        return np.zeros_like(x)
    return (limit * np.tanh(np.asarray(x) / limit)).astype(np.float32)
