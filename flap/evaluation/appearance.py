"""Measures of what a viewer sees in rendered frames, so that appearance defects can fail a test.

- pops: a pixel away from the face that jumps away from both neighbouring frames while they agree (a patch that
  flashes for one frame);
- background: pixels outside the region the head covers in any frame must stay the photo's;
- folds: visible face triangles whose orientation flipped (the mesh tore or folded over itself);
- emotion signatures: how each emotion displaces the tracked landmarks, to check that emotions are distinct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

from flap.face import landmark_groups as G


def face_region(landmarks_xy: np.ndarray, shape: tuple[int, int], margin: float = 0.12) -> np.ndarray:
    """(H, W) bool: the convex hull of the face oval, grown by ``margin`` of the face width."""
    oval = landmarks_xy[list(G.face_oval_loop())].astype(np.float32)
    hull = cv2.convexHull(oval)
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(hull).astype(np.int32), 1)
    grow = max(1, int(round(margin * (oval[:, 0].max() - oval[:, 0].min()))))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))) > 0


#: The head (face, hair, ears) lies within these factors of the face oval around its centre: above, below.
HEAD_REACH = (2.4, 1.7)


def head_reach(landmarks_xy: np.ndarray, shape: tuple[int, int], factors: tuple[float, float] = HEAD_REACH) -> np.ndarray:
    """(H, W) bool: where the head may be, from its landmarks: hair reaches far above the face, the neck below."""
    oval = landmarks_xy[list(G.face_oval_loop())]
    centre = oval.mean(axis=0)
    rel = oval - centre
    down = np.clip(rel[:, 1] / np.maximum(np.linalg.norm(rel, axis=1), 1e-9) * 0.5 + 0.5, 0, 1)[:, None]
    grown = centre + rel * ((1 - down) * factors[0] + down * factors[1])
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(cv2.convexHull(grown.astype(np.float32))).astype(np.int32), 1)
    return mask > 0


def below_chin(landmarks_xy: np.ndarray, shape: tuple[int, int], margin: float = 0.05, depth: float = 0.5,
               half_width: float = 0.7) -> np.ndarray:
    """(H, W) bool: the neck, collar and shoulders right below the chin (``depth`` face widths down, ``half_width``
    either side of the face centre), ``margin`` of the face width away from the face oval: what a chin that comes
    down covers but never drags."""
    oval = landmarks_xy[list(G.face_oval_loop())]
    width = float(np.ptp(oval[:, 0]))
    chin_y = landmarks_xy[G.CHIN, 1]
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    box = (ys > chin_y) & (ys < chin_y + depth * width) & (np.abs(xs - oval[:, 0].mean()) < half_width * width)
    return box & ~face_region(landmarks_xy, shape, margin)


def posed_landmarks(renderer, state, motion) -> np.ndarray:
    """(T, 478, 2) where the embedded renderer puts the face landmarks in each frame (pixels)."""
    from flap.face.geometry import image_to_camera

    cams = renderer.vertex_positions(state, motion)
    return np.stack([image_to_camera(c[: G.NUM_LANDMARKS])[:, :2] for c in cams])


@dataclass(frozen=True)
class PopReport:
    frames: list[int]  # frame indices that pop
    pixels: np.ndarray  # (H, W) how often each pixel popped

    @property
    def count(self) -> int:
        return len(self.frames)


def find_pops(frames: Iterable[np.ndarray], face_masks: Iterable[np.ndarray], jump: int = 24, agree: int = 8,
              min_pixels: int = 12) -> PopReport:
    """A frame pops where a patch of at least ``min_pixels`` pixels outside the face (``face_masks``, one per frame)
    differs from both neighbours by more than ``jump`` levels while the neighbours differ by less than ``agree``."""
    prev2 = prev = None
    mask_prev = None
    popped: list[int] = []
    counts = None
    for t, (frame, mask) in enumerate(zip(frames, face_masks)):
        frame = frame.astype(np.int16)
        if counts is None:
            counts = np.zeros(frame.shape[:2], np.int32)
        if prev2 is not None:
            a = np.abs(prev - prev2).max(axis=2) > jump
            b = np.abs(prev - frame).max(axis=2) > jump
            same = np.abs(frame - prev2).max(axis=2) < agree
            hit = a & b & same & ~(mask_prev | mask)
            # A pop is a patch; scattered texture pixels (hair shimmering under a sub-pixel nod) are not.
            hit = cv2.morphologyEx(hit.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
            if hit.sum() >= min_pixels:
                popped.append(t - 1)
                counts += hit
        prev2, prev, mask_prev = prev, frame, mask
    return PopReport(frames=popped, pixels=counts if counts is not None else np.zeros((1, 1), np.int32))


def changed_outside(frames: Iterable[np.ndarray], photo: np.ndarray, allowed: np.ndarray, tolerance: int = 2) -> np.ndarray:
    """(H, W) bool: pixels outside ``allowed`` that differ from the photo by more than ``tolerance`` in any frame."""
    bad = np.zeros(photo.shape[:2], bool)
    ref = photo.astype(np.int16)
    for frame in frames:
        bad |= np.abs(frame.astype(np.int16) - ref).max(axis=2) > tolerance
    return bad & ~allowed


def visible_folds(src_xy: np.ndarray, dst_xy: np.ndarray, depth: np.ndarray, triangles: np.ndarray, drawn: np.ndarray,
                  shape: tuple[int, int], min_pixels: int = 6, opaque: np.ndarray | None = None) -> int:
    """How many of ``drawn`` (the triangles the renderer draws, z-buffered by ``depth``, larger = nearer) are
    flipped against the source and still win at least ``min_pixels`` pixels of the frame: folds and tears a viewer
    sees, such as hair strips folding over each other beside a turned face.  ``triangles`` selects which of the
    drawn triangles to count (e.g. the hair and neck strips); ``opaque`` (H, W) bool, if given, counts only pixels
    where the warp shows the person (a fold over fully transparent background is invisible)."""
    from flap.engines.embedded.rasterizer import folded_triangles, rasterize_backward_map

    # Rasterise every drawn triangle with its own index as the value: the map then says which one won each pixel.
    corners = drawn.reshape(-1)
    index = np.repeat(np.arange(len(drawn), dtype=np.float64), 3)
    values = np.stack([index, np.zeros_like(index)], axis=1)
    own = np.arange(len(corners)).reshape(-1, 3)
    winner, _, covered = rasterize_backward_map(dst_xy[corners], depth[corners], values, own, shape, 1.0)
    if opaque is not None:
        covered &= opaque
    counts = np.bincount(np.round(winner[covered]).astype(int), minlength=len(drawn))
    counted = (drawn[:, None, :] == triangles[None, :, :]).all(axis=2).any(axis=1) if len(triangles) else np.zeros(len(drawn), bool)
    flipped = folded_triangles(src_xy, dst_xy, drawn)
    return int(np.sum(flipped & counted & (counts >= min_pixels)))


def _edges(img: np.ndarray, threshold: float) -> np.ndarray:
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)) > threshold


def hard_edges_added(frame: np.ndarray, photo: np.ndarray, region: np.ndarray, source_map: tuple[np.ndarray, np.ndarray] | None = None,
                     threshold: float = 60.0, slack: int = 2) -> float:
    """Share of ``region`` pixels with a strong edge in ``frame`` that the photo does not have where the frame
    samples it: seams, cuts and stair-steps that a warp adds.  ``source_map`` (map_x, map_y: where each frame pixel
    comes from in the photo; identity when None) carries the photo's own edges to where the warp put them; they
    are grown by ``slack`` pixels, as interpolation blurs an edge's position a little."""
    own = cv2.dilate(_edges(photo, threshold).astype(np.uint8), np.ones((2 * slack + 1, 2 * slack + 1), np.uint8))
    if source_map is not None:
        own = cv2.remap(own, source_map[0], source_map[1], cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        own = cv2.dilate(own, np.ones((3, 3), np.uint8))
    new = _edges(frame, threshold) & (own == 0) & region
    return float(new.sum() / max(1, region.sum()))


def mouth_opening(landmarks_xy: np.ndarray, shape: tuple[int, int], grow: int = 2) -> np.ndarray:
    """(H, W) bool: between the inner lips (where the renderer paints the mouth interior over the warp)."""
    inner = np.concatenate([landmarks_xy[list(G.UPPER_INNER_LIP)], landmarks_xy[list(G.LOWER_INNER_LIP[1:-1])][::-1]])
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], 1)
    return cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0


