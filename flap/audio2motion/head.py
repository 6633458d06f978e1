"""Head motion that follows the speech, built from what speakers are observed to do:

- beat nods: a brief chin dip and return on stressed syllables / pitch accents, scaled by the accent's strength;
- posture shifts: a new small turn and tilt around each phrase boundary, reached with a minimum-jerk movement;
- energy coupling: a smooth sway whose size follows the loudness envelope (louder speech, livelier head);
- idle: a slow, low-amplitude drift and breathing, the only motion in long pauses, which calm the head.
All parts are summed in degrees (yaw, pitch, roll; user convention), low-passed so the energy stays below
~3 Hz, and softly limited to the configured amplitudes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flap.audio.analysis import AudioAnalysis
from flap.audio2motion.signals import coloured_noise, min_jerk, pulse_train, smooth_s, soft_limit


@dataclass(frozen=True)
class HeadConfig:
    yaw_limit_deg: float = 6.0
    pitch_limit_deg: float = 5.0
    roll_limit_deg: float = 3.0
    nod_deg: float = 2.6  # chin dip on a full-strength accent
    nod_delay_s: float = 0.06  # apex of the dip after the accent
    phrase_turn_deg: float = 2.2  # std of the posture yaw chosen at each phrase boundary
    phrase_tilt_deg: float = 1.3  # std of the posture roll
    phrase_pitch_deg: float = 1.0
    posture_move_s: float = 0.7  # duration of a posture shift
    sway_deg: float = 1.1  # loudness-coupled sway (std at full loudness)
    drift_deg: float = 0.6  # slow idle wander (std), always on
    breathing_deg: float = 0.25
    breathing_hz: float = 0.25
    pause_calm: float = 0.35  # posture amplitude kept during long pauses
    lowpass_hz: float = 2.5
    translation_mm: float = 2.5
    scale_amount: float = 0.004


def head_motion(analysis: AudioAnalysis, cfg: HeadConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, 3) yaw/pitch/roll degrees, (T, 3) translation metres, (T,) scale."""
    fps, t_count = analysis.fps, analysis.num_frames
    rngs = [np.random.default_rng(s) for s in rng.integers(0, 2 ** 63, size=5)]
    activity = _activity(analysis)

    yaw = np.zeros(t_count, np.float32)
    pitch = np.zeros(t_count, np.float32)
    roll = np.zeros(t_count, np.float32)

    # Beat nods on accents; a small sideways component keeps them from looking mechanical.
    strengths = np.asarray(analysis.stress_strength, float)
    times = np.asarray(analysis.stress_times_s, float) + cfg.nod_delay_s
    nod_amp = cfg.nod_deg * strengths * rngs[0].uniform(0.7, 1.15, size=len(strengths))
    pitch -= pulse_train(t_count, fps, times, nod_amp, _nod_shape)
    side = rngs[0].choice([-1.0, 1.0], size=len(strengths)) * rngs[0].uniform(0.1, 0.35, size=len(strengths))
    yaw += pulse_train(t_count, fps, times, nod_amp * side, _nod_shape)
    roll += pulse_train(t_count, fps, times, nod_amp * side * 0.6, _nod_shape)

    # Posture shifts around phrase boundaries.
    p_yaw, p_pitch, p_roll = _postures(analysis, cfg, rngs[1])
    yaw += p_yaw
    pitch += p_pitch
    roll += p_roll

    # Loudness-coupled sway.
    yaw += cfg.sway_deg * activity * coloured_noise(t_count, fps, rngs[2], 0.9)
    pitch += 0.7 * cfg.sway_deg * activity * coloured_noise(t_count, fps, rngs[2], 1.1)
    roll += 0.5 * cfg.sway_deg * activity * coloured_noise(t_count, fps, rngs[2], 0.8)

    # Idle drift and breathing (always present, so a silent clip is not a frozen photo).
    yaw += cfg.drift_deg * coloured_noise(t_count, fps, rngs[3], 0.15)
    pitch += 0.8 * cfg.drift_deg * coloured_noise(t_count, fps, rngs[3], 0.15)
    roll += 0.5 * cfg.drift_deg * coloured_noise(t_count, fps, rngs[3], 0.12)
    phase = rngs[4].uniform(0, 2 * np.pi)
    t = np.arange(t_count) / fps
    breathing = np.sin(2 * np.pi * cfg.breathing_hz * t + phase).astype(np.float32)
    pitch += cfg.breathing_deg * breathing

    sigma = 0.133 / max(cfg.lowpass_hz, 0.1)
    euler = np.stack([
        soft_limit(smooth_s(yaw, sigma, fps), cfg.yaw_limit_deg),
        soft_limit(smooth_s(pitch, sigma, fps), cfg.pitch_limit_deg),
        soft_limit(smooth_s(roll, sigma, fps), cfg.roll_limit_deg),
    ], axis=1)

    # Placement: the head bobs with pitch, leans in a little on emphasis, and rises with each breath.
    mm = cfg.translation_mm / 1000.0
    lean = smooth_s(pulse_train(t_count, fps, times, strengths, _lean_shape), sigma, fps)
    translation = np.stack([
        0.25 * mm * euler[:, 0] / max(cfg.yaw_limit_deg, 1e-3),
        0.3 * mm * euler[:, 1] / max(cfg.pitch_limit_deg, 1e-3) + 0.15 * mm * breathing,
        0.6 * mm * np.clip(lean, 0, 1.5),
    ], axis=1)
    scale = 1.0 + cfg.scale_amount * (0.5 * np.clip(lean, 0, 1.5) + 0.2 * breathing)
    return euler.astype(np.float32), translation.astype(np.float32), scale.astype(np.float32)


