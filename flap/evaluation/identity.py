"""Identity check with a standard face recogniser: dlib's ResNet face embedding (99.38% on LFW), whose
documented decision rule is "same person" below a Euclidean distance of 0.6.

Needs the optional packages ``dlib-bin`` and ``face_recognition_models`` (requirements-eval.txt).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

SAME_PERSON_DISTANCE = 0.6


@functools.lru_cache(maxsize=1)
def _models():
    try:
        import dlib
    except ImportError as exc:
        raise RuntimeError("identity checks need dlib: pip install -r requirements-eval.txt") from exc
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("identity checks need face_recognition_models: pip install -r requirements-eval.txt")
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"  # not imported: its __init__ needs pkg_resources
    detector = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
    encoder = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))
    return detector, shape, encoder


def face_embedding(image: np.ndarray) -> np.ndarray | None:
    """128-D embedding of the largest face in an RGB uint8 image, or None when no face is found."""
    import dlib

    detector, shape, encoder = _models()
    faces = detector(image, 1)
    if not faces:
        return None
    face = max(faces, key=lambda r: r.width() * r.height())
    landmarks = shape(image, face)
    chip = dlib.get_face_chip(image, landmarks, size=150)
    return np.array(encoder.compute_face_descriptor(chip))


def identity_distance(reference: np.ndarray, frame: np.ndarray) -> float:
    """Distance between the faces of two images (inf when a face is missing)."""
    a, b = face_embedding(reference), face_embedding(frame)
    if a is None or b is None:
        return float("inf")
    return float(np.linalg.norm(a - b))
