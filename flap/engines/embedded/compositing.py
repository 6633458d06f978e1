"""Layering: the moving head over a background plate, so the background never smears when the head turns.

The plate is the photo with the person's head region filled from the surrounding background (inpainted at low
resolution, once per portrait); it only shows where the head moved away from where it was.
"""

from __future__ import annotations

import cv2
import numpy as np


def background_plate(crop: np.ndarray, person: np.ndarray, moving: np.ndarray, work_side: int = 160) -> np.ndarray:
    """The photo with the moving part of the person replaced by plausible background (uint8, same size)."""
    h, w = crop.shape[:2]
    hole = ((person > 0.04) & (moving > 0.4)).astype(np.uint8)
    if not hole.any():
        return crop.copy()
    hole = cv2.dilate(hole, np.ones((3, 3), np.uint8), iterations=max(1, h // 128))
    factor = work_side / max(h, w)
    small = cv2.resize(crop, (max(8, round(w * factor)), max(8, round(h * factor))), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), 1.5)
    up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    # The fill covers the soft hair edge too, so no dark outline of the old silhouette is left behind.
    solid = cv2.dilate(hole, np.ones((3, 3), np.uint8), iterations=max(1, h // 256)).astype(np.float32)
    solid *= np.clip((moving - 0.2) / 0.3, 0.0, 1.0)
    solid = cv2.GaussianBlur(solid.astype(np.float32), (0, 0), 1.0)[:, :, None]
    return (crop * (1 - solid) + up * solid).astype(np.uint8)


def premultiply(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGBA uint8 with colour multiplied by alpha: one 4-channel warp carries both, and blending is an add."""
    a = np.clip(alpha, 0.0, 1.0)[:, :, None]
    return np.dstack([np.round(image * a), np.round(a[:, :, 0] * 255.0)]).astype(np.uint8)


def composite_roi(out: np.ndarray, warped_rgba: np.ndarray, plate: np.ndarray, roi: tuple[int, int, int, int]) -> None:
    """out[roi] = warped colour + plate * (1 - warped alpha), in place (``warped_rgba`` is premultiplied)."""
    x0, y0, x1, y1 = roi
    rgb = cv2.cvtColor(warped_rgba, cv2.COLOR_RGBA2RGB)
    inverse = cv2.bitwise_not(cv2.extractChannel(warped_rgba, 3))
    background = cv2.multiply(np.ascontiguousarray(plate[y0:y1, x0:x1]), cv2.merge((inverse, inverse, inverse)), scale=1 / 255)
    out[y0:y1, x0:x1] = cv2.add(rgb, background)
