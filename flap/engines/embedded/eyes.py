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

from flap.engines.embedded.eyes_kernel import turn_eye
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
    mid_top: float  # the upper lid's middle landmark across the axis
    mid_bottom: float  # the lower lid's

    @property
    def frame(self) -> np.ndarray:
        """What eyes_kernel.turn_eye reads: corner, axis, width, iris centre (u, v) and radius."""
        return np.array([*self.corner, *self.axis, self.width, self.iris_u, self.iris_v, self.radius])


def eye_models(landmarks_xy: np.ndarray) -> list[Eye]:
    """Each eye's axis, iris and opening in the photo."""
    out = []
    for upper, lower, iris in _EYES:
        a, b = landmarks_xy[upper[0]], landmarks_xy[upper[-1]]
        if a[0] > b[0]:
            a, b = b, a
        a = a.astype(np.float64)
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
                       np.maximum(tops[0], bottoms[0]), float(uv(landmarks_xy[upper[len(upper) // 2]])[1]),
                       float(uv(landmarks_xy[lower[len(lower) // 2]])[1])))
    return out


def _lid_cover(eye: Eye, posed_xy: np.ndarray, corners: tuple[int, int], upper_mid: int, lower_mid: int) -> tuple[float, float]:
    """How far each lid has come over the eye (shares of the opening at its middle, >= 0), against the eye's
    corners, which lids do not move: the posed lid middles carried back to the photo by the similarity of the
    corners, across the axis, against the photo's own."""
    a, b = posed_xy[corners[0]], posed_xy[corners[1]]
    if a[0] > b[0]:
        a, b = b, a
    d = b - a
    length2 = float(d[0] * d[0] + d[1] * d[1])
    if length2 < 1e-6:
        return 0.0, 0.0
    scale = eye.width / np.sqrt(length2)

    def across(p):
        r = p - a
        return float((d[0] * r[1] - d[1] * r[0])) / np.sqrt(length2) * scale

    gap = max(eye.mid_bottom - eye.mid_top, 1e-6)
    return (max((across(posed_xy[upper_mid]) - eye.mid_top) / gap, 0.0),
            max((eye.mid_bottom - across(posed_xy[lower_mid])) / gap, 0.0))


_MIDDLES = [((upper[0], upper[-1]), upper[len(upper) // 2], lower[len(lower) // 2]) for upper, lower, _ in _EYES]
_CONTOURS = [np.array(list(upper) + list(lower[1:-1][::-1])) for upper, lower, _ in _EYES]


def turn_eyes(map_x: np.ndarray, map_y: np.ndarray, origin: tuple[int, int], posed_xy: np.ndarray, eyes: list[Eye]) -> None:
    """Move each eye's content within its posed opening, in place: where the map (photo pixels per output pixel,
    its top-left at ``origin``) samples the un-turned eye, it samples the eye turned so that the iris centre lands
    on its posed landmark.  (Scalars in plain Python: this runs twice a frame.)"""
    x0, y0 = origin
    h, w = map_x.shape
    for (_, _, iris), ids, middle, eye in zip(_EYES, _CONTOURS, _MIDDLES, eyes):
        contour = posed_xy[ids] - (x0, y0)
        (cx0, cy0), (cx1, cy1) = contour.min(axis=0), contour.max(axis=0)
        lx, ly = max(int(cx0), 0), max(int(cy0), 0)
        hx, hy = min(int(cx1) + 2, w), min(int(cy1) + 2, h)
        px, py = float(posed_xy[iris[0], 0] - x0), float(posed_xy[iris[0], 1] - y0)
        if hx - lx < 2 or hy - ly < 2 or not (0 <= px < w - 1 and 0 <= py < h - 1):
            continue
        # where the un-turned eye would show at the posed iris centre: the turn moves the iris there
        ix, iy = int(px), int(py)
        fx, fy = px - ix, py - iy

        def sample(m):
            return ((1 - fy) * ((1 - fx) * float(m[iy, ix]) + fx * float(m[iy, ix + 1]))
                    + fy * ((1 - fx) * float(m[iy + 1, ix]) + fx * float(m[iy + 1, ix + 1])))

        ax, ay = sample(map_x) - eye.corner[0], sample(map_y) - eye.corner[1]
        ex, ey = float(eye.axis[0]), float(eye.axis[1])
        du = ax * ex + ay * ey - eye.iris_u
        dv = -ax * ey + ay * ex - eye.iris_v
        left, right = max(eye.iris_u - eye.radius, 0.0), max(eye.width - eye.iris_u - eye.radius, 0.0)
        du = min(max(du, -(1 - _KEEP_WHITE) * left), (1 - _KEEP_WHITE) * right)
        cover_top, cover_bottom = _lid_cover(eye, posed_xy, *middle)
        if abs(du) < 0.05 and abs(dv) < 0.05 and cover_top + cover_bottom < 0.05:
            continue
        mask = np.zeros((hy - ly, hx - lx), np.uint8)
        cv2.fillPoly(mask, [np.round((contour - (lx, ly)) * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
        turn_eye(map_x, map_y, mask, lx, ly, eye.frame, np.array([du, dv, _ACROSS, left, right, cover_top, cover_bottom]), eye.lid_top, eye.lid_bottom)
