"""User controls, applied on top of any motion (generated, imported or loaded) in the same way for every engine."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Union

import numpy as np

from flap.errors import ControlRangeError
from flap.motion.blinks import blink_curve
from flap.motion.emotions import EMOTIONS, EMOTION_NAMES
from flap.motion.representation import CONTROL_INDEX, MotionSequence
from flap.motion.rotations import (
    axis_angle_to_matrix,
    euler_to_matrix,
    gaze_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
)
from flap.parameters import checked, declare

GAZE_PRESETS: dict[str, tuple[float, float]] = {
    "forward": (0.0, 0.0),
    "left": (-20.0, 0.0),
    "right": (20.0, 0.0),
    "up": (0.0, 12.0),
    "down": (0.0, -12.0),
}
#: Allowed fixed gaze angles (degrees, relative to the head).
GAZE_RANGES: dict[str, tuple[float, float]] = {"gaze_yaw": (-30.0, 30.0), "gaze_pitch": (-20.0, 20.0)}

#: Named controls that the lips use to speak: 'mouth' scales them with the jaw; 'expression' scales the rest.
SPEECH_CONTROLS: tuple[str, ...] = ("lip_stretch", "lip_pucker", "lip_funnel", "lip_press", "upper_lip_raise",
                                    "lower_lip_down", "lower_lip_tuck")
_SPEECH_MASK = np.array([name in SPEECH_CONTROLS for name in CONTROL_INDEX])
_JAW_LIMIT_RAD = (-0.05, 0.55)

Gaze = Union[None, str, tuple[float, float]]


def parse_gaze(gaze: Gaze) -> Gaze:
    """Accept None, 'camera', a preset name, 'x,y' text or a pair of degrees; reject anything else clearly."""
    if gaze is None or (isinstance(gaze, str) and gaze.strip().lower() in ("", "none", "natural", "auto")):
        return None
    if isinstance(gaze, str):
        text = gaze.strip().lower()
        if text == "camera":
            return "camera"
        if text in GAZE_PRESETS:
            return GAZE_PRESETS[text]
        parts = text.replace(";", ",").split(",")
        if len(parts) != 2:
            raise ControlRangeError(f"gaze must be 'camera', one of {', '.join(GAZE_PRESETS)}, or 'yaw,pitch' in degrees; got '{gaze}'")
        gaze = parts
    try:
        gy, gp = (float(v) for v in gaze)
    except (TypeError, ValueError):
        raise ControlRangeError(f"gaze must be two numbers (yaw, pitch) in degrees; got {gaze!r}") from None
    for name, value in (("gaze_yaw", gy), ("gaze_pitch", gp)):
        lo, hi = GAZE_RANGES[name]
        if not np.isfinite(value) or not lo <= value <= hi:
            raise ControlRangeError(f"{name} must be between {lo:g} and {hi:g} degrees; got {value:g}")
    return (gy, gp)


@dataclass(frozen=True)
class MotionControls:
    """What the user asks for; the defaults leave a motion unchanged.  Each field declares its label, help and
    allowed values once (flap.parameters): the CLI's options, the page's sliders and the API are built from them.

    gaze: None keeps the motion's own eye movement; "camera" keeps the eyes on the camera whatever the head does;
    a preset name from GAZE_PRESETS or (yaw, pitch) degrees fixes the gaze relative to the head.
    blink_rate: None keeps the motion's own blinks; a number (per minute) replaces them.
    """

    yaw: float = declare(0.0, label="Yaw (°)", help="degrees, + turns toward the image's right", range=(-30.0, 30.0), step=1)
    pitch: float = declare(0.0, label="Pitch (°)", help="degrees, + lifts the chin", range=(-25.0, 25.0), step=1)
    roll: float = declare(0.0, label="Roll (°)", help="degrees, + tilts clockwise on screen", range=(-25.0, 25.0), step=1)
    motion_scale: float = declare(1.0, label="Head motion", help="head-motion amount: 0 fixed pose, 1 natural, 2 lively",
                                  range=(0.0, 2.0), step=0.05)
    mouth: float = declare(1.0, label="Mouth", help="how wide the lips move with speech: 0 closed, 1 natural, 2 wide",
                           range=(0.0, 2.0), step=0.05)
    expression: float = declare(1.0, label="Expression", help="expressiveness of the rest of the face (emotion, brows, "
                                "smile, cheeks): 0 calm, 1 natural, 2 strong", range=(0.0, 2.0), step=0.05)
    emotion: str = declare("neutral", label="Emotion", help="emotion preset", choices=EMOTION_NAMES)
    emotion_strength: float = declare(0.7, label="Emotion strength", help="how strongly the emotion shows",
                                      range=(0.0, 1.0), step=0.05)
    blink_rate: float | None = declare(None, label="Blinks per minute", help="blinks per minute; default: natural "
                                       "blinks in the speech's pauses", range=(0.0, 60.0), step=1, suggested=15)
    gaze: Gaze = declare(None, label="Gaze", help="camera | " + " | ".join(GAZE_PRESETS) + " | 'yaw,pitch' degrees; "
                         "default: the motion's own", parse=parse_gaze)

    def validated(self) -> "MotionControls":
        """A checked copy (numbers as floats, emotion lower-case, gaze parsed); ControlRangeError names the control
        and its allowed values.  ``self`` is left as it was."""
        return checked(self)

    def as_dict(self) -> dict:
        return asdict(self)


def _mean_rotation(matrices: np.ndarray) -> np.ndarray:
    """Chordal L2 mean of rotation matrices (projected back onto SO(3))."""
    u, _, vt = np.linalg.svd(matrices.mean(axis=0))
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1
        r = u @ vt
    return r


def apply_controls(motion: MotionSequence, controls: MotionControls, seed: int = 0,
                   pause_starts_s: np.ndarray | None = None, about_mean: bool = True) -> MotionSequence:
    """Return a new motion with the controls applied; ``motion`` is left untouched.

    Order: the head motion is taken relative to the clip's mean pose and scaled by the head-motion amount; the
    yaw/pitch/roll controls then set the average pose (relative to the photo); ``mouth`` scales how far the lips
    move with speech (jaw and the speech lip shapes), ``expression`` the rest of the face (FLAME expression,
    smile, brows, cheeks, and the emotion preset), so expression 0 is a calm face that still speaks; blinks are regenerated if a rate is
    given; gaze last.  ``about_mean=False`` takes the head motion relative to the frontal pose instead of the
    clip's mean: for motion that is centred already and arrives a few frames at a time (flap.live).
    """
    controls = controls.validated()
    emotion = EMOTIONS[controls.emotion]
    strength = controls.emotion_strength if controls.emotion != "neutral" else 0.0

    # Head pose: scale deviations from the mean pose, then rotate by the requested offset (camera axes).
    rotations = axis_angle_to_matrix(motion.global_rotation)
    mean = _mean_rotation(rotations) if about_mean else np.eye(3)
    gain = controls.motion_scale * (1.0 + strength * (emotion.head_motion_gain - 1.0))
    deviation = matrix_to_axis_angle(mean.T @ rotations) * gain
    offset = euler_to_matrix(controls.yaw, controls.pitch + strength * emotion.pitch_deg, controls.roll)
    new_rotations = offset @ axis_angle_to_matrix(deviation)
    translation = gain * (motion.translation - (motion.translation.mean(axis=0) if about_mean else 0.0))
    scale = 1.0 + gain * (motion.scale - (motion.scale.mean() if about_mean else 1.0))

    # The mouth amount scales speech (jaw, lip shapes); expression scales the rest of the face and the emotion.
    intensity = controls.expression
    face_strength = strength * intensity
    jaw = motion.jaw * controls.mouth
    jaw[:, 0] = np.clip(jaw[:, 0] + face_strength * emotion.jaw_rad, *_JAW_LIMIT_RAD)
    expression = motion.expression * intensity
    per_control = np.where(_SPEECH_MASK, controls.mouth, intensity)
    named = motion.controls * per_control[None, :] + face_strength * emotion.control_vector()[None, :]
    # Smiles and pouts oppose each other: a strong smile flattens speech puckers a little.
    smile = named[:, [CONTROL_INDEX["smile_left"], CONTROL_INDEX["smile_right"]]].mean(axis=1)
    named[:, CONTROL_INDEX["lip_pucker"]] *= 1.0 - 0.5 * np.clip(smile, 0, 1)
    named = np.clip(named, 0.0, 2.0)

    eyelids = motion.eyelids
    if controls.blink_rate is not None:
        blinks = blink_curve(motion.num_frames, motion.fps, controls.blink_rate, seed, pause_starts_s=pause_starts_s)
        eyelids = np.repeat(blinks[:, None], 2, axis=1)
    eyelids = np.clip(eyelids + strength * emotion.eyelid_baseline * (1.0 - eyelids), 0.0, 1.0)

    eyes = motion.eyes
    if controls.gaze == "camera":
        # Counter-rotate the eyes so they keep looking down the camera axis, within the eyes' natural range.
        head_inverse = np.swapaxes(new_rotations, -1, -2)
        eye_rot = matrix_to_rotation_6d(head_inverse)
        eyes = np.concatenate([eye_rot, eye_rot], axis=1)
    elif controls.gaze is not None:
        gaze = matrix_to_rotation_6d(gaze_to_matrix(*controls.gaze))
        eyes = np.tile(np.concatenate([gaze, gaze]), (motion.num_frames, 1))

    meta = dict(motion.meta)
    meta["controls"] = controls.as_dict()
    return motion.replace(
        global_rotation=matrix_to_axis_angle(new_rotations),
        translation=translation,
        scale=scale,
        jaw=jaw,
        expression=expression,
        controls=named,
        eyelids=eyelids,
        eyes=eyes,
        meta=meta,
    )
