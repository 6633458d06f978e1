"""The coarse warp's displacement, faded out where it is sub-pixel, and the cells that move.

Sub-pixel displacements fade out continuously instead of at a threshold: where the body lets go of the head, a
cell that flips between still and moved would shift a sharp edge for one frame (a pop).  The numpy statement below
is the reference; by default the same float32 arithmetic runs in one compiled pass (displacement_kernel), without
the eight temporaries of the grid that numpy needs.
"""

from __future__ import annotations

import numpy as np


def faded_displacement(map_x: np.ndarray, map_y: np.ndarray, ident_x: np.ndarray, ident_y: np.ndarray,
                       compiled: bool = True) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int] | None]:
    """(dx, dy, moved box) of a coarse backward map (float32 grids) against the identity: the displacement times
    a smooth step from 0.1 to 0.6 pixels of it, and (row0, row1, col0, col1) inclusive of the cells displaced by
    more than 0.1 pixel (None when none is)."""
    if compiled:
        from flap.engines.embedded.displacement_kernel import fade

        dx, dy = np.empty_like(map_x), np.empty_like(map_y)
        box = fade(map_x, map_y, ident_x, ident_y, dx, dy)
        return dx, dy, (None if box[0] < 0 else tuple(int(v) for v in box))
    dx, dy = map_x - ident_x, map_y - ident_y
    magnitude = np.hypot(dx, dy)
    moved = magnitude > 0.1
    keep = np.clip((magnitude - 0.1) / 0.5, 0.0, 1.0)
    keep = keep * keep * (3.0 - 2.0 * keep)
    if not moved.any():
        return dx * keep, dy * keep, None
    rows, cols = np.nonzero(moved.any(axis=1))[0], np.nonzero(moved.any(axis=0))[0]
    return dx * keep, dy * keep, (int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1]))
