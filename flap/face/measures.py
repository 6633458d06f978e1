"""Scale-free measurements on landmarks: eye openness and mouth opening (used by the renderer and the tracker)."""

from __future__ import annotations

import numpy as np

from flap.face import landmark_groups as G


def _pair_gaps(points: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...]) -> np.ndarray:
    up = points[list(upper[2:-2])]
    lo = points[list(lower[2:-2])]
    return np.linalg.norm(up[..., :2] - lo[..., :2], axis=-1)


def eye_openness(points: np.ndarray) -> np.ndarray:
    """(2,) lid gap / eye width for (subject's left, right) eye: about 0.25-0.35 open, < 0.08 closed."""
    out = []
    for upper, lower in ((G.LEFT_EYE_UPPER, G.LEFT_EYE_LOWER), (G.RIGHT_EYE_UPPER, G.RIGHT_EYE_LOWER)):
        width = np.linalg.norm(points[upper[0], :2] - points[upper[-1], :2])
        out.append(_pair_gaps(points, upper, lower).mean() / max(width, 1e-6))
    return np.array(out)


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap at the centre / mouth width (0 closed; about 0.3-0.6 wide open)."""
    gap = _pair_gaps(points, G.UPPER_INNER_LIP, G.LOWER_INNER_LIP).mean()
    width = np.linalg.norm(points[G.MOUTH_CORNERS[0], :2] - points[G.MOUTH_CORNERS[1], :2])
    return float(gap / max(width, 1e-6))


def interocular_distance(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[G.RIGHT_EYE_UPPER[0], :2] - points[G.LEFT_EYE_UPPER[0], :2]))
