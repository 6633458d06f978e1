"""Measures of how a rendered mouth looks, from the frame and its landmarks: a crack between closed lips, teeth
painted as a flat band, a mouth with no tongue or lower teeth.  Used by tests/test_mouth_look.py and
benchmarks/eval_mouth.py; figures that fail where a viewer would see a painted mouth."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flap.face import landmark_groups as G

LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class _Axes:
    centre: np.ndarray
    e_u: np.ndarray
    e_v: np.ndarray
    half: float

    @staticmethod
    def of(landmarks_xy: np.ndarray) -> "_Axes":
        right, left = landmarks_xy[G.UPPER_INNER_LIP[0]], landmarks_xy[G.UPPER_INNER_LIP[-1]]
        axis = left - right
        width = max(float(np.linalg.norm(axis)), 1e-6)
        e_u = axis / width
        return _Axes((left + right) / 2, e_u, np.array([-e_u[1], e_u[0]]), width / 2)

    def profile(self, contour: np.ndarray, at: np.ndarray) -> np.ndarray:
        rel = contour - self.centre
        u, v = rel @ self.e_u / self.half, rel @ self.e_v
        order = np.argsort(u)
        return np.interp(at, u[order], v[order])

    def sample(self, luma: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        pos = self.centre + (u * self.half)[..., None] * self.e_u + v[..., None] * self.e_v
        return cv2.remap(luma, pos[..., 0].astype(np.float32), pos[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)


def _luma(frame: np.ndarray) -> np.ndarray:
    return (frame.astype(np.float32) @ LUMA.astype(np.float32)).astype(np.float32)


def _contours(landmarks_xy: np.ndarray, at: np.ndarray) -> tuple[_Axes, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    axes = _Axes.of(landmarks_xy)
    return (axes,) + tuple(axes.profile(landmarks_xy[list(g)], at) for g in (G.UPPER_OUTER_LIP, G.UPPER_INNER_LIP,
                                                                          G.LOWER_INNER_LIP, G.LOWER_OUTER_LIP))


def seam_darkness(frame: np.ndarray, landmarks_xy: np.ndarray, span: float = 0.7) -> float:
    """How dark the line between closed lips is against the lips themselves: per column across the middle
    ``span`` of the mouth, 1 - (darkest luminance near the lips' meeting line) / (median luminance of the darker
    lip body); the median over columns.  0: no seam; about 0.3: a natural closed-lip shadow; toward 1: a crack."""
    at = np.linspace(-span, span, 41)
    axes, top_out, top_in, bottom_in, bottom_out = _contours(landmarks_xy, at)
    luma = _luma(frame)
    meet = 0.5 * (top_in + bottom_in)
    reach = max(2.0, 0.04 * 2 * axes.half) + 0.5 * np.maximum(bottom_in - top_in, 0.0)
    offsets = np.linspace(-1.0, 1.0, 9)[:, None]
    seam = axes.sample(luma, np.broadcast_to(at, (9, len(at))), meet + offsets * reach).min(axis=0)
    def lip(outer, inner):
        v = np.concatenate([outer + f * (inner - outer) for f in (0.3, 0.5, 0.7)])
        return float(np.median(axes.sample(luma, np.tile(at, 3)[None], v[None])[0]))

    darker_lip = min(lip(top_out, top_in), lip(bottom_out, bottom_in))  # lips of two tones: the seam vs the darker
    return float(np.median(1.0 - seam / max(darker_lip, 1.0)))


@dataclass(frozen=True)
class TeethShading:
    """The upper teeth band of an open mouth (just under the upper lip)."""

    centre: float  # mean luminance, middle of the mouth (|u| < 0.3)
    corner_ratio: float  # mean luminance at 0.5 < |u| < 0.75 over the centre's: < 1 when they recede into shadow
    lip_shadow_ratio: float  # luminance just under the upper lip over that at the band's middle: < 1 under a shadow
    spread: float  # std / mean of the band's luminance: 0 for a flat band


def teeth_shading(frame: np.ndarray, landmarks_xy: np.ndarray, depth: float = 0.09) -> TeethShading:
    """The upper teeth band: ``depth`` of the mouth width below the upper inner lip (at most half the opening)."""
    at = np.linspace(-0.8, 0.8, 65)
    axes, _, top_in, bottom_in, _ = _contours(landmarks_xy, at)
    luma = _luma(frame)
    height = np.minimum(depth * 2 * axes.half, 0.5 * np.maximum(bottom_in - top_in, 0.0))
    rows = np.linspace(0.1, 0.9, 7)[:, None]
    band = axes.sample(luma, np.broadcast_to(at, (7, len(at))), top_in + rows * height)
    a = np.abs(at)
    centre = band[2:5, a < 0.3].mean()
    side = band[2:5, (a > 0.5) & (a < 0.75)].mean()
    mid = np.abs(at) < 0.4
    return TeethShading(centre=float(centre), corner_ratio=float(side / max(centre, 1e-3)),
                        lip_shadow_ratio=float(band[0, mid].mean() / max(band[3, mid].mean(), 1e-3)),
                        spread=float(band[:, a < 0.6].std() / max(band[:, a < 0.6].mean(), 1e-3)))


def lower_interior(frame: np.ndarray, landmarks_xy: np.ndarray) -> tuple[float, float]:
    """(lower, deep): mean luminance of the lowest quarter of the opening (tongue, lower teeth) and of the
    darkest part of its middle (per column, the darkest of 20-80 % of the opening's height: the cavity), over
    the middle half of the mouth.  A painted mouth with a black floor has lower ~ deep; a real one shows its
    tongue or lower teeth brighter than the dark inside."""
    at = np.linspace(-0.5, 0.5, 33)
    axes, _, top_in, bottom_in, _ = _contours(landmarks_xy, at)
    luma = _luma(frame)
    gap = np.maximum(bottom_in - top_in, 0.0)
    lower = axes.sample(luma, np.broadcast_to(at, (3, len(at))), bottom_in - np.array([[0.08], [0.15], [0.22]]) * gap)
    rows = np.linspace(0.2, 0.8, 13)[:, None]
    deep = axes.sample(luma, np.broadcast_to(at, (13, len(at))), top_in + rows * gap).min(axis=0)
    return float(lower.mean()), float(deep.mean())


def corner_lift(landmarks_xy: np.ndarray) -> float:
    """Mouth corners above the lip centre, over the mouth width: > 0 a smile, < 0 corners turned down."""
    centre = (landmarks_xy[G.UPPER_INNER_LIP[5], 1] + landmarks_xy[G.LOWER_INNER_LIP[5], 1]) / 2
    corners = (landmarks_xy[G.MOUTH_CORNERS[0], 1] + landmarks_xy[G.MOUTH_CORNERS[1], 1]) / 2
    width = np.linalg.norm(landmarks_xy[G.MOUTH_CORNERS[0], :2] - landmarks_xy[G.MOUTH_CORNERS[1], :2])
    return float((centre - corners) / max(float(width), 1e-6))


def lip_overlap(landmarks_xy: np.ndarray) -> float:
    """How far (pixels) the lower inner lip rides above the upper one anywhere along the mouth (0 when not)."""
    gap = landmarks_xy[list(G.LOWER_INNER_LIP[1:-1]), 1] - landmarks_xy[list(G.UPPER_INNER_LIP[1:-1]), 1]
    return float(max(0.0, -gap.min()))


def lip_thickness(landmarks_xy: np.ndarray, span: float = 0.5) -> tuple[float, float]:
    """(upper, lower): median thickness (pixels) of each lip across the middle ``span`` of the mouth, measured
    across the mouth's axis at the same place along it (outer to inner contour).  A lip that thins as the mouth
    opens reads as a rubber ring; real lips keep their thickness (the lower lip rolls down with the jaw)."""
    at = np.linspace(-span, span, 21)
    _, top_out, top_in, bottom_in, bottom_out = _contours(landmarks_xy, at)
    return float(np.median(top_in - top_out)), float(np.median(bottom_out - bottom_in))


@dataclass(frozen=True)
class OpeningShape:
    """The outline of an open mouth (the inner lip contours, corner to corner)."""

    sharpest_turn: float  # degrees: the largest turn of the outline at any landmark between the corners
    corner_angle: float  # degrees: how wide the outline opens at the corners (mean of both)
    corner_share: float  # the opening at 80 % of the way to each corner over the opening in the middle


def opening_shape(landmarks_xy: np.ndarray) -> OpeningShape:
    """How the open mouth's outline is shaped: a polygon with blunt ends (a box or hexagon) turns sharply at the
    landmarks beside the corners and opens there almost as wide as in the middle; a real mouth curves smoothly
    and its lips meet at the corners in a narrow angle (the commissures barely part)."""
    upper, lower = landmarks_xy[list(G.UPPER_INNER_LIP)], landmarks_xy[list(G.LOWER_INNER_LIP)]
    loop = np.concatenate([upper, lower[1:-1][::-1]])  # corner, upper lip, other corner, lower lip back
    d = np.roll(loop, -1, axis=0) - loop
    heading = np.arctan2(d[:, 1], d[:, 0])
    turn = np.degrees(np.abs(np.angle(np.exp(1j * (heading - np.roll(heading, 1))))))  # turn at each vertex
    corners = [0, len(upper) - 1]
    inner = np.delete(turn, corners)
    angles = []
    for c, (a, b) in zip(corners, ((upper[2], lower[2]), (upper[-3], lower[-3]))):
        u, v = a - loop[c], b - loop[c]
        cos = float(u @ v / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-6))
        angles.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    at = np.array([-0.8, 0.0, 0.8])
    _, _, top_in, bottom_in, _ = _contours(landmarks_xy, at)
    gap = np.maximum(bottom_in - top_in, 0.0)
    return OpeningShape(sharpest_turn=float(inner.max()), corner_angle=float(np.mean(angles)),
                        corner_share=float(0.5 * (gap[0] + gap[2]) / max(gap[1], 1e-6)))



def _valley_depths(profile: np.ndarray, least: float = 10.0) -> list[float]:
    """Relative depth of each valley of ``profile``: 1 - value / (the lower of its two side peaks), a side peak
    being the highest value between the valley and the nearest lower point on that side (its prominence);
    valleys shallower than ``least`` (luminance) left out."""
    depths = []
    n = len(profile)
    for i in range(1, n - 1):
        if not (profile[i] < profile[i - 1] and profile[i] <= profile[i + 1]):
            continue
        peaks = []
        for step in (-1, 1):
            j, peak = i + step, profile[i]
            while 0 <= j < n and profile[j] >= profile[i]:
                peak = max(peak, profile[j])
                j += step
            peaks.append(peak)
        side = min(peaks)
        if side - profile[i] >= least:
            depths.append(1.0 - profile[i] / max(side, 1.0))
    return depths


def cavity_ridge(frame: np.ndarray, landmarks_xy: np.ndarray, span: float = 0.5) -> float:
    """A dark band across the inside of an open mouth besides its one cavity: per column over the middle
    ``span``, the luminance profile from the upper to the lower inner lip (1-px steps, the lips' shaded edges
    trimmed) and its valleys (each as deep as its lower side peak allows); the second deepest, relative
    (1 - valley / side peak); the 75th percentile over columns.  A real mouth is one dark cavity between the
    upper teeth and the tongue or lower teeth (about 0); a tongue cut by a second dark band (the photo's interior
    torn between the lips) reads toward 1."""
    at = np.linspace(-span, span, 21)
    axes, _, top_in, bottom_in, _ = _contours(landmarks_xy, at)
    luma = cv2.GaussianBlur(_luma(frame), (0, 0), 0.7)
    ridges = []
    for u, t, b in zip(at, top_in, bottom_in):
        gap = b - t
        if gap < 8:
            continue
        trim = max(1.5, 0.08 * gap)
        v = np.arange(t + trim, b - trim, 1.0)
        depths = sorted(_valley_depths(axes.sample(luma, np.full((1, len(v)), u), v[None])[0]))
        ridges.append(depths[-2] if len(depths) > 1 else 0.0)
    return float(np.percentile(ridges, 75)) if ridges else 0.0


def tongue_surface(frame: np.ndarray, landmarks_xy: np.ndarray) -> np.ndarray:
    """The floor of an open mouth (the tongue) in the mouth's own coordinates: luminance on a grid across the
    middle of the mouth (|u| < 0.4, 25 columns) from 12 % to 40 % of the opening above the lower inner lip
    (8 rows), minus its own blur (the shading and the tongue's outline): what is left is the surface's fine
    texture, (8, 25)."""
    at = np.linspace(-0.4, 0.4, 25)
    axes, _, top_in, bottom_in, _ = _contours(landmarks_xy, at)
    gap = np.maximum(bottom_in - top_in, 0.0)
    rows = np.linspace(0.12, 0.4, 8)[:, None]
    grid = axes.sample(_luma(frame), np.broadcast_to(at, (8, len(at))), bottom_in - rows * gap)
    return grid - cv2.GaussianBlur(grid, (0, 0), 1.2, borderType=cv2.BORDER_REFLECT)


def tongue_texture(frame: np.ndarray, landmarks_xy: np.ndarray) -> float:
    """How textured the tongue is: the median absolute ``tongue_surface`` over the mean luminance there (the
    median: a lower tooth's or the tongue's edge crossing the grid is a few samples); 0 for a flat painted floor,
    a real tongue's papillae and wet highlights give about a percent."""
    at = np.linspace(-0.4, 0.4, 25)
    axes, _, top_in, bottom_in, _ = _contours(landmarks_xy, at)
    level = axes.sample(_luma(frame), at[None], (bottom_in - 0.25 * (bottom_in - top_in))[None]).mean()
    return float(np.median(np.abs(tongue_surface(frame, landmarks_xy))) / max(level, 1.0))


def seam_ripple(frame: np.ndarray, landmarks_xy: np.ndarray, span: float = 0.6) -> float:
    """How dotted the line between barely parted lips is: luminance along the middle of the opening (|u| <
    ``span``, 1-px steps), minus its own blur over about two teeth; its deviation over its mean.  Tops of teeth
    with dark gaps between them (a row of dots, a zigzag) read high; an even row of teeth or a soft seam low."""
    axes = _Axes.of(landmarks_xy)
    n = max(8, int(round(2 * span * axes.half)))
    at = np.linspace(-span, span, n)
    _, _, top_in, bottom_in, _ = _contours(landmarks_xy, at)
    line = axes.sample(_luma(frame), at[None], (0.5 * (top_in + bottom_in))[None])[0]
    sigma = max(2.0, 0.08 * axes.half * 2)
    smooth = cv2.GaussianBlur(line[None].astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)[0]
    return float((line - smooth).std() / max(float(line.mean()), 1.0))


def edge_staircase(frame: np.ndarray, landmarks_xy: np.ndarray, span: float = 0.7) -> float:
    """How stair-stepped the outline of an open mouth is (pixels): along each inner lip (|u| < ``span``, four
    samples a pixel), where the edge lies across it (the centroid of the luminance gradient within 2.5 px of the
    contour, bilinear samples a quarter pixel apart), minus that edge's own smooth course (a blur over 2 px along
    the mouth); the RMS of what is left, the larger of the two lips.  A hard (0/1 coverage) edge jumps a whole
    pixel at each step, about 0.15-0.3; an anti-aliased one follows its curve, under 0.1."""
    axes = _Axes.of(landmarks_xy)
    n = max(16, int(round(4 * 2 * span * axes.half)))
    at = np.linspace(-span, span, n)
    _, _, top_in, bottom_in, _ = _contours(landmarks_xy, at)
    luma = _luma(frame)
    d = np.arange(-2.5, 2.51, 0.25)[:, None]
    worst = 0.0
    for contour in (top_in, bottom_in):
        prof = axes.sample(luma, np.broadcast_to(at, (len(d), n)), contour[None] + d)
        grad = np.abs(np.diff(prof, axis=0)) ** 2
        centre = 0.5 * (d[1:] + d[:-1])
        weight = grad.sum(axis=0)
        ok = weight > 1.0
        edge = contour + (grad * centre).sum(axis=0) / np.maximum(weight, 1e-6)
        sigma = 2.0 * 4  # 2 px along the mouth, in samples
        smooth = cv2.GaussianBlur(edge[None].astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)[0]
        trim = int(2 * sigma)
        res = (edge - smooth)[trim:-trim][ok[trim:-trim]]
        if len(res) > 8:
            worst = max(worst, float(np.sqrt(np.mean(res ** 2))))
    return worst


def teeth_crack(frame: np.ndarray, landmarks_xy: np.ndarray, span: float = 0.6, reach: float = 2.5,
                deep: float = 0.5) -> float:
    """A thin dark line across the teeth: per column over the middle ``span`` of an open mouth (a column a pixel),
    the luminance profile from the upper to the lower inner lip (half-pixel steps); the column is cracked where a
    sample is darker than ``deep`` below the dimmer of the brightest within ``reach`` px on either side, both
    sides bright (over 0.55 of the column's brightest: teeth or tongue, not the cavity).  The share of columns
    cracked.  A mouth closing over its own teeth (upper teeth coming over the lower ones): 0; the black
    stair-stepped line drawn between them: 0.15-0.5 (so would a real thin gap between parted teeth be: this is for
    a mouth less open than the photo's)."""
    axes = _Axes.of(landmarks_xy)
    n = max(9, int(round(2 * span * axes.half)))
    at = np.linspace(-span, span, n)
    _, _, top_in, bottom_in, _ = _contours(landmarks_xy, at)
    luma = _luma(frame)
    k = int(round(2 * reach))
    cracked = []
    for u, t, b in zip(at, top_in, bottom_in):
        v = np.arange(t + 1.0, b - 1.0, 0.5)
        if len(v) < 2 * k + 3:
            continue
        prof = axes.sample(luma, np.full((1, len(v)), u), v[None])[0]
        bright = 0.55 * prof.max()
        crack = False
        for i in range(k, len(prof) - k):
            side = min(prof[i - k:i].max(), prof[i + 1:i + k + 1].max())
            crack = crack or (side > bright and prof[i] < (1.0 - deep) * side)
        cracked.append(crack)
    return float(np.mean(cracked)) if cracked else 0.0


def lip_line(frame: np.ndarray, landmarks_xy: np.ndarray, span: float = 0.6) -> float:
    """A thin line drawn along the top of an open mouth: per column over the middle ``span``, the luminance across
    the upper inner lip (4 px either side, half-pixel steps) and its highest thin ridge, how far a sample rises above
    the higher of its two sides' minima within 2 px, over the luminance 4 px above the lip; the median over
    columns.  0 where the lip (or the hair over it) runs into the dark; a painted lip edge that the photo has
    no lip for shows as a ridge."""
    at = np.linspace(-span, span, 25)
    axes, _, top_in, bottom_in, _ = _contours(landmarks_xy, at)
    luma = _luma(frame)
    d = np.arange(-4.0, 4.01, 0.5)
    prof = axes.sample(luma, np.broadcast_to(at, (len(d), len(at))), top_in[None] + d[:, None])
    ridges = []
    for j in range(len(at)):
        p = prof[:, j]
        best = 0.0
        for i in range(4, len(p) - 4):
            best = max(best, p[i] - max(p[i - 4:i].min(), p[i + 1:i + 5].min()))
        ridges.append(best / max(float(p[0]), 1.0))
    return float(np.median(ridges))


def _lip_bodies_luma(axes, luma: np.ndarray, at: np.ndarray, top_out, top_in, bottom_in, bottom_out) -> float:
    """The median luminance midway through both lips' bodies at the columns ``at``: what the mouth's dark and bright
    parts are measured against."""
    return float(np.median(axes.sample(luma, np.concatenate([at, at])[None],
                                       np.concatenate([0.5 * (top_out + top_in), 0.5 * (bottom_in + bottom_out)])[None])))


def dark_height(frame: np.ndarray, landmarks_xy: np.ndarray, span: float = 0.5) -> float:
    """How tall the dark of an open mouth shows, over the mouth's width: per column over the middle ``span``, the
    pixels between the inner lips darker than 0.35 of the median luminance of the lips' bodies around; the most."""
    at = np.linspace(-span, span, 21)
    axes, top_out, top_in, bottom_in, bottom_out = _contours(landmarks_xy, at)
    luma = _luma(frame)
    around = _lip_bodies_luma(axes, luma, at, top_out, top_in, bottom_in, bottom_out)
    threshold = 0.35 * around
    most = 0.0
    for u, t, b in zip(at, top_in, bottom_in):
        v = np.arange(t, b, 0.5)
        if len(v) < 2:
            continue
        prof = axes.sample(luma, np.full((1, len(v)), u), v[None])[0]
        most = max(most, 0.5 * float((prof < threshold).sum()))
    return most / (2 * axes.half)


def teeth_heights(frame: np.ndarray, landmarks_xy: np.ndarray, span: float = 0.35) -> tuple[float, float]:
    """(upper, lower): how tall the upper teeth show below the upper inner lip and the lower teeth above the lower
    one, over the mouth's width: per column over the middle ``span``, the run of pixels brighter than 0.9 of the
    lip bodies' median luminance (teeth are lit brighter than lips; the cavity and tongue are darker) that starts
    within a tenth of the opening from that lip; the median over columns.  A wide-open real mouth shows its upper
    incisors about 0.15 of the mouth's width and the lower ones' edges; a painted one a thin line or none."""
    at = np.linspace(-span, span, 15)
    axes, top_out, top_in, bottom_in, bottom_out = _contours(landmarks_xy, at)
    luma = _luma(frame)
    around = _lip_bodies_luma(axes, luma, at, top_out, top_in, bottom_in, bottom_out)
    threshold = 0.9 * around
    runs = ([], [])
    for u, t, b in zip(at, top_in, bottom_in):
        gap = b - t
        if gap < 4:
            continue
        v = np.arange(t, b, 0.5)
        prof = axes.sample(luma, np.full((1, len(v)), u), v[None])[0] > threshold
        for side, p in enumerate((prof, prof[::-1])):
            start = max(4, int(0.2 * gap))  # (0.5-px steps: a tenth of the opening)
            first = np.argmax(p[:start]) if p[:start].any() else None
            if first is None:
                runs[side].append(0.0)
                continue
            rest = p[first:]
            runs[side].append(0.5 * float(np.argmin(rest) if not rest.all() else len(rest)))
    width = 2 * axes.half
    return tuple(float(np.median(r)) / width if r else 0.0 for r in runs)
