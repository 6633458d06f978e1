"""Finding faces and their 478 landmarks in a photo of any size (detector on the photo, mesh on a face crop)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flap.face.mediapipe_models import face_detector, face_mesh, run

DETECTION_SIDE = 1024  # photos are reduced to this for detection; boxes are scaled back
MESH_INPUT_SIDE = 384


@dataclass(frozen=True)
class FaceBox:
    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2


def detect_faces(image: np.ndarray) -> list[FaceBox]:
    """All faces, largest first.  Uses the full-range model, then the short-range one if it finds nothing."""
    h, w = image.shape[:2]
    factor = min(1.0, DETECTION_SIDE / max(h, w))
    small = cv2.resize(image, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA) if factor < 1 else image
    small = np.ascontiguousarray(small)
    boxes: list[FaceBox] = []
    for model in (1, 0):
        result = run(face_detector(model), small)
        for det in result.detections or []:
            rb = det.location_data.relative_bounding_box
            box = FaceBox(rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h, float(det.score[0]))
            if box.width > 4 and box.height > 4:
                boxes.append(box)
        if boxes:
            break
    boxes = _suppress_overlaps(boxes)
    return sorted(boxes, key=lambda b: b.area, reverse=True)


def _suppress_overlaps(boxes: list[FaceBox], iou_limit: float = 0.4) -> list[FaceBox]:
    kept: list[FaceBox] = []
    for box in sorted(boxes, key=lambda b: b.score, reverse=True):
        if all(_iou(box, other) < iou_limit for other in kept):
            kept.append(box)
    return kept


def _iou(a: FaceBox, b: FaceBox) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    return inter / max(a.area + b.area - inter, 1e-6)


def landmarks_in_box(image: np.ndarray, box: FaceBox, expand: float = 2.2) -> np.ndarray | None:
    """(478, 3) landmarks in image pixels (x right, y down, z away from camera, pixel scale) or None."""
    cx, cy = box.center
    side = expand * max(box.width, box.height)
    x0, y0 = cx - side / 2, cy - side / 2
    scale = MESH_INPUT_SIDE / side
    # Affine crop with constant border: handles faces at the edge of the photo.
    matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], dtype=np.float64)
    crop = cv2.warpAffine(image, matrix, (MESH_INPUT_SIDE, MESH_INPUT_SIDE), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    points = landmarks_full_frame(crop, static=True)
    if points is None:
        return None
    points[:, :2] = points[:, :2] / scale + np.array([x0, y0])
    points[:, 2] = points[:, 2] / scale
    return points


def landmarks_full_frame(image: np.ndarray, static: bool = True) -> np.ndarray | None:
    """Landmarks of the most prominent face of a frame (no detector pass), in that frame's pixels."""
    h, w = image.shape[:2]
    result = run(face_mesh(static), np.ascontiguousarray(image))
    if not result.multi_face_landmarks:
        return None
    lm = result.multi_face_landmarks[0].landmark
    points = np.array([[p.x * w, p.y * h, p.z * w] for p in lm], dtype=np.float64)
    return points
