"""A believable mouth: the interior of an opened mouth (cavity, teeth, tongue, wet inner lips), a photo's open
mouth filled with lip so that it can close, and anti-aliasing of the warp's hard edges around the lips.

Painted in the mouth's own frame (corner to corner), so it follows head roll and lip shape; colours are taken
from the person's lips, skin and eye whites (or the photo's own teeth) so it sits in the photo's lighting; the
per-pixel work is in numba kernels over the pixels the interior shows through, to stay as cheap as the warp.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flap.engines.embedded.raster_kernel import _njit
from flap.face import landmark_groups as G


@dataclass(frozen=True)
class MouthStyle:
    cavity: np.ndarray  # RGB float
    teeth: np.ndarray
    tongue: np.ndarray
    inner_lip: np.ndarray  # the wet inner side of the lips, seen just inside the opening
    lips_hidden: float = 0.0  # 0..1: a moustache or beard covers the lips (no lip to paint: hair over the opening)


def lips_hidden(crop: np.ndarray, landmarks: np.ndarray) -> float:
    """How surely the photo shows no lips (0..1): a moustache or beard hides them.  Visible lips have an upper
    border, an edge along the mouth, so just above the upper lip the luminance changes across the mouth far more
    than along it; hair hanging over the lips is textured every way.  Measured in the mouth's own frame at a
    fixed scale (the outer lip 100 px wide), so the same at any photo size: the gradient energy ratio (across /
    along) is 2.7-6.4 on the test faces with lips and 1.4-2.2 on the moustache and beard ones, at 256-768 px.  A
    colour photo whose lips are redder than its cheeks shows them whatever the texture."""
    pts = landmarks[:, :2].astype(np.float64)
    upper_out, lower_out = pts[list(G.UPPER_OUTER_LIP)], pts[list(G.LOWER_OUTER_LIP)]
    axis = pts[G.UPPER_INNER_LIP[-1]] - pts[G.UPPER_INNER_LIP[0]]
    width = float(np.linalg.norm(upper_out[-1] - upper_out[0]))
    if width < 8 or np.linalg.norm(axis) < 4:
        return 0.0
    e_u = axis / np.linalg.norm(axis)
    scale = 100.0 / width
    size = (130, 80)
    to_mouth = np.array([[e_u[0], e_u[1]], [-e_u[1], e_u[0]]]) * scale  # x along the mouth, y toward the lower lip
    offset = np.array([size[0] / 2, 50.0]) - to_mouth @ (0.5 * (pts[G.UPPER_INNER_LIP[0]] + pts[G.UPPER_INNER_LIP[-1]]))
    luma = crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    canonical = cv2.warpAffine(luma, np.hstack([to_mouth, offset[:, None]]), size, flags=cv2.INTER_LINEAR)
    upper, lower = upper_out @ to_mouth.T + offset, lower_out @ to_mouth.T + offset
    lips, above = np.zeros(size[::-1], np.uint8), np.zeros(size[::-1], np.uint8)
    cv2.fillPoly(lips, [np.round(np.concatenate([upper, lower[::-1]])).astype(np.int32)], 1)
    cv2.fillPoly(above, [np.round(np.concatenate([upper - [0.0, 25.0], upper[::-1]])).astype(np.int32)], 1)
    above = (above > 0) & (lips == 0)
    if above.sum() < 50:
        return 0.0
    blurred = cv2.GaussianBlur(canonical, (0, 0), 1.0)
    g_along, g_across = cv2.Sobel(blurred, cv2.CV_32F, 1, 0), cv2.Sobel(blurred, cv2.CV_32F, 0, 1)
    ratio = float((g_across[above] ** 2).mean() / max(float((g_along[above] ** 2).mean()), 1e-6))
    hidden = float(np.clip((2.6 - ratio) / 0.5, 0.0, 1.0))
    if hidden > 0 and _monochrome_tint(crop, pts[list(G.face_oval_loop())]) is None:
        redness = lambda c: float((c[0] - c[1]) / max(float(c.sum()), 1.0) * 3)  # noqa: E731
        cheeks = _sample(crop, pts[[50, 280, 101, 330, 205, 425]])
        mask = np.zeros(crop.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(np.concatenate([upper_out, lower_out[::-1]])).astype(np.int32)], 1)
        lip = np.median(crop[mask > 0].astype(np.float64), axis=0)
        hidden *= float(np.clip(1.0 - (redness(lip) - redness(cheeks)) / 0.05, 0.0, 1.0))
    return hidden


def _monochrome_tint(crop: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """A black-and-white or toned (sepia) photo: every pixel of the face the same hue (lips as skin), so colours
    painted into it must be its tint times their luminance.  The tint (RGB, luminance 1; grey: ones) or None."""
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    face = crop[mask > 0].astype(np.float64)
    total = face.sum(axis=1)
    face, total = face[total > 60], total[total > 60]
    if len(face) < 50:
        return None
    chroma = face / total[:, None]
    if float(np.mean(face.max(axis=1) - face.min(axis=1))) >= 6.0 and float(chroma[:, [0, 2]].std(axis=0).max()) >= 0.015:
        return None
    tint = chroma.mean(axis=0)
    return tint / float(tint @ np.array([0.299, 0.587, 0.114]))


def mouth_style(crop: np.ndarray, landmarks: np.ndarray) -> MouthStyle:
    """Colours from the portrait: lip tone for the cavity, inner lips and tongue, skin brightness for the teeth,
    all in the photo's light; grey on a greyscale photo, in its tone on a toned one."""
    pts = landmarks[:, :2]
    lips = np.array([pts[i] for i in G.LOWER_OUTER_LIP[2:-2]] + [pts[i] for i in G.LOWER_INNER_LIP[2:-2]])
    lip_colour = _sample(crop, lips)
    cheeks = np.array([pts[i] for i in (50, 280, 101, 330, 205, 425)])
    skin = _sample(crop, cheeks)
    light = float(np.clip(skin.mean() / 170.0, 0.45, 1.2))
    cavity = np.clip(lip_colour * 0.3 + np.array([8.0, 0.0, 1.0]), 0, 255) * min(light, 1.0)
    inner_lip = np.clip(lip_colour * 0.78, 0, 255)
    # Teeth: a little darker and warmer than the whites of the eyes (the same light falls on both); without
    # visible eye whites, ivory about as bright as the skin's brightest channel (and a fifth brighter than its
    # luminance: on a grey photo, where all channels are equal, teeth as grey as the skin did not read as teeth),
    # in the photo's white balance.
    tint = (skin / max(skin.mean(), 1.0)) ** 0.2
    bright = max(skin.max() * 0.92, 1.2 * float(skin @ np.array([0.299, 0.587, 0.114])))
    teeth = np.clip(np.array([1.0, 0.97, 0.9]) * tint * np.clip(bright, 70, 220), 40, 232)
    sclera = _sclera(crop, pts)
    if sclera is not None and np.ptp(sclera) < 0.8 * np.ptp(skin) and sclera.mean() > 0.7 * skin.mean():
        teeth = np.clip(0.5 * teeth + 0.5 * sclera * np.array([0.9, 0.87, 0.8]), 40, 232)
    own = _visible_teeth(crop, pts)
    if own is not None:  # the photo shows teeth: use their colour
        teeth = 0.8 * own + 0.2 * teeth
    dark = _dark_inside(crop, pts)
    if dark is not None:  # the photo's own dark inside: what lies between its teeth and tongue when opened wider
        cavity = dark
    tongue = np.clip(lip_colour * 0.9 + np.array([18.0, -4.0, -2.0]), 0, 255) * min(light, 1.0)
    colours = [cavity, teeth, tongue, inner_lip]
    tint = _monochrome_tint(crop, pts[list(G.face_oval_loop())])
    if tint is not None:
        colours = [np.clip(tint * float(c @ np.array([0.299, 0.587, 0.114])), 0, 255) for c in colours]
    return MouthStyle(*colours, lips_hidden=lips_hidden(crop, landmarks))


