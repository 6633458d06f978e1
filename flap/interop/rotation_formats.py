"""Rotation arrays as files store them -> rotation matrices, with the representation told apart by shape.

Per joint: 3 values = axis-angle (radians), 4 = quaternion (w, x, y, z), 6 = 6D (pytorch3d: first two rows),
9 or (3, 3) = matrix.  Degrees are recognised by range (an axis-angle beyond pi, or beyond ``max_plausible``
for the joint) and refused unless the caller says the file uses degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flap.errors import MotionFormatError
from flap.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle, rotation_6d_to_matrix

WIDTH_NAMES = {3: "axis-angle", 4: "quaternion (w, x, y, z)", 6: "6D (two matrix rows)", 9: "rotation matrix"}


@dataclass
class ParsedRotation:
    matrices: np.ndarray  # (T, joints, 3, 3)
    representation: str
    converted_from_degrees: bool = False


def _quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm < 1e-6):
        raise ValueError("zero-length quaternion")
    w, x, y, z = np.moveaxis(q / norm, -1, 0)
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1).reshape(q.shape[:-1] + (3, 3))


def parse_rotation(array: np.ndarray, key: str, joints: int, source: str, max_plausible_rad: float = np.pi,
                   angle_unit: str = "auto", widths: tuple[int, ...] = (3, 4, 6, 9)) -> ParsedRotation:
    """(T, joints * width) or (T, joints, width) or (T, [joints,] 3, 3) -> ParsedRotation."""
    a = np.asarray(array, dtype=np.float64)
    t = a.shape[0]
    if a.ndim >= 3 and a.shape[-2:] == (3, 3):
        per_joint = a.reshape(t, -1, 9)
    elif a.ndim == 3:
        per_joint = a
    elif a.ndim == 2 and a.shape[1] % joints == 0:
        per_joint = a.reshape(t, joints, a.shape[1] // joints)
    else:
        raise MotionFormatError(f"{source}: '{key}' has shape {a.shape}; expected (frames, {joints} x 3 axis-angle) "
                                f"or 6D / quaternion / matrix per joint")
    width = per_joint.shape[2]
    if per_joint.shape[1] != joints or width not in widths:
        allowed = ", ".join(f"{joints * w} ({WIDTH_NAMES[w]})" for w in widths)
        raise MotionFormatError(f"{source}: '{key}' has shape {a.shape}; expected (frames, n) with n one of: {allowed}")
    converted = False
    if width == 3:
        angle = np.linalg.norm(per_joint, axis=-1)
        biggest = float(angle.max(initial=0.0))
        if angle_unit == "degrees":
            per_joint = np.deg2rad(per_joint)
            converted = True
        elif biggest > max_plausible_rad + 1e-4:
            where = int(np.unravel_index(np.argmax(angle), angle.shape)[0])
            raise MotionFormatError(
                f"{source}: '{key}' has a rotation of {biggest:.3g} (frame {where}), beyond {max_plausible_rad:.2f} radians: "
                f"are the values degrees? FLAME poses are axis-angle radians; re-export in radians or import with "
                f"angle_unit='degrees'")
        matrices = axis_angle_to_matrix(per_joint)
    elif width == 4:
        try:
            matrices = _quaternion_to_matrix(per_joint)
        except ValueError as exc:
            raise MotionFormatError(f"{source}: '{key}' has a zero-length quaternion") from exc
    elif width == 6:
        a1, a2 = per_joint[..., :3], per_joint[..., 3:]
        if np.any(np.linalg.norm(a1, axis=-1) < 1e-6) or np.any(np.linalg.norm(np.cross(a1, a2), axis=-1) < 1e-6):
            raise MotionFormatError(f"{source}: '{key}' is not a valid 6D rotation (rows of zero length or parallel)")
        matrices = rotation_6d_to_matrix(per_joint)
    else:
        m = per_joint.reshape(t, joints, 3, 3)
        u, _, vt = np.linalg.svd(m)
        matrices = u @ vt
        if np.any(np.linalg.det(matrices) < 0) or np.abs(matrices - m).max(initial=0) > 0.05:
            raise MotionFormatError(f"{source}: '{key}' holds 3x3 matrices that are not rotations")
    return ParsedRotation(matrices, WIDTH_NAMES[width], converted)


def to_axis_angle(matrices: np.ndarray) -> np.ndarray:
    return matrix_to_axis_angle(matrices)
