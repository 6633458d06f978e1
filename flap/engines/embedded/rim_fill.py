"""Skin where the photo has none: the side of the face that a turn shows and the photo saw edge-on or not at all.

On a face the photo already shows turned, the side turned away is folded in the photo itself (its landmarks lie
beyond the face oval).  Unfolded by a turn toward it, that side samples the photo backwards (the ear's edge and
the background beside it drawn again, mirrored, between the ear and the cheek: a gap that detaches the ear) or
stretches a few pixels over a wide band (streaks).  Neither is skin.  Where the warp mirrors or stretches the
photo past ``stretch`` times, those pixels are blended (softly, never a cut) toward skin synthesized from the
well-drawn skin around them: its colour at the scale of the gap (a normalized convolution of the opaque,
well-sampled pixels) and the photo's own fine skin grain, taken from a patch of cheek and laid on the face.

Cheap where it is not needed: a per-triangle test on the rim (a few dozen microseconds) decides whether a frame
has such pixels at all; only then is the map examined, in the window of those triangles.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flap.face import landmark_groups as G


@dataclass(frozen=True)
class RimFillConfig:
    stretch: tuple[float, float] = (2.0, 3.2)  # times the photo's scale where blending starts and is complete
    colour_scale: float = 0.045  # of the face width: how far the synthesized colour is gathered from
    grain: float = 1.0  # how much of the photo's fine skin texture is laid over the synthesized colour
    min_area: float = 0.003  # of the face width squared: frames with less mirrored or stretched rim are left alone
    edge_on: float = 0.5  # rim triangles the photo shows at less than this share of their frontal area can unfold


@dataclass
class RimFill:
    triangles: np.ndarray  # (F, 3) the rim triangles that can unfold (face rim and the first strips)
    src_inverse: np.ndarray  # (F, 2, 2) inverse of each triangle's edge matrix in the photo
    src_sign: np.ndarray  # (F,) orientation of each triangle in the photo
    grain: np.ndarray  # (P, P) float32 the cheeks' grain, a seamless tile
    skin: np.ndarray  # (3,) float32 the cheeks' median colour
    anchor: int  # landmark the grain moves with
    inner: np.ndarray  # landmarks of the central face (eyes, nose, mouth), which are never blended
    face_width: float
    config: RimFillConfig


def build_rim_fill(photo: np.ndarray, landmarks: np.ndarray, src_xy: np.ndarray, head_xy: np.ndarray, scale: float,
                   triangles: np.ndarray, outer_face: np.ndarray, num_landmarks: int,
                   config: RimFillConfig = RimFillConfig()) -> RimFill:
    """``triangles``: the face's; those on its rim that the photo sees edge-on or from behind (less than
    ``config.edge_on`` of their frontal area: ``head_xy`` (V, 2) head-frame positions, ``scale`` pixels per unit)
    are tested per frame.  The rest of the face is the photo's own, stretched only by the jaw and expressions."""
    outer = np.zeros(len(src_xy), bool)
    outer[outer_face] = True
    tri = triangles[outer[triangles].any(axis=1) & (triangles < num_landmarks).all(axis=1)]
    frontal = _areas(head_xy * np.array([1.0, -1.0]) * scale, tri)  # head y is up, image y down
    seen = _areas(src_xy, tri)
    tri = tri[(np.abs(frontal) > 1.0) & (seen / np.where(np.abs(frontal) > 1.0, frontal, 1.0) < config.edge_on)]
    s = src_xy[tri]
    edges = np.stack([s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]], axis=2)  # (F, 2, 2): columns are the two edges
    det = np.linalg.det(edges)
    keep = np.abs(det) > 0.5
    tri, edges, det = tri[keep], edges[keep], det[keep]
    pts = landmarks[:, :2]
    oval = pts[list(G.face_oval_loop())]
    width = float(np.ptp(oval[:, 0]))
    grain, skin = _cheek_grain(photo, pts, width)
    return RimFill(triangles=np.ascontiguousarray(tri), src_inverse=np.linalg.inv(edges), src_sign=np.sign(det),
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


def bad_windows(fill: RimFill, dst_xy: np.ndarray, size: tuple[int, int]) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """((x0, y0, x1, y1), triangles (N, 3, 2) in frame pixels) for the rim triangles this pose mirrors or stretches
    past the blend's start, one window around them per side of the face (usually none: natural speech neither
    mirrors nor stretches the rim)."""
    d = dst_xy[fill.triangles]
    edges = np.stack([d[:, 1] - d[:, 0], d[:, 2] - d[:, 0]], axis=2)
    a = edges @ fill.src_inverse  # (F, 2, 2): photo -> frame
    p, q, r, s = a[:, 0, 0], a[:, 0, 1], a[:, 1, 0], a[:, 1, 1]
    det = p * s - q * r
    norm = p * p + q * q + r * r + s * s
    largest = np.sqrt(0.5 * norm + np.sqrt(np.maximum(0.25 * norm * norm - det * det, 0.0)))
    # ... counted by the frame area they cover: a sliver of the photo drawn as a sliver is no smear however its
    # ratio comes out, and natural speech must not pay for the windows
    area = 0.5 * np.abs(edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0])
    bad = ((largest > fill.config.stretch[0]) | (det < 0)) & (area > 2.0)
    if area[bad].sum() < fill.config.min_area * fill.face_width ** 2:
        return []
    centre = dst_xy[fill.inner, 0].mean()
    pad = int(np.ceil(3 * fill.config.colour_scale * fill.face_width)) + 4
    h, w = size
    windows = []
    for side in (d[:, :, 0].mean(axis=1) < centre, d[:, :, 0].mean(axis=1) >= centre):  # one window per cheek
        tris = d[bad & side]
        pts = tris.reshape(-1, 2)
        if not len(pts):
            continue
        x0, y0 = np.floor(pts.min(axis=0)).astype(int) - pad
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + pad
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 >= 4 and y1 - y0 >= 4:
            windows.append(((int(x0), int(y0), int(x1), int(y1)), tris))
    return windows


