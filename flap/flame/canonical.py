"""MediaPipe's canonical face (flap/assets): the frame the embedded renderer works in.

468 vertices in MediaPipe landmark order, centimetres, x toward the image's right (the subject's left), y up,
z toward the camera; neutral and frontal.  The 10 iris landmarks (468-477) are not part of the mesh.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from flap.assets import CANONICAL_FACE_OBJ

NUM_MESH_LANDMARKS = 468
NUM_LANDMARKS = 478
#: Iris landmarks (centre first) and the eye corners they follow: right iris 468-472 (subject's right),
#: left iris 473-477, as in MediaPipe's face_mesh_connections.
RIGHT_IRIS = tuple(range(468, 473))
LEFT_IRIS = tuple(range(473, 478))
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (263, 362)


@lru_cache(maxsize=2)
def load_canonical_face(path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (468, 3) float64 cm, faces (F, 3) int64) read from the OBJ."""
    obj = Path(path) if path else CANONICAL_FACE_OBJ
    vertices, faces = [], []
    with open(obj, "r", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("v "):
                vertices.append([float(v) for v in line.split()[1:4]])
            elif line.startswith("f "):
                faces.append([int(part.split("/")[0]) - 1 for part in line.split()[1:4]])
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if v.shape != (NUM_MESH_LANDMARKS, 3):
        raise ValueError(f"{obj} should hold {NUM_MESH_LANDMARKS} vertices; found {v.shape[0]}")
    return v, f
