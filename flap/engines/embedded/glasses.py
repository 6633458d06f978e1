"""Spectacles: where a photo shows a glasses frame around the eyes, so that the brows move behind it.

A frame is rigid: brows that drag it tear its rim into a stair-step.  A frame is told apart from brows by its
bridge, a horizontal edge across the nose between the eyes (brows stop short of the nose), and its rim is the
photo's hard edges around the eyes.
"""

from __future__ import annotations

import cv2
import numpy as np

from flap.face import landmark_groups as G

_SCALE_IOD = 80.0  # pixels between the outer eye corners the photo is measured at (edge strengths are per pixel)
_BRIDGE_RATIO = (2.0, 3.0)  # across-the-nose edge strength over the band's vertical edges: no frame .. a frame
_RIM_EDGE = 10.0  # grey levels per pixel (at _SCALE_IOD): a rim's edge


def _gradients(crop: np.ndarray, landmarks_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    iod = float(np.linalg.norm(landmarks_xy[33] - landmarks_xy[263]))
    scale = _SCALE_IOD / max(iod, 1.0)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.GaussianBlur(cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), (0, 0), 1.0)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8
    return gx, gy, scale


def glasses_score(crop: np.ndarray, landmarks_xy: np.ndarray) -> float:
    """0 (no frame) .. 1 (a frame): how strongly a bridge crosses the nose between the eyes.  Per row of the band
    between the inner brow ends and the inner eye corners, the 20th percentile of the vertical gradient across the
    nose (a bridge spans it whole), its strongest row over the band's median horizontal gradient (the nose's sides
    and frown lines; a photo's contrast)."""
    gx, gy, s = _gradients(crop, landmarks_xy)
    lm = landmarks_xy * s
    right, left = lm[133], lm[362]  # inner eye corners
    mid, half = (right + left) / 2, 0.25 * np.linalg.norm(left - right)
    top = min(lm[G.LEFT_BROW[-1], 1], lm[G.RIGHT_BROW[-1], 1]) - 0.1 * _SCALE_IOD
    y0, y1 = int(max(top, 0)), int(mid[1])
    x0, x1 = int(mid[0] - half), int(mid[0] + half) + 1
    if y1 - y0 < 3 or x1 - x0 < 3 or x0 < 0 or x1 > gx.shape[1]:
        return 0.0
    bridge = np.percentile(np.abs(gy[y0:y1, x0:x1]), 20, axis=1).max()
    ratio = bridge / max(float(np.median(np.abs(gx[y0:y1, x0:x1]))), 0.5)
    t = np.clip((ratio - _BRIDGE_RATIO[0]) / (_BRIDGE_RATIO[1] - _BRIDGE_RATIO[0]), 0.0, 1.0)
    return float(t * t * (3 - 2 * t))


def frame_hold(crop: np.ndarray, landmarks_xy: np.ndarray) -> np.ndarray:
    """(N,) 0..1 per landmark: how firmly a glasses frame holds it in place (0 everywhere without glasses): 1 on
    and near the rim's hard edges between the brows' top and the cheeks below the eyes."""
    score = glasses_score(crop, landmarks_xy)
    held = np.zeros(len(landmarks_xy))
    if score <= 0.0:
        return held
    gx, gy, s = _gradients(crop, landmarks_xy)
    lm = landmarks_xy * s
    rim = np.hypot(gx, gy) > _RIM_EDGE
    band = np.zeros(rim.shape, bool)
    ids = list(G.LEFT_BROW + G.RIGHT_BROW + G.LEFT_EYE_LOWER + G.RIGHT_EYE_LOWER)
    (bx0, by0), (bx1, by1) = lm[ids].min(axis=0), lm[ids].max(axis=0)
    pad = 0.15 * _SCALE_IOD
    band[max(int(by0 - pad), 0):int(by1 + pad), max(int(bx0 - pad), 0):int(bx1 + pad)] = True
    reach = int(0.12 * _SCALE_IOD) | 1
    near = cv2.GaussianBlur(cv2.dilate((rim & band).astype(np.uint8), np.ones((reach, reach), np.uint8)).astype(np.float32),
                            (0, 0), reach / 3)
    xy = np.clip(np.round(lm).astype(int), 0, np.array(rim.shape[::-1]) - 1)
    held = np.clip(near[xy[:, 1], xy[:, 0]] * 1.5, 0.0, 1.0)
    return score * held
