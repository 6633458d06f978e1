"""What an emotion does to a face, as a viewer reads it: FACS-like action amounts measured on tracked landmarks of
a frame against the same face's neutral frame (brows up or down and together, eyes wider, mouth corners up,
the mouth wider, the upper lip and the nose's wings raised, one corner higher than the other).  A viewer tells
emotions apart by these, so a test can say which emotion a render shows, on any portrait, smiling or not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flap.face import landmark_groups as G
from flap.face.measures import eye_openness, interocular_distance

# Points that emotions leave where they are (eye corners, the nose's bridge): the frame the others move in.
_STILL = (33, 133, 362, 263, 6, 168, 197, 195)
_OUTER_BROWS = (70, 63, 46, 53, 300, 293, 276, 283)
_INNER_BROWS = (107, 66, 55, 65, 336, 296, 285, 295)
_INNER_BROW_PAIRS = ((107, 336), (55, 285), (66, 296), (65, 295))
_UPPER_LIP_MIDDLE = (0, 37, 267)
_NOSE_WINGS = (98, 327, 64, 294)


@dataclass(frozen=True)
class FacialActions:
    """Each amount is the emotional frame's change against the neutral frame, over the interocular distance
    (eye openness: the change of lid gap over eye width); > 0 means the named action."""

    brow_outer_raise: float
    brow_inner_raise: float
    brows_together: float
    eyes_wider: float
    corners_up: float  # mean of both mouth corners, against the still points
    corner_asymmetry: float  # subject's right corner up minus the left
    mouth_wider: float
    upper_lip_raise: float
    nose_wings_raise: float
    lips_thinner: float  # red of the lips narrowed (pressed)

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def _align(moving: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``moving`` (N, 2) carried onto ``target`` by the similarity that best fits the still points."""
    a, b = target[list(_STILL)], moving[list(_STILL)]
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    u, sv, vt = np.linalg.svd((b - cb).T @ (a - ca))
    rotation = u @ vt
    scale = sv.sum() / max(float(np.sum((b - cb) ** 2)), 1e-9)
    return scale * (moving - cb) @ rotation + ca


def facial_actions(neutral: np.ndarray, emotional: np.ndarray) -> FacialActions:
    """``neutral``, ``emotional``: (478, 2+) tracked landmarks (image pixels, y down) of the same face."""
    a = neutral[:, :2].astype(np.float64)
    b = _align(emotional[:, :2].astype(np.float64), a)
    unit = max(interocular_distance(a), 1e-6)

    def rise(ids) -> float:
        return float(np.mean(a[list(ids), 1] - b[list(ids), 1]) / unit)

    def gap(p: np.ndarray, ids_a, ids_b) -> float:
        return float(np.mean(np.linalg.norm(p[list(ids_a)] - p[list(ids_b)], axis=1)))

    inner_a, inner_b = zip(*_INNER_BROW_PAIRS)
    right, left = G.MOUTH_CORNERS
    lip_top, lip_bottom = (0, 17), (13, 14)
    return FacialActions(
        brow_outer_raise=rise(_OUTER_BROWS),
        brow_inner_raise=rise(_INNER_BROWS),
        brows_together=(gap(a, inner_a, inner_b) - gap(b, inner_a, inner_b)) / unit,
        eyes_wider=float(np.mean(eye_openness(b) - eye_openness(a))),
        corners_up=rise(G.MOUTH_CORNERS),
        corner_asymmetry=rise((right,)) - rise((left,)),
        mouth_wider=(gap(b, (right,), (left,)) - gap(a, (right,), (left,))) / unit,
        upper_lip_raise=rise(_UPPER_LIP_MIDDLE),
        nose_wings_raise=rise(_NOSE_WINGS),
        lips_thinner=(gap(a, lip_top, lip_bottom) - gap(b, lip_top, lip_bottom)) / unit,
    )
