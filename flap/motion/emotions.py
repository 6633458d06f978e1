"""Emotion presets on the decoupled expression path (as Playmate and EMOdiffhead do): each emotion is a set of
named-control activations plus a small head-pose and eyelid bias, scaled by a strength in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flap.motion.representation import CONTROL_INDEX, NUM_CONTROLS


@dataclass(frozen=True)
class EmotionPreset:
    controls: dict[str, float] = field(default_factory=dict)
    pitch_deg: float = 0.0  # user convention: > 0 lifts the chin
    eyelid_baseline: float = 0.0  # resting lid closure added to blinks
    jaw_rad: float = 0.0  # resting jaw opening added
    head_motion_gain: float = 1.0  # how lively the head moves

    def control_vector(self) -> np.ndarray:
        vec = np.zeros(NUM_CONTROLS, dtype=np.float32)
        for name, value in self.controls.items():
            vec[CONTROL_INDEX[name]] = value
        return vec


# Each emotion is a distinct signature (FACS-like action units as named controls), strong enough at strength 1 to be
# read on any face; none opens the jaw, so a silent face keeps its lips together (surprise shows in brows and eyes).
EMOTIONS: dict[str, EmotionPreset] = {
    "neutral": EmotionPreset(),
    "happy": EmotionPreset({"smile_left": 1.3, "smile_right": 1.3, "cheek_raise": 1.3, "eye_squint": 0.35, "brow_raise": 0.15},
                           pitch_deg=2.0, head_motion_gain=1.15),
    "sad": EmotionPreset({"brow_inner_raise": 1.6, "frown": 1.3, "lip_press": 0.3, "lower_lip_tuck": 0.25, "eye_squint": 0.1},
                         pitch_deg=-7.0, eyelid_baseline=0.3, head_motion_gain=0.6),
    "angry": EmotionPreset({"brow_lower": 1.7, "lip_press": 0.8, "nose_wrinkle": 0.5, "frown": 1.1, "eye_squint": 0.45},
                           pitch_deg=-4.0, head_motion_gain=1.3),
    "surprised": EmotionPreset({"brow_raise": 1.7, "eye_wide": 1.5, "lip_pucker": 0.3, "frown": 0.3},
                               pitch_deg=3.0, head_motion_gain=1.1),
    "fearful": EmotionPreset({"brow_inner_raise": 1.3, "brow_raise": 0.7, "brow_lower": 0.45, "eye_wide": 1.3, "lip_stretch": 1.4,
                              "frown": 0.7},
                             pitch_deg=-3.0, head_motion_gain=0.8),
    "disgusted": EmotionPreset({"nose_wrinkle": 1.6, "upper_lip_raise": 1.1, "brow_lower": 0.8, "eye_squint": 0.6, "frown": 0.9},
                               pitch_deg=2.0, head_motion_gain=0.9),
    "contempt": EmotionPreset({"smile_right": 1.4, "lip_press": 0.4, "eye_squint": 0.25, "brow_raise": 0.2},
                              pitch_deg=5.0, eyelid_baseline=0.15, head_motion_gain=0.8),
}

EMOTION_NAMES: tuple[str, ...] = tuple(EMOTIONS)
