"""How deep a crease (a smile fold, a frown line) reads in a frame: the dark valley across a line on the skin."""

from __future__ import annotations

import cv2
import numpy as np


def crease_depth(frame: np.ndarray, line_xy: np.ndarray, half_width: float, samples: int = 24) -> float:
    """Mean over points along ``line_xy`` (a polyline, pixels) of how much darker the skin is near the line than
    at the two ends of a cross-section ``half_width`` pixels either side of it (grey levels; 0: no crease).  The
    valley is looked for within half the width, so a line a few pixels off its crease still finds it."""
    grey = cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)
    seg = np.diff(line_xy, axis=0)
    length = np.linalg.norm(seg, axis=1)
    at = np.linspace(0.1, 0.9, samples) * length.sum()
    cum = np.concatenate([[0.0], np.cumsum(length)])
    k = np.clip(np.searchsorted(cum, at) - 1, 0, len(seg) - 1)
    t = (at - cum[k]) / np.maximum(length[k], 1e-9)
    points = line_xy[k] + t[:, None] * seg[k]
    normals = np.stack([-seg[k, 1], seg[k, 0]], axis=1) / np.maximum(length[k], 1e-9)[:, None]
    offsets = np.linspace(-half_width, half_width, 21)
    xy = points[:, None, :] + offsets[None, :, None] * normals[:, None, :]
    profile = cv2.remap(grey, xy[..., 0].astype(np.float32), xy[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
    sides = 0.5 * (profile[:, 0] + profile[:, -1])
    valley = profile[:, 5:16].min(axis=1)
    return float(np.mean(np.maximum(sides - valley, 0.0)))
