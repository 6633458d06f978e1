"""Skin where the photo has none: the side of the face that a turn shows and the photo saw edge-on or not at all.

On a face the photo already shows turned, the side turned away is folded in the photo itself (its landmarks lie
beyond the face oval, over the background).  Unfolded by a turn toward it, that side samples the photo backwards
(the ear's edge drawn again, mirrored, between the ear and the cheek) and widens the triangles that lie over the
background into a pale band inside the face (a gap that detaches the ear).  Neither is skin.  Those triangles are
blended (softly, never a cut) toward skin synthesized from the well-drawn skin around them: its colour at the
scale of the gap (a normalized convolution of the opaque, skin-coloured pixels) and the photo's own fine skin
grain, taken from a patch of cheek and laid on the face.  The blend is bounded by the posed triangles, not by the
warp's alpha: the background they carry is opaque (the plate's replaced ring travels with the head).

Free where it is not needed: a photo without folded rim triangles (a frontal one) has no rim fill; on the others
a per-triangle test of the few candidates (microseconds) decides whether a frame mirrors or widens any of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flap.face import landmark_groups as G


@dataclass(frozen=True)
class RimFillConfig:
    widened: tuple[float, float] = (1.1, 1.6)  # times its photo area where a background triangle starts / is all skin
    colour_scale: float = 0.045  # of the face width: how far the synthesized colour is gathered from
    grain: float = 1.0  # how much of the photo's fine skin texture is laid over the synthesized colour
    # of the face width squared: frames with less mirrored or widened rim (weighted) are left alone, and the blend
    # comes in gradually up to twice that (no frame where it switches on at once).  Natural speech on a turned
    # photo widens its background triangles by up to 0.009 (obama_speaking); a 10 degree turn, 0.03.
    min_area: float = 0.012
    background: float = 0.8  # rim triangles whose photo pixels the segmenter gives less than this are background


@dataclass
class RimFill:
    triangles: np.ndarray  # (F, 3) the rim triangles that the photo shows folded or as background
    src_area: np.ndarray  # (F,) their signed area in the photo (pixels)
    background: np.ndarray  # (F,) bool: the triangle shows background in the photo (else: it is folded there)
    grain: np.ndarray  # (P, P) float32 the cheeks' grain, a seamless tile
    skin: np.ndarray  # (3,) float32 the cheeks' median colour
    anchor: int  # landmark the grain moves with
    inner: np.ndarray  # landmarks of the central face (eyes, nose, mouth), which are never blended
    face_width: float
    config: RimFillConfig


def build_rim_fill(photo: np.ndarray, person: np.ndarray, landmarks: np.ndarray, src_xy: np.ndarray, head_xy: np.ndarray,
                   scale: float, triangles: np.ndarray, outer_face: np.ndarray, num_landmarks: int,
                   config: RimFillConfig = RimFillConfig()) -> RimFill | None:
    """``triangles``: the face's; those on its rim that the photo shows folded (seen from behind: ``head_xy`` (V, 2)
    head-frame positions, ``scale`` pixels per unit, give the frontal orientation) or over background (``person``,
    the segmenter's mask, below ``config.background``: the far landmarks of a turned face lie beyond its
    silhouette) are tested per frame.  None when the photo has no folded triangle (a frontal photo: a turn cannot
    mirror it, and its rim is skin): its frames pay nothing."""
    outer = np.zeros(len(src_xy), bool)
    outer[outer_face] = True
    tri = triangles[outer[triangles].any(axis=1) & (triangles < num_landmarks).all(axis=1)]
    frontal = _areas(head_xy * np.array([1.0, -1.0]) * scale, tri)  # head y is up, image y down
    seen = _areas(src_xy, tri)
    folded = (np.abs(frontal) > 1.0) & (seen * frontal < 0) & (np.abs(seen) > 0.5)
    if not folded.any():
        return None
    # the segmenter's mask at six points inside each triangle
    bary = np.array([[1, 1, 1], [4, 1, 1], [1, 4, 1], [1, 1, 4], [2, 2, 1], [1, 2, 2]], float)
    samples = np.einsum("kj,fjd->fkd", bary / bary.sum(axis=1, keepdims=True), src_xy[tri])
    xy = np.clip(np.round(samples).astype(int), 0, np.array(person.shape[::-1]) - 1)
    background = (person[xy[..., 1], xy[..., 0]].mean(axis=1) < config.background) & (np.abs(seen) > 0.5) & ~folded
    keep = folded | background
    pts = landmarks[:, :2]
    oval = pts[list(G.face_oval_loop())]
    width = float(np.ptp(oval[:, 0]))
    grain, skin = _cheek_grain(photo, pts, width)
    return RimFill(triangles=np.ascontiguousarray(tri[keep]), src_area=seen[keep], background=background[keep],
                   grain=grain, skin=skin, anchor=G.NOSE_TIP, inner=np.setdiff1d(np.arange(num_landmarks), outer_face),
                   face_width=width, config=config)


def _areas(xy: np.ndarray, tri: np.ndarray) -> np.ndarray:
    a, b, c = xy[tri[:, 0]], xy[tri[:, 1]], xy[tri[:, 2]]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def _cheek_grain(photo: np.ndarray, pts: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """The fine grain (pores) of the cheeks as a seamless tile without any structure of its own, and the cheeks'
    median colour.  The tile is the cheek patches' high-pass luma with its amplitude spectrum kept and the phases
    made random (random-phase noise: a micro-texture with the photo's grain, periodic by construction), so
    neither a wrinkle nor a tiling seam repeats over the filled skin."""
    side = max(8, int(round(0.14 * width)))
    spectra, colours = [], []
    for eye, mouth_corner in ((G.LEFT_EYE_LOWER, G.UPPER_OUTER_LIP[0]), (G.RIGHT_EYE_LOWER, G.UPPER_OUTER_LIP[-1])):
        centre = 0.5 * pts[list(eye)].mean(axis=0) + 0.5 * pts[mouth_corner]
        x0, y0 = (np.round(centre) - side // 2).astype(int)
        x0 = int(np.clip(x0, 0, photo.shape[1] - side))
        y0 = int(np.clip(y0, 0, photo.shape[0] - side))
        patch = photo[y0:y0 + side, x0:x0 + side].astype(np.float32)
        colours.append(patch.reshape(-1, 3))
        luma = patch @ np.array([0.299, 0.587, 0.114], np.float32)
        detail = luma - cv2.GaussianBlur(luma, (0, 0), 1.5)
        window = np.outer(np.hanning(side), np.hanning(side)).astype(np.float32)
        spectra.append(np.abs(np.fft.fft2(detail * window)) / np.sqrt(np.mean(window ** 2)))
    amplitude = np.sqrt(np.mean(np.square(spectra), axis=0))
    phase = np.angle(np.fft.fft2(np.random.default_rng(0).standard_normal((side, side))))  # Hermitian: a real tile
    grain = np.real(np.fft.ifft2(amplitude * np.exp(1j * phase))).astype(np.float32)
    return np.clip(grain, -10.0, 10.0), np.median(np.concatenate(colours), axis=0).astype(np.float32)


def bad_windows(fill: RimFill, dst_xy: np.ndarray, size: tuple[int, int]
                ) -> list[tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]]:
    """((x0, y0, x1, y1), triangles (N, 3, 2) in frame pixels, weights (N,)) for the rim triangles this pose draws
    mirrored (weight 1) or widens over background (weight ramping with their area against the photo's), one
    window around them per side of the face (usually none: natural speech neither unfolds nor widens them)."""
    d = dst_xy[fill.triangles]
    area = _areas(dst_xy, fill.triangles)
    mirrored = ~fill.background & (area * fill.src_area < 0)
    lo, hi = fill.config.widened
    widened = np.clip((area / np.where(fill.background, fill.src_area, 1.0) - lo) / (hi - lo), 0.0, 1.0) * fill.background
    weight = np.where(mirrored, 1.0, widened)
    # counted by the frame area they cover (a sliver is no strip, and natural speech must not pay for the windows)
    bad = (weight > 0) & (np.abs(area) > 2.0)
    least = fill.config.min_area * fill.face_width ** 2
    total = np.sum(np.abs(area[bad]) * weight[bad])
    if total <= least:
        return []
    weight = weight * min(1.0, (total - least) / least)
    centre = dst_xy[fill.inner, 0].mean()
    pad = int(np.ceil(3 * fill.config.colour_scale * fill.face_width)) + 4
    h, w = size
    windows = []
    for side in (d[:, :, 0].mean(axis=1) < centre, d[:, :, 0].mean(axis=1) >= centre):  # one window per cheek
        pick = bad & side
        pts = d[pick].reshape(-1, 2)
        if not len(pts):
            continue
        x0, y0 = np.floor(pts.min(axis=0)).astype(int) - pad
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + pad
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 >= 4 and y1 - y0 >= 4:
            windows.append(((int(x0), int(y0), int(x1), int(y1)), d[pick], weight[pick]))
    return windows


def fill_rim(out: np.ndarray, warped: np.ndarray, roi_origin: tuple[int, int],
             window: tuple[tuple[int, int, int, int], np.ndarray, np.ndarray], fill: RimFill, face_xy: np.ndarray) -> None:
    """In place on ``out`` (the composited frame): within a window of ``bad_windows`` (frame pixels), blend its
    triangles toward synthesized skin by their weights.  ``warped`` (premultiplied RGBA) is the moving region's,
    whose first pixel is ``roi_origin``; ``face_xy``: the posed landmarks (the central face, whose folds are the
    nose's and the lips', is left to the other passes)."""
    ox, oy = roi_origin
    (x0, y0, x1, y1), triangles, weights = window
    x0, y0 = max(x0, ox), max(y0, oy)
    x1, y1 = min(x1, ox + warped.shape[1]), min(y1, oy + warped.shape[0])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    sl = (slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox))
    alpha = warped[sl][..., 3].astype(np.float32) / 255.0
    # each triangle with its weight, the heavier over the lighter; grown by four pixels so that the face's soft matte
    # edge along them is covered too, then softened (never a cut)
    raster = np.zeros(alpha.shape, np.uint8)
    for k in np.argsort(weights):
        poly = np.round((triangles[k] - (x0, y0)) * 4).astype(np.int32)
        cv2.fillConvexPoly(raster, poly, int(round(255 * weights[k])), cv2.LINE_AA, shift=2)
    weight = cv2.GaussianBlur(cv2.dilate(raster, np.ones((9, 9), np.uint8)).astype(np.float32) / 255.0, (0, 0), 1.5)
    centre = np.zeros(weight.shape, np.uint8)
    hull = cv2.convexHull(np.round((face_xy[fill.inner] - (x0, y0)) * 4).astype(np.int32))
    cv2.fillConvexPoly(centre, hull, 1, cv2.LINE_AA, shift=2)
    weight[centre > 0] = 0.0
    ys, xs = np.nonzero(weight > 1e-3)
    if not len(ys):
        return
    by0, by1, bx0, bx1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1  # what is blended; the window around it
    # is where colour is gathered from, at a quarter of the resolution (the colour is smooth at this scale)
    hw = (x1 - x0, y1 - y0)
    small = (max(2, hw[0] // 4), max(2, hw[1] // 4))
    f = cv2.resize(out[y0:y1, x0:x1], small, interpolation=cv2.INTER_AREA).astype(np.float32)
    w_small = cv2.resize(weight, small, interpolation=cv2.INTER_AREA)
    a_small = cv2.resize(alpha, small, interpolation=cv2.INTER_AREA)
    # colour is gathered from well-drawn, opaque, skin-coloured pixels (not the background that a soft matte edge
    # carries, nor hair)
    g = (1.0 - np.clip(w_small * 4.0, 0.0, 1.0)) * np.clip((a_small - 0.5) * 2.0, 0.0, 1.0) * _skin_like(f, fill.skin)
    sigma = fill.config.colour_scale * fill.face_width / 4.0
    colour = np.broadcast_to(fill.skin, f.shape).astype(np.float32)  # where no skin is near at all: the cheeks'
    for scale in (4.0, 2.0, 1.0):  # wide to narrow: each scale where it found enough skin
        den = cv2.GaussianBlur(g, (0, 0), sigma * scale)
        num = cv2.GaussianBlur(f * g[..., None], (0, 0), sigma * scale)
        share = np.clip(den * 6.0, 0.0, 1.0)[..., None]
        colour = num / np.maximum(den, 1e-4)[..., None] * share + colour * (1.0 - share)
    colour = cv2.resize(colour, hw, interpolation=cv2.INTER_LINEAR)[by0:by1, bx0:bx1]
    colour += fill.config.grain * _grain_at(fill.grain, (x0 + bx0, y0 + by0, x0 + bx1, y0 + by1), face_xy[fill.anchor])
    w = weight[by0:by1, bx0:bx1, None]
    target = out[y0 + by0:y0 + by1, x0 + bx0:x0 + bx1]
    target[:] = np.clip(target * (1.0 - w) + colour * w, 0, 255).astype(np.uint8)


def _skin_like(frame: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """(H, W) 0..1: how much a pixel looks like the cheeks: its chromaticity near theirs (any brightness from half
    to twice theirs: the rim is lit differently), so neither background that a soft matte carries nor hair."""
    luma = frame.sum(axis=2) + 1.0
    chroma = frame / luma[..., None]
    skin_luma = float(skin.sum()) + 1.0
    distance = np.abs(chroma - skin / skin_luma).sum(axis=2)
    ratio = luma / skin_luma
    return np.clip(1.5 - distance / 0.15, 0.0, 1.0) * np.clip((ratio - 0.4) / 0.2, 0.0, 1.0) * np.clip((2.5 - ratio) / 0.5, 0.0, 1.0)


def _grain_at(grain: np.ndarray, window: tuple[int, int, int, int], anchor_xy: np.ndarray) -> np.ndarray:
    """(H, W, 1) the grain tiled over ``window``, fixed to ``anchor_xy`` (so it moves with the face: no swimming)."""
    x0, y0, x1, y1 = window
    p = grain.shape[0]
    ax, ay = int(round(anchor_xy[0])), int(round(anchor_xy[1]))
    xs = np.mod(np.arange(x0, x1) - ax, p)
    ys = np.mod(np.arange(y0, y1) - ay, p)
    return grain[ys[:, None], xs[None, :]][..., None]
