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


START, FULL = 3.0, 6.0  # pixels of jump in the map where softening begins and where it is complete


def occlusion_edges(map_x: np.ndarray, map_y: np.ndarray, start: float = START, full: float = FULL) -> np.ndarray:
    """(H, W) float32 in [0, 1] on the pixels on either side of a jump in the map: 0 below ``start`` pixels of
    jump, 1 from ``full``.  A ramp, not a threshold, so an edge does not switch on and off between frames.  (The
    reference the compiled pass is tested against.)"""
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


def soften_edges(warped: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, window: tuple[int, int, int, int],
                 sharp: list[np.ndarray] = ()) -> np.ndarray:
    """``warped`` (H, W, C) uint8 with the pixels beside occlusion edges blended with their neighbours, in place,
    in one compiled pass (flap.engines.embedded.edges_kernel) over ``window`` (x0, y0, x1, y1), where the face and
    its folds are (elsewhere the map is a smooth coarse warp).  ``sharp``: outlines (N, 2) in ``warped``'s pixels
    whose bounding boxes are left as they are."""
    from flap.engines.embedded.edges_kernel import soften

    h, w = map_x.shape
    x0, y0, x1, y1 = max(window[0], 0), max(window[1], 0), min(window[2], w), min(window[3], h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return warped
    boxes = np.array([[*(np.floor(o.min(axis=0)).astype(int) - 2 - (x0, y0)), *(np.ceil(o.max(axis=0)).astype(int) + 3 - (x0, y0))]
                      for o in sharp], dtype=np.int64).reshape(-1, 4)
    part = np.ascontiguousarray(warped[y0:y1, x0:x1])
    soften(part, np.ascontiguousarray(map_x[y0:y1, x0:x1]), np.ascontiguousarray(map_y[y0:y1, x0:x1]), boxes, START, FULL)
    warped[y0:y1, x0:x1] = part
    return warped
