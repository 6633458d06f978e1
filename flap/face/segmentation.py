"""Which pixels are the person (head, hair, body) and which are background, with edges refined on the photo."""

from __future__ import annotations

import cv2
import numpy as np

from flap.face.mediapipe_models import run, selfie_segmenter


def person_mask(image: np.ndarray, refine: bool = True) -> np.ndarray:
    """(H, W) float32 in [0, 1]; 1 = person.  The guided filter snaps MediaPipe's 256 px mask to hair edges."""
    result = run(selfie_segmenter(), np.ascontiguousarray(image))
    mask = np.clip(result.segmentation_mask.astype(np.float32), 0.0, 1.0)
    if mask.shape != image.shape[:2]:
        mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    if refine:
        radius = max(2, round(image.shape[0] / 128))
        mask = cv2.ximgproc.guidedFilter(image, mask, radius, 1e-3)
        mask = np.clip(mask, 0.0, 1.0)
    return mask
