"""ARKit's 52 blendshape curves <-> FLAP motion (named controls, jaw, eyelids, gaze, head rotation).

ARKit's "Left"/"Right" are the subject's left/right, as FLAP's are.  Values are in [0, 1].  The scales that turn
curves into angles are in :class:`ArkitMapping` (documented in docs/flame.md); export is the exact inverse for
everything that has a counterpart, so import(export(m)) gives back m's jaw opening, eyelids, gaze, head rotation
and named controls (clipped to [0, 1]).  FLAME expression coefficients have no ARKit counterpart and are not exported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flap.motion.representation import CONTROL_INDEX, MotionSequence
from flap.motion.rotations import euler_to_axis_angle, gaze_to_matrix, matrix_to_euler, matrix_to_rotation_6d

#: The 52 names in Apple's order (ARFaceAnchor.BlendShapeLocation documentation: left eye, right eye, mouth and
#: jaw, eyebrows, cheeks, nose, tongue).
ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight",
    "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
ARKIT_INDEX = {name: i for i, name in enumerate(ARKIT_NAMES)}
_LOWER_INDEX = {name.lower(): i for i, name in enumerate(ARKIT_NAMES)}

#: Live Link Face's column order (Unreal's EARFaceBlendShape): Apple's, except jawRight/jawLeft and
#: mouthRight/mouthLeft swap places; names are PascalCase.
LIVE_LINK_FACE_ORDER: tuple[str, ...] = tuple(
    n for n in ARKIT_NAMES[:15]) + ("jawRight", "jawLeft", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker",
                                    "mouthRight", "mouthLeft") + ARKIT_NAMES[23:]
LIVE_LINK_FACE_NAMES: tuple[str, ...] = tuple(n[0].upper() + n[1:] for n in LIVE_LINK_FACE_ORDER)
LIVE_LINK_FACE_ROTATIONS: tuple[str, ...] = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                                             "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
#: EmoTalk and several other generators write the 52 columns alphabetically.
ALPHABETICAL_ORDER: tuple[str, ...] = tuple(sorted(ARKIT_NAMES))

#: (ARKit names averaged) -> FLAP named control.
CONTROL_SOURCES: dict[str, tuple[str, ...]] = {
    "smile_left": ("mouthSmileLeft",),
    "smile_right": ("mouthSmileRight",),
    "frown": ("mouthFrownLeft", "mouthFrownRight"),
    "lip_stretch": ("mouthStretchLeft", "mouthStretchRight"),
    "lip_pucker": ("mouthPucker",),
    "lip_funnel": ("mouthFunnel",),
    "upper_lip_raise": ("mouthUpperUpLeft", "mouthUpperUpRight"),
    "lower_lip_down": ("mouthLowerDownLeft", "mouthLowerDownRight"),
    "lower_lip_tuck": ("mouthRollLower",),
    "cheek_raise": ("cheekSquintLeft", "cheekSquintRight"),
    "brow_raise": ("browOuterUpLeft", "browOuterUpRight"),
    "brow_inner_raise": ("browInnerUp",),
    "brow_lower": ("browDownLeft", "browDownRight"),
    "eye_wide": ("eyeWideLeft", "eyeWideRight"),
    "eye_squint": ("eyeSquintLeft", "eyeSquintRight"),
    "nose_wrinkle": ("noseSneerLeft", "noseSneerRight"),
}
#: lip_press takes the larger of mouthClose and the mean of mouthPressLeft/Right.
PRESS_SOURCES = ("mouthPressLeft", "mouthPressRight")
UNMAPPED = ("jawForward", "mouthLeft", "mouthRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthRollUpper",
            "mouthShrugLower", "mouthShrugUpper", "cheekPuff", "tongueOut")


@dataclass(frozen=True)
class ArkitMapping:
    """Scales between curve values and angles.

    jaw_open_rad: jawOpen = 1 opens the FLAME jaw by this many radians (0.35 rad = 20 degrees, a wide-open mouth).
    jaw_side_rad: jawLeft/jawRight = 1 turns the jaw this much about the vertical axis.
    eye_yaw_deg / eye_pitch_deg: eyeLookIn/Out = 1 and eyeLookUp/Down = 1 in degrees of eyeball rotation.
    rotation_unit_deg: Live Link Face's HeadYaw/Pitch/Roll and eye rotation columns are normalised; 1 = 90 degrees.
    """

    jaw_open_rad: float = 0.35
    jaw_side_rad: float = 0.1
    eye_yaw_deg: float = 30.0
    eye_pitch_deg: float = 25.0
    rotation_unit_deg: float = 90.0


def lookup_name(name: str) -> int | None:
    """Index in ARKIT_NAMES for a name in any case style (EyeBlinkLeft, eyeBlinkLeft, eyeblinkleft, eye_blink_left)."""
    key = name.strip().rsplit("/", 1)[-1].lower()
    for short, long in (("_l", "left"), ("_r", "right"), (".l", "left"), (".r", "right")):
        if key.endswith(short):
            key = key[: -len(short)] + long
    key = key.replace("_", "").replace(" ", "").replace("-", "")
    return _LOWER_INDEX.get(key)


def reorder(curves: np.ndarray, order: tuple[str, ...]) -> np.ndarray:
    """(T, 52) columns in ``order`` -> ARKIT_NAMES order."""
    out = np.zeros_like(curves)
    for j, name in enumerate(order):
        out[:, ARKIT_INDEX[name[0].lower() + name[1:]]] = curves[:, j]
    return out


def _pair_correlation(curves: np.ndarray, order: tuple[str, ...]) -> float:
    """Mean correlation of the left/right pairs if the columns were in ``order`` (real data moves pairs together)."""
    index = {n: i for i, n in enumerate(order)}
    scores = []
    for name in order:
        if name.endswith("Left"):
            partner = name[:-4] + "Right"
            a, b = curves[:, index[name]], curves[:, index[partner]]
            if a.std() > 1e-6 and b.std() > 1e-6:
                scores.append(float(np.corrcoef(a, b)[0, 1]))
    return float(np.mean(scores)) if scores else 0.0


def guess_column_order(curves: np.ndarray) -> tuple[str, tuple[str, ...], float, float]:
    """For an unnamed (T, 52) array: ('apple' | 'alphabetical', order, score, other score)."""
    apple = _pair_correlation(curves, ARKIT_NAMES)
    alpha = _pair_correlation(curves, ALPHABETICAL_ORDER)
    if alpha > apple:
        return "alphabetical", ALPHABETICAL_ORDER, alpha, apple
    return "apple", ARKIT_NAMES, apple, alpha


def _col(curves: np.ndarray, *names: str) -> np.ndarray:
    return curves[:, [ARKIT_INDEX[n] for n in names]].mean(axis=1)


def arkit_to_motion(curves: np.ndarray, fps: float, head_rotation_deg: np.ndarray | None = None,
                    eye_rotation_deg: np.ndarray | None = None, mapping: ArkitMapping = ArkitMapping(),
                    meta: dict | None = None) -> MotionSequence:
    """(T, 52) curves in ARKIT_NAMES order -> MotionSequence.

    head_rotation_deg: optional (T, 3) yaw, pitch, roll in FLAP's user convention (degrees).
    eye_rotation_deg: optional (T, 2, 2) (left, right) x (yaw, pitch) degrees; without it gaze comes from eyeLook*.
    """
    curves = np.clip(np.asarray(curves, dtype=np.float64), 0.0, 1.0)
    if curves.ndim != 2 or curves.shape[1] != len(ARKIT_NAMES):
        raise ValueError(f"ARKit curves must be (frames, 52); got {curves.shape}")
    t = curves.shape[0]
    motion = MotionSequence.neutral(t, fps, meta)
    controls = np.zeros_like(motion.controls)
    for control, sources in CONTROL_SOURCES.items():
        controls[:, CONTROL_INDEX[control]] = _col(curves, *sources)
    controls[:, CONTROL_INDEX["lip_press"]] = np.maximum(curves[:, ARKIT_INDEX["mouthClose"]], _col(curves, *PRESS_SOURCES))

    jaw = np.zeros((t, 3))
    jaw[:, 0] = mapping.jaw_open_rad * curves[:, ARKIT_INDEX["jawOpen"]]
    # jawLeft moves the chin toward the subject's left (+x): a positive turn about +y.
    jaw[:, 1] = mapping.jaw_side_rad * (curves[:, ARKIT_INDEX["jawLeft"]] - curves[:, ARKIT_INDEX["jawRight"]])
    eyelids = curves[:, [ARKIT_INDEX["eyeBlinkLeft"], ARKIT_INDEX["eyeBlinkRight"]]]

    if eye_rotation_deg is None:
        pitch = mapping.eye_pitch_deg * (curves[:, [ARKIT_INDEX["eyeLookUpLeft"], ARKIT_INDEX["eyeLookUpRight"]]]
                                         - curves[:, [ARKIT_INDEX["eyeLookDownLeft"], ARKIT_INDEX["eyeLookDownRight"]]])
        # Toward the image's right (+x) is "out" for the left eye and "in" for the right eye.
        yaw_left = curves[:, ARKIT_INDEX["eyeLookOutLeft"]] - curves[:, ARKIT_INDEX["eyeLookInLeft"]]
        yaw_right = curves[:, ARKIT_INDEX["eyeLookInRight"]] - curves[:, ARKIT_INDEX["eyeLookOutRight"]]
        yaw = mapping.eye_yaw_deg * np.stack([yaw_left, yaw_right], axis=1)
    else:
        eye_rotation_deg = np.asarray(eye_rotation_deg, dtype=np.float64)
        yaw, pitch = eye_rotation_deg[..., 0], eye_rotation_deg[..., 1]
    eyes = matrix_to_rotation_6d(gaze_to_matrix(yaw, pitch)).reshape(t, 12)

    global_rotation = motion.global_rotation
    if head_rotation_deg is not None:
        head = np.asarray(head_rotation_deg, dtype=np.float64)
        global_rotation = euler_to_axis_angle(head[:, 0], head[:, 1], head[:, 2])
    return motion.replace(controls=controls, jaw=jaw, eyelids=eyelids, eyes=eyes, global_rotation=global_rotation)


def eye_angles_deg(motion: MotionSequence) -> np.ndarray:
    """(T, 2, 3) per-eye (yaw, pitch, roll) degrees, left eye first."""
    return matrix_to_euler(motion.eye_matrices())


def motion_to_arkit(motion: MotionSequence, mapping: ArkitMapping = ArkitMapping()) -> np.ndarray:
    """(T, 52) curves in ARKIT_NAMES order, in [0, 1]: the inverse of :func:`arkit_to_motion`."""
    t = motion.num_frames
    out = np.zeros((t, len(ARKIT_NAMES)))
    c = motion.controls

    def put(names: tuple[str, ...], values: np.ndarray) -> None:
        for name in names:
            out[:, ARKIT_INDEX[name]] = values

    for control, sources in CONTROL_SOURCES.items():
        put(sources, c[:, CONTROL_INDEX[control]])
    put(PRESS_SOURCES, c[:, CONTROL_INDEX["lip_press"]])
    out[:, ARKIT_INDEX["jawOpen"]] = motion.jaw[:, 0] / mapping.jaw_open_rad
    side = motion.jaw[:, 1] / mapping.jaw_side_rad
    out[:, ARKIT_INDEX["jawLeft"]] = np.maximum(side, 0)
    out[:, ARKIT_INDEX["jawRight"]] = np.maximum(-side, 0)
    out[:, ARKIT_INDEX["eyeBlinkLeft"]] = motion.eyelids[:, 0]
    out[:, ARKIT_INDEX["eyeBlinkRight"]] = motion.eyelids[:, 1]
    angles = eye_angles_deg(motion)
    yaw, pitch = angles[..., 0] / mapping.eye_yaw_deg, angles[..., 1] / mapping.eye_pitch_deg
    out[:, ARKIT_INDEX["eyeLookOutLeft"]] = np.maximum(yaw[:, 0], 0)
    out[:, ARKIT_INDEX["eyeLookInLeft"]] = np.maximum(-yaw[:, 0], 0)
    out[:, ARKIT_INDEX["eyeLookInRight"]] = np.maximum(yaw[:, 1], 0)
    out[:, ARKIT_INDEX["eyeLookOutRight"]] = np.maximum(-yaw[:, 1], 0)
    for side_i, suffix in ((0, "Left"), (1, "Right")):
        out[:, ARKIT_INDEX["eyeLookUp" + suffix]] = np.maximum(pitch[:, side_i], 0)
        out[:, ARKIT_INDEX["eyeLookDown" + suffix]] = np.maximum(-pitch[:, side_i], 0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
