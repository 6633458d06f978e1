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
    cavity = np.clip(lip_colour * 0.3 + np.array([22.0, 5.0, 6.0]), 0, 255) * min(light, 1.0)
    # Teeth sit in the mouth's shadow: a warm off-white tinted by the skin and dimmer than the face.
    teeth = np.clip((0.35 * skin + 0.65 * np.array([228.0, 220.0, 200.0])) * 0.8 * light, 50, 225)
    own = _visible_teeth(crop, pts)
    if own is not None:  # the photo shows teeth: use their colour
        teeth = 0.8 * own + 0.2 * teeth
    tongue = np.clip(lip_colour * 0.7 + np.array([15.0, -5.0, -5.0]), 0, 255) * min(light, 1.0)
    return MouthStyle(cavity=cavity, teeth=teeth, tongue=tongue)


@dataclass(frozen=True)
class SourceMouth:
    """The photo's own open mouth: its teeth are reused, attached to the upper lip, instead of stretched."""

    image: np.ndarray
    upper: np.ndarray  # (11, 2) inner upper lip, corner to corner
    lower: np.ndarray


def source_mouth(crop: np.ndarray, landmarks: np.ndarray, min_opening: float = 0.06) -> SourceMouth | None:
    pts = landmarks[:, :2]
    upper, lower = pts[list(G.UPPER_INNER_LIP)], pts[list(G.LOWER_INNER_LIP)]
    width = np.linalg.norm(upper[-1] - upper[0])
    if width < 4 or np.max(np.linalg.norm(lower - upper, axis=1)) / width < min_opening:
        return None
    return SourceMouth(image=crop, upper=upper.astype(np.float64), lower=lower.astype(np.float64))


def close_mouth_texture(crop: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The photo with the mouth opening filled from the lips around it, so a closing mouth shows no seam of
    teeth (the warp squeezes the opening to nothing; what it squeezes must be lip-coloured)."""
    pts = landmarks[:, :2]
    polygon = np.concatenate([pts[list(G.UPPER_INNER_LIP)], pts[list(G.LOWER_INNER_LIP[1:-1])][::-1]])
    x0, y0 = np.floor(polygon.min(axis=0)).astype(int) - 6
    x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + 7
    h, w = crop.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    out = crop.copy()
    roi = np.ascontiguousarray(out[y0:y1, x0:x1])
    mask = np.zeros(roi.shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(polygon - [x0, y0]).astype(np.int32)], 255)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    out[y0:y1, x0:x1] = cv2.inpaint(roi, mask, 3, cv2.INPAINT_TELEA)
    return out


def _visible_teeth(crop: np.ndarray, pts: np.ndarray) -> np.ndarray | None:
    """Median colour of the brightest pixels between the inner lips, if the mouth is open enough to show any."""
    polygon = np.concatenate([pts[list(G.UPPER_INNER_LIP)], pts[list(G.LOWER_INNER_LIP[1:-1])][::-1]])
    mask = np.zeros(crop.shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    inside = crop[mask > 0].astype(np.float64)
    if len(inside) < 20:
        return None
    brightness = inside.mean(axis=1)
    bright = inside[brightness >= np.quantile(brightness, 0.7)]
    if bright.mean() < 90:  # a dark opening, no teeth to copy
        return None
    return np.median(bright, axis=0) * 0.92


def _sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    xs = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
    ys = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
    return np.median(image[ys, xs].astype(np.float64), axis=0)


def paint_mouth(frame: np.ndarray, upper_inner: np.ndarray, lower_inner: np.ndarray, style: MouthStyle,
                strength: float = 1.0, source: SourceMouth | None = None) -> None:
    """Paint the interior between the inner lip contours (corner to corner, (11, 2) each) into ``frame`` in place.
    With ``source`` the photo's own teeth are shown under the upper lip at their natural size."""
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

    shade = (1.0 - 0.45 * np.sin(np.pi * t)) * (0.6 + 0.4 * np.sqrt(edge))
    colour = style.cavity[None, :] * shade[:, None]

    # Tongue: a soft ellipse resting on the floor of the mouth, seen when the mouth is well open.
    tongue_vis = np.clip((opening / width - 0.12) / 0.2, 0.0, 1.0)
    if tongue_vis > 0:
        du = un / 0.6
        dv = (v - (bottom - 0.18 * gap)) / (0.32 * gap)
        blob = np.clip(1.0 - (du**2 + dv**2), 0.0, 1.0) ** 0.5 * tongue_vis
        colour = colour * (1 - blob[:, None]) + (style.tongue[None, :] * (0.6 + 0.4 * (1 - t))[:, None]) * blob[:, None]

    if source is not None:
        colour = _source_teeth(source, un, v - top, colour, max(1.0, 0.012 * width))
    # Upper teeth: a band under the upper lip, widest in the middle and fading toward the corners.
    across = np.clip(1.0 - (np.abs(un) / 0.72) ** 3, 0.0, 1.0)
    teeth_height = np.minimum(0.11 * width, 0.42 * gap) * across
    depth_into = v - top
    soft = max(1.0, 0.012 * width)
    upper_teeth = np.clip((teeth_height - depth_into) / soft, 0.0, 1.0) * np.clip(across * 3.0, 0.0, 1.0)
    if source is not None:
        upper_teeth = upper_teeth * 0.0
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


def _source_teeth(source: SourceMouth, un: np.ndarray, depth: np.ndarray, colour: np.ndarray, soft: float) -> np.ndarray:
    """Sample the photo's mouth interior at the same depth below its upper lip; beyond it keep ``colour``."""
    right, left = source.upper[0], source.upper[-1]
    axis = left - right
    width = float(np.linalg.norm(axis))
    e_u = axis / width
    e_v = np.array([-e_u[1], e_u[0]])
    centre = (left + right) / 2
    half = width / 2
    rel_u = (source.upper - centre) @ e_u / half
    rel_v = (source.upper - centre) @ e_v
    low_u = (source.lower - centre) @ e_u / half
    low_v = (source.lower - centre) @ e_v
    ou, ol = np.argsort(rel_u), np.argsort(low_u)
    top = np.interp(un, rel_u[ou], rel_v[ou])
    gap = np.interp(un, low_u[ol], low_v[ol]) - top
    pos = centre + (un * half)[:, None] * e_u + (top + depth)[:, None] * e_v
    map_x = pos[:, 0].astype(np.float32).reshape(-1, 1)
    map_y = pos[:, 1].astype(np.float32).reshape(-1, 1)
    sampled = cv2.remap(source.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 3)
    weight = np.clip((gap - depth) / soft, 0.0, 1.0)[:, None] * np.clip((1.0 - np.abs(un)) * 6, 0, 1)[:, None]
    return colour * (1 - weight) + sampled.astype(np.float64) * weight
