"""Jaw and lip controls from the analysis' lip drivers.

The mouth leads the sound (articulators move ~40-80 ms before the acoustic result), is smoothed just enough to
stop frame-to-frame chatter but not so much that it lags or flattens syllables (its opening must track loudness),
is exactly closed in silence, and is shut during bilabial closures.  Rounding anticipates further ahead than
opening (lips round during the consonants before /u/).
"""

from __future__ import annotations

import numpy as np

from flap.audio.analysis import AudioAnalysis
from flap.audio2motion.signals import pulse_train, shift_earlier, smooth_s
from flap.motion.representation import CONTROL_INDEX, NUM_CONTROLS


MIN_VISIBLE_JAW_RAD = 0.004
CLOSURE_LEAD_S = 0.02  # a closure is the acoustic silence itself: the lips meet only just before it


def anticipate(x: np.ndarray, lead_s: float, fps: float) -> np.ndarray:
    """Onsets lead the sound by up to ``lead_s`` (the jaw starts opening before the voice), while peaks and
    releases stay on the sound: half the curve, half its running max over the next ``lead_s``.  A plain shift by
    50 ms would put a fast speaker's mouth a quarter syllable out of step with the loudness."""
    return (0.5 * x + 0.5 * np.maximum(x, shift_earlier(x, lead_s, fps))).astype(np.float32)


def speech_gate(analysis: AudioAnalysis, lead_s: float) -> np.ndarray:
    """(T,) in [0, 1]: 1 while speaking and up to ``lead_s`` before each onset (the mouth gets ready), a short
    ease at the edges, exactly 0 elsewhere.  Offsets are not moved: the mouth stays with the voice to its end."""
    fps = analysis.fps
    speech = analysis.speech.astype(np.float32)
    mask = (np.maximum(speech, shift_earlier(speech, lead_s, fps)) >= 0.5).astype(np.float32)
    eased = smooth_s(mask, 0.02, fps)
    eased = np.maximum(eased, mask * 0.999)
    return np.where(eased < 0.1, 0.0, np.clip(eased, 0.0, 1.0)).astype(np.float32)


def jaw_opening(analysis: AudioAnalysis, gate: np.ndarray, lead_s: float, max_rad: float, smoothing_s: float,
                curve: float = 0.85) -> np.ndarray:
    """(T,) jaw opening in radians: 0 in silence and in lip closures, up to ``max_rad`` on the loudest vowels."""
    fps = analysis.fps
    opening = anticipate(analysis.openness, lead_s, fps)
    opening = smooth_s(opening, smoothing_s, fps)
    closure = shift_earlier(analysis.closure, min(lead_s, CLOSURE_LEAD_S), fps)
    opening = opening * np.clip(1.0 - 1.25 * closure, 0.0, 1.0)
    jaw = max_rad * np.clip(opening, 0.0, 1.0) ** curve * gate
    # Smoothing leaks hair-thin openings (< 0.25 degrees) into silent frames next to speech: a closed mouth is 0.
    return np.where(jaw < MIN_VISIBLE_JAW_RAD, 0.0, jaw).astype(np.float32)


def lip_controls(analysis: AudioAnalysis, gate: np.ndarray, jaw_norm: np.ndarray, lead_s: float, gain: float,
                 brow_gain: float, rng: np.random.Generator) -> np.ndarray:
    """(T, NUM_CONTROLS) named controls for speech: spreading, rounding, closures, f/v tucks, emphasis brows."""
    fps = analysis.fps
    t_count = analysis.num_frames
    controls = np.zeros((t_count, NUM_CONTROLS), np.float32)
    spread = smooth_s(shift_earlier(analysis.spread, lead_s + 0.04, fps), 0.05, fps) * gate
    closure = smooth_s(shift_earlier(analysis.closure, lead_s, fps), 0.012, fps)
    tuck = smooth_s(shift_earlier(analysis.labiodental, lead_s, fps), 0.012, fps) * gate
    # A mild expansion: the acoustic estimate is conservative (fronted /u/ still sounds half spread).
    spreading, rounding = np.clip(spread, 0, 1) ** 0.8, np.clip(-spread, 0, 1) ** 0.8
    active = np.clip(gate, 0, 1)

    def put(name: str, value: np.ndarray) -> None:
        controls[:, CONTROL_INDEX[name]] = np.clip(value * gain, 0.0, 1.2)

    put("lip_stretch", 0.9 * spreading * (0.4 + 0.6 * active))
    put("lip_pucker", 1.0 * rounding * (1.0 - 0.6 * jaw_norm))
    put("lip_funnel", 0.9 * rounding * np.clip(0.3 + jaw_norm, 0, 1))
    near_speech = (smooth_s(active, 0.05, fps) > 0.01).astype(np.float32)  # closures just before a word count too
    put("lip_press", 0.9 * np.clip(closure * 1.1, 0, 1) * near_speech)
    put("lower_lip_tuck", 0.9 * np.clip(tuck * 1.1, 0, 1))
    put("upper_lip_raise", 0.25 * tuck)
    put("lower_lip_down", 0.25 * jaw_norm)
    controls[:, CONTROL_INDEX["brow_raise"]] = brow_raises(analysis, rng, brow_gain)
    return controls


def brow_raises(analysis: AudioAnalysis, rng: np.random.Generator, gain: float) -> np.ndarray:
    """Brief brow raises on the strongest pitch accents: the top accent of most phrases."""
    times, strength = analysis.stress_times_s, analysis.stress_strength
    if gain <= 0 or len(times) == 0:
        return np.zeros(analysis.num_frames, np.float32)
    bounds = np.concatenate([[-np.inf], np.sort(analysis.phrase_boundaries_s), [np.inf]])
    chosen = np.zeros(len(times), bool)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        inside = np.flatnonzero((times >= lo) & (times < hi))
        if inside.size:
            chosen[inside[np.argmax(strength[inside])]] = True
    # Not every phrase: about two in three of the clearly strong ones, so brows stay an accent, not a tic.
    chosen &= (strength >= 0.65) & (rng.random(len(times)) < 0.65)

    def shape(tau: np.ndarray) -> np.ndarray:  # up in ~120 ms, down over ~450 ms
        rise = np.clip((tau + 0.12) / 0.12, 0, 1)
        fall = np.clip(1.0 - (tau - 0.15) / 0.45, 0, 1)
        x = np.minimum(rise, fall)
        return x * x * (3 - 2 * x)

    curve = pulse_train(analysis.num_frames, analysis.fps, times[chosen], gain * strength[chosen], shape)
    return np.clip(curve, 0.0, 1.0).astype(np.float32)
