"""Rotation conversions used by the motion contract (numpy only, batched over leading axes).

Conventions (documented in docs/motion-format.md):
- Axes are FLAME's camera frame: +x to the image's right (the subject's left), +y up, +z out of the face toward the camera.
- Axis-angle vectors are in radians (FLAME's pose parameters).
- 6D rotations follow pytorch3d's ``matrix_to_rotation_6d``: the first two *rows* of the matrix, flattened.
- User-facing Euler angles are degrees: yaw > 0 turns the face toward the image's right, pitch > 0 lifts the chin,
  roll > 0 tilts the top of the head toward the image's right (clockwise on screen).
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-8


def axis_angle_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues' formula: (..., 3) axis-angle -> (..., 3, 3) rotation matrices."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    axis = rotvec / np.maximum(angle, _EPS)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zeros = np.zeros_like(x)
    skew = np.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], axis=-1).reshape(rotvec.shape[:-1] + (3, 3))
    a = angle[..., None]
    eye = np.broadcast_to(np.eye(3), skew.shape)
    return eye + np.sin(a) * skew + (1.0 - np.cos(a)) * (skew @ skew)


def matrix_to_axis_angle(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, stable near 0 and pi."""
    matrix = np.asarray(matrix, dtype=np.float64)
    quat = matrix_to_quaternion(matrix)
    return quaternion_to_axis_angle(quat)


def matrix_to_quaternion(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z) with w >= 0."""
    m = np.asarray(matrix, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    candidates = np.stack(
        [
            np.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 1, 0] + m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0]], -1),
            np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1], 1 - m00 + m11 - m22, m[..., 2, 1] + m[..., 1, 2]], -1),
            np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 2, 1] + m[..., 1, 2], 1 - m00 - m11 + m22], -1),
        ],
        axis=-2,
    )
    diag = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = np.argmax(diag, axis=-1)
    quat = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    quat = quat / np.linalg.norm(quat, axis=-1, keepdims=True)
    return np.where(quat[..., :1] < 0, -quat, quat)


def quaternion_to_axis_angle(quat: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z) -> (..., 3) axis-angle."""
    quat = np.asarray(quat, dtype=np.float64)
    quat = np.where(quat[..., :1] < 0, -quat, quat)
    vec = quat[..., 1:]
    sin_half = np.linalg.norm(vec, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, quat[..., :1])
    scale = np.where(sin_half > _EPS, angle / np.maximum(sin_half, _EPS), 2.0)
    return vec * scale


def matrix_to_rotation_6d(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 6): first two rows, as pytorch3d does."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return matrix[..., :2, :].reshape(matrix.shape[:-2] + (6,))


def rotation_6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt, as pytorch3d does."""
    d6 = np.asarray(d6, dtype=np.float64)
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), _EPS)
    b2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = b2 / np.maximum(np.linalg.norm(b2, axis=-1, keepdims=True), _EPS)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-2)


def _rot_x(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(a.shape + (3, 3))


def _rot_y(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(a.shape + (3, 3))


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(a.shape + (3, 3))


def euler_to_matrix(yaw_deg, pitch_deg, roll_deg) -> np.ndarray:
    """User-facing degrees -> rotation matrix R = Ry(yaw) Rx(-pitch) Rz(-roll) in FLAME axes."""
    yaw = np.deg2rad(np.asarray(yaw_deg, dtype=np.float64))
    pitch = np.deg2rad(np.asarray(pitch_deg, dtype=np.float64))
    roll = np.deg2rad(np.asarray(roll_deg, dtype=np.float64))
    yaw, pitch, roll = np.broadcast_arrays(yaw, pitch, roll)
    return _rot_y(yaw) @ _rot_x(-pitch) @ _rot_z(-roll)


def matrix_to_euler(matrix: np.ndarray) -> np.ndarray:
    """Inverse of :func:`euler_to_matrix`: (..., 3, 3) -> (..., 3) degrees as (yaw, pitch, roll)."""
    m = np.asarray(matrix, dtype=np.float64)
    # R = Ry(y) Rx(p') Rz(r') with p' = -pitch, r' = -roll.  Then m[1,2] = -sin(p').
    p_prime = np.arcsin(np.clip(-m[..., 1, 2], -1.0, 1.0))
    yaw = np.arctan2(m[..., 0, 2], m[..., 2, 2])
    r_prime = np.arctan2(m[..., 1, 0], m[..., 1, 1])
    return np.rad2deg(np.stack([yaw, -p_prime, -r_prime], axis=-1))


def euler_to_axis_angle(yaw_deg, pitch_deg, roll_deg) -> np.ndarray:
    return matrix_to_axis_angle(euler_to_matrix(yaw_deg, pitch_deg, roll_deg))


def axis_angle_to_euler(rotvec: np.ndarray) -> np.ndarray:
    return matrix_to_euler(axis_angle_to_matrix(rotvec))


def gaze_to_matrix(gaze_yaw_deg, gaze_pitch_deg) -> np.ndarray:
    """Eyeball rotation looking toward the image's right (yaw > 0) and up (pitch > 0), relative to the head."""
    return euler_to_matrix(gaze_yaw_deg, gaze_pitch_deg, np.zeros_like(np.asarray(gaze_yaw_deg, dtype=np.float64)))


IDENTITY_6D = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
