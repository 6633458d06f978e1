"""FLAME expression coefficients as displacements of MediaPipe's 478 landmarks, for the embedded renderer.

The embedded renderer rigs the portrait's face mesh itself (pose, jaw, eyelids, gaze); with the FLAME model it can
also show expression coefficients, by adding these per-frame offsets to its canonical-frame landmarks.
"""

from __future__ import annotations

import numpy as np

from flap.flame.canonical import LEFT_EYE_CORNERS, LEFT_IRIS, NUM_LANDMARKS, NUM_MESH_LANDMARKS, RIGHT_EYE_CORNERS, RIGHT_IRIS
from flap.flame.correspondence import MediapipeEmbedding, mediapipe_embedding
from flap.flame.layer import expression_displacements
from flap.flame.model import FlameModel
from flap.motion.representation import MotionSequence

NEEDS_MODEL_MESSAGE = ("The motion has FLAME expression coefficients; the embedded engine needs the FLAME model to show them "
                       "(set FLAP_FLAME_MODEL, see docs/flame.md). Pose, jaw, eyelids and gaze are applied.")
NO_CONTROLS_SUFFIX = " This motion has no named expression controls either, so the mouth shows only the jaw opening."


def expression_offsets_from_coefficients(expression: np.ndarray, model: FlameModel,
                                         embedding: MediapipeEmbedding | None = None) -> np.ndarray:
    """(T, 478, 3) float32 centimetre offsets in the canonical frame for (T, n) FLAME expression coefficients."""
    expression = np.asarray(expression, dtype=np.float64)
    if expression.ndim != 2:
        raise ValueError(f"expression must be (frames, coefficients); got {expression.shape}")
    frames = expression.shape[0]
    out = np.zeros((frames, NUM_LANDMARKS, 3), dtype=np.float32)
    if frames == 0 or not np.any(expression):
        return out
    emb = embedding or mediapipe_embedding(model)
    unique, inverse = np.unique(emb.vertex_ids.reshape(-1), return_inverse=True)
    disp = expression_displacements(model, expression, unique)  # (T, K, 3) metres, FLAME frame
    corners = disp[:, inverse.reshape(NUM_MESH_LANDMARKS, 3), :]  # (T, 468, 3, 3)
    mesh = np.einsum("lk,tlkc->tlc", emb.bary, corners)
    out[:, :NUM_MESH_LANDMARKS] = emb.vectors_to_canonical(mesh)
    # Irises ride on the eyeball, which expressions do not move; follow the eye corners (the socket) instead.
    for iris, corners_ids in ((RIGHT_IRIS, RIGHT_EYE_CORNERS), (LEFT_IRIS, LEFT_EYE_CORNERS)):
        out[:, list(iris)] = out[:, list(corners_ids)].mean(axis=1, keepdims=True)
    return out


def expression_offsets(motion: MotionSequence, model: FlameModel) -> np.ndarray:
    """(T, 478, 3) float32 displacements of the 478 landmarks caused by ``motion.expression`` alone.

    Canonical face frame and units (centimetres, x image-right, y up, z toward the camera); pose, jaw, eyelids and
    gaze are left to the renderer's own rig.  The FLAME <-> MediaPipe correspondence is computed once per model.
    """
    return expression_offsets_from_coefficients(motion.expression, model)


def expression_status(motion: MotionSequence, model_available: bool) -> str | None:
    """The note to show the user about expression coefficients, or None when there is nothing to say."""
    if not motion.has_flame_expression or model_available:
        return None
    message = NEEDS_MODEL_MESSAGE
    if not np.any(motion.controls > 0):
        message += NO_CONTROLS_SUFFIX
    return message
