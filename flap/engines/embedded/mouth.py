"""A believable mouth interior for an opened mouth: dark cavity, upper teeth, a hint of lower teeth and tongue.

Painted in the mouth's own frame (corner to corner), so it follows head roll and lip shape; colours are taken
from the person's lips and skin so it sits in the photo's lighting.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flap.face import landmark_groups as G


@dataclass(frozen=True)
class MouthStyle:
    cavity: np.ndarray  # RGB float
    teeth: np.ndarray
    tongue: np.ndarray


def mouth_style(crop: np.ndarray, landmarks: np.ndarray) -> MouthStyle:
    """Colours from the portrait: lip tone for the cavity and tongue, skin brightness for the teeth."""
    pts = landmarks[:, :2]
    lips = np.array([pts[i] for i in G.LOWER_OUTER_LIP[2:-2]] + [pts[i] for i in G.LOWER_INNER_LIP[2:-2]])
    lip_colour = _sample(crop, lips)
    cheeks = np.array([pts[i] for i in (50, 280, 101, 330, 205, 425)])
    skin = _sample(crop, cheeks)
    light = float(np.clip(skin.mean() / 170.0, 0.45, 1.2))
    cavity = np.clip(lip_colour * 0.2 + np.array([14.0, 3.0, 4.0]), 0, 255) * min(light, 1.0)
    # Teeth sit in the mouth's shadow: a warm off-white tinted by the skin and dimmer than the face.
    teeth = np.clip((0.35 * skin + 0.65 * np.array([228.0, 220.0, 200.0])) * 0.8 * light, 50, 225)
    tongue = np.clip(lip_colour * 0.7 + np.array([15.0, -5.0, -5.0]), 0, 255) * min(light, 1.0)
    return MouthStyle(cavity=cavity, teeth=teeth, tongue=tongue)


def _sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    xs = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
    ys = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
    return np.median(image[ys, xs].astype(np.float64), axis=0)


def paint_mouth(frame: np.ndarray, upper_inner: np.ndarray, lower_inner: np.ndarray, style: MouthStyle,
                strength: float = 1.0) -> None:
    """Paint the interior between the inner lip contours (corner to corner, (11, 2) each) into ``frame`` in place."""
    if strength <= 0.0:
        return
    right, left = upper_inner[0], upper_inner[-1]
    axis = left - right
    width = float(np.linalg.norm(axis))
    if width < 2.0:
        return
    e_u = axis / width
    e_v = np.array([-e_u[1], e_u[0]])  # image y grows downward: e_v points from the upper to the lower lip
    centre = (left + right) / 2
    half = width / 2

    def local(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = points - centre
        return rel @ e_u / half, rel @ e_v

    uu, vu = local(upper_inner)
    ul, vl = local(lower_inner)
    gap_profile = np.interp(np.linspace(-0.6, 0.6, 7), ul, vl) - np.interp(np.linspace(-0.6, 0.6, 7), uu, vu)
    opening = float(gap_profile.max())
    if opening < 1.0:
        return
    polygon = np.concatenate([upper_inner, lower_inner[1:-1][::-1]])
    h, w = frame.shape[:2]
    x0, y0 = np.floor(polygon.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    shift = 4
    poly = np.round((polygon - [x0, y0]) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(mask, [poly], 255, lineType=cv2.LINE_AA, shift=shift)
    alpha = mask.astype(np.float32) / 255.0 * strength

    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1)
    un, v = local(pts)
    order_u = np.argsort(uu)
    order_l = np.argsort(ul)
    top = np.interp(un, uu[order_u], vu[order_u])
    bottom = np.interp(un, ul[order_l], vl[order_l])
    gap = np.maximum(bottom - top, 1e-3)
    t = np.clip((v - top) / gap, 0.0, 1.0)
    edge = np.clip(1.0 - np.abs(un), 0.0, 1.0)

    shade = (1.0 - 0.55 * np.sin(np.pi * t)) * (0.55 + 0.45 * np.sqrt(edge))
    colour = style.cavity[None, :] * shade[:, None]

    # Tongue: a soft ellipse resting on the floor of the mouth, seen when the mouth is well open.
    tongue_vis = np.clip((opening / width - 0.18) / 0.2, 0.0, 1.0)
    if tongue_vis > 0:
        du = un / 0.6
        dv = (v - (bottom - 0.18 * gap)) / (0.32 * gap)
        blob = np.clip(1.0 - (du**2 + dv**2), 0.0, 1.0) ** 0.5 * tongue_vis
        colour = colour * (1 - blob[:, None]) + (style.tongue[None, :] * (0.6 + 0.4 * (1 - t))[:, None]) * blob[:, None]

    # Upper teeth: a band under the upper lip, widest in the middle and fading toward the corners.
    across = np.clip(1.0 - (np.abs(un) / 0.72) ** 3, 0.0, 1.0)
    teeth_height = np.minimum(0.11 * width, 0.42 * gap) * across
    depth_into = v - top
    soft = max(1.0, 0.012 * width)
    upper_teeth = np.clip((teeth_height - depth_into) / soft, 0.0, 1.0) * np.clip(across * 3.0, 0.0, 1.0)
    separations = 1.0 - 0.06 * np.exp(-(((np.abs(un) % 0.2) - 0.1) ** 2) / (2 * 0.015**2)) * (np.abs(un) > 0.05)
    tooth_shade = (0.55 + 0.45 * across) * (1.0 - 0.25 * np.clip(depth_into / np.maximum(teeth_height, 1e-3), 0, 1))
    teeth_colour = style.teeth[None, :] * (tooth_shade * separations)[:, None]
    colour = colour * (1 - upper_teeth[:, None]) + teeth_colour * upper_teeth[:, None]

    # Lower teeth: a thin band above the lower lip in the middle, when the mouth is open enough.
    lower_vis = np.clip((opening / width - 0.16) / 0.15, 0.0, 1.0) * 0.8
    if lower_vis > 0:
        low_across = np.clip(1.0 - (np.abs(un) / 0.5) ** 2, 0.0, 1.0)
        low_height = 0.05 * width * low_across
        above_lip = bottom - v
        lower_teeth = np.clip((low_height - above_lip) / soft, 0.0, 1.0) * lower_vis * (above_lip >= 0) * low_across
        colour = colour * (1 - lower_teeth[:, None]) + (style.teeth[None, :] * 0.7) * lower_teeth[:, None]

    roi = frame[y0:y1, x0:x1].astype(np.float32)
    painted = colour.reshape(roi.shape).astype(np.float32)
    blur = max(0.5, 0.006 * width)  # match the photo's softness; no hard synthetic edges
    painted = cv2.GaussianBlur(painted, (0, 0), blur)
    a = alpha[:, :, None]
    frame[y0:y1, x0:x1] = np.clip(roi * (1 - a) + painted * a, 0, 255).astype(np.uint8)
