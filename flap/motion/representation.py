"""The motion contract: one typed, per-frame structure that every generator, importer and engine speaks.

Its fields map one-to-one onto FLAP's 120-D condition layout (head rotation 3, eyes 12, jaw 3, eyelids 2,
expression 100) plus placement (translation, scale) and the project's named expression controls, which the
embedded engine renders when FLAME's expression basis is not available.  docs/motion-format.md is the reference
for every key, unit and axis.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterable

import numpy as np

from flap.errors import MotionFormatError
from flap.io.partial import part_path
from flap.motion.rotations import (
    IDENTITY_6D,
    axis_angle_to_euler,
    axis_angle_to_matrix,
    matrix_to_quaternion,
    quaternion_to_axis_angle,
    rotation_6d_to_matrix,
    matrix_to_rotation_6d,
)

FORMAT_NAME = "flap-motion"
FORMAT_VERSION = 1

NUM_FLAME_EXPRESSION = 100

#: Named expression controls: non-negative activations, 1 = a full, natural-size movement (ARKit-like).
CONTROL_NAMES: tuple[str, ...] = (
    "smile_left",  # mouth corner up and back, subject's left
    "smile_right",
    "frown",  # mouth corners down
    "lip_stretch",  # lips spread sideways ("ee")
    "lip_pucker",  # lips pushed forward and narrowed ("oo", kiss)
    "lip_funnel",  # lips rounded and flared open ("oh")
    "lip_press",  # lips pressed together (p, b, m)
    "upper_lip_raise",  # upper lip lifted (disgust, "f")
    "lower_lip_down",  # lower lip pulled down showing lower teeth
    "lower_lip_tuck",  # lower lip rolled in under the upper teeth (f, v)
    "cheek_raise",  # cheeks lifted, lower lids pushed up (Duchenne smile)
    "brow_raise",  # whole brow up
    "brow_inner_raise",  # inner brow up (sadness, worry)
    "brow_lower",  # brows down and together (anger, concentration)
    "eye_wide",  # upper lids raised
    "eye_squint",  # lids narrowed
    "nose_wrinkle",  # nose sneer
)
CONTROL_INDEX = {name: i for i, name in enumerate(CONTROL_NAMES)}
NUM_CONTROLS = len(CONTROL_NAMES)

#: How a motion is fitted to a longer length: hold the last frame, loop it, or trim (leave it shorter).
FIT_MODES: tuple[str, ...] = ("hold", "loop", "trim")

#: Per-frame array fields and their trailing shapes.
ARRAY_FIELDS: dict[str, tuple[int, ...]] = {
    "global_rotation": (3,),
    "eyes": (12,),
    "jaw": (3,),
    "eyelids": (2,),
    "expression": (NUM_FLAME_EXPRESSION,),
    "translation": (3,),
    "scale": (),
    "controls": (NUM_CONTROLS,),
}

#: FLAP's per-frame condition: its fields in column order (widths from ARRAY_FIELDS: 3 + 12 + 3 + 2 + 100 = 120).
CONDITION_FIELDS: tuple[str, ...] = ("global_rotation", "eyes", "jaw", "eyelids", "expression")


def _condition_layout(names: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    layout, start = {}, 0
    for name in names:
        width = int(np.prod(ARRAY_FIELDS[name]))
        layout[name] = (start, start + width)
        start += width
    return layout


#: Field name -> (start, stop) columns of the condition.
CONDITION_LAYOUT: dict[str, tuple[int, int]] = _condition_layout(CONDITION_FIELDS)
CONDITION_DIM = CONDITION_LAYOUT[CONDITION_FIELDS[-1]][1]
#: Columns of the condition that carry head motion; the rest (eyes, jaw, eyelids, expression) is the model's
#: "expression" branch (its decoupled cross-attention), a wider sense than the 100 FLAME expression coefficients.
HEAD_MOTION_COLUMNS = slice(*CONDITION_LAYOUT["global_rotation"])
EXPRESSION_COLUMNS = slice(HEAD_MOTION_COLUMNS.stop, CONDITION_DIM)

MAX_ABS_ROTATION_RAD = np.pi  # any axis-angle beyond this is not a head pose


@dataclass(eq=False)
class MotionSequence:
    """Per-frame motion at ``fps`` frames per second.  All arrays have ``num_frames`` rows.

    global_rotation: (T, 3) head rotation, axis-angle radians, FLAME camera axes (+x image right, +y up,
        +z toward the camera).  Relative to a frontal, upright head.
    eyes: (T, 12) eyeball rotations relative to the head, 6D (pytorch3d convention), subject's left eye first
        (FLAME joint order: left eye, right eye).
    jaw: (T, 3) jaw rotation, axis-angle radians (FLAME jaw joint); +x opens the mouth.
    eyelids: (T, 2) eyelid closure in [0, 1], subject's left then right (0 open, 1 closed).
    expression: (T, 100) FLAME expression coefficients (zeros when the source has none).
    translation: (T, 3) head translation in metres in camera axes, relative to the portrait's head position.
    scale: (T,) zoom factor relative to the portrait (1 = unchanged).
    controls: (T, 17) named expression controls, ``CONTROL_NAMES`` order, >= 0, 1 = full natural movement.
    meta: free JSON-serialisable description (source, generator, seed, ...).

    ``==`` is identity (comparing arrays has no single truth value); compare values with ``allclose``.
    """

    fps: float
    global_rotation: np.ndarray
    eyes: np.ndarray
    jaw: np.ndarray
    eyelids: np.ndarray
    expression: np.ndarray
    translation: np.ndarray
    scale: np.ndarray
    controls: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ARRAY_FIELDS:
            setattr(self, name, _float32(name, getattr(self, name)))
        try:
            self.fps = float(self.fps)
        except (TypeError, ValueError):
            raise MotionFormatError(f"fps must be a number; got {self.fps!r}") from None
        self.validate()

    # ------------------------------------------------------------------ construction
    @classmethod
    def neutral(cls, num_frames: int, fps: float = 25.0, meta: dict | None = None) -> "MotionSequence":
        """A still, frontal, neutral head with open eyes looking at the camera."""
        t = int(num_frames)
        return cls(
            fps=fps,
            global_rotation=np.zeros((t, 3)),
            eyes=np.tile(np.concatenate([IDENTITY_6D, IDENTITY_6D]), (t, 1)),
            jaw=np.zeros((t, 3)),
            eyelids=np.zeros((t, 2)),
            expression=np.zeros((t, NUM_FLAME_EXPRESSION)),
            translation=np.zeros((t, 3)),
            scale=np.ones((t,)),
            controls=np.zeros((t, NUM_CONTROLS)),
            meta=dict(meta or {}),
        )

    @classmethod
    def from_condition(cls, condition: np.ndarray, fps: float, meta: dict | None = None) -> "MotionSequence":
        """Build from FLAP's (T, 120) condition; placement and named controls are neutral."""
        condition = np.asarray(condition, dtype=np.float32)
        if condition.ndim != 2 or condition.shape[1] != CONDITION_DIM:
            raise MotionFormatError(f"a FLAP condition must have shape (frames, {CONDITION_DIM}); got {condition.shape}")
        motion = cls.neutral(condition.shape[0], fps, meta)
        updates = {name: condition[:, a:b] for name, (a, b) in CONDITION_LAYOUT.items()}
        return motion.replace(**updates)

    # ------------------------------------------------------------------ basic properties
    @property
    def num_frames(self) -> int:
        return int(self.global_rotation.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def has_flame_expression(self) -> bool:
        return bool(np.any(self.expression != 0))

    def replace(self, **changes) -> "MotionSequence":
        """A copy with some fields changed (arrays are copied, never shared)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(changes)
        for name in ARRAY_FIELDS:
            data[name] = _float32(name, data[name], copy=True)
        data["meta"] = dict(data["meta"])
        return MotionSequence(**data)

    def allclose(self, other: "MotionSequence", rtol: float = 1e-5, atol: float = 1e-6) -> bool:
        """Same frame rate and length, and every per-frame array equal within tolerance (``meta`` is not compared:
        it describes where a motion came from, not the motion)."""
        if not isinstance(other, MotionSequence):
            return False
        if self.num_frames != other.num_frames or not np.isclose(self.fps, other.fps, rtol=rtol, atol=atol):
            return False
        return all(np.allclose(getattr(self, name), getattr(other, name), rtol=rtol, atol=atol) for name in ARRAY_FIELDS)

    def control(self, name: str) -> np.ndarray:
        return self.controls[:, CONTROL_INDEX[name]]

    def head_euler_degrees(self) -> np.ndarray:
        """(T, 3) yaw, pitch, roll in the user-facing degree convention (see flap.motion.rotations)."""
        return axis_angle_to_euler(self.global_rotation).astype(np.float32)

    def jaw_opening(self) -> np.ndarray:
        """(T,) jaw opening angle in radians (rotation about +x)."""
        return self.jaw[:, 0]

    def eye_matrices(self) -> np.ndarray:
        """(T, 2, 3, 3) eyeball rotation matrices, left eye first."""
        return rotation_6d_to_matrix(self.eyes.reshape(-1, 2, 6))

    def to_condition(self) -> np.ndarray:
        """FLAP's (T, 120) float32 condition."""
        out = np.zeros((self.num_frames, CONDITION_DIM), dtype=np.float32)
        for name, (a, b) in CONDITION_LAYOUT.items():
            out[:, a:b] = getattr(self, name)
        return out

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        if not np.isfinite(self.fps) or not (1.0 <= self.fps <= 240.0):
            raise MotionFormatError(f"fps must be between 1 and 240; got {self.fps}")
        num_frames = None
        for name, tail in ARRAY_FIELDS.items():
            value = getattr(self, name)
            if value.ndim != 1 + len(tail) or value.shape[1:] != tail:
                raise MotionFormatError(f"'{name}' must have shape (frames, {', '.join(map(str, tail))}); got {value.shape}".replace(", )", ")"))
            if num_frames is None:
                num_frames = value.shape[0]
            elif value.shape[0] != num_frames:
                raise MotionFormatError(f"'{name}' has {value.shape[0]} frames but 'global_rotation' has {num_frames}")
            bad = ~np.isfinite(value)
            if bad.any():
                frame = int(np.argwhere(bad)[0][0])
                raise MotionFormatError(f"'{name}' contains NaN or Inf (first at frame {frame})")
        if num_frames == 0:
            raise MotionFormatError("the motion has no frames")
        if np.abs(self.global_rotation).max(initial=0) > MAX_ABS_ROTATION_RAD + 1e-4:
            raise MotionFormatError("'global_rotation' has angles beyond pi radians: are they degrees? They must be axis-angle radians")
        if np.abs(self.jaw).max(initial=0) > 1.0:
            raise MotionFormatError("'jaw' rotation beyond 1 radian (57 degrees): are the values degrees? They must be axis-angle radians")
        if np.any(self.scale <= 0):
            raise MotionFormatError("'scale' must be positive")

    # ------------------------------------------------------------------ time
    def resample(self, fps: float) -> "MotionSequence":
        """Resample to a new frame rate (linear for values, quaternion slerp-free nlerp for rotations)."""
        fps = float(fps)
        if abs(fps - self.fps) < 1e-6:
            return self.replace()
        n_out = max(1, int(round(self.duration * fps)))
        src_t = np.arange(self.num_frames) / self.fps
        dst_t = np.arange(n_out) / fps
        pos = np.clip(np.interp(dst_t, src_t, np.arange(self.num_frames)), 0, self.num_frames - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, self.num_frames - 1)
        w = (pos - lo)[:, None]

        def lerp(a: np.ndarray) -> np.ndarray:
            flat = a.reshape(a.shape[0], -1)
            return ((1 - w) * flat[lo] + w * flat[hi]).reshape((n_out,) + a.shape[1:])

        def rot_interp(rotvec: np.ndarray) -> np.ndarray:
            q = matrix_to_quaternion(axis_angle_to_matrix(rotvec))
            q_hi = q[hi]
            q_hi = np.where(np.sum(q[lo] * q_hi, -1, keepdims=True) < 0, -q_hi, q_hi)
            mixed = (1 - w) * q[lo] + w * q_hi
            mixed /= np.linalg.norm(mixed, axis=-1, keepdims=True)
            return quaternion_to_axis_angle(mixed)

        eyes = rotation_6d_to_matrix(lerp(self.eyes).reshape(n_out, 2, 6))
        return self.replace(
            fps=fps,
            global_rotation=rot_interp(self.global_rotation),
            jaw=rot_interp(self.jaw),
            eyes=matrix_to_rotation_6d(eyes).reshape(n_out, 12),
            eyelids=lerp(self.eyelids),
            expression=lerp(self.expression),
            translation=lerp(self.translation),
            scale=lerp(self.scale[:, None])[:, 0],
            controls=lerp(self.controls),
        )

    def take(self, frame_indices: Iterable[int]) -> "MotionSequence":
        idx = np.asarray(list(frame_indices) if not isinstance(frame_indices, np.ndarray) else frame_indices, dtype=int)
        if idx.size == 0:
            raise MotionFormatError("cannot take zero frames from a motion")
        return self.replace(**{name: getattr(self, name)[idx] for name in ARRAY_FIELDS})

    def fit_to_length(self, num_frames: int, mode: str = FIT_MODES[0]) -> "MotionSequence":
        """Trim, or extend by holding the last frame ('hold') or repeating the sequence ('loop')."""
        num_frames = int(num_frames)
        if num_frames <= 0:
            raise MotionFormatError("the target length must be at least one frame")
        if mode not in FIT_MODES:
            raise MotionFormatError(f"unknown fit mode '{mode}': use {', '.join(FIT_MODES)}")
        if num_frames <= self.num_frames or mode == "trim":
            return self.take(np.arange(min(num_frames, self.num_frames)))
        if mode == "hold":
            idx = np.minimum(np.arange(num_frames), self.num_frames - 1)
        else:
            idx = np.arange(num_frames) % self.num_frames
        return self.take(idx)

    @staticmethod
    def concatenate(parts: list["MotionSequence"]) -> "MotionSequence":
        if not parts:
            raise MotionFormatError("nothing to concatenate")
        fps = parts[0].fps
        if any(abs(p.fps - fps) > 1e-6 for p in parts):
            raise MotionFormatError("cannot concatenate motions of different frame rates")
        return parts[0].replace(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in ARRAY_FIELDS})

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write the documented .npz (see docs/motion-format.md).  Written atomically: no half files.  Checked
        first, as ``load`` will check it: a sequence changed in place after it was built cannot write a file that
        ``load`` refuses."""
        checked = self.replace()  # validated again: fields may have been set or edited in place since
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = part_path(path)
        payload = {name: getattr(checked, name) for name in ARRAY_FIELDS}
        payload.update(
            format=np.array(FORMAT_NAME),
            version=np.array(FORMAT_VERSION),
            fps=np.array(checked.fps, dtype=np.float32),
            control_names=np.array(CONTROL_NAMES),
            condition=checked.to_condition(),
            meta=np.array(json.dumps(checked.meta, default=str)),
        )
        try:
            np.savez_compressed(tmp, **payload)
            os.replace(tmp, path)
        finally:  # a full disk or an interrupt leaves no partial file
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MotionSequence":
        """Read a FLAP motion .npz, with clear errors for anything else."""
        path = Path(path)
        if not path.exists():
            raise MotionFormatError(f"motion file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except Exception as exc:  # zipfile, pickle refusal, truncated file
            raise MotionFormatError(f"{path.name} is not a readable .npz file ({type(exc).__name__}: {exc})") from exc
        return cls.from_arrays(arrays, source=path.name)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], source: str = "arrays") -> "MotionSequence":
        """Build from a dict in the .npz layout (missing optional fields become neutral)."""
        fmt = str(arrays.get("format", ""))
        if fmt and fmt != FORMAT_NAME:
            raise MotionFormatError(f"{source}: format '{fmt}' is not '{FORMAT_NAME}'")
        version = int(arrays.get("version", FORMAT_VERSION))
        if version > FORMAT_VERSION:
            raise MotionFormatError(f"{source}: motion format version {version} is newer than this FLAP ({FORMAT_VERSION}); update FLAP")
        if "global_rotation" not in arrays:
            raise MotionFormatError(f"{source}: no 'global_rotation' array: this is not a FLAP motion file (for other FLAME layouts use the importer)")
        if "fps" not in arrays:
            raise MotionFormatError(f"{source}: no 'fps' entry")
        try:
            num_frames = int(np.asarray(arrays["global_rotation"]).shape[0])
        except IndexError as exc:
            raise MotionFormatError(f"{source}: 'global_rotation' must be a (frames, 3) array") from exc
        base = cls.neutral(max(num_frames, 1), float(np.asarray(arrays["fps"])))
        values = {}
        for name in ARRAY_FIELDS:
            if name in arrays:
                values[name] = np.asarray(arrays[name])
            else:
                values[name] = getattr(base, name)
        if "controls" in arrays and "control_names" in arrays:
            values["controls"] = _controls_by_name(np.asarray(arrays["controls"]), [str(n) for n in arrays["control_names"]], source)
        meta = {}
        if "meta" in arrays:
            try:
                meta = json.loads(str(arrays["meta"]))
            except json.JSONDecodeError:
                meta = {"meta_text": str(arrays["meta"])}
        for name, value in values.items():
            if value.dtype.kind not in "fiub":
                raise MotionFormatError(f"{source}: '{name}' must be numeric; got dtype {value.dtype}")
        try:
            return cls(fps=float(np.asarray(arrays["fps"])), meta=meta, **{k: v.astype(np.float32) for k, v in values.items()})
        except MotionFormatError as exc:
            raise MotionFormatError(f"{source}: {exc}") from exc


def _float32(name: str, value, copy: bool = False) -> np.ndarray:
    """A field as float32 (copied when asked), or a clear error for ragged lists and text."""
    try:
        return np.array(value, dtype=np.float32, copy=True) if copy else np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise MotionFormatError(f"'{name}' must be an array of numbers ({exc})") from None


def _controls_by_name(controls: np.ndarray, names: list[str], source: str) -> np.ndarray:
    """Map a file's named control columns onto this version's vocabulary (unknown names are dropped)."""
    if controls.ndim != 2 or controls.shape[1] != len(names):
        raise MotionFormatError(f"{source}: 'controls' has {controls.shape} but {len(names)} control names")
    out = np.zeros((controls.shape[0], NUM_CONTROLS), dtype=np.float32)
    for j, name in enumerate(names):
        if name in CONTROL_INDEX:
            out[:, CONTROL_INDEX[name]] = controls[:, j]
    return out
