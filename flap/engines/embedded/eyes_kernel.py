"""The eyeball turn of flap.engines.embedded.eyes, per pixel of one eye opening, in one Numba pass (numpy's
thirty array statements per eye cost 0.25 ms a frame)."""

from __future__ import annotations

import numpy as np

from flap.engines.embedded.raster_kernel import _njit


@_njit("void(f4[:, :], f4[:, :], u1[:, ::1], i8, i8, f8[::1], f8[::1], f8[::1], f8[::1])")
def turn_eye(map_x, map_y, mask, ox, oy, frame, turn, lid_top, lid_bottom):  # pragma: no cover - compiled
    """map_x/map_y modified in place where ``mask`` (its top-left at (ox, oy) in the maps) is set, blended by it.
    frame: corner x, y, axis x, y, width, iris u, iris v, radius; turn: du, dv, share of dv shown, left white,
    right white, lids' cover (top, bottom: shares of the opening); lid_top/lid_bottom: the opening's edges across the axis at evenly spaced points along it."""
    cx, cy, ex, ey, width, iris_u, iris_v, radius = frame[0], frame[1], frame[2], frame[3], frame[4], frame[5], frame[6], frame[7]
    du, dv, across, left, right, cover_top, cover_bottom = turn[0], turn[1], turn[2], turn[3], turn[4], turn[5], turn[6]
    shown = max(1.0 - cover_top - cover_bottom, 0.0)
    nx, ny = -ey, ex
    start, end = iris_u - radius + du, iris_u + radius + du
    k = len(lid_top) - 1
    for r in range(mask.shape[0]):
        for c in range(mask.shape[1]):
            a = mask[r, c]
            if a == 0:
                continue
            y, x = oy + r, ox + c
            qx, qy = map_x[y, x] - cx, map_y[y, x] - cy
            u, v = qx * ex + qy * ey, qx * nx + qy * ny
            if u < start:
                su = u * max(left, 1e-6) / max(start, 1e-6)
            elif u > end:
                su = iris_u + radius + (u - end) * max(right, 1e-6) / max(width - end, 1e-6)
            else:
                su = u - du
            su = min(max(su, 0.0), width)
            off = np.hypot(u - (iris_u + du), v - (iris_v + dv))
            reach = min(max(1.0 - (off - 0.6 * radius) / max(radius, 1e-6), 0.0), 1.0)
            sv = v - across * dv * reach * reach * (3.0 - 2.0 * reach)
            t = su / max(width, 1e-6) * k
            i = min(int(t), k - 1)
            f = t - i
            top = lid_top[i] * (1 - f) + lid_top[i + 1] * f
            bottom = lid_bottom[i] * (1 - f) + lid_bottom[i + 1] * f
            # lids that came down (or up) cover the eye rather than squeeze it: the opening shows the band of the
            # photo's eye between them (a squeezed eye flattens the iris into a hard line)
            span = max(bottom - top, 1e-6)
            share = min(max((sv - top) / span, 0.0), 1.0)
            # ... but within 1.5 pixels of a lid the lid's own margin (its lashes) stays: a closed eye is a dark line
            margin = min(min(share, 1.0 - share) * span * shown / 1.5, 1.0)
            sv += margin * (top + (cover_top + share * shown) * span - sv)
            sv = min(max(sv, min(top + 0.5, bottom)), max(bottom - 0.5, top))
            w = a / 255.0
            map_x[y, x] += w * (cx + su * ex + sv * nx - map_x[y, x])
            map_y[y, x] += w * (cy + su * ey + sv * ny - map_y[y, x])
