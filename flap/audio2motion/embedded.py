"""The embedded engine's motion generator: an AudioAnalysis in, a MotionSequence out, no weights, ~5 ms per
10 s of speech.

Mouth (flap.audio2motion.mouth) from the lip drivers, head (head) from stresses, phrases, pauses and loudness,
eyes (gaze) as fixations and saccades with the vestibulo-ocular reflex, blinks from flap.motion.blinks that
prefer pauses.  Every random choice comes from ``seed`` through separate streams, so the same seed gives the same
motion and changing one part's settings does not reshuffle the others.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from flap.audio.analysis import AudioAnalysis
from flap.audio2motion.gaze import GazeConfig, eyes_6d, gaze_angles, lid_follow
from flap.audio2motion.head import HeadConfig, head_motion
from flap.audio2motion.mouth import jaw_opening, lip_controls, speech_gate
from flap.motion.blinks import blink_curve
from flap.motion.representation import NUM_FLAME_EXPRESSION, MotionSequence
from flap.motion.rotations import euler_to_axis_angle

GENERATOR_NAME = "embedded-generator"
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class EmbeddedMotionConfig:
    """Typed knobs of the generator; the defaults are a calm, natural speaker."""

    blink_rate_per_min: float = 17.0
    lead_time_s: float = 0.05  # the mouth shapes lead the sound by this much
    jaw_max_rad: float = 0.30  # opening on the loudest open vowels
    jaw_curve: float = 0.85  # < 1 keeps small openings visible
    mouth_smoothing_s: float = 0.025  # co-articulation smoothing of the opening (Gaussian sigma)
    lip_gain: float = 1.0  # scales spreading, rounding, closures and tucks
    brow_gain: float = 0.35  # brow raise on the strongest accents
    head_motion: float = 1.0  # scales every head movement (0 = still head, lips only)
    head: HeadConfig = field(default_factory=HeadConfig)
    gaze: GazeConfig = field(default_factory=GazeConfig)

    def validated(self) -> "EmbeddedMotionConfig":
        if not 0 <= self.blink_rate_per_min <= 60:
            raise ValueError(f"blink_rate_per_min must be within 0-60; got {self.blink_rate_per_min}")
        if not 0 <= self.lead_time_s <= 0.2:
            raise ValueError(f"lead_time_s must be within 0-0.2 s; got {self.lead_time_s}")
        if not 0 < self.jaw_max_rad <= 0.5:
            raise ValueError(f"jaw_max_rad must be within (0, 0.5] rad; got {self.jaw_max_rad}")
        if self.head_motion < 0 or self.lip_gain < 0 or self.brow_gain < 0:
            raise ValueError("head_motion, lip_gain and brow_gain must be >= 0")
        return self


def generate_motion(analysis: AudioAnalysis, seed: int = 0,
                    config: EmbeddedMotionConfig = EmbeddedMotionConfig()) -> MotionSequence:
    """Natural talking-head motion for ``analysis`` (same frame count and fps)."""
    config = config.validated()
    fps, t_count = analysis.fps, analysis.num_frames
    streams = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, GENERATOR_VERSION]).spawn(4)
    rng_head, rng_gaze, rng_blink, rng_face = (np.random.default_rng(s) for s in streams)

    gate = speech_gate(analysis, config.lead_time_s)
    jaw_open = jaw_opening(analysis, gate, config.lead_time_s, config.jaw_max_rad, config.mouth_smoothing_s,
                           config.jaw_curve)
    jaw = np.zeros((t_count, 3), np.float32)
    jaw[:, 0] = jaw_open
    controls = lip_controls(analysis, gate, jaw_open / config.jaw_max_rad, config.lead_time_s, config.lip_gain,
                            config.brow_gain, rng_face)

    euler, translation, scale = head_motion(analysis, config.head, rng_head)
    euler *= config.head_motion
    translation *= config.head_motion
    scale = 1.0 + (scale - 1.0) * config.head_motion
    rotation = euler_to_axis_angle(euler[:, 0], euler[:, 1], euler[:, 2])

    gaze = gaze_angles(analysis, euler, config.gaze, rng_gaze)
    blinks = blink_curve(t_count, fps, config.blink_rate_per_min, rng_blink, pause_starts_s=analysis.pause_starts_s)
    lids = np.clip(blinks + lid_follow(gaze, fps) * (1.0 - blinks), 0.0, 1.0)

    meta = {
        "source": GENERATOR_NAME,
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "vad": analysis.vad_method,
        "aligned_transcript": analysis.phonemes is not None,
        "warnings": list(analysis.warnings),
        "config": _jsonable(asdict(config)),
    }
    return MotionSequence(
        fps=fps,
        global_rotation=rotation,
        eyes=eyes_6d(gaze),
        jaw=jaw,
        eyelids=np.repeat(lids[:, None], 2, axis=1),
        expression=np.zeros((t_count, NUM_FLAME_EXPRESSION), np.float32),
        translation=translation,
        scale=scale,
        controls=controls,
        meta=meta,
    )


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
