"""Named groups of MediaPipe's 478 face landmarks (468 mesh + 10 iris), subject's left = image right.

Derived once from MediaPipe's own connection sets so the indices are not typed by hand.
"""

from __future__ import annotations

import functools

import numpy as np

NUM_MESH = 468
NUM_LANDMARKS = 478

# Iris: centre then four ring points (refine_landmarks=True).
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)

# Inner lip contour, corner to corner (subject's right corner 78 to left corner 308).
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
UPPER_OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_OUTER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
MOUTH_CORNERS = (61, 291)  # subject's right, left

# Eye contours, inner to outer is not assumed: upper and lower lid from corner to corner.
RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_EYE_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)

RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
LEFT_BROW = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)

NOSE_TIP = 1
CHIN = 152
FOREHEAD = 10


#: The 36 face-oval landmarks as a closed loop, clockwise on screen from the forehead (10); MediaPipe's
#: FACEMESH_FACE_OVAL edges walked in order (tests/test_face_analysis.py checks it against MediaPipe), written out
#: so that rendering needs no MediaPipe import.
FACE_OVAL_LOOP: tuple[int, ...] = (10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148,
                                   152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356, 389, 251, 284, 332, 297, 338)


def face_oval_loop() -> tuple[int, ...]:
    """The 36 face-oval landmarks as a closed loop, clockwise on screen starting at the forehead (10)."""
    return FACE_OVAL_LOOP


def face_oval_loop_from_mediapipe() -> tuple[int, ...]:
    """FACE_OVAL_LOOP derived from MediaPipe's edge list (for the test that keeps the constant honest)."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_FACE_OVAL

    neighbours: dict[int, list[int]] = {}
    for a, b in FACEMESH_FACE_OVAL:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    loop = [FOREHEAD]
    prev = None
    while True:
        options = [n for n in neighbours[loop[-1]] if n != prev]
        nxt = options[0]
        if nxt == FOREHEAD:
            break
        prev = loop[-1]
        loop.append(nxt)
    return tuple(loop)


@functools.lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """(898, 3) triangles of MediaPipe's canonical face mesh (eye and mouth openings included)."""
    from flap.face.geometry import canonical_face

    return canonical_face().faces
