"""The posed face's silhouette search (EmbeddedRenderer._silhouette) compiled by Numba for one signature.

numpy builds a (frames, rim, outer-face) array of angular tests and products to keep one maximum per rim vertex;
this loop keeps the maximum as it goes, in the same float64 operations (the same bits: tests/test_stretch.py).
Measured on 250 frames of the astronaut: 62 ms in numpy, 22 ms here.
"""

from __future__ import annotations

import numpy as np

from flap.engines.embedded.raster_kernel import _njit


@_njit("f8[:, ::1](f8[:, :, ::1], f8[:, ::1], f8[:, :, ::1], f8[:, ::1], f8)")
def sector_reach(direction, rim_angle, outer, angle, sector):  # pragma: no cover - compiled
    """(T, R): per rim vertex, the largest projection on its ``direction`` (T, R, 2) of the ``outer`` (T, N, 2)
    vertices whose ``angle`` (T, N) is within ``sector`` of its ``rim_angle`` (T, R); -inf where none is."""
    frames, rim = rim_angle.shape
    out = np.empty((frames, rim))
    for t in range(frames):
        for r in range(rim):
            best = -np.inf
            towards, d0, d1 = rim_angle[t, r], direction[t, r, 0], direction[t, r, 1]
            for n in range(angle.shape[1]):
                if np.abs(np.mod(angle[t, n] - towards + np.pi, 2 * np.pi) - np.pi) < sector:
                    reach = d0 * outer[t, n, 0] + d1 * outer[t, n, 1]
                    if reach > best:
                        best = reach
            out[t, r] = best
    return out
