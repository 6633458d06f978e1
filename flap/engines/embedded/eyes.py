"""Gaze as the eyeball turning under the lids: inside each eye opening the iris slides as a rigid disc and the
white on either side of it stretches or narrows, sampled from the photo's own eye opening only.

Warping the iris with mesh triangles (the iris landmarks inside the opening's triangulation) stretched the iris
into streaks, folded it into zebra stripes at a gaze of 20-30 degrees and pulled lid skin into the eye.  The
mesh triangulates each opening by its contour alone; this module moves the eye's content within the map.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flap.face import landmark_groups as G

_EYES = ((G.LEFT_EYE_UPPER, G.LEFT_EYE_LOWER, G.LEFT_IRIS), (G.RIGHT_EYE_UPPER, G.RIGHT_EYE_LOWER, G.RIGHT_IRIS))
_ACROSS = 0.35  # share of an up or down turn the iris shows (the lids follow it, covering the same part of it)
_KEEP_WHITE = 0.25  # the white beside the iris keeps at least this share of its width (the iris stops short of the corner)


@dataclass(frozen=True)
class Eye:
    corner: np.ndarray  # (2,) one corner (photo pixels), the origin of the eye's axis
    axis: np.ndarray  # (2,) unit vector to the other corner
    width: float  # corner to corner (pixels)
    iris_u: float  # the iris centre along the axis
    iris_v: float  # ... and across it
    radius: float  # the iris's radius (pixels)
    lid_u: np.ndarray  # (K,) along the axis
    lid_top: np.ndarray  # (K,) the opening's upper edge across the axis (v grows downward in the image)
    lid_bottom: np.ndarray  # (K,) its lower edge


def eye_models(landmarks_xy: np.ndarray) -> list[Eye]:
    """Each eye's axis, iris and opening in the photo."""
    out = []
    for upper, lower, iris in _EYES:
        a, b = landmarks_xy[upper[0]], landmarks_xy[upper[-1]]
        if a[0] > b[0]:
            a, b = b, a
        width = float(np.linalg.norm(b - a))
        e = (b - a) / max(width, 1e-6)
        n = np.array([-e[1], e[0]])

        def uv(p):
            return (p - a) @ e, (p - a) @ n

        iu, iv = uv(landmarks_xy[iris[0]])
        radius = float(np.mean(np.linalg.norm(landmarks_xy[list(iris[1:])] - landmarks_xy[iris[0]], axis=1)))
        k = np.linspace(0.0, width, 24)
        tops, bottoms = [], []
        for ids in (upper, lower):
            pu, pv = uv(landmarks_xy[list(ids)])
            order = np.argsort(pu)
            (tops if ids is upper else bottoms).append(np.interp(k, pu[order], pv[order]))
        out.append(Eye(a, e, width, float(iu), float(iv), min(radius, 0.3 * width), k, np.minimum(tops[0], bottoms[0]),
                       np.maximum(tops[0], bottoms[0])))
    return out


def turn_eyes(map_x: np.ndarray, map_y: np.ndarray, origin: tuple[int, int], posed_xy: np.ndarray, eyes: list[Eye]) -> None:
    """Move each eye's content within its posed opening, in place: where the map (photo pixels per output pixel,
    its top-left at ``origin``) samples the un-turned eye, it samples the eye turned so that the iris centre lands
    on its posed landmark."""
    x0, y0 = origin
    h, w = map_x.shape
    for (upper, lower, iris), eye in zip(_EYES, eyes):
        contour = posed_xy[list(upper) + list(lower[1:-1][::-1])]
        lo = np.maximum(np.floor(contour.min(axis=0)).astype(int) - (x0, y0), 0)
        hi = np.minimum(np.ceil(contour.max(axis=0)).astype(int) + 1 - (x0, y0), (w, h))
        if np.any(hi - lo < 2):
            continue
        px, py = posed_xy[iris[0]] - (x0, y0)
        if not (0 <= px < w - 1 and 0 <= py < h - 1):
            continue
        # where the un-turned eye would show at the posed iris centre: the turn moves the iris there
        ix, iy = int(px), int(py)
        fx, fy = px - ix, py - iy
        at = np.array([(map_x[iy:iy + 2, ix:ix + 2] * [[(1 - fx) * (1 - fy), fx * (1 - fy)], [(1 - fx) * fy, fx * fy]]).sum(),
                       (map_y[iy:iy + 2, ix:ix + 2] * [[(1 - fx) * (1 - fy), fx * (1 - fy)], [(1 - fx) * fy, fx * fy]]).sum()])
        n = np.array([-eye.axis[1], eye.axis[0]])
        du = float((at - eye.corner) @ eye.axis) - eye.iris_u
        dv = float((at - eye.corner) @ n) - eye.iris_v
        left, right = eye.iris_u - eye.radius, eye.width - eye.iris_u - eye.radius
        du = float(np.clip(du, -(1 - _KEEP_WHITE) * max(left, 0.0), (1 - _KEEP_WHITE) * max(right, 0.0)))
        if abs(du) < 0.05 and abs(dv) < 0.05:
            continue
        mask = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.uint8)
        cv2.fillPoly(mask, [np.round((contour - (x0, y0) - lo) * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
        rows, cols = np.nonzero(mask)
        alpha = mask[rows, cols] / 255.0  # the opening's edge blends (a hard edge shows the pixel steps at 3x)
        rows, cols = rows + lo[1], cols + lo[0]
        q = np.stack([map_x[rows, cols], map_y[rows, cols]], axis=1).astype(np.float64) - eye.corner
        u, v = q @ eye.axis, q @ n
        # the inverse of the turn along the axis: the iris moves rigidly, the white either side scales
        start, end = eye.iris_u - eye.radius + du, eye.iris_u + eye.radius + du
        src_u = np.where(u < start, u * max(left, 1e-6) / max(start, 1e-6),
                         np.where(u > end, eye.iris_u + eye.radius + (u - end) * max(right, 1e-6) / max(eye.width - end, 1e-6),
                                  u - du))
        src_u = np.clip(src_u, 0.0, eye.width)
        # across the axis the iris disc moves by dv (its part under a lid stays there: a lid follows the eye up and
        # down), fading out over a radius around it
        off = np.hypot(u - (eye.iris_u + du), v - (eye.iris_v + dv))
        reach = np.clip(1.0 - (off - 0.6 * eye.radius) / max(eye.radius, 1e-6), 0.0, 1.0)
        src_v = v - _ACROSS * dv * reach * reach * (3 - 2 * reach)
        top, bottom = np.interp(src_u, eye.lid_u, eye.lid_top), np.interp(src_u, eye.lid_u, eye.lid_bottom)
        src_v = np.clip(src_v, np.minimum(top + 0.5, bottom), np.maximum(bottom - 0.5, top))
        src = eye.corner + src_u[:, None] * eye.axis + src_v[:, None] * n
        map_x[rows, cols] += alpha * (src[:, 0] - map_x[rows, cols])
        map_y[rows, cols] += alpha * (src[:, 1] - map_y[rows, cols])
