"""Canonical face geometry (MediaPipe, Apache-2.0) and head pose from landmarks by weighted Procrustes."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from flap.assets import CANONICAL_FACE_OBJ, FACE_GEOMETRY_METADATA
from flap.motion.rotations import matrix_to_euler


@dataclass(frozen=True)
class CanonicalFace:
    vertices: np.ndarray  # (468, 3) centimetres, x image-right, y up, z toward the camera
    faces: np.ndarray  # (898, 3)
    procrustes_ids: np.ndarray  # landmarks MediaPipe trusts for pose (rigid under expressions)
    procrustes_weights: np.ndarray


@functools.lru_cache(maxsize=1)
def canonical_face() -> CanonicalFace:
    vertices, faces = [], []
    for line in CANONICAL_FACE_OBJ.read_text().splitlines():
        if line.startswith("v "):
            vertices.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("f "):
            faces.append([int(tok.split("/")[0]) - 1 for tok in line.split()[1:4]])
    text = FACE_GEOMETRY_METADATA.read_text()
    pairs = re.findall(r"landmark_id:\s*(\d+)\s+weight:\s*([0-9.eE+-]+)", text)
    ids = np.array([int(i) for i, _ in pairs])
    weights = np.array([float(w) for _, w in pairs])
    return CanonicalFace(np.array(vertices, dtype=np.float64), np.array(faces, dtype=np.int32), ids, weights)


@dataclass(frozen=True)
class HeadPose:
    """x_camera = scale * rotation @ x_head + translation, in pixel units with +y up and +z toward the camera."""

    rotation: np.ndarray  # (3, 3)
    scale: float  # pixels per centimetre
    translation: np.ndarray  # (3,)
    residual: float  # RMS fit error in centimetres

    @property
    def euler_degrees(self) -> np.ndarray:
        """(yaw, pitch, roll) in the user-facing convention."""
        return matrix_to_euler(self.rotation)

    def to_head(self, points_camera: np.ndarray) -> np.ndarray:
        return (points_camera - self.translation) @ self.rotation / self.scale

    def to_camera(self, points_head: np.ndarray) -> np.ndarray:
        return self.scale * points_head @ self.rotation.T + self.translation


def image_to_camera(landmarks_px: np.ndarray) -> np.ndarray:
    """Landmarks as (x right, y down, z away from camera) pixels -> (x right, y up, z toward camera)."""
    out = np.asarray(landmarks_px, dtype=np.float64).copy()
    out[..., 1] *= -1.0
    out[..., 2] *= -1.0
    return out


def camera_to_image(points: np.ndarray) -> np.ndarray:
    return image_to_camera(points)  # the flip is its own inverse


def estimate_pose(landmarks_px: np.ndarray) -> HeadPose:
    """Weighted similarity Procrustes of the canonical face onto (468+, 3) pixel landmarks (MediaPipe layout)."""
    face = canonical_face()
    target = image_to_camera(landmarks_px[: len(face.vertices)])[face.procrustes_ids]
    source = face.vertices[face.procrustes_ids]
    w = face.procrustes_weights / face.procrustes_weights.sum()
    mu_s = w @ source
    mu_t = w @ target
    xs = source - mu_s
    xt = target - mu_t
    cov = (xt * w[:, None]).T @ xs
    u, sing, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, 1.0, d])
    rotation = u @ fix @ vt
    var_s = np.sum(w * np.sum(xs**2, axis=1))
    scale = float(np.sum(sing * np.diag(fix)) / var_s)
    translation = mu_t - scale * rotation @ mu_s
    fitted = scale * source @ rotation.T + translation
    residual = float(np.sqrt(np.sum(w * np.sum((fitted - target) ** 2, axis=1))) / scale)
    return HeadPose(rotation, scale, translation, residual)
