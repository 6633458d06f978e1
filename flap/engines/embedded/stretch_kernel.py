"""The stretch limiter's inner loop (flap.engines.embedded.stretch), compiled by Numba for one signature."""

from __future__ import annotations

import numpy as np

from flap.engines.embedded.raster_kernel import _njit


@_njit("void(f8[:, :, ::1], i8[:, ::1], f8[:, ::1], f8[:, ::1], i8[:, ::1], f8[:, ::1], f8[::1], i8)")
def gauss_seidel(p, edges, cap, share, triangles, area_cap, mobility, iterations):  # pragma: no cover - compiled
    """Shorten each over-long edge and shrink each over-grown triangle in turn, in place (edges in order from the
    face outward, so a sweep carries a correction all the way out to the anchored background).  A triangle shrinks
    about its least mobile corners; a folded one (negative area against the photo's) is left to the culling."""
    for t in range(p.shape[0]):
        for _ in range(iterations):
            worst = 0.0
            for f in range(triangles.shape[0]):
                i, j, k = triangles[f, 0], triangles[f, 1], triangles[f, 2]
                area = 0.5 * ((p[t, j, 0] - p[t, i, 0]) * (p[t, k, 1] - p[t, i, 1])
                              - (p[t, j, 1] - p[t, i, 1]) * (p[t, k, 0] - p[t, i, 0]))
                ratio = area / area_cap[t, f]
                if ratio <= 1.0:
                    continue
                if ratio - 1.0 > worst:
                    worst = ratio - 1.0
                scale = 1.0 / np.sqrt(ratio)
                wi, wj, wk = 1.0 - mobility[i] + 1e-6, 1.0 - mobility[j] + 1e-6, 1.0 - mobility[k] + 1e-6
                cx = (wi * p[t, i, 0] + wj * p[t, j, 0] + wk * p[t, k, 0]) / (wi + wj + wk)
                cy = (wi * p[t, i, 1] + wj * p[t, j, 1] + wk * p[t, k, 1]) / (wi + wj + wk)
                top = max(mobility[i], mobility[j], mobility[k])
                for v in (i, j, k):
                    share_v = mobility[v] / top
                    p[t, v, 0] += share_v * (cx + scale * (p[t, v, 0] - cx) - p[t, v, 0])
                    p[t, v, 1] += share_v * (cy + scale * (p[t, v, 1] - cy) - p[t, v, 1])
            for e in range(edges.shape[0]):
                i, j = edges[e, 0], edges[e, 1]
                dx = p[t, j, 0] - p[t, i, 0]
                dy = p[t, j, 1] - p[t, i, 1]
                length = np.sqrt(dx * dx + dy * dy)
                excess = length - cap[t, e]
                if excess <= 0.0:
                    continue
                if excess / cap[t, e] > worst:
                    worst = excess / cap[t, e]
                k = excess / max(length, 1e-9)
                p[t, i, 0] += share[e, 0] * k * dx
                p[t, i, 1] += share[e, 0] * k * dy
                p[t, j, 0] -= share[e, 1] * k * dx
                p[t, j, 1] -= share[e, 1] * k * dy
            if worst == 0.0:  # (a tolerance here would make the result jump between frames: a pop)
                break