@dataclass(frozen=True)
class SourceMouth:
    """The photo's own open mouth: its teeth are reused, attached to the upper lip, instead of stretched."""

    image: np.ndarray
    upper: np.ndarray  # (11, 2) inner upper lip, corner to corner
    lower: np.ndarray
    split: np.ndarray  # (41,) at SOURCE_SAMPLES along the mouth: where the upper teeth end, pixels below the upper lip
    shows_inside: bool  # its dark inside and tongue show (not only teeth that touch): nothing to synthesize behind
    along: np.ndarray  # the photo blurred along its mouth's axis (over about a tooth's width)


SOURCE_SAMPLES = np.linspace(-1.0, 1.0, 41)


def source_mouth(crop: np.ndarray, landmarks: np.ndarray, min_opening: float = 0.06) -> SourceMouth | None:
    pts = landmarks[:, :2]
    upper, lower = pts[list(G.UPPER_INNER_LIP)].astype(np.float64), pts[list(G.LOWER_INNER_LIP)].astype(np.float64)
    width = np.linalg.norm(upper[-1] - upper[0])
    if width < 4 or np.max(np.linalg.norm(lower - upper, axis=1)) / width < min_opening:
        return None
    return SourceMouth(image=crop, upper=upper, lower=lower, split=_teeth_split(crop, upper, lower),
                       shows_inside=_dark_inside(crop, pts) is not None, along=_blur_along(crop, upper[-1] - upper[0]))


