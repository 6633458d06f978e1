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


EMOTIONS: dict[str, EmotionPreset] = {
    "neutral": EmotionPreset(),
    "happy": EmotionPreset({"smile_left": 0.85, "smile_right": 0.85, "cheek_raise": 0.7, "eye_squint": 0.25, "brow_raise": 0.1},
                           pitch_deg=2.0, head_motion_gain=1.15),
    "sad": EmotionPreset({"brow_inner_raise": 0.9, "frown": 0.7, "brow_lower": 0.15, "lip_press": 0.15},
                         pitch_deg=-6.0, eyelid_baseline=0.2, head_motion_gain=0.6),
    "angry": EmotionPreset({"brow_lower": 1.0, "lip_press": 0.4, "nose_wrinkle": 0.4, "frown": 0.45, "eye_squint": 0.2},
                           pitch_deg=-3.0, head_motion_gain=1.3),
    "surprised": EmotionPreset({"brow_raise": 1.0, "eye_wide": 0.9, "lower_lip_down": 0.2},
                               pitch_deg=3.0, jaw_rad=0.07, head_motion_gain=1.1),
    "fearful": EmotionPreset({"brow_inner_raise": 0.8, "brow_raise": 0.5, "eye_wide": 0.8, "lip_stretch": 0.7, "brow_lower": 0.2},
                             pitch_deg=-2.0, jaw_rad=0.03, head_motion_gain=0.8),
    "disgusted": EmotionPreset({"nose_wrinkle": 0.9, "upper_lip_raise": 0.8, "brow_lower": 0.6, "eye_squint": 0.35, "frown": 0.35},
                               pitch_deg=-1.0, head_motion_gain=0.9),
    "contempt": EmotionPreset({"smile_right": 0.65, "eye_squint": 0.15, "upper_lip_raise": 0.1},
                              pitch_deg=3.0, eyelid_baseline=0.1, head_motion_gain=0.8),
}

EMOTION_NAMES: tuple[str, ...] = tuple(EMOTIONS)