def _activity(analysis: AudioAnalysis) -> np.ndarray:
    """Smoothed speaking energy in [0, 1]: loudness while speaking, ~0 in pauses."""
    env = np.where(analysis.speech, analysis.loudness, 0.0)
    return np.clip(smooth_s(env, 0.35, analysis.fps) * 1.6, 0.0, 1.0).astype(np.float32)


def _nod_shape(tau: np.ndarray) -> np.ndarray:
    """Chin down to the apex at tau=0 and back, with a small upward rebound."""
    return (np.exp(-0.5 * (tau / 0.11) ** 2) - 0.22 * np.exp(-0.5 * ((tau - 0.28) / 0.12) ** 2)).astype(np.float32)


def _lean_shape(tau: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((tau - 0.05) / 0.25) ** 2).astype(np.float32)


def _postures(analysis: AudioAnalysis, cfg: HeadConfig, rng: np.random.Generator):
    """Piecewise postures.  A new speaking posture as each phrase starts (the move happens mostly while the
    phrase is spoken), a calmer one as a phrase ends into a real pause, and a shift at the breath-group
    boundaries found inside long uninterrupted stretches."""
    from flap.audio.features import runs

    fps, t_count = analysis.fps, analysis.num_frames
    t = np.arange(t_count) / fps
    out = np.zeros((3, t_count), np.float32)
    events: list[tuple[float, bool]] = []  # (start of the move, calm)
    speech_runs = runs(analysis.speech)
    onsets = [a / fps for a, _ in speech_runs]
    offsets = [b / fps for _, b in speech_runs]
    for k, onset in enumerate(onsets):
        gap = onset - offsets[k - 1] if k else np.inf
        if gap >= 0.12:
            events.append((onset - 0.1, False))
    for k, offset in enumerate(offsets):
        gap = (onsets[k + 1] - offset) if k + 1 < len(onsets) else analysis.duration - offset
        if gap >= 0.6 and offset < analysis.duration - 0.3:
            events.append((offset - 0.35, True))
    inside = [b for b in np.asarray(analysis.phrase_boundaries_s, float)
              if analysis.speech[min(int(b * fps), t_count - 1)] and b < analysis.duration - 0.5]
    events += [(b - 0.2, False) for b in inside]
    current = np.zeros(3)
    last_sign = rng.choice([-1.0, 1.0])
    for when, calm in sorted(events):
        # Alternate sides more often than not, so the head does not wander off to one side.
        sign = -last_sign if rng.random() < 0.7 else last_sign
        last_sign = sign
        target = np.array([
            sign * abs(rng.normal(0.0, cfg.phrase_turn_deg)),
            rng.normal(0.3, cfg.phrase_pitch_deg),
            rng.normal(0.0, cfg.phrase_tilt_deg),
        ]) * (cfg.pause_calm if calm else 1.0)
        x = min_jerk((t - when) / cfg.posture_move_s).astype(np.float32)
        out += (target - current)[:, None].astype(np.float32) * x[None, :]
        current = target
    return out[0], out[1], out[2]
