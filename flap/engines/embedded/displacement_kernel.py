"""flap.engines.embedded.displacement's fade in one compiled pass (Numba, one signature), in numpy's float32
arithmetic (the constants are float32, as numpy makes Python floats against float32 arrays): the same bits."""

from __future__ import annotations

import numpy as np

from flap.engines.embedded.raster_kernel import _njit


@_njit("i8[::1](f4[:, ::1], f4[:, ::1], f4[:, ::1], f4[:, ::1], f4[:, ::1], f4[:, ::1])")
def fade(map_x, map_y, ident_x, ident_y, dx, dy):  # pragma: no cover - compiled
    """Write the faded displacement into ``dx``/``dy``; return (row0, row1, col0, col1) of the moved cells, or
    -1s when none moved."""
    start, width, zero, one = np.float32(0.1), np.float32(0.5), np.float32(0.0), np.float32(1.0)
    three, two = np.float32(3.0), np.float32(2.0)
    box = np.array([-1, -1, -1, -1], np.int64)
    for y in range(map_x.shape[0]):
        for x in range(map_x.shape[1]):
            ex = map_x[y, x] - ident_x[y, x]
            ey = map_y[y, x] - ident_y[y, x]
            magnitude = np.hypot(ex, ey)
            keep = min(max((magnitude - start) / width, zero), one)
            keep = keep * keep * (three - two * keep)
            dx[y, x] = ex * keep
            dy[y, x] = ey * keep
            if magnitude > start:
                if box[0] < 0:
                    box[0], box[2], box[3] = y, x, x
                box[1] = y
                box[2] = min(box[2], x)
                box[3] = max(box[3], x)
    return box
