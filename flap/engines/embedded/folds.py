"""The photo's smile folds (nasolabial lines), softened as far as the rig releases the photo's smile.

A smiling photo's folds stay in its skin texture when the rig takes the smile back (``FaceRig.smile_release``), and
under sad brows they still read as a smile.  Per side, the fold's band-pass shading (what lies between the skin's
fine texture and the cheek's broad shading) is taken out of a copy of the texture along the fold's line; a frame
adds that difference, warped like the face, in proportion to the release.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flap.face import landmark_groups as G

# Along each fold, from beside the nose wing down past the mouth corner (MediaPipe ids; the subject's left, right):
# cheek beside the wing, the cheek above the corner, beside the corner, below it; then the jaw point beside that,
# which the fold bends out toward (it runs halfway there).
FOLD_LINES = ((423, 426, 436, 432, 434), (203, 206, 216, 212, 214))
_FINE, _BROAD = 0.012, 0.14  # the band-pass scales (sigma, share of the outer-eye distance): skin pores .. the cheek
_WIDTH = 0.15  # half-width of the softened band around the fold line (share of the outer-eye distance)


@dataclass
class FoldSoftening:
    deltas: np.ndarray  # (2, H, W, 4) uint8: 128 + softened minus photo texture (premultiplied RGBA; alpha stays),
    # subject's left, right: a byte warps and blends at OpenCV's speed
    lines: tuple[tuple[int, ...], ...]  # the landmark ids each side's fold runs along (to find it in a frame)
    margin: float  # pixels around the posed line a frame looks at


def _fold_polyline(xy: np.ndarray, ids: tuple[int, ...]) -> np.ndarray:
    """The fold's line through its landmarks, bent halfway out toward the jaw point below the corner and extended
    beyond by that last segment (the fold runs on beside the mouth toward the chin), starting a little below the
    first (the nose wing's crease stays)."""
    pts = xy[list(ids)]
    start = pts[0] + 0.35 * (pts[1] - pts[0])
    low = 0.5 * (pts[3] + pts[4])
    end = low + (low - pts[2])
    return np.concatenate([[start], pts[1:3], [low, end]])


def build_fold_softening(texture: np.ndarray, landmarks_xy: np.ndarray) -> FoldSoftening:
    """``texture``: the premultiplied RGBA the warp samples; ``landmarks_xy``: (N, 2) photo pixels."""
    iod = float(np.linalg.norm(landmarks_xy[33] - landmarks_xy[263]))
    colour = texture[:, :, :3].astype(np.float32)
    fine = cv2.GaussianBlur(colour, (0, 0), max(_FINE * iod, 0.6))
    broad = cv2.GaussianBlur(colour, (0, 0), _BROAD * iod)
    band = broad - fine  # adding it takes the fold's shading out and leaves the pores and the cheek's light
    deltas = np.full((2,) + texture.shape[:2] + (4,), 128, np.uint8)
    width = max(1, int(round(2 * _WIDTH * iod)))
    lips = np.zeros(colour.shape[:2], np.uint8)  # the lips' own edge is not a fold
    cv2.fillPoly(lips, [np.round(landmarks_xy[list(G.UPPER_OUTER_LIP + G.LOWER_OUTER_LIP[::-1])]).astype(np.int32)], 255)
    grow = max(3, int(0.04 * iod)) | 1
    skin = 1.0 - cv2.GaussianBlur(cv2.dilate(lips, np.ones((grow, grow), np.uint8)).astype(np.float32) / 255.0, (0, 0), grow / 2)
    for side, ids in enumerate(FOLD_LINES):
        mask = np.zeros(colour.shape[:2], np.uint8)
        line = _fold_polyline(landmarks_xy, ids)
        cv2.polylines(mask, [np.round(line * 16).astype(np.int32)], False, 255, width, cv2.LINE_AA, shift=4)
        soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 0.35 * width) * skin
        deltas[side, :, :, :3] = np.clip(np.round(128 + band * soft[:, :, None] * (texture[:, :, 3:4] / 255.0)), 0, 255)
    return FoldSoftening(deltas=deltas, lines=FOLD_LINES, margin=2.2 * _WIDTH * iod + 2)


def soften_folds(warped: np.ndarray, folds: FoldSoftening, map_x: np.ndarray, map_y: np.ndarray,
                 origin: tuple[int, int], posed_xy: np.ndarray, release: np.ndarray) -> None:
    """Add ``release`` (2,) 0..1 per side of each fold's softening to ``warped`` (the premultiplied RGBA ROI at
    ``origin``, sampled through map_x/map_y), in place, only around each fold's posed line."""
    h, w = warped.shape[:2]
    for side, amount in enumerate(release):
        if amount <= 0.01:
            continue
        line = _fold_polyline(posed_xy, folds.lines[side]) - origin
        x0, y0 = np.floor(line.min(axis=0) - folds.margin).astype(int)
        x1, y1 = np.ceil(line.max(axis=0) + folds.margin).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        delta = cv2.remap(folds.deltas[side], map_x[y0:y1, x0:x1], map_y[y0:y1, x0:x1], cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(128, 128, 128, 128))
        roi = warped[y0:y1, x0:x1]
        roi[:] = cv2.addWeighted(roi, 1.0, delta, float(amount), -128.0 * float(amount))