def warped_alpha(renderer, state, camera) -> np.ndarray:
    """(H, W) float: how opaque the warped person is in each pixel of the frame (0 = the plate shows)."""
    map_x, map_y = full_map(renderer, state, camera)
    return cv2.remap(state.premultiplied[:, :, 3], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) / 255.0


def seen(renderer, state, camera) -> np.ndarray:
    """(H, W) bool: where a viewer sees the warped person: opaque, and not under the painted mouth interior."""
    from flap.face.geometry import image_to_camera

    dst = image_to_camera(camera[: G.NUM_LANDMARKS])[:, :2]
    return (warped_alpha(renderer, state, camera) > 0.1) & ~mouth_opening(dst, state.portrait.crop.shape[:2])


def full_map(renderer, state, camera) -> tuple[np.ndarray, np.ndarray]:
    """The embedded renderer's backward map for a whole frame (identity where nothing moves)."""
    map_x, map_y = (g.copy() for g in state.pixel_grid)
    region = renderer.backward_map(state, camera)
    if region is not None:
        (x0, y0, x1, y1), sub_x, sub_y = region
        map_x[y0:y1, x0:x1], map_y[y0:y1, x0:x1] = sub_x, sub_y
    return map_x, map_y


def emotion_signature(neutral: np.ndarray, emotional: np.ndarray) -> np.ndarray:
    """How an emotion moves the face's landmarks against the neutral render, after removing the head's own
    motion (a 2D similarity fit), normalised by the face width and flattened: the expression, not the pose."""
    a, b = neutral[:, :2].astype(np.float64), emotional[:, :2].astype(np.float64)
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    a0, b0 = a - ca, b - cb
    u, sv, vt = np.linalg.svd(b0.T @ a0)
    rotation = u @ vt
    scale = sv.sum() / max(np.sum(b0 ** 2), 1e-9)
    aligned = scale * b0 @ rotation + ca
    width = np.ptp(a[:, 0])
    return ((aligned - a) / max(width, 1e-6)).ravel()


