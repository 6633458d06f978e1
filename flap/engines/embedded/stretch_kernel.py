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


@_njit("b1[::1](f8[:, :, ::1], f8[:, :, ::1], i8[:, ::1], f8[::1], f8, i8[:, ::1], f8[::1], f8)")
def over_caps(p, unposed, edges, rest, max_stretch, triangles, rest_area, max_area):  # pragma: no cover - compiled
    """Per frame: does any edge grow past ``max_stretch`` times the longer of its length in the photo and in the
    frame's ``unposed`` positions, or any triangle past ``max_area`` times its area (same sign) there?"""
    out = np.zeros(p.shape[0], np.bool_)
    for t in range(p.shape[0]):
        for e in range(edges.shape[0]):
            i, j = edges[e, 0], edges[e, 1]
            dx = p[t, j, 0] - p[t, i, 0]
            dy = p[t, j, 1] - p[t, i, 1]
            length2 = dx * dx + dy * dy
            cap = max_stretch * rest[e]
            if length2 <= cap * cap:
                continue
            ux = unposed[t, j, 0] - unposed[t, i, 0]
            uy = unposed[t, j, 1] - unposed[t, i, 1]
            if length2 > max_stretch * max_stretch * max(rest[e] * rest[e], ux * ux + uy * uy):
                out[t] = True
                break
        if out[t]:
            continue
        for f in range(triangles.shape[0]):
            i, j, k = triangles[f, 0], triangles[f, 1], triangles[f, 2]
            area = 0.5 * ((p[t, j, 0] - p[t, i, 0]) * (p[t, k, 1] - p[t, i, 1])
                          - (p[t, j, 1] - p[t, i, 1]) * (p[t, k, 0] - p[t, i, 0]))
            ref = rest_area[f]
            if area / (max_area * ref) <= 1.0:
                continue
            own = 0.5 * ((unposed[t, j, 0] - unposed[t, i, 0]) * (unposed[t, k, 1] - unposed[t, i, 1])
                         - (unposed[t, j, 1] - unposed[t, i, 1]) * (unposed[t, k, 0] - unposed[t, i, 0]))
            if own * ref > 0 and abs(own) > abs(ref):
                ref = own
            if area / (max_area * ref) > 1.0:
                out[t] = True
                break
    return out
