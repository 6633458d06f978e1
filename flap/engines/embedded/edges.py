"""Anti-aliasing of the occlusion edges of a warp.

Where one surface passes in front of another (lips closing over each other, the far cheek over the ear on a
turn, the chin over the collar on a nod) the backward map jumps from one place of the photo to another between
two neighbouring pixels.  Sampled once per pixel, that edge is a 1-pixel stair-step line, which a viewer sees as
a crack or a saw-tooth.  A real camera integrates over each pixel, so the edge pixels are a mix of both sides:
here the pixels beside a jump take a small Gaussian blend of their neighbourhood instead.
"""

from __future__ import annotations

import cv2
import numpy as np


def occlusion_edges(map_x: np.ndarray, map_y: np.ndarray, start: float = 3.0, full: float = 6.0) -> np.ndarray:
    """(H, W) float32 in [0, 1] on the pixels on either side of a jump in the map: 0 below ``start`` pixels of
    jump, 1 from ``full``.  A ramp, not a threshold, so an edge does not switch on and off between frames."""
    h, w = map_x.shape
    jump = np.zeros((h, w), np.float32)
    for m in (map_x, map_y):
        across = cv2.absdiff(m[:, 1:], m[:, :-1])
        down = cv2.absdiff(m[1:, :], m[:-1, :])
        np.maximum(jump[:, 1:], across, out=jump[:, 1:])
        np.maximum(jump[:, :-1], across, out=jump[:, :-1])
        np.maximum(jump[1:, :], down, out=jump[1:, :])
        np.maximum(jump[:-1, :], down, out=jump[:-1, :])
    return np.clip((jump - start) / (full - start), 0.0, 1.0)


def soften_edges(warped: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, sharp: list[np.ndarray] = ()) -> np.ndarray:
    """``warped`` (H, W, C) uint8 with the pixels beside occlusion edges blended with their neighbours, in place
    (only those pixels are touched: the rest of the frame costs nothing).  ``sharp``: outlines (N, 2) in the
    window's pixels whose bounding boxes are left as they are."""
    edge = occlusion_edges(map_x, map_y)
    for outline in sharp:
        (bx0, by0), (bx1, by1) = np.floor(outline.min(axis=0)).astype(int) - 2, np.ceil(outline.max(axis=0)).astype(int) + 3
        edge[max(by0, 0):max(by1, 0), max(bx0, 0):max(bx1, 0)] = 0
    ys, xs = np.nonzero(edge)
    if len(ys) == 0:
        return warped
    y0, y1 = max(ys.min() - 2, 0), min(ys.max() + 3, edge.shape[0])
    x0, x1 = max(xs.min() - 2, 0), min(xs.max() + 3, edge.shape[1])
    window = warped[y0:y1, x0:x1]
    blurred = cv2.GaussianBlur(window, (3, 3), 0.9)
    weight = cv2.GaussianBlur(edge[y0:y1, x0:x1], (3, 3), 0.8) * 1.6
    wy, wx = np.nonzero(weight > 0.02)
    a = np.minimum(weight[wy, wx], 1.0)[:, None]
    window[wy, wx] = (window[wy, wx] * (1.0 - a) + blurred[wy, wx] * a + 0.5).astype(np.uint8)
    return warped
