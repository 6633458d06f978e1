"""The warped head laid over the background plate in one compiled pass (Numba), as compositing.composite_roi does.

OpenCV needs six passes and three temporaries for it (drop alpha, invert it, merge it to three channels, multiply,
add, copy back); this loop reads each pixel once, in integers.  The result is the same to the last bit: the product
is rounded to nearest as cv2.multiply rounds it (tests/test_rasterizer.py checks every pair of 8-bit values).
"""

from __future__ import annotations

import numpy as np

from flap.engines.embedded.raster_kernel import _njit


@_njit("void(u1[:, :, :], u1[:, :, :], u1[:, :, :])")
def composite_premultiplied(out, warped, plate):  # pragma: no cover - compiled
    """out[...] = warped colour + plate * (1 - warped alpha), saturated (all uint8; out and plate (H, W, 3),
    warped (H, W, 4) premultiplied RGBA).  ``out`` may be a view into the frame."""
    for y in range(out.shape[0]):
        row, over, under = out[y], warped[y], plate[y]
        for x in range(out.shape[1]):
            inverse = np.int32(255) - np.int32(over[x, 3])
            for c in range(3):
                t = np.int32(under[x, c]) * inverse + np.int32(128)
                row[x, c] = min(np.int32(over[x, c]) + ((t + (t >> 8)) >> 8), 255)  # round(p * inverse / 255)
