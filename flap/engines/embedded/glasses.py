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


def frame_top(gx: np.ndarray, gy: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The frame's top edge (columns, rows, at the measuring scale) and its mean edge strength over the band's
    median: the strongest smooth path (one pixel up or down per column) of edges across both eyes and the bridge,
    between the brows' top and the upper lids, out past the brows' ends.  A frame's top bar is the band's one long hard edge; brow hair is
    softer and broken."""
    strength = np.abs(gy) + 0.5 * np.abs(gx)
    brow_x, brow_y = _line(lm[list(G.LEFT_BROW[:5] + G.RIGHT_BROW[:5])])
    lid_x, lid_y = _line(lm[list(G.LEFT_EYE_UPPER + G.RIGHT_EYE_UPPER)])
    reach = 0.1 * _SCALE_IOD  # beyond the brows' ends: a frame's wings
    x0 = int(max(min(brow_x[0], lid_x[0]) - reach, 0))
    x1 = int(min(max(brow_x[-1], lid_x[-1]) + reach, strength.shape[1] - 1)) + 1
    if x1 - x0 < 10:
        return None
    cols = np.arange(x0, x1)
    lo = np.clip(np.interp(cols, brow_x, brow_y) - 0.08 * _SCALE_IOD, 0, strength.shape[0] - 1).astype(int)
    hi = np.clip(np.interp(cols, lid_x, lid_y) - 0.03 * _SCALE_IOD, 0, strength.shape[0] - 1).astype(int)
    rows = np.arange(strength.shape[0])
    total = np.where((rows >= lo[0]) & (rows <= hi[0]), strength[:, x0], -np.inf)
    back = np.zeros((len(cols), len(rows)), int)
    for k in range(1, len(cols)):
        options = np.stack([np.r_[-np.inf, total[:-1]], total, np.r_[total[1:], -np.inf]])
        step = np.argmax(options, axis=0)
        back[k] = rows + step - 1
        inside = (rows >= lo[k]) & (rows <= hi[k])
        total = np.where(inside, strength[:, cols[k]] + options[step, rows], -np.inf)
    if not np.isfinite(total.max()):
        return None
    path = [int(np.argmax(total))]
    for k in range(len(cols) - 1, 0, -1):
        path.append(int(back[k, path[-1]]))
    path = np.array(path[::-1])
    band = strength[int(lo.min()):int(hi.max()) + 1, x0:x1]
    return cols.astype(np.float64), path.astype(np.float64), float(strength[path, cols].mean() / max(np.median(band), 0.5))


def _line(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(points[:, 0])
    return points[order, 0], points[order, 1]


_TOP_RATIO = 2.5  # the frame's top edge over the band's median edge strength: a frame's bar, not brow hair
_ABOVE_TOP = (5.0, 7.0)  # pixels (at _SCALE_IOD) above the frame's top edge: held .. free


def frame_hold(crop: np.ndarray, landmarks_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(N,) 0..1 per landmark: how firmly a glasses frame holds it in place (0 everywhere without glasses), and
    (N,) each landmark's height above the frame's top edge as a share of the outer-eye distance (None where no
    top edge is found).  The frame and everything behind it, from its top edge down, is held; the brows and
    forehead above it move (squeezing or stretching the skin down to the frame's edge, within what that height
    allows: FaceRig.hold_by_glasses), so a glasses wearer frowns and raises her brows too.  Where the top edge
    is not found, 1 on and near the rim's hard edges between the brows' top and the cheeks."""
    score = glasses_score(crop, landmarks_xy)
    held = np.zeros(len(landmarks_xy))
    if score <= 0.0:
        return held, None
    gx, gy, s = _gradients(crop, landmarks_xy)
    lm = landmarks_xy * s
    top = frame_top(gx, gy, lm)
    if top is not None and top[2] >= _TOP_RATIO:
        cols, rows, _ = top
        above = np.interp(lm[:, 0], cols, rows) - lm[:, 1]
        t = np.clip((_ABOVE_TOP[1] - above) / (_ABOVE_TOP[1] - _ABOVE_TOP[0]), 0.0, 1.0)
        return score * t * t * (3 - 2 * t), np.maximum(above, 0.0) / _SCALE_IOD
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
    return score * held, None