def texture_stretch(map_x: np.ndarray, map_y: np.ndarray, smooth: float = 1.5, jump: float = 2.5) -> np.ndarray:
    """(H, W) how many output pixels one photo pixel is drawn over along the warp's most stretched direction
    (1 = the photo's own scale): the inverse of the smallest singular value of the backward map's Jacobian.
    Where a warp stretches a few photo pixels over a wide band (the side of the face unfolded on a turn), a
    viewer sees streaks and smears.  Occlusion edges (jumps in the map) are set to 1: they are cuts, not
    stretch."""
    gx_x, gy_x = np.gradient(map_x.astype(np.float64), axis=(1, 0))
    gx_y, gy_y = np.gradient(map_y.astype(np.float64), axis=(1, 0))
    jumps = (np.abs(gx_x) > jump) | (np.abs(gy_x) > jump) | (np.abs(gx_y) > jump) | (np.abs(gy_y) > jump)
    terms = [cv2.GaussianBlur(g.astype(np.float32), (0, 0), smooth) for g in (gx_x, gy_x, gx_y, gy_y)]
    a, b, c, d = terms
    # singular values of [[a, b], [c, d]]
    s = a * a + b * b + c * c + d * d
    det = np.abs(a * d - b * c)
    root = np.sqrt(np.maximum(s * s / 4 - det * det, 0.0))
    smallest = np.sqrt(np.maximum(s / 2 - root, 1e-12))
    stretch = 1.0 / smallest
    stretch[cv2.dilate(jumps.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0] = 1.0
    return stretch


def smeared_share(stretch: np.ndarray, region: np.ndarray, limit: float = 3.0) -> float:
    """Share of ``region`` drawn with more than ``limit`` times the photo's scale in some direction (smears)."""
    return float(np.sum((stretch > limit) & region) / max(1, region.sum()))


def mirrored_shown(frame: np.ndarray, photo: np.ndarray, source_map: tuple[np.ndarray, np.ndarray], region: np.ndarray,
                   tolerance: int = 12, jump: float = 2.5) -> float:
    """Share of ``region`` where the frame shows the photo drawn mirrored: the backward map (``source_map``) turns
    the photo over there (its Jacobian's determinant is negative, away from occlusion jumps) and the frame is what
    it samples (within ``tolerance`` levels).  Folded landmarks of a turned photo, unfolded by a turn, draw the
    ear's edge and the background a second time, mirrored, between the ear and the cheek."""
    map_x, map_y = (m.astype(np.float32) for m in source_map)
    gxx, gyx = np.gradient(map_x, axis=(1, 0))
    gxy, gyy = np.gradient(map_y, axis=(1, 0))
    smooth = [cv2.GaussianBlur(g, (0, 0), 1.0) for g in (gxx, gyx, gxy, gyy)]
    jumps = (np.abs(gxx) > jump) | (np.abs(gyx) > jump) | (np.abs(gxy) > jump) | (np.abs(gyy) > jump)
    jumps = cv2.dilate(jumps.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    mirrored = (smooth[0] * smooth[3] - smooth[1] * smooth[2] < -0.05) & ~jumps
    drawn = cv2.remap(photo, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    same = np.abs(frame.astype(np.int16) - drawn.astype(np.int16)).max(axis=2) <= tolerance
    return float(np.sum(mirrored & same & region) / max(1, region.sum()))


def travelling_background(frame: np.ndarray, photo: np.ndarray, plate: np.ndarray, source_map: tuple[np.ndarray, np.ndarray],
                          person: np.ndarray, region: np.ndarray, moved: float = 2.0, tolerance: int = 8) -> int:
    """Pixels of ``region`` where the frame shows the photo's background carried with the head: the backward map
    (``source_map``) moves them more than ``moved`` pixels, their source is background to the segmenter
    (``person``, the portrait's own mask, below 0.05), and the frame is what the map samples there (within
    ``tolerance`` levels) and not what the plate shows in its place.  A matte edge that carries the photo's
    background drags a ring of curtain or flagpole along the head's outline on a turn."""
    map_x, map_y = (m.astype(np.float32) for m in source_map)
    h, w = person.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    far = np.hypot(map_x - xs, map_y - ys) > moved
    source_person = cv2.remap(person.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    carried = cv2.remap(photo, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2)

    shows = (differs(frame, carried) <= tolerance) & (differs(frame, plate) > tolerance)
    return int(np.sum(far & (source_person < 0.05) & shows & region))