def _blur_along(crop: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """``crop`` blurred along ``axis`` only (a line kernel about a sixth of the axis long: two front teeth)."""
    length = float(np.linalg.norm(axis))
    half = max(2, int(round(0.08 * length)))
    kernel = np.zeros((2 * half + 1, 2 * half + 1), np.float32)
    d = axis / max(length, 1e-6)
    for t in np.linspace(-half, half, 4 * half + 1):
        kernel[int(round(half + t * d[1])), int(round(half + t * d[0]))] += np.exp(-0.5 * (t / (0.5 * half)) ** 2)
    return cv2.filter2D(crop, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)


def _teeth_split(crop: np.ndarray, upper: np.ndarray, lower: np.ndarray, rows: int = 32) -> np.ndarray:
    """Per column of the photo's opening, where its upper teeth end (pixels below the upper lip): the upper teeth
    go with the skull, everything below them (the dark inside, the tongue, the lower teeth) with the jaw, so a
    mouth opened wider parts below the teeth, not across the tongue.  The teeth's lower edge is where the column
    first falls below halfway from its brightest (in its upper part) to its darkest, a pixel into the dark; a
    column with no such fall (no teeth showing) splits at its middle."""
    mf = _MouthFrame.of(upper[0], upper[-1])
    top, bottom = mf.profile(upper, SOURCE_SAMPLES), mf.profile(lower, SOURCE_SAMPLES)
    gap = np.maximum(bottom - top, 0.0)
    f = np.linspace(0.0, 1.0, rows)
    luma = (crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    luma = cv2.GaussianBlur(luma, (0, 0), 0.7)
    u = np.repeat(SOURCE_SAMPLES, rows)
    v = (top[:, None] + f[None] * gap[:, None]).ravel()
    profile = mf.sample(luma, u, v).reshape(len(SOURCE_SAMPLES), rows)
    share = np.full(len(SOURCE_SAMPLES), 0.5)
    for k, column in enumerate(profile):
        low = int(np.argmin(column[: int(0.75 * rows)]))
        peak = int(np.argmax(column[: low + 1]))
        if column[peak] - column[low] < 15.0:
            continue
        mid = 0.5 * (column[peak] + column[low])
        edge = peak + int(np.argmax(column[peak: low + 1] < mid))
        # (a pixel into the dark: the lower part's colour at its top repeats toward the teeth as it opens wider,
        # and must be the dark's, not the teeth's edge)
        share[k] = min((edge + 0.5) / (rows - 1) + 1.0 / max(gap[k], 1.0), 0.75)
    share = _smooth_rows(cv2.medianBlur(share.astype(np.float32)[:, None], 3).astype(np.float64), 0.8)[:, 0]
    return share * gap


def close_mouth_texture(crop: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The photo with its mouth opening filled with lip: a closing mouth squeezes the opening to nothing, so what
    is squeezed must read as lips meeting, not as a dark crack or teeth.  Each column of the opening blends from
    the upper lip's colour to the lower lip's (sampled inside the lip bodies, past their shadowed inner edges),
    with the faint shadow of a real closed seam between them; the fill reaches a little past the inner contours
    and the corners (where the photo's shadow of the opening lies) and fades out softly."""
    pts = landmarks[:, :2].astype(np.float64)
    upper_in, lower_in = smooth_contour(pts[list(G.UPPER_INNER_LIP)]), smooth_contour(pts[list(G.LOWER_INNER_LIP)])
    upper_out, lower_out = smooth_contour(pts[list(G.UPPER_OUTER_LIP)]), smooth_contour(pts[list(G.LOWER_OUTER_LIP)])
    frame = _MouthFrame.of(pts[G.UPPER_INNER_LIP[0]], pts[G.UPPER_INNER_LIP[-1]])
    if frame is None:
        return crop
    width = 2 * frame.half
    reach = max(1.5, 0.025 * width)  # past the inner contours: the shadowed inner lip edge
    polygon = np.concatenate([upper_in, lower_in[1:-1][::-1]])
    h, w = crop.shape[:2]
    x0, y0 = np.floor(polygon.min(axis=0) - 3 * reach).astype(int)
    x1, y1 = np.ceil(polygon.max(axis=0) + 3 * reach).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return crop
    # Lip colours along the mouth: a third of the way into each lip body from its inner contour.
    samples = np.linspace(-1.0, 1.0, 48)
    top, bottom = frame.profile(upper_in, samples), frame.profile(lower_in, samples)
    top_out, bottom_out = frame.profile(upper_out, samples), frame.profile(lower_out, samples)
    into = np.clip(0.4 * (top - top_out), reach, None), np.clip(0.4 * (bottom_out - bottom), reach, None)
    upper_colour = _smooth_rows(frame.sample(crop, samples, top - into[0]))
    lower_colour = _smooth_rows(frame.sample(crop, samples, bottom + into[1]))

    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    un, v = frame.local(np.stack([xs.ravel(), ys.ravel()], axis=1))
    t_top, t_bottom = np.interp(un, samples, top), np.interp(un, samples, bottom)
    gap = np.maximum(t_bottom - t_top, 1e-3)
    t = np.clip((v - t_top) / gap, 0.0, 1.0)
    t = t * t * (3 - 2 * t)
    colour = (np.stack([np.interp(un, samples, upper_colour[:, c]) for c in range(3)], axis=1) * (1 - t)[:, None]
              + np.stack([np.interp(un, samples, lower_colour[:, c]) for c in range(3)], axis=1) * t[:, None])
    colour *= (1.0 - 0.1 * np.exp(-((v - 0.5 * (t_top + t_bottom)) / max(1.0, 0.25 * reach + 0.15 * gap.mean())) ** 2))[:, None]
    # Inside the opening (grown by ``reach``, and along the axis past the corners), fading over ``reach``.
    outside = np.maximum(t_top - reach - v, v - t_bottom - reach)
    beyond = (np.abs(un) - 1.0) * frame.half - 1.5 * reach
    alpha = np.clip(0.5 - np.maximum(outside, beyond) / reach, 0.0, 1.0)
    roi = crop[y0:y1, x0:x1].astype(np.float64).reshape(-1, 3)
    out = crop.copy()
    out[y0:y1, x0:x1] = np.clip(roi * (1 - alpha[:, None]) + colour * alpha[:, None], 0, 255).reshape(y1 - y0, x1 - x0, 3).astype(np.uint8)
    return out


@dataclass(frozen=True)
class _MouthFrame:
    """The mouth's own axes: u from corner to corner (-1..1), v across (pixels, toward the lower lip)."""

    centre: np.ndarray
    e_u: np.ndarray
    e_v: np.ndarray
    half: float

    @staticmethod
    def of(right: np.ndarray, left: np.ndarray) -> "_MouthFrame | None":
        axis = left - right
        width = float(np.linalg.norm(axis))
        if width < 4.0:
            return None
        e_u = axis / width
        return _MouthFrame((left + right) / 2, e_u, np.array([-e_u[1], e_u[0]]), width / 2)

    def local(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = points - self.centre
        return rel @ self.e_u / self.half, rel @ self.e_v

    def profile(self, contour: np.ndarray, at: np.ndarray) -> np.ndarray:
        u, v = self.local(contour)
        order = np.argsort(u)
        return np.interp(at, u[order], v[order])

    def sample(self, image: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        pos = self.centre + (u * self.half)[:, None] * self.e_u + v[:, None] * self.e_v
        mx, my = pos[:, 0].astype(np.float32)[None], pos[:, 1].astype(np.float32)[None]
        return cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0].astype(np.float64)


def _smooth_rows(values: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Smooth samples along the mouth (rows), so one bright pixel (a highlight, a tooth) does not streak."""
    k = np.exp(-0.5 * (np.arange(-5, 6) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(values, ((5, 5), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, c], k, mode="valid") for c in range(values.shape[1])], axis=1)


def _visible_teeth(crop: np.ndarray, pts: np.ndarray) -> np.ndarray | None:
    """Median colour of the brightest pixels between the inner lips, if the mouth is open enough to show any."""
    upper, lower = pts[list(G.UPPER_INNER_LIP)], pts[list(G.LOWER_INNER_LIP)]
    width = np.linalg.norm(upper[-1] - upper[0])
    if width < 4 or np.max(np.linalg.norm(lower - upper, axis=1)) / width < 0.06:  # closed: only lips in between
        return None
    polygon = np.concatenate([upper, lower[1:-1][::-1]])
    mask = np.zeros(crop.shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    inside = crop[mask > 0].astype(np.float64)
    if len(inside) < 20:
        return None
    brightness = inside.mean(axis=1)
    bright = inside[brightness >= np.quantile(brightness, 0.7)]
    colour = np.median(bright, axis=0)
    if bright.mean() < 90 or colour.max() - colour.min() > 70:  # a dark opening or lip-red: no teeth to copy
        return None
    return colour * 0.92


def _dark_inside(crop: np.ndarray, pts: np.ndarray) -> np.ndarray | None:
    """Median colour of the darkest pixels between the inner lips of a photo whose mouth is open (None if closed)."""
    upper, lower = pts[list(G.UPPER_INNER_LIP)], pts[list(G.LOWER_INNER_LIP)]
    width = np.linalg.norm(upper[-1] - upper[0])
    if width < 4 or np.max(np.linalg.norm(lower - upper, axis=1)) / width < 0.06:
        return None
    mask = np.zeros(crop.shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(np.concatenate([upper, lower[1:-1][::-1]])).astype(np.int32)], 1)
    inside = crop[cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0].astype(np.float64)
    if len(inside) < 20:
        return None
    brightness = inside.mean(axis=1)
    dark = np.median(inside[brightness <= np.quantile(brightness, 0.15)], axis=0)
    lips = _sample(crop, np.concatenate([pts[list(G.LOWER_OUTER_LIP[2:-2])], pts[list(G.UPPER_OUTER_LIP[2:-2])]]))
    return dark if dark.mean() < 0.4 * lips.mean() else None  # not the shadow between teeth that touch


def _sclera(crop: np.ndarray, pts: np.ndarray) -> np.ndarray | None:
    """Median colour of the eye whites: the bright part of both eye openings (the iris and lashes excluded)."""
    pixels = []
    for upper, lower in ((G.LEFT_EYE_UPPER, G.LEFT_EYE_LOWER), (G.RIGHT_EYE_UPPER, G.RIGHT_EYE_LOWER)):
        polygon = np.concatenate([pts[list(upper)], pts[list(lower[1:-1])][::-1]])
        x0, y0 = np.floor(polygon.min(axis=0)).astype(int)
        x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + 1
        x0, y0 = max(x0, 0), max(y0, 0)
        if x1 - x0 < 3 or y1 - y0 < 2:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round(polygon - [x0, y0]).astype(np.int32)], 1)
        mask = cv2.erode(mask, np.ones((2, 2), np.uint8))
        pixels.append(crop[y0:y1, x0:x1][mask[: crop[y0:y1, x0:x1].shape[0], : crop[y0:y1, x0:x1].shape[1]] > 0])
    inside = np.concatenate(pixels).astype(np.float64) if pixels else np.zeros((0, 3))
    if len(inside) < 12:
        return None
    # The whites are the bright, unsaturated part (skin of the lids is as bright but coloured).
    score = inside.mean(axis=1) - 1.5 * (inside.max(axis=1) - inside.min(axis=1))
    lo, hi = np.quantile(score, [0.8, 0.97])
    white = inside[(score >= lo) & (score <= hi)]
    if len(white) < 4:
        return None
    return np.median(white, axis=0)


def _sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    xs = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
    ys = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
    return np.median(image[ys, xs].astype(np.float64), axis=0)


def smooth_contour(points: np.ndarray, per_segment: int = 3) -> np.ndarray:
    """A lip contour (corner to corner) through its landmarks as a smooth curve (Catmull-Rom): no polygon corners."""
    p = np.concatenate([points[:1], points, points[-1:]]).astype(np.float64)
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None, None]
    p0, p1, p2, p3 = p[:-3][None], p[1:-2][None], p[2:-1][None], p[3:][None]
    curve = 0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3)
    return np.concatenate([curve.transpose(1, 0, 2).reshape(-1, 2), points[-1:]])


def _coverage(mf: "_MouthFrame", samples: np.ndarray, top: np.ndarray, bottom: np.ndarray, x0: int, y0: int, x1: int,
              y1: int, grow: float = 0.0, grow_bottom: float = 0.0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """How much of each pixel of the box lies inside the opening (0..1): its distance to the nearer inner lip
    (perpendicular, from the contour's slope) or corner, as a ramp one pixel wide centred on the contour, so
    the outline has sub-pixel coverage (no stair-steps) and is no softer than a pixel; ``grow``: pixels beyond
    the contours the ramp starts at (hair painted over the lips' edge, fading into the frame's own hair),
    ``grow_bottom`` beyond the lower one.
    Returns (coverage (h, w), and per pixel of the box: u, v, and the upper and lower lip's v at its u)."""
    h, w = y1 - y0, x1 - x0
    step = (samples[1] - samples[0]) * mf.half
    slope_top = 1.0 / np.sqrt(1.0 + np.gradient(top, step) ** 2)
    slope_bottom = 1.0 / np.sqrt(1.0 + np.gradient(bottom, step) ** 2)
    alpha = np.empty((h, w), np.float32)
    u, v, t, b = np.empty(h * w), np.empty(h * w), np.empty(h * w), np.empty(h * w)
    _coverage_kernel(float(x0), float(y0), mf.centre, mf.e_u, mf.e_v, mf.half, samples[0], samples[1] - samples[0], top,
                     bottom, slope_top, slope_bottom, grow, grow_bottom, alpha, u, v, t, b)
    return alpha, u, v, t, b


@_njit(None)
def _coverage_kernel(x0, y0, centre, e_u, e_v, half, s0, ds, top, bottom, cos_top, cos_bottom, grow, grow_bottom,
                     alpha, u_out, v_out, t_out, b_out):
    h, w = alpha.shape
    last = len(top) - 1
    for i in range(h):
        for j in range(w):
            rx, ry = x0 + j - centre[0], y0 + i - centre[1]
            u = (rx * e_u[0] + ry * e_u[1]) / half
            v = rx * e_v[0] + ry * e_v[1]
            f = min(max((u - s0) / ds, 0.0), last - 1e-9)
            k = int(f)
            f -= k
            t = top[k] + (top[k + 1] - top[k]) * f
            b = bottom[k] + (bottom[k + 1] - bottom[k]) * f
            d_top = (v - t) * (cos_top[k] + (cos_top[k + 1] - cos_top[k]) * f)
            d_bottom = (b - v) * (cos_bottom[k] + (cos_bottom[k + 1] - cos_bottom[k]) * f)
            c = min((min(d_top, (1.0 - abs(u)) * half) + 0.5 + grow) / (1.0 + grow),
                    (d_bottom + 0.5 + grow_bottom) / (1.0 + min(grow_bottom, grow)))
            alpha[i, j] = min(max(c, 0.0), 1.0)
            n = i * w + j
            u_out[n], v_out[n], t_out[n], b_out[n] = u, v, t, b


def paint_mouth(frame: np.ndarray, upper_inner: np.ndarray, lower_inner: np.ndarray, style: MouthStyle,
                strength: float = 1.0, source: SourceMouth | None = None) -> None:
    """Paint the interior between the inner lip contours (corner to corner, (11, 2) each) into ``frame`` in place:
    upper and lower teeth, a tongue and a cavity that darkens with depth and toward the corners, under the
    lips' shadow and soft edges.  With ``source`` the photo's own mouth interior is shown, its upper part
    attached to the upper lip and its lower part to the lower lip (teeth move with their jaw)."""
    if strength <= 0.0:
        return
    mf = _MouthFrame.of(upper_inner[0], upper_inner[-1])
    if mf is None:
        return
    width = 2 * mf.half
    upper_s, lower_s = smooth_contour(upper_inner), smooth_contour(lower_inner)
    probe = np.linspace(-0.6, 0.6, 7)
    opening = float((mf.profile(lower_s, probe) - mf.profile(upper_s, probe)).max())
    if opening <= 0.25:
        return
    fade = strength * float(np.clip((opening - 0.25) / 1.5, 0.0, 1.0))  # a parting mouth fades in, never pops
    polygon = np.concatenate([upper_s, lower_s[1:-1][::-1]])
    # (where hair hides the lips, its strands are painted from a little outside the contours: the warp's lips there
    # are the photo's shadowed mouth line, stretched)
    # (and over the lower lip's band a little further: the photo's mouth line it carries showed as a ring)
    grow = style.lips_hidden * (1.0 + 0.03 * width)
    grow_bottom = style.lips_hidden * (2.0 + 0.08 * width)
    h, w = frame.shape[:2]
    margin = 3 + int(np.ceil(grow_bottom))
    x0, y0 = np.floor(polygon.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + margin + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    soft = max(0.8, 0.012 * width)  # lip edges as soft as the photo's
    samples = SOURCE_SAMPLES
    top_at, bottom_at = mf.profile(upper_s, samples), mf.profile(lower_s, samples)
    alpha, u_box, v_box, top_box, bottom_box = _coverage(mf, samples, top_at, bottom_at, x0, y0, x1, y1, grow,
                                                         grow_bottom)
    alpha *= fade

    # Only the pixels the interior shows through (the bounding box's corners are lips and skin).
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    shown = cv2.dilate((alpha > 2e-3).astype(np.uint8), np.ones((3, 3), np.uint8)).ravel() > 0
    if not shown.any():
        return
    un, v, top, bottom = u_box[shown], v_box[shown], top_box[shown], bottom_box[shown]
    gap = np.maximum(bottom - top, 1e-3)
    geometry = _Interior(un, v - top, bottom - v, gap, width, opening, soft, top_at, bottom_at)
    own = _source_interior(source, geometry) if source is not None else None
    colour = _interior(style, geometry, own)
    if style.lips_hidden > 0:
        _hair_over(colour, frame, mf, geometry, top, bottom, style.lips_hidden)
    full = roi.reshape(-1, 3).copy()
    full[shown] = colour
    painted = cv2.GaussianBlur(full.reshape(roi.shape), (0, 0), 0.45 * soft)
    a = alpha[:, :, None]
    frame[y0:y1, x0:x1] = np.clip(roi * (1 - a) + painted * a, 0, 255).astype(np.uint8)


def _strands(seed: int, sigma: float, n: int = 96) -> np.ndarray:
    """Fixed noise along the mouth (u, -1..1 over ``n`` samples), unit deviation: hair strands' lengths and tones
    in the mouth's own coordinates, so they move with it and never shimmer."""
    noise = cv2.GaussianBlur(np.random.default_rng(seed).standard_normal((1, n)), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)[0]
    return (noise - noise.mean()) / noise.std()


_STRANDS_COARSE, _STRANDS_FINE, _BEARD_COARSE = _strands(11, 7.0), _strands(12, 2.5), _strands(13, 7.0)


def _hair_over(colour: np.ndarray, frame: np.ndarray, mf: "_MouthFrame", g: "_Interior", top: np.ndarray,
               bottom: np.ndarray, hidden: float) -> None:
    """A moustache hanging over the opening and a beard rising over its lower edge, in place on ``colour``
    (the painted interior): the hair just outside each lip (from the warped frame) continues into the opening in
    strands of uneven length, darker toward their tips (in the opening's shadow), their ends soft; the moustache
    covers more the wider the mouth opens, so the dark gap stays within a face's proportions (at most about
    0.35 of the width) with a hint of the teeth under the fringe."""
    _hair_kernel(g.u, g.below_top, g.above_bottom, g.gap, top, bottom, g.width, hidden, _STRANDS_COARSE,
                 _STRANDS_FINE, _BEARD_COARSE, frame, mf.centre, mf.e_u, mf.e_v, mf.half, colour)


@_njit(None)
def _lookup(noise, u):
    """``noise`` (evenly over u -1..1) at ``u``, linearly."""
    last = len(noise) - 1
    f = min(max((u + 1.0) * 0.5 * last, 0.0), last - 1e-9)
    k = int(f)
    return noise[k] + (noise[k + 1] - noise[k]) * (f - k)


@_njit(None)
def _bilinear(image, x, y, c):
    h, w = image.shape[0], image.shape[1]
    x = min(max(x, 0.0), w - 1.001)
    y = min(max(y, 0.0), h - 1.001)
    i, j = int(y), int(x)
    fy, fx = y - i, x - j
    return ((image[i, j, c] * (1 - fx) + image[i, j + 1, c] * fx) * (1 - fy)
            + (image[i + 1, j, c] * (1 - fx) + image[i + 1, j + 1, c] * fx) * fy)


@_njit(None)
def _hair_kernel(u, s, b, gap, top, bottom, width, hidden, coarse, fine, coarse_low, frame, centre, e_u, e_v, half,
                 colour):
    for i in range(len(u)):
        a = abs(u[i])
        excess = max(gap[i] - 0.35 * width, 0.0)
        corner = _s01((a - 0.45) / 0.55)  # the hair hangs over the corners too
        reach = ((0.09 * width + 0.6 * excess) * (0.9 + 0.1 * _lookup(coarse, u[i]) + 0.03 * _lookup(fine, u[i]))
                 * (1.0 + 1.2 * corner))
        reach_low = (0.04 * width + 0.45 * excess) * (0.85 + 0.2 * _lookup(coarse_low, u[i])) * (1.0 + 1.5 * corner)
        cover = hidden * (1.0 - _s01((s[i] - 0.6 * reach) / max(0.8 * reach, 1.5)))
        cover_low = hidden * (1.0 - _s01((b[i] - 0.5 * reach_low) / max(1.0 * reach_low, 1.5)))
        for which in range(2):
            w = cover_low if which == 0 else cover
            if w <= 1e-3:
                continue
            # The hair just outside the lip, mirrored into the opening (its own strands continue, not stretched);
            # outside the contour it comes back to the frame's own pixel where the painting ends.
            # (painted this far beyond the contour (paint_mouth's), where the frame's own pixel lies at its edge)
            grow = 2.0 + 0.08 * width if which == 0 else 1.0 + 0.03 * width
            off = grow + 1.0 + 0.02 * width  # from beyond the photo's dark mouth line
            d = max(b[i] if which == 0 else s[i], -grow)
            out = off + d if d >= 0 else off * (1.0 + d / grow) - d
            v = bottom[i] + out if which == 0 else top[i] - out
            x = centre[0] + u[i] * half * e_u[0] + v * e_v[0]
            y = centre[1] + u[i] * half * e_u[1] + v * e_v[1]
            r = reach_low if which == 0 else reach
            shade = 1.0 - (0.4 if which == 0 else 0.5) * _s01((b[i] if which == 0 else s[i]) / max(1.2 * r, 1.0))
            for c in range(3):
                colour[i, c] += (_bilinear(frame, x, y, c) * shade - colour[i, c]) * w


@dataclass(frozen=True)
class _Interior:
    """Where each painted pixel lies in the opening: across the mouth (u, -1..1), its distance below the upper
    lip and above the lower lip, the opening's height there (pixels), and the mouth's width and opening."""

    u: np.ndarray
    below_top: np.ndarray
    above_bottom: np.ndarray
    gap: np.ndarray
    width: float
    opening: float
    soft: float
    top_profile: np.ndarray | None = None  # the inner lips across the mouth (v at SOURCE_SAMPLES)
    bottom_profile: np.ndarray | None = None


def _smooth01(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _interior(style: MouthStyle, g: _Interior, own: tuple[np.ndarray, ...] | None) -> np.ndarray:
    """Cavity, tongue, lower and upper teeth, all lit from the front through the opening (a barely parted mouth
    lets in little light: teeth in shadow, never a white line; the corners are in the cheeks' shadow), under
    ``own`` (the photo's interior and its weight) where given, and the wet inner lips just inside the opening."""
    n = len(g.u)
    out = np.empty((n, 3))
    if own is None:
        _interior_kernel(g.u, g.below_top, g.above_bottom, g.gap, g.below_top, g.above_bottom, g.gap, True, False, g.width,
                         g.opening, g.soft, style.cavity, style.tongue, style.teeth, style.inner_lip, np.zeros((n, 3)),
                         np.zeros(n), 1.0 - style.lips_hidden, out)
        return out
    # Beyond the photo's own teeth (the middle of a mouth opened wider than the photo's): a cavity and a tongue
    # behind its lower teeth, no second set of teeth.
    colours, weight, reach_top, reach_bottom, behind = own
    s, b = np.maximum(g.below_top - reach_top, 0.0), np.maximum(g.above_bottom - reach_bottom, 0.0)
    _interior_kernel(g.u, g.below_top, g.above_bottom, g.gap, s, b, np.maximum(g.gap - reach_top - reach_bottom, 1e-3),
                     False, behind, g.width,
                     g.opening, g.soft, style.cavity, style.tongue, style.teeth, style.inner_lip, colours, weight,
                     1.0 - style.lips_hidden, out)
    return out


# Tooth boundaries across the mouth (|u|): central incisors widest, narrower toward the corners.
_TEETH = np.array([0.0, 0.19, 0.36, 0.5, 0.62, 0.72, 0.82, 1.0])


@_njit(None)
def _s01(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


# Each upper tooth's length against the central incisors' (laterals shorter, canines long, then the side teeth),
# at each tooth's middle; between them the incisal edge runs smoothly (no step from tooth to tooth).
_TOOTH_LENGTH = np.array([1.0, 0.88, 0.95, 0.82, 0.75, 0.7, 0.65])
_TOOTH_MIDDLE = 0.5 * (_TEETH[:-1] + _TEETH[1:])

# The tongue's surface: fixed noise in the mouth's own coordinates (across: u, -1..1 over the columns; up from the
# lower lip: 0..0.3 of the mouth width over the rows; cells of 1/40 of the width), so its texture moves with the
# tongue and never shimmers from frame to frame.  Coarse patches and fine papillae, unit deviation.
_TONGUE_ROWS, _TONGUE_COLS, _TONGUE_SPAN = 12, 40, 0.3


def _tongue_noise() -> np.ndarray:
    rng = np.random.default_rng(7)
    coarse = cv2.GaussianBlur(rng.standard_normal((_TONGUE_ROWS, _TONGUE_COLS)), (0, 0), 2.0, borderType=cv2.BORDER_REFLECT)
    fine = cv2.GaussianBlur(rng.standard_normal((_TONGUE_ROWS, _TONGUE_COLS)), (0, 0), 0.7, borderType=cv2.BORDER_REFLECT)
    noise = coarse / coarse.std() + 0.7 * fine / fine.std()
    return noise / noise.std()


_TONGUE_NOISE = _tongue_noise()


@_njit(None)
def _tongue_texture(u: float, up: float) -> float:
    """The tongue's noise at (u, ``up`` = height above the lower lip over the mouth width), bilinear."""
    x = min(max((u + 1.0) * 0.5 * (_TONGUE_COLS - 1), 0.0), _TONGUE_COLS - 1.001)
    y = min(max(up / _TONGUE_SPAN * (_TONGUE_ROWS - 1), 0.0), _TONGUE_ROWS - 1.001)
    i, j = int(y), int(x)
    fy, fx = y - i, x - j
    n = _TONGUE_NOISE
    return ((n[i, j] * (1 - fx) + n[i, j + 1] * fx) * (1 - fy)
            + (n[i + 1, j] * (1 - fx) + n[i + 1, j + 1] * fx) * fy)


@_njit(None)
def _tooth_length(a: float) -> float:
    """The upper teeth's length at ``a`` (|u|), between the teeth's middles linearly."""
    m, n = _TOOTH_MIDDLE, _TOOTH_LENGTH
    if a <= m[0]:
        return n[0]
    for k in range(len(m) - 1):
        if a < m[k + 1]:
            return n[k] + (n[k + 1] - n[k]) * (a - m[k]) / (m[k + 1] - m[k])
    return n[len(n) - 1]


@_njit(None)
def _tooth_phase(a: float, span: float) -> float:
    """Where ``a`` (|u|) lies within its tooth, 0..1, for teeth spread over ``span`` of the half-width."""
    k = _tooth_index(a, span)
    lo, hi = _TEETH[k] * span, _TEETH[k + 1] * span
    return min(max((a - lo) / (hi - lo), 0.0), 1.0)


@_njit(None)
def _tooth_index(a: float, span: float) -> int:
    for k in range(len(_TEETH) - 2):
        if a < _TEETH[k + 1] * span:
            return k
    return len(_TEETH) - 2


@_njit(None)
def _interior_kernel(u, lip_s, lip_b, lip_gap, s, b, gap, draw_teeth, behind, width, opening, soft, cavity, tongue, teeth,
                     inner_lip, own, own_weight, lip_shown, out):
    rel_open = opening / width
    thick = max(1.0, 0.022 * width)
    light = 0.62 + 0.38 * _s01(rel_open / 0.2)
    tongue_vis = 0.0 if behind else _s01((rel_open - 0.06) / 0.18)  # ``behind``: the photo's own tongue shows
    # Lower incisors: their edges show over the lower lip once the jaw drops (a wide-open mouth shows them
    # clearly), and the upper incisors show longer as the upper lip lifts off them.
    lower_vis = _s01((rel_open - 0.1) / 0.2)
    lower_len = (0.05 + 0.03 * _s01((rel_open - 0.3) / 0.4)) * width
    upper_len = (0.12 + 0.06 * _s01((rel_open - 0.3) / 0.4)) * width
    wide = _s01((rel_open - 0.25) / 0.35)  # a wide-open mouth lets the light onto its tongue
    # A barely parted or a small mouth (teeth a few pixels tall) shows an even row of teeth: separations and notches
    # there read as a zigzag.
    parted = _s01((rel_open - 0.03) / 0.12)
    detail = parted * _s01((width - 40.0) / 60.0)
    tooth_soft = max(soft, 1.4)
    sep_depth = (0.5 * parted + 0.5 * detail) * 0.18
    for i in range(len(u)):
        a = abs(u[i])
        si, bi, gi = s[i], b[i], gap[i]
        near = min(lip_s[i], lip_b[i])
        lip = min(max(1.0 - near / thick, 0.0), 1.0) ** 1.5
        # The wet inner lips curve into the dark over a few pixels (no hard edge where lip meets cavity), and over
        # more toward the corners, where the lips meet: the dark opening tapers into them instead of a notch.
        band = 2.5 * thick * (1.0 + 1.5 * _s01((a - 0.7) / 0.3))
        shade_lip = (1.0 - _s01(near / band)) ** 2
        if own_weight[i] >= 0.999:  # the photo's own interior: nothing to synthesize under it (its own inner lips,
            # but toward the corners its dark tapers into them too)
            lip = max(lip, shade_lip * _s01((a - 0.6) / 0.3) * 0.85) * lip_shown
            for c in range(3):
                out[i, c] = own[i, c] + (inner_lip[c] - own[i, c]) * lip
            continue
        corner = _s01((a - 0.3) / 0.6)  # the buccal corridor: dark toward the corners
        # Cavity: dark lip tone near the lips, darker deep inside.
        depth = min(max(min(si, bi) / max(0.5 * gi, 1e-3), 0.0), 1.0)
        k = (1.3 - 0.7 * depth ** 0.7) * (1.0 - 0.45 * corner)
        if behind:  # between the photo's own teeth and tongue: as dark as its own inside (``cavity``)
            k = 1.0 - 0.3 * corner
        c0, c1, c2 = cavity[0] * k, cavity[1] * k, cavity[2] * k
        # Tongue: a rounded mass on the floor, its front (low, near the teeth) lit, its back in shadow.
        w = 0.0
        if tongue_vis > 0:
            # A dome (highest in the middle, its top edge soft: it curves away into the dark), lit most at
            # its front middle, with a faint groove down its midline.
            du = u[i] / 0.7
            height = (0.58 - 0.32 * du * du) * min(gi, 0.5 * width)
            into = (height - bi) / max(0.25 * height, 1.5)
            w = _s01(into + 0.3) * _s01((1.0 - abs(du)) / 0.45) * tongue_vis * 0.95
        if tongue_vis > 0 and w > 1e-3:
            front = _s01(1.0 - bi / max(height, 1e-3))
            lit = (0.62 + 0.45 * front + 0.15 * wide) * (1.0 - 0.4 * du * du) * (1.0 - 0.1 * np.exp(-(u[i] / 0.07) ** 2)) * light
            # Its surface: patches and papillae (fixed in the mouth's coordinates), and a wet highlight on its
            # front middle, toward the teeth's colour (the light's, grey on a grey photo).
            lit *= 1.0 + 0.13 * _tongue_texture(u[i], bi / width)
            spec = 0.22 * np.exp(-(u[i] / 0.28) ** 2 - ((bi / max(height, 1e-3) - 0.35) / 0.2) ** 2) * light
            c0 += ((tongue[0] * lit + (teeth[0] - tongue[0] * lit) * spec) - c0) * w
            c1 += ((tongue[1] * lit + (teeth[1] - tongue[1] * lit) * spec) - c1) * w
            c2 += ((tongue[2] * lit + (teeth[2] - tongue[2] * lit) * spec) - c2) * w
        # Lower teeth: the lower incisors' edges just over the lower lip, in the upper teeth's shadow (only near
        # the lower lip: the rest of the opening skips them).
        lower_teeth = 0.0
        if lower_vis > 0 and draw_teeth and bi < lower_len + 0.01 * width + soft:
            arch = np.sqrt(min(max(1.0 - (u[i] / 0.5) ** 2, 0.0), 1.0))
            tip = 1.0 - 0.05 * (2 * _tooth_phase(a, 0.5) - 1) ** 6
            height = min(lower_len, 0.25 * gi) * arch * tip
            d = bi - 0.01 * width
            w = (min(max(d / soft + 0.5, 0.0), 1.0) * min(max((height - d) / soft + 0.5, 0.0), 1.0)
                 * lower_vis * min(arch * 3, 1.0))
            lower_teeth = w
            shade = 0.8 * light * (1.0 - 0.35 * corner) * (0.8 + 0.2 * _s01(bi / max(height, 1e-3)))
            shade *= 0.85 + 0.15 * np.sin(np.pi * _tooth_phase(a / 0.8, 1.0)) ** 0.35
            c0 += ((0.85 * teeth[0] + 0.15 * tongue[0]) * shade - c0) * w
            c1 += ((0.85 * teeth[1] + 0.15 * tongue[1]) * shade - c1) * w
            c2 += ((0.85 * teeth[2] + 0.15 * tongue[2]) * shade - c2) * w
        # Upper teeth: from under the upper lip (whose shadow lies on them) down to rounded incisal edges,
        # the front teeth widest and brightest, the side teeth receding into the corners' shadow; each tooth a
        # little brighter in its middle than toward its neighbours (narrow shadows between them: each tooth reads
        # as a tooth, not a band).  Only near the upper lip (never longer than ``upper_len``: 0.12-0.18 of the width).
        upper_teeth = 0.0
        if draw_teeth and si < upper_len + tooth_soft:
            k_tooth = _tooth_index(a, 1.0)
            rise = np.sin(np.pi * min(max((a - _TEETH[k_tooth]) / (_TEETH[k_tooth + 1] - _TEETH[k_tooth]), 0.0), 1.0))
            sep = 1.0 - sep_depth * (1.0 - rise ** 0.35)
            arch = np.sqrt(min(max(1.0 - (u[i] / 0.8) ** 2, 0.0), 1.0))
            tip = _tooth_length(a) * (1.0 - detail * 0.05 * (1.0 - rise) ** 2)
            height = min(upper_len, 0.62 * gi + 0.02 * width) * (0.35 + 0.65 * arch) * tip * min(arch * 4.0, 1.0)
            w = (min(max(si / soft + 0.5, 0.0), 1.0) * min(max((height - si) / tooth_soft + 0.5, 0.0), 1.0)
                 * min(arch * 2.5, 1.0))
            upper_teeth = w
            under_lip = 0.58 + 0.42 * _s01(si / max(0.5 * height, 1.0))
            edge = 1.0 - 0.1 * _s01((si - 0.75 * height) / max(0.25 * height, 1e-3))  # translucent tips
            shade = light * under_lip * edge * (1.0 - 0.6 * corner) * sep
            c0 += (teeth[0] * shade - c0) * w
            c1 += (teeth[1] * shade - c1) * w
            c2 += (teeth[2] * shade - c2) * w
        # The photo's own interior where it reaches, then the wet inner side of the lips just inside.
        w = own_weight[i]
        c0 += (own[i, 0] - c0) * w
        c1 += (own[i, 1] - c1) * w
        c2 += (own[i, 2] - c2) * w
        # (over the upper teeth only the lip's own thin edge: they sit right under it)
        lip = max(lip, shade_lip * (1.0 - max(upper_teeth, lower_teeth)) * (1.0 - w) * 0.85) * lip_shown
        out[i, 0] = c0 + (inner_lip[0] - c0) * lip
        out[i, 1] = c1 + (inner_lip[1] - c1) * lip
        out[i, 2] = c2 + (inner_lip[2] - c2) * lip


def _source_interior(source: SourceMouth, g: _Interior) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """The photo's own mouth interior: its upper teeth sampled at the same depth below the photo's upper lip,
    everything below them at the same height above its lower lip (upper teeth with the skull, the rest with the
    jaw).  Returns (colours, weight, upper reach, lower reach, shows its inside): the weight falls to 0 where the mouth opens wider
    than the photo's (between the two parts) and toward the corners; the reaches (pixels) are how far the photo's
    interior reaches from each lip."""
    mf = _MouthFrame.of(source.upper[0], source.upper[-1])
    n = len(g.u)
    if mf is None:
        return np.zeros((n, 3)), np.zeros(n), np.zeros(n), np.zeros(n), False
    top, bottom = mf.profile(source.upper, SOURCE_SAMPLES), mf.profile(source.lower, SOURCE_SAMPLES)
    # The teeth are rigid: a lip that moves unevenly along the mouth (corners pulled down by a wide-open jaw) slides
    # over them rather than shearing them (sampled at the same depth below a lip that bends, the photo's upper
    # teeth were stretched into pointed fangs at mouth 2).  How much the rendered lip moved against the photo's at
    # each u, beyond its middle's, mostly goes into the depth sampled (``_RIGID_TEETH``).
    below_top, above_bottom = g.below_top, g.above_bottom
    if g.top_profile is not None and g.bottom_profile is not None:
        mid = len(SOURCE_SAMPLES) // 2
        moved_top, moved_bottom = g.top_profile - top, g.bottom_profile - bottom
        slide_top = _RIGID_TEETH * np.interp(g.u, SOURCE_SAMPLES, moved_top - moved_top[mid])
        slide_bottom = _RIGID_TEETH * np.interp(g.u, SOURCE_SAMPLES, moved_bottom - moved_bottom[mid])
        below_top = np.maximum(below_top + slide_top, 0.0)
        above_bottom = np.maximum(above_bottom - slide_bottom, 0.0)
    map_x, map_y = np.empty((n, 2), np.float32), np.empty((n, 2), np.float32)
    weight, mix, fill = np.empty(n), np.empty(n), np.empty(n)
    reach_top, reach_bottom = np.empty(n), np.empty(n)
    _source_positions(g.u, below_top, above_bottom, SOURCE_SAMPLES, top, bottom, source.split, mf.centre, mf.e_u,
                      mf.e_v, mf.half, g.soft, map_x, map_y, weight, mix, fill, reach_top, reach_bottom)
    # (the reaches back in the rendered lips' terms: the synthesized interior lies beyond them)
    reach_top -= below_top - g.below_top
    reach_bottom -= above_bottom - g.above_bottom
    sampled = cv2.remap(source.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(n, 2, 3)
    # A mouth parted less than the photo's lets in less light: its teeth in shadow, never a bright sliver; and
    # shows only the tops of its teeth, whose gaps by the gums would read as a dotted line: they blur along the
    # mouth (the photo blurred along its mouth's axis) the more the less it is parted.
    parted = float(_smooth01(g.opening / max(float(np.max(bottom - top)), 1e-3)))
    light = 0.55 + 0.45 * parted
    shown = float(_smooth01((g.opening - 2.0) / (0.2 * g.width)))  # teeth a few pixels tall: blurred
    sampled = sampled.astype(np.float64)
    if shown < 0.999:
        smooth = cv2.remap(source.along, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(n, 2, 3)
        sampled = sampled + (smooth.astype(np.float64) - sampled) * (0.9 * (1.0 - shown))
    # Just above the upper teeth's edge where they come over the lower ones, the photo's own dark notches between
    # its incisors' rounded tips (and the dark line under them) give way to the lower teeth behind wherever those
    # are brighter: a closing mouth showed a faint jagged dark line along its teeth.
    if fill.any():
        lift = sampled[:, 1] @ np.array([0.299, 0.587, 0.114]) - sampled[:, 0] @ np.array([0.299, 0.587, 0.114])
        mix = np.maximum(mix, fill * _smooth01(lift / 25.0))
    colours = sampled[:, 0] + (sampled[:, 1] - sampled[:, 0]) * mix[:, None]
    return colours * light, weight, reach_top, reach_bottom, source.shows_inside


_RIGID_TEETH = 0.5


@_njit(None)
def _source_positions(u, below_top, above_bottom, samples, top, bottom, split, centre, e_u, e_v, half, soft, map_x,
                      map_y, weight, mix, fill, reach_top, reach_bottom):
    """Where each painted pixel samples the photo's mouth, from its upper lip (``map_*[:, 0]``: its upper teeth)
    and from its lower lip (``[:, 1]``: the rest), ``mix``: how much of the second it shows, ``fill``: how much of it may show through the first
    just above the upper teeth's edge where the parts overlap, and ``weight``: how
    much of the photo's interior it shows (none between the two parts).  Where the two parts overlap (a mouth less
    open than the photo's) the upper teeth's edge covers the lower part with a pixel's anti-aliased ramp, without
    the line of the dark beneath them (the split lies a pixel into it): a closing mouth showed a jagged black
    stair-step line across its teeth."""
    last = len(samples) - 1
    step = (samples[last] - samples[0]) / last  # evenly spaced
    for i in range(len(u)):
        f = min(max((u[i] - samples[0]) / step, 0.0), last - 1e-9)
        k = int(f)
        f -= k
        t = top[k] + (top[k + 1] - top[k]) * f
        low = bottom[k] + (bottom[k + 1] - bottom[k]) * f
        gap = max(low - t, 0.0)
        rt = min(max(split[k] + (split[k + 1] - split[k]) * f, 0.0), gap)
        rb = gap - rt
        reach_top[i], reach_bottom[i] = rt, rb
        # The upper teeth cover whatever lies behind them (a mouth less open than the photo's hides the top of its
        # tongue behind them); beyond each part's reach its last colour repeats, fading into the synthesized
        # interior: quickly below the teeth (the dark under them), over longer above the tongue.
        beyond_top = below_top[i] - rt
        beyond_bottom = above_bottom[i] - rb
        w_top = 1.0 - _s01(beyond_top / max(0.1 * rt, 1.2 * soft))
        w_bottom = 1.0 - _s01(beyond_bottom / max(0.6 * rb, 3.0 * soft))
        overlap = -(beyond_top + beyond_bottom)  # > 0: the parts overlap (pixels)
        fill[i] = 0.0
        if overlap > 0.0:
            edge = rt - min(overlap, 1.5)  # the teeth's own edge, not the dark under them
            m = min(max(below_top[i] - edge + 0.5, 0.0), 1.0)
            w = 1.0
            fill[i] = _s01((below_top[i] - edge + 2.5) / 2.0) * _s01(overlap / 1.5)  # (``_source_interior``)
        else:
            m = min(max(0.5 + 4.0 * (w_bottom - w_top), 0.0), 1.0)
            if beyond_top <= 0.0:
                m = 0.0
            w = w_top + (w_bottom - w_top) * m
        v_top = t + min(below_top[i], rt)
        v_bottom = low - min(above_bottom[i], rb)
        map_x[i, 0] = centre[0] + u[i] * half * e_u[0] + v_top * e_v[0]
        map_y[i, 0] = centre[1] + u[i] * half * e_u[1] + v_top * e_v[1]
        map_x[i, 1] = centre[0] + u[i] * half * e_u[0] + v_bottom * e_v[0]
        map_y[i, 1] = centre[1] + u[i] * half * e_u[1] + v_bottom * e_v[1]
        mix[i] = m
        weight[i] = w * min(max((1.0 - abs(u[i])) * 6, 0.0), 1.0)


def soften_lip_folds(frame: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, offset: tuple[int, int],
                     lips: np.ndarray, jump: float = 1.0) -> None:
    """Anti-alias the hard edges the warp makes around the lips, in place: where lips meet or fold over each
    other, neighbouring pixels sample the photo far apart, and the rasteriser's pixel coverage leaves a 1-px
    staircase.  Those pixels (and their neighbours) get a small blur; elsewhere the frame is untouched.
    ``map_x``/``map_y``: the backward map of the region starting at ``offset``; ``lips``: outer lip points."""
    ox, oy = offset
    mh, mw = map_x.shape
    x0, y0 = np.floor(lips.min(axis=0)).astype(int) - 4
    x1, y1 = np.ceil(lips.max(axis=0)).astype(int) + 5
    x0, y0 = max(x0, ox + 1), max(y0, oy + 1)
    x1, y1 = min(x1, ox + mw - 1), min(y1, oy + mh - 1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    weight = np.zeros((y1 - y0, x1 - x0), np.float32)
    if not _fold_weights(map_x, map_y, x0 - ox, y0 - oy, jump, weight):
        return
    weight = np.minimum(cv2.GaussianBlur(weight, (0, 0), 1.0) * 2.5, 1.0)[:, :, None]
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    blurred = cv2.GaussianBlur(roi, (0, 0), 0.9)
    frame[y0:y1, x0:x1] = np.clip(roi + (blurred - roi) * weight, 0, 255).astype(np.uint8)


@_njit(None)
def _fold_weights(map_x, map_y, cx, cy, jump, out) -> bool:
    """``out``[i, j]: how far the backward map jumps between map pixel (cy + i, cx + j) and its 4 neighbours,
    beyond ``jump`` pixels of the photo (0..1); True if it jumps anywhere."""
    any_jump = False
    h, w = out.shape
    for i in range(h):
        y = cy + i
        for j in range(w):
            x = cx + j
            best = 0.0
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                d = abs(map_x[y + dy, x + dx] - map_x[y, x]) + abs(map_y[y + dy, x + dx] - map_y[y, x])
                best = max(best, d)
            v = min(max((best - jump) / jump, 0.0), 1.0)
            out[i, j] = v
            any_jump = any_jump or v > 0
    return any_jump
