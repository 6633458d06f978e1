"""A shaded FLAME mesh preview of a motion (numpy + OpenCV only), to show next to the generated video.

Orthographic front camera fixed from the neutral template, so head motion shows as motion; flat Lambert shading
with a head-on light, back faces culled, triangles painted far-to-near.  Identity is FLAME's mean head (shape 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from flap.flame.layer import flame_forward
from flap.flame.model import FlameModel
from flap.flame.params import motion_to_flame_params
from flap.motion.representation import MotionSequence


@dataclass(frozen=True)
class PreviewStyle:
    background: tuple[int, int, int] = (28, 30, 34)
    skin: tuple[int, int, int] = (196, 178, 165)
    eyes: tuple[int, int, int] = (60, 62, 70)
    ambient: float = 0.25
    light: tuple[float, float, float] = (0.25, 0.35, 1.0)
    fill: float = 0.9  # share of the frame the head's height takes
    batch: int = 32  # frames posed per forward pass


def _camera(model: FlameModel, size: int, style: PreviewStyle) -> tuple[np.ndarray, float]:
    skin = ~np.isin(model.vertex_joint(), (3, 4))
    v = model.v_template[skin]
    lo, hi = v.min(axis=0), v.max(axis=0)
    center = (lo + hi) / 2
    scale = style.fill * size / max(float(np.max(hi[:2] - lo[:2])), 1e-9)
    return center, scale


def _orientation(model: FlameModel) -> float:
    """+1 if the faces wind counter-clockwise seen from outside (signed volume > 0), else -1."""
    tri = model.v_template[model.faces]
    volume = np.einsum("fc,fc->f", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()
    return 1.0 if volume >= 0 else -1.0


def render_vertices(vertices: np.ndarray, model: FlameModel, size: int = 256, style: PreviewStyle = PreviewStyle(),
                    camera: tuple[np.ndarray, float] | None = None, orientation: float | None = None) -> np.ndarray:
    """One (size, size, 3) uint8 RGB frame of posed vertices (V, 3)."""
    center, scale = camera or _camera(model, size, style)
    orientation = _orientation(model) if orientation is None else orientation
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = style.background
    tri = vertices[model.faces]  # (F, 3, 3)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]) * orientation
    norm = np.linalg.norm(normals, axis=1)
    facing = (normals[:, 2] > 0) & (norm > 0)
    ids = np.nonzero(facing)[0]
    if ids.size == 0:
        return image
    light = np.asarray(style.light, dtype=np.float64)
    light /= np.linalg.norm(light)
    shade = style.ambient + (1 - style.ambient) * np.clip((normals[ids] @ light) / norm[ids], 0, 1)
    is_eye = np.isin(model.vertex_joint()[model.faces[ids, 0]], (3, 4))
    base = np.where(is_eye[:, None], np.asarray(style.eyes, float), np.asarray(style.skin, float))
    colors = np.clip(base * shade[:, None], 0, 255).astype(np.int32)
    shift = 4  # sub-pixel precision for smoother edges
    xy = np.empty(tri[ids].shape[:2] + (2,))
    xy[..., 0] = size / 2 + scale * (tri[ids, :, 0] - center[0])
    xy[..., 1] = size / 2 - scale * (tri[ids, :, 1] - center[1])
    pts = np.round(xy * (1 << shift)).astype(np.int32)
    order = np.argsort(tri[ids, :, 2].mean(axis=1))  # far to near
    for k in order:
        cv2.fillConvexPoly(image, pts[k], colors[k].tolist(), lineType=cv2.LINE_8, shift=shift)
    return image


def render_mesh_preview(motion: MotionSequence, model: FlameModel, size: int = 256,
                        style: PreviewStyle = PreviewStyle()) -> Iterator[np.ndarray]:
    """Yield one shaded (size, size, 3) uint8 RGB frame per motion frame: pose, jaw, gaze, expression (and eyelids
    when the model has eyelid blendshapes).  Translation and zoom are not shown."""
    params = motion_to_flame_params(motion)
    camera = _camera(model, size, style)
    orientation = _orientation(model)
    for start in range(0, motion.num_frames, style.batch):
        part = {k: v[start : start + style.batch] for k, v in params.items()}
        vertices = flame_forward(model, expression=part["expression"], global_pose=part["global_pose"],
                                 neck_pose=part["neck_pose"], jaw_pose=part["jaw_pose"], eye_pose=part["eye_pose"],
                                 eyelids=part["eyelids"])
        for frame in vertices:
            yield render_vertices(frame, model, size, style, camera, orientation)


def beside(video_frame: np.ndarray, preview_frame: np.ndarray) -> np.ndarray:
    """The video frame with the preview scaled to its height on the right (both RGB uint8); widths kept even for H.264."""
    h = video_frame.shape[0]
    if preview_frame.shape[0] != h:
        preview_frame = cv2.resize(preview_frame, (h, h), interpolation=cv2.INTER_AREA)
    out = np.concatenate([video_frame, preview_frame], axis=1)
    return out[:, : out.shape[1] // 2 * 2]
