"""A vectorised scanline rasteriser that turns a deformed mesh into a backward warp map.

For each cell of a coarse grid over the output frame it finds the front-most triangle (z-buffer) and the
position in the source image that the cell shows.  Work is proportional to the covered area: every
(triangle, row) pair becomes one exact span of cells, generated with numpy without a Python loop.
"""

from __future__ import annotations

import numpy as np


def _ragged_arange(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate arange(starts[i], starts[i] + counts[i]); also return which i each element came from."""
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    offsets = np.arange(total) - np.repeat(first, counts)
    return np.repeat(starts, counts) + offsets, owner


def rasterize_backward_map(dst_xy: np.ndarray, depth: np.ndarray, src_xy: np.ndarray, triangles: np.ndarray,
                           grid_shape: tuple[int, int], cell: float, origin: tuple[float, float] = (0.0, 0.0)
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward map sampled at the centres of a ``grid_shape`` grid whose cells are ``cell`` output pixels wide.

    dst_xy: (V, 2) vertex positions in the output frame (pixels); depth: (V,) larger = closer to the camera;
    src_xy: (V, 2) vertex positions in the source image (pixels); triangles: (F, 3) vertex indices.
    ``origin`` (x, y) is the output pixel where the grid starts, for rasterising a detail window.
    Returns (map_x, map_y, covered).  Uncovered cells hold the identity, so what lies outside the mesh stays put.
    """
    gh, gw = grid_shape
    ox, oy = origin
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float32)
    map_x = ox + (xs + 0.5) * cell - 0.5
    map_y = oy + (ys + 0.5) * cell - 0.5
    covered = np.zeros((gh, gw), dtype=bool)

    g = (dst_xy - np.array([ox, oy]) + 0.5) / cell - 0.5  # grid units: cell centres at integers
    tri = g[triangles]  # (F, 3, 2)
    x0, y0 = tri[:, 0, 0], tri[:, 0, 1]
    x1, y1 = tri[:, 1, 0], tri[:, 1, 1]
    x2, y2 = tri[:, 2, 0], tri[:, 2, 1]
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    ok = np.abs(area) > 1e-9
    row_lo = np.maximum(np.ceil(tri[:, :, 1].min(axis=1)), 0).astype(np.int64)
    row_hi = np.minimum(np.floor(tri[:, :, 1].max(axis=1)), gh - 1).astype(np.int64)
    col_lo = tri[:, :, 0].min(axis=1)
    col_hi = tri[:, :, 0].max(axis=1)
    ok &= (row_hi >= row_lo) & (col_hi >= 0) & (col_lo <= gw - 1)
    faces = np.nonzero(ok)[0]
    if faces.size == 0:
        return map_x, map_y, covered

    # Affine coefficients of barycentric weights: w_i = a_i * x + b_i * y + c_i.
    inv = 1.0 / area[faces]
    xa, ya, xb, yb, xc, yc = x0[faces], y0[faces], x1[faces], y1[faces], x2[faces], y2[faces]
    a = np.stack([(yb - yc), (yc - ya), (ya - yb)], axis=1) * inv[:, None]
    b = np.stack([(xc - xb), (xa - xc), (xb - xa)], axis=1) * inv[:, None]
    c = np.stack([xb * yc - xc * yb, xc * ya - xa * yc, xa * yb - xb * ya], axis=1) * inv[:, None]

    # One span per (triangle, row): x where all three weights are >= 0.
    rows, owner = _ragged_arange(row_lo[faces], row_hi[faces] - row_lo[faces] + 1)
    aa, bb, cc = a[owner], b[owner], c[owner]
    base = bb * rows[:, None] + cc  # w_i = aa * x + base
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = -base / aa
    eps = 1e-7
    lower = np.where(aa > eps, bound, -np.inf).max(axis=1)
    upper = np.where(aa < -eps, bound, np.inf).min(axis=1)
    flat = np.abs(aa) <= eps
    blocked = np.any(flat & (base < -1e-7), axis=1)
    left = np.maximum(np.ceil(lower - 1e-7), 0)
    right = np.minimum(np.floor(upper + 1e-7), gw - 1)
    count = np.where(blocked, 0, np.maximum(right - left + 1, 0)).astype(np.int64)
    if count.sum() == 0:
        return map_x, map_y, covered
    cols, span = _ragged_arange(left.astype(np.int64), count)
    prow = rows[span]
    f_local = owner[span]
    w = a[f_local] * cols[:, None] + b[f_local] * prow[:, None] + c[f_local]  # (N, 3)
    vid = triangles[faces[f_local]]
    z = np.einsum("nk,nk->n", w, depth[vid])
    pix = prow * gw + cols
    zbuf = np.full(gh * gw, -np.inf)
    np.maximum.at(zbuf, pix, z)
    win = z >= zbuf[pix]
    pix, w, vid = pix[win], w[win], vid[win]
    sx = np.einsum("nk,nk->n", w, src_xy[vid, 0])
    sy = np.einsum("nk,nk->n", w, src_xy[vid, 1])
    map_x.reshape(-1)[pix] = sx
    map_y.reshape(-1)[pix] = sy
    covered.reshape(-1)[pix] = True
    return map_x, map_y, covered
