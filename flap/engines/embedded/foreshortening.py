"""A nod's foreshortening, partly undone: a warp of one photo has no shading or parallax to say that the face
tilted away, so a face pitched 25 degrees reads as squashed (its height 0.86 of the unposed one on a photo already
pitched the other way), not as turned."""

from __future__ import annotations

import numpy as np


def height_scale(rotation: np.ndarray, photo_rotation: np.ndarray, span: np.ndarray,
                 keep: tuple[float, float] = (0.95, 0.5)) -> np.ndarray:
    """(T,) how much to stretch the head along its own up axis (head-frame y) so that ``span`` (3,) (forehead to
    chin, head frame) projected by ``rotation`` (T, 3, 3) keeps its length in the photo (``photo_rotation``) down to
    ``keep[0]`` of it, and loses only ``keep[1]`` of what it would lose below that.  1 where nothing is lost."""
    start, share = keep
    photo = np.linalg.norm((photo_rotation @ span)[:2])
    a = rotation[:, :2, 1] * span[1]  # (T, 2): the projection of the span's up part, which the stretch scales
    b = np.einsum("tij,j->ti", rotation[:, :2], span * np.array([1.0, 0.0, 1.0]))
    ratio = np.linalg.norm(a + b, axis=1) / photo
    target = np.where(ratio < start, start - (start - ratio) * share, ratio) * photo
    # |a s + b| = target, the larger root
    aa, ab, bb = np.sum(a * a, axis=1), np.sum(a * b, axis=1), np.sum(b * b, axis=1)
    root = np.sqrt(np.maximum(ab * ab - aa * (bb - target * target), 0.0))
    s = (-ab + root) / np.maximum(aa, 1e-12)
    return np.where(ratio < start, np.maximum(s, 1.0), 1.0)
