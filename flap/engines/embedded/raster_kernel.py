"""The rasteriser's inner loop compiled with Numba: a z-buffered scan of each triangle's rows and cells.

It computes exactly what the numpy rasteriser (flap.engines.embedded.rasterizer) computes, in the same float64
arithmetic and order: the same spans (barycentric bounds per row), the same affine depth and source position per
cell, and the same winner per cell (the closest triangle; of equal depths, the later triangle).  numpy builds a
ragged array of every covered cell first; here each cell costs a compare and two stores, with no temporaries.

``cache=True`` keeps the machine code in ``__pycache__`` (or Numba's user cache when the package folder is
read-only), so only the first process on a machine compiles (about 2 s, when the module is first imported);
``nogil=True`` lets the encoder's thread run beside it.
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np


def _njit(signature: str | None):
    """njit for one explicit signature (compiled when first imported, then loaded from the on-disk cache), so no
    frame ever waits for a compilation: with signatures left to Numba, a view that happens to be contiguous (a
    region as wide as the frame) would be a new type, compiled mid-video.  ``None`` leaves the types to Numba (for
    small helpers called from other kernels).  Where no cache can be written (no writable folder) it still works,
    compiled in each process."""
    args = () if signature is None else (signature,)

    def decorate(fn):
        try:
            return numba.njit(*args, cache=True, nogil=True)(fn)
        except RuntimeError:  # "cannot cache function ...: no locator available" (read-only install, no home)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return numba.njit(*args, nogil=True)(fn)
    return decorate


# Inputs C-contiguous (the caller makes them so), the maps any 2-D views.
@_njit("void(f8[:, ::1], f8[::1], f8[:, ::1], i8[:, ::1], b1[::1], b1[::1], b1[:, :], f8, f8, f8, f4[:, :], f4[:, :], "
       "b1[:, :], b1[::1])")
def scan_triangles(dst_xy, depth, values, triangles, drop, cullable, locked, ox, oy, cell, map_x, map_y, covered,
                   culled):  # pragma: no cover - compiled
    """Rasterise ``triangles`` into ``map_x``/``map_y``/``covered`` (modified in place; uncovered cells untouched).

    dst_xy (V, 2) output pixels; depth (V,) larger = closer; values (V, 2) what is interpolated (source xy);
    triangles (F, 3) int64; drop (F,) bool: triangles not drawn; cullable (F,) bool: dropped where folded (their
    orientation against ``values`` flipped); locked (gh, gw) bool: cells never written; culled (F,) bool, output:
    set where a triangle was dropped as a fold.  Pass empty arrays for none of ``drop`` / ``cullable`` /
    ``locked`` / ``culled``.
    """
    gh, gw = map_x.shape
    shift = 0.5 / cell - 0.5
    zbuf = np.full((gh, gw), -np.inf)
    use_drop = drop.shape[0] > 0
    use_cull = cullable.shape[0] > 0
    use_lock = locked.shape[0] > 0
    mark = culled.shape[0] > 0
    eps = 1e-7
    for f in range(triangles.shape[0]):
        if use_drop and drop[f]:
            continue
        i0, i1, i2 = triangles[f, 0], triangles[f, 1], triangles[f, 2]
        x0 = (dst_xy[i0, 0] - ox) / cell + shift
        y0 = (dst_xy[i0, 1] - oy) / cell + shift
        x1 = (dst_xy[i1, 0] - ox) / cell + shift
        y1 = (dst_xy[i1, 1] - oy) / cell + shift
        x2 = (dst_xy[i2, 0] - ox) / cell + shift
        y2 = (dst_xy[i2, 1] - oy) / cell + shift
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if not abs(area) > 1e-9:
            continue
        row_lo = max(math.ceil(min(min(y0, y1), y2)), 0)
        row_hi = min(math.floor(max(max(y0, y1), y2)), gh - 1)
        if row_hi < row_lo or max(max(x0, x1), x2) < 0 or min(min(x0, x1), x2) > gw - 1:
            continue
        if use_cull and cullable[f]:
            sx0, sy0 = values[i0, 0], values[i0, 1]
            src_area = (values[i1, 0] - sx0) * (values[i2, 1] - sy0) - (values[i1, 1] - sy0) * (values[i2, 0] - sx0)
            if abs(src_area) > 0.05 and np.sign(src_area) != np.sign(area):
                if mark:
                    culled[f] = True
                continue
        inv = 1.0 / area
        a0, a1, a2 = (y1 - y2) * inv, (y2 - y0) * inv, (y0 - y1) * inv
        b0, b1, b2 = (x2 - x1) * inv, (x0 - x2) * inv, (x1 - x0) * inv
        c0 = (x1 * y2 - x2 * y1) * inv
        c1 = (x2 * y0 - x0 * y2) * inv
        c2 = (x0 * y1 - x1 * y0) * inv
        d0, d1, d2 = depth[i0], depth[i1], depth[i2]
        u0, u1, u2 = values[i0, 0], values[i1, 0], values[i2, 0]
        v0, v1, v2 = values[i0, 1], values[i1, 1], values[i2, 1]
        za, zb, zc = a0 * d0 + a1 * d1 + a2 * d2, b0 * d0 + b1 * d1 + b2 * d2, c0 * d0 + c1 * d1 + c2 * d2
        ua, ub, uc = a0 * u0 + a1 * u1 + a2 * u2, b0 * u0 + b1 * u1 + b2 * u2, c0 * u0 + c1 * u1 + c2 * u2
        va, vb, vc = a0 * v0 + a1 * v1 + a2 * v2, b0 * v0 + b1 * v1 + b2 * v2, c0 * v0 + c1 * v1 + c2 * v2
        for row in range(row_lo, row_hi + 1):
            lower, upper = -np.inf, np.inf
            blocked = False
            for k in range(3):
                ak = a0 if k == 0 else (a1 if k == 1 else a2)
                bk = b0 if k == 0 else (b1 if k == 1 else b2)
                ck = c0 if k == 0 else (c1 if k == 1 else c2)
                base = bk * row + ck
                if ak > eps:
                    lower = max(lower, -base / ak)
                elif ak < -eps:
                    upper = min(upper, -base / ak)
                elif base < -eps:
                    blocked = True
            if blocked:
                continue
            left = max(math.ceil(lower - 1e-6), 0.0)
            right = min(math.floor(upper + 1e-6), gw - 1.0)
            if right < left:
                continue
            zs, us, vs = zb * row + zc, ub * row + uc, vb * row + vc
            for col in range(int(left), int(right) + 1):
                x = float(col)
                z = za * x + zs
                if z >= zbuf[row, col] and not (use_lock and locked[row, col]):
                    zbuf[row, col] = z
                    map_x[row, col] = ua * x + us
                    map_y[row, col] = va * x + vs
                    covered[row, col] = True
