"""A vectorised scanline rasteriser that turns a deformed mesh into a backward warp map.

For each cell of a grid over the output frame it finds the front-most triangle (z-buffer) and the position in
the source image that the cell shows.  Work is proportional to the covered area: every (triangle, row) pair
becomes one span of cells, generated with numpy without a Python loop.  Depth and source position are affine
over a triangle, so each span carries a start value and a slope and each cell costs one multiply-add.

By default the same scan runs compiled (flap.engines.embedded.raster_kernel, Numba), three to four times faster;
the numpy path stays as the reference it is tested against, and as the fallback where Numba cannot be imported.
"""

from __future__ import annotations

import functools

import numpy as np


def _ragged_arange(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate arange(starts[i], starts[i] + counts[i]); also return which i each element came from."""
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    offsets = np.arange(int(counts.sum())) - first[owner]
    return starts[owner] + offsets, owner


@functools.lru_cache(maxsize=1)
def _kernel():
    """The compiled scan, or None where Numba is not installed (the numpy path then runs)."""
    try:
        from flap.engines.embedded.raster_kernel import scan_triangles
    except ImportError:
        return None
    return scan_triangles


def load_kernels() -> bool:
    """Load the compiled kernels now (compiling them, about 2 s, the first time on a machine) rather than in the
    first job; True when they are there (False: Numba is missing and the numpy paths run)."""
    from flap.engines.embedded.compositing import _kernel as composite_kernel

    loaded = _kernel() is not None and composite_kernel() is not None
    if loaded:
        import flap.engines.embedded.displacement_kernel  # noqa: F401  (the coarse warp's fade, every frame)
        import flap.engines.embedded.silhouette_kernel  # noqa: F401  (the face's outline, every frame)
        import flap.engines.embedded.stretch_kernel  # noqa: F401  (the stretch limiter's, used from the first turn)
    return loaded


_NONE = np.zeros(0, dtype=bool)
_NONE_2D = np.zeros((0, 0), dtype=bool)


def _scan(kernel, dst_xy, depth, src_xy, triangles, skip, cullable, locked, origin, cell, map_x, map_y, covered,
          culled=None) -> None:
    kernel(np.ascontiguousarray(dst_xy, dtype=np.float64), np.ascontiguousarray(depth, dtype=np.float64),
           np.ascontiguousarray(src_xy, dtype=np.float64), np.ascontiguousarray(triangles, dtype=np.int64),
           _NONE if skip is None else np.ascontiguousarray(skip, dtype=bool),
           _NONE if cullable is None else np.ascontiguousarray(cullable, dtype=bool),
           _NONE_2D if locked is None else locked, float(origin[0]), float(origin[1]), float(cell),
           map_x, map_y, covered, _NONE if culled is None else culled)


def rasterize_skin_into(map_x: np.ndarray, map_y: np.ndarray, dst_xy: np.ndarray, depth: np.ndarray, src_xy: np.ndarray,
                        triangles: np.ndarray, cullable: np.ndarray, origin: tuple[int, int], compiled: bool = True) -> None:
    """Draw a mesh at full resolution into ``map_x``/``map_y`` (views of a larger map, modified in place) with the
    skin's folds culled; where nothing else covers a culled fold (the far rim on a turn), draw it after all, as
    skin seen edge-on, rather than leave a hole that would show the unmoved photo.  ``origin``: the output pixel
    of the views' first cell."""
    shape = map_x.shape
    kernel = _kernel() if compiled else None
    if kernel is None:
        fx, fy, covered = rasterize_backward_map(dst_xy, depth, src_xy, triangles, shape, 1.0, origin, cullable=cullable,
                                                 compiled=False)
        map_x[covered] = fx[covered]
        map_y[covered] = fy[covered]
        folds = cullable & folded_triangles(src_xy, dst_xy, triangles)
        if folds.any():
            gx, gy, behind = rasterize_backward_map(dst_xy, depth, src_xy, triangles[folds], shape, 1.0, origin, compiled=False)
            hole = behind & ~covered
            map_x[hole] = gx[hole]
            map_y[hole] = gy[hole]
        return
    covered = np.zeros(shape, dtype=bool)
    culled = np.zeros(len(triangles), dtype=bool)
    _scan(kernel, dst_xy, depth, src_xy, triangles, None, cullable, None, origin, 1.0, map_x, map_y, covered, culled)
    if culled.any():
        _scan(kernel, dst_xy, depth, src_xy, triangles, ~culled, None, covered, origin, 1.0, map_x, map_y,
              np.zeros(shape, dtype=bool))


def folded_triangles(src_xy: np.ndarray, dst_xy: np.ndarray, triangles: np.ndarray, dst_area: np.ndarray | None = None,
                     min_src_area: float = 0.05) -> np.ndarray:
    """(F,) bool: triangles whose orientation in ``dst_xy`` is the opposite of the source's (a fold)."""
    s = src_xy[triangles]
    src_area = (s[:, 1, 0] - s[:, 0, 0]) * (s[:, 2, 1] - s[:, 0, 1]) - (s[:, 1, 1] - s[:, 0, 1]) * (s[:, 2, 0] - s[:, 0, 0])
    if dst_area is None:
        d = dst_xy[triangles]
        dst_area = (d[:, 1, 0] - d[:, 0, 0]) * (d[:, 2, 1] - d[:, 0, 1]) - (d[:, 1, 1] - d[:, 0, 1]) * (d[:, 2, 0] - d[:, 0, 0])
    return (np.abs(src_area) > min_src_area) & (np.sign(src_area) != np.sign(dst_area))


def rasterize_backward_map(dst_xy: np.ndarray, depth: np.ndarray, src_xy: np.ndarray, triangles: np.ndarray,
                           grid_shape: tuple[int, int], cell: float, origin: tuple[float, float] = (0.0, 0.0),
                           cullable: np.ndarray | None = None, skip: np.ndarray | None = None,
                           compiled: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward map sampled at the centres of a ``grid_shape`` grid whose cells are ``cell`` output pixels wide.

    dst_xy: (V, 2) vertex positions in the output frame (pixels); depth: (V,) larger = closer to the camera;
    src_xy: (V, 2) vertex positions in the source image (pixels); triangles: (F, 3) vertex indices.
    ``origin`` (x, y) is the output pixel where the grid starts, for rasterising a detail window.
    ``cullable`` (F,) bool: these triangles are dropped where their orientation flipped against the source: the
    back of a fold (the far side of the nose on a turn, lips pressed over each other), which a real surface hides.
    ``skip`` (F,) bool: triangles not drawn at all (folds already found by the caller, so they are found once).
    ``compiled``: use the Numba kernel when it is available (same result; False runs the numpy reference).
    Returns (map_x, map_y, covered).  Uncovered cells hold the identity, so what lies outside the mesh stays put.
    """
    gh, gw = grid_shape
    ox, oy = origin
    map_x = np.empty((gh, gw), dtype=np.float32)
    map_y = np.empty((gh, gw), dtype=np.float32)
    map_x[:] = ox + (np.arange(gw, dtype=np.float32) + 0.5) * cell - 0.5
    map_y[:] = (oy + (np.arange(gh, dtype=np.float32) + 0.5) * cell - 0.5)[:, None]
    covered = np.zeros((gh, gw), dtype=bool)
    if len(triangles) == 0:
        return map_x, map_y, covered
    kernel = _kernel() if compiled else None
    if kernel is not None:
        _scan(kernel, dst_xy, depth, src_xy, triangles, skip, cullable, None, (ox, oy), cell, map_x, map_y, covered)
        return map_x, map_y, covered
    if skip is not None:
        keep = ~np.asarray(skip, dtype=bool)
        triangles = triangles[keep]
        cullable = None if cullable is None else cullable[keep]

    g = (dst_xy - np.array([ox, oy])) / cell + (0.5 / cell - 0.5)  # grid units: cell centres at integers
    tri = g[triangles]  # (F, 3, 2)
    tx, ty = tri[..., 0], tri[..., 1]
    x0, x1, x2 = tx[:, 0], tx[:, 1], tx[:, 2]
    y0, y1, y2 = ty[:, 0], ty[:, 1], ty[:, 2]
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    row_lo = np.maximum(np.ceil(np.minimum(np.minimum(y0, y1), y2)), 0).astype(np.int64)
    row_hi = np.minimum(np.floor(np.maximum(np.maximum(y0, y1), y2)), gh - 1).astype(np.int64)
    ok = ((np.abs(area) > 1e-9) & (row_hi >= row_lo) & (np.maximum(np.maximum(x0, x1), x2) >= 0)
          & (np.minimum(np.minimum(x0, x1), x2) <= gw - 1))
    if cullable is not None:
        ok &= ~(cullable & folded_triangles(src_xy, dst_xy, triangles, area))
    faces = np.nonzero(ok)[0]
    if faces.size == 0:
        return map_x, map_y, covered
    x0, x1, x2, y0, y1, y2 = x0[faces], x1[faces], x2[faces], y0[faces], y1[faces], y2[faces]
    inv = 1.0 / area[faces]
    # Barycentric weights w_i = a_i x + b_i y + c_i.
    a = np.stack([(y1 - y2), (y2 - y0), (y0 - y1)], axis=1) * inv[:, None]
    b = np.stack([(x2 - x1), (x0 - x2), (x1 - x0)], axis=1) * inv[:, None]
    c = np.stack([x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0], axis=1) * inv[:, None]
    # Affine coefficients of depth and source position over each triangle: q = qa x + qb y + qc.
    vid = triangles[faces]
    values = np.stack([depth[vid], src_xy[vid, 0], src_xy[vid, 1]], axis=2)  # (F, 3 vertices, 3 quantities)
    qa = np.einsum("fk,fkq->fq", a, values)
    qb = np.einsum("fk,fkq->fq", b, values)
    qc = np.einsum("fk,fkq->fq", c, values)

    # Spans: for each (triangle, row), the x where all three weights are >= 0.  Each weight is handled as its own
    # 1-D array (reductions over a length-3 axis are slow in numpy).
    rows, owner = _ragged_arange(row_lo[faces], row_hi[faces] - row_lo[faces] + 1)
    eps = 1e-7
    lower = np.full(len(rows), -np.inf)
    upper = np.full(len(rows), np.inf)
    blocked = np.zeros(len(rows), dtype=bool)
    for k in range(3):
        ak = a[:, k][owner]
        base = b[:, k][owner] * rows + c[:, k][owner]  # w_k = ak * x + base on this row
        pos, neg = ak > eps, ak < -eps
        bound = -base / np.where(pos | neg, ak, 1.0)
        np.maximum(lower, np.where(pos, bound, -np.inf), out=lower)
        np.minimum(upper, np.where(neg, bound, np.inf), out=upper)
        blocked |= ~pos & ~neg & (base < -eps)
    left = np.maximum(np.ceil(lower - 1e-6), 0)
    right = np.minimum(np.floor(upper + 1e-6), gw - 1)
    count = np.where(blocked, 0, np.maximum(right - left + 1, 0)).astype(np.int64)
    live = count > 0
    if not live.any():
        return map_x, map_y, covered
    rows, owner, left, count = rows[live], owner[live], left[live].astype(np.int64), count[live]
    # Per span, each quantity as its own contiguous array: per-cell gathers from 1-D arrays are the hot loop.
    start = [qb[:, q][owner] * rows + qc[:, q][owner] for q in range(3)]  # value at x = 0 on the row
    slope = [qa[:, q][owner] for q in range(3)]
    cols, span = _ragged_arange(left, count)
    x = cols.astype(np.float64)
    z = slope[0][span] * x + start[0][span]
    pix = rows[span] * gw + cols
    if len(pix) > len(np.unique(pix)) if len(pix) < 64 else True:
        zbuf = np.full(gh * gw, -np.inf)
        np.maximum.at(zbuf, pix, z)
        win = z >= zbuf[pix]
        pix, x, span = pix[win], x[win], span[win]
    map_x.reshape(-1)[pix] = slope[1][span] * x + start[1][span]
    map_y.reshape(-1)[pix] = slope[2][span] * x + start[2][span]
    covered.reshape(-1)[pix] = True
    return map_x, map_y, covered
