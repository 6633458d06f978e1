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


# Each emotion is a distinct signature of FACS action units as named controls, strong enough at strength 1 to be
# read on any face; none opens the jaw, so a silent face keeps its lips together (surprise shows in brows and eyes).
# On a smiling photo the embedded rig releases the photo's own smile for every emotion but happy and contempt's
# smiling side (flap.engines.embedded.rig.FaceRig.smile_release).
EMOTIONS: dict[str, EmotionPreset] = {
    "neutral": EmotionPreset(),
    # AU6 + AU12: cheeks up, corners up and out, crow's feet
    "happy": EmotionPreset({"smile_left": 1.8, "smile_right": 1.8, "cheek_raise": 1.4, "eye_squint": 0.4, "brow_raise": 0.15},
                           pitch_deg=2.0, head_motion_gain=1.15),
    # AU1 + AU4 + AU15 + AU17: inner brows up, corners down, chin up
    "sad": EmotionPreset({"brow_inner_raise": 1.6, "frown": 1.3, "lip_press": 0.3, "lower_lip_tuck": 0.25, "eye_squint": 0.1},
                         pitch_deg=-7.0, eyelid_baseline=0.3, head_motion_gain=0.6),
    # AU4 + AU7 + AU23/24: brows down and together, lids tightened, lips pressed thin
    "angry": EmotionPreset({"brow_lower": 1.7, "eye_squint": 0.6, "lip_press": 1.3, "lip_pucker": 0.25,
                            "frown": 0.6, "nose_wrinkle": 0.2},
                           pitch_deg=-4.0, head_motion_gain=1.3),
    # AU1 + AU2 + AU5 (+ AU26 without parting the lips): brows high, eyes wide, lips relaxed, the smile let go
    "surprised": EmotionPreset({"brow_raise": 2.0, "eye_wide": 1.5, "lip_pucker": 0.3},
                               pitch_deg=3.0, head_motion_gain=1.1),
    # AU1 + AU2 + AU4 + AU5 + AU20: brows raised and drawn together, eyes wide, lips stretched sideways
    "fearful": EmotionPreset({"brow_inner_raise": 1.4, "brow_raise": 1.2, "brow_lower": 0.8, "eye_wide": 1.5, "lip_stretch": 2.0,
                              "frown": 0.3},
                             pitch_deg=-3.0, head_motion_gain=0.8),
    # AU9 + AU10 (+ AU6, AU15, AU17): nose wrinkled, upper lip raised, cheeks pushed up, brows a little down
    "disgusted": EmotionPreset({"nose_wrinkle": 1.8, "upper_lip_raise": 1.5, "cheek_raise": 0.6, "brow_lower": 0.5, "eye_squint": 0.6,
                                "frown": 0.6},
                               pitch_deg=2.0, head_motion_gain=0.9),
    # unilateral AU12/AU14: one corner up and back, the other side not smiling; lids a little lowered, chin up
    "contempt": EmotionPreset({"smile_right": 1.8, "lip_press": 0.4, "eye_squint": 0.25, "brow_raise": 0.2},
                              pitch_deg=5.0, eyelid_baseline=0.15, head_motion_gain=0.8),
}

EMOTION_NAMES: tuple[str, ...] = tuple(EMOTIONS)
