"""The occlusion-edge anti-aliasing of flap.engines.embedded.edges in one compiled pass (Numba, one signature)."""

from __future__ import annotations

import numpy as np

from flap.engines.embedded.raster_kernel import _njit


@_njit(None)
def _gauss3(values, y, x, k0, k1):  # pragma: no cover - compiled
    """The 3x3 separable weighted sum (k0, k1, k0) of a 2-D array around (y, x), edges clamped."""
    h, w = values.shape
    total = 0.0
    for dy in range(-1, 2):
        yy = min(max(y + dy, 0), h - 1)
        ky = k1 if dy == 0 else k0
        for dx in range(-1, 2):
            xx = min(max(x + dx, 0), w - 1)
            total += ky * (k1 if dx == 0 else k0) * values[yy, xx]
    return total


@_njit("void(u1[:, :, ::1], f4[:, ::1], f4[:, ::1], i8[:, ::1], f8, f8)")
def soften(warped, map_x, map_y, sharp, start, full):  # pragma: no cover - compiled
    """In place: pixels beside a jump in the map (ramp from ``start`` to ``full`` pixels of jump), except inside the
    ``sharp`` boxes (x0, y0, x1, y1), take a 3x3 Gaussian blend of their neighbourhood."""
    h, w = map_x.shape
    jump = np.zeros((h, w), np.float32)
    # Each neighbour pair once, credited to both pixels: across, then down, row by row without branches (a third
    # less time than both in one branching loop; max is exact, so the same values).
    for y in range(h):
        row_x, row_y, row = map_x[y], map_y[y], jump[y]
        for x in range(w - 1):
            j = max(abs(row_x[x + 1] - row_x[x]), abs(row_y[x + 1] - row_y[x]))
            row[x] = max(row[x], j)
            row[x + 1] = max(row[x + 1], j)
    for y in range(h - 1):
        above_x, below_x, above_y, below_y = map_x[y], map_x[y + 1], map_y[y], map_y[y + 1]
        above, below = jump[y], jump[y + 1]
        for x in range(w):
            j = max(abs(below_x[x] - above_x[x]), abs(below_y[x] - above_y[x]))
            above[x] = max(above[x], j)
            below[x] = max(below[x], j)
    for b in range(sharp.shape[0]):
        for y in range(max(sharp[b, 1], 0), min(sharp[b, 3], h)):
            for x in range(max(sharp[b, 0], 0), min(sharp[b, 2], w)):
                jump[y, x] = 0.0
    near = np.zeros((h, w), np.bool_)
    count = 0
    for y in range(h):
        for x in range(w):
            if jump[y, x] > start:
                jump[y, x] = min((jump[y, x] - start) / (full - start), 1.0)
                for yy in range(max(y - 1, 0), min(y + 2, h)):
                    for xx in range(max(x - 1, 0), min(x + 2, w)):
                        near[yy, xx] = True
                count += 1
            else:
                jump[y, x] = 0.0
    if count == 0:
        return
    weight = jump
    source = warped.copy()
    channels = warped.shape[2]
    k0w, k1w = 0.239, 0.522  # the weight's spread, sigma 0.8
    k0c, k1c = 0.259, 0.481  # the colour blend, sigma 0.9
    for y in range(h):
        for x in range(w):
            if not near[y, x]:
                continue
            a = min(_gauss3(weight, y, x, k0w, k1w) * 1.6, 1.0)
            if a <= 0.02:
                continue
            for c in range(channels):
                blurred = _gauss3(source[:, :, c], y, x, k0c, k1c)
                warped[y, x, c] = np.uint8(source[y, x, c] * (1.0 - a) + blurred * a + 0.5)