def blend_weight(map_x: np.ndarray, map_y: np.ndarray, config: RimFillConfig, jump: float = 2.5) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 1 where the map mirrors the photo or stretches it past ``config.stretch[1]``,
    ramping from ``config.stretch[0]``; occlusion edges (jumps) are cuts, not stretch, and get 0."""
    gxx, gyx = np.gradient(map_x, axis=(1, 0))
    gxy, gyy = np.gradient(map_y, axis=(1, 0))
    jumps = (np.abs(gxx) > jump) | (np.abs(gyx) > jump) | (np.abs(gxy) > jump) | (np.abs(gyy) > jump)
    a, b, c, d = (cv2.GaussianBlur(g.astype(np.float32), (0, 0), 1.0) for g in (gxx, gyx, gxy, gyy))
    s = a * a + b * b + c * c + d * d
    det = a * d - b * c
    smallest = np.sqrt(np.maximum(s / 2 - np.sqrt(np.maximum(s * s / 4 - det * det, 0.0)), 1e-12))
    lo, hi = config.stretch
    weight = np.clip((1.0 / smallest - lo) / (hi - lo), 0.0, 1.0)
    weight[jumps] = 0.0
    # a mirrored stretch and the pixels at its edges, where the map jumps to the surfaces beside it
    weight[cv2.dilate((det < 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0] = 1.0
    return cv2.GaussianBlur(weight, (0, 0), 1.5)


def fill_rim(out: np.ndarray, warped: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, roi_origin: tuple[int, int],
             window: tuple[tuple[int, int, int, int], np.ndarray], fill: RimFill, face_xy: np.ndarray) -> None:
    """In place on ``out`` (the composited frame): within a window of ``bad_windows`` (frame pixels), blend the
    mirrored and over-stretched pixels of its rim triangles toward synthesized skin.  ``warped`` (premultiplied RGBA) and the
    maps are the moving region's, whose first pixel is ``roi_origin``; ``face_xy``: the posed landmarks (the
    central face, whose folds are the nose's and the lips', is left to the other passes)."""
    ox, oy = roi_origin
    (x0, y0, x1, y1), triangles = window
    x0, y0 = max(x0, ox), max(y0, oy)
    x1, y1 = min(x1, ox + map_x.shape[1]), min(y1, oy + map_x.shape[0])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    sl = (slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox))
    weight = blend_weight(map_x[sl], map_y[sl], fill.config)
    alpha = warped[sl][..., 3].astype(np.float32) / 255.0
    weight *= alpha
    rim = np.zeros(weight.shape, np.uint8)  # only the rim triangles (the neck's and hair's strips are not skin)
    cv2.fillPoly(rim, list(np.round((triangles - (x0, y0)) * 4).astype(np.int32)), 1, cv2.LINE_AA, shift=2)
    weight *= cv2.GaussianBlur(cv2.dilate(rim, np.ones((3, 3), np.uint8)).astype(np.float32), (0, 0), 1.5)
    centre = np.zeros(weight.shape, np.uint8)
    hull = cv2.convexHull(np.round((face_xy[fill.inner] - (x0, y0)) * 4).astype(np.int32))
    cv2.fillConvexPoly(centre, hull, 1, cv2.LINE_AA, shift=2)
    weight[centre > 0] = 0.0
    # faded toward the window's edges, so that the blend never ends in a line where the window does
    ramp = 6.0
    weight *= np.clip(np.minimum(np.arange(weight.shape[1]), np.arange(weight.shape[1])[::-1]) / ramp, 0.0, 1.0)[None]
    weight *= np.clip(np.minimum(np.arange(weight.shape[0]), np.arange(weight.shape[0])[::-1]) / ramp, 0.0, 1.0)[:, None]
    if weight.max() < 1e-3:
        return
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
