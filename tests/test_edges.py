"""Occlusion-edge anti-aliasing: pixels beside a jump in the map are blended, nothing else changes, the boxes kept
sharp (closed lids) are left alone, and a smooth warp is untouched."""

from __future__ import annotations

import cv2
import numpy as np

from flap.engines.embedded.edges import occlusion_edges, soften_edges


def _scene():
    rng = np.random.default_rng(1)
    warped = rng.integers(0, 255, (40, 60, 4), dtype=np.uint8)
    ys, xs = np.mgrid[0:40, 0:60].astype(np.float32)
    map_x = xs.copy()
    map_x[:, 30:] += 20.0  # right half samples 20 px further: an occlusion edge between columns 29 and 30
    return warped, map_x, ys


def test_only_the_pixels_beside_a_jump_are_blended():
    warped, map_x, map_y = _scene()
    out = soften_edges(warped.copy(), map_x, map_y, (0, 0, 60, 40))
    changed = np.any(out != warped, axis=2)
    cols = np.nonzero(changed.any(axis=0))[0]
    assert changed[:, 29].all() and changed[:, 30].all()
    assert cols.min() >= 27 and cols.max() <= 32
    edges = occlusion_edges(map_x, map_y)  # the numpy statement of where the compiled pass blends
    assert edges[:, 29].min() == 1.0
    assert not (changed & (cv2.dilate((edges > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) == 0)).any()


def test_smooth_warps_and_sharp_boxes_are_left_alone():
    warped, map_x, map_y = _scene()
    ys, xs = np.mgrid[0:40, 0:60].astype(np.float32)
    smooth = soften_edges(warped.copy(), xs * 1.5, ys, (0, 0, 60, 40))  # a stretch, no jump
    assert np.array_equal(smooth, warped)
    box = np.array([[25.0, 5.0], [34.0, 15.0]])
    out = soften_edges(warped.copy(), map_x, map_y, (0, 0, 60, 40), sharp=[box])
    assert np.array_equal(out[5:14, 26:33], warped[5:14, 26:33])
    assert not np.array_equal(out[25:35, 29], warped[25:35, 29])
