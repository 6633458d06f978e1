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


def occlusion_edges(map_x: np.ndarray, map_y: np.ndarray, jump: float = 2.5) -> np.ndarray:
    """(H, W) float32 weight, 1 on the pixels on either side of a jump of more than ``jump`` pixels in the map."""
    edge = np.zeros(map_x.shape, np.uint8)
    for m in (map_x, map_y):
        dx = np.abs(np.diff(m, axis=1)) > jump
        dy = np.abs(np.diff(m, axis=0)) > jump
        edge[:, 1:] |= dx
        edge[:, :-1] |= dx
        edge[1:, :] |= dy
        edge[:-1, :] |= dy
    return edge.astype(np.float32)


def soften_edges(warped: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, jump: float = 2.5) -> np.ndarray:
    """``warped`` (H, W, C) uint8 with the pixels beside occlusion edges blended with their neighbours."""
    edge = occlusion_edges(map_x, map_y, jump)
    if not edge.any():
        return warped
    weight = cv2.GaussianBlur(edge, (3, 3), 0.8)[:, :, None] * 1.6
    np.clip(weight, 0.0, 1.0, out=weight)
    blurred = cv2.GaussianBlur(warped, (3, 3), 0.9).astype(np.float32)
    return (warped * (1.0 - weight) + blurred * weight).astype(np.uint8)
