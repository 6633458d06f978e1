"""Tracked faces to the shared motion representation: what a training clip's condition is made of.

The tracker (flap.face.tracker, MediaPipe's 478-point mesh + Procrustes pose: the same one the embedded engine
calibrates with) gives, per frame, the head rotation, eye openness, mouth opening and landmarks.  They become a
``MotionSequence``:

- global_rotation: the tracked absolute head rotation (axis-angle), as the full model reads it;
- jaw: mouth opening (inner-lip gap / mouth width) times ``JAW_PER_MOUTH_OPENING`` radians.  Measured on the
  embedded engine's renders of the two example portraits the slope is 0.78 to 1.14 rad per unit opening, so one
  constant is an approximation of FLAME's jaw angle, but a consistent one, which is what a learned condition needs;
- eyelids: closure relative to the clip's own open level (its 90th percentile of eye openness);
- eyes: gaze from the iris centre's offset in the head frame, relative to the clip's median (people mostly look
  at the camera while talking), on an eyeball of the rig's radius;
- translation and scale: relative to the clip's median head position and size;
- expression and named controls: zero (a FLAME fit is needed for expression coefficients).

Frames without a face are filled by linear interpolation from their neighbours.
"""

from __future__ import annotations

import numpy as np

from flap.face import landmark_groups as G
from flap.face.geometry import HeadPose, image_to_camera
from flap.face.tracker import FaceTrack
from flap.motion.representation import NUM_CONTROLS, NUM_FLAME_EXPRESSION, MotionSequence
from flap.motion.rotations import gaze_to_matrix, matrix_to_axis_angle, matrix_to_rotation_6d

JAW_PER_MOUTH_OPENING = 0.95  # radians of jaw rotation per unit of mouth opening (gap / width)
EYEBALL_RADIUS_CM = 1.25  # flap.engines.embedded.rig.RigConfig.eyeball_radius
MAX_GAZE_DEG = 30.0


def fill_missing(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Linear interpolation over frames where ``found`` is False (edges hold the nearest found frame)."""
    values = np.array(values, dtype=np.float64, copy=True)
    if found.all() or not found.any():
        return values
    t = np.arange(len(found))
    flat = values.reshape(len(found), -1)
    for j in range(flat.shape[1]):
        flat[~found, j] = np.interp(t[~found], t[found], flat[found, j])
    return flat.reshape(values.shape)


def gaze_degrees(track: FaceTrack) -> np.ndarray:
    """(T, 2) eye yaw/pitch in degrees relative to the head, from the irises in the head frame (cm)."""
    t = track.num_frames
    offsets = np.full((t, 2), np.nan)
    for i in np.nonzero(track.found)[0]:
        pose = HeadPose(track.rotation[i], float(track.scale[i]), track.translation[i], 0.0)
        head = pose.to_head(image_to_camera(track.landmarks[i]))
        eye_offsets = []
        for iris, upper in ((G.LEFT_IRIS, G.LEFT_EYE_UPPER), (G.RIGHT_IRIS, G.RIGHT_EYE_UPPER)):
            corners = (head[upper[0]] + head[upper[-1]]) / 2
            eye_offsets.append(head[iris[0], :2] - corners[:2])
        offsets[i] = np.mean(eye_offsets, axis=0)
    ok = np.all(np.isfinite(offsets), axis=1)
    if not ok.any():
        return np.zeros((t, 2))
    offsets = fill_missing(np.where(ok[:, None], offsets, 0.0), ok)
    offsets -= np.median(offsets[ok], axis=0)
    angles = np.degrees(np.arcsin(np.clip(offsets / EYEBALL_RADIUS_CM, -1.0, 1.0)))
    return np.clip(angles, -MAX_GAZE_DEG, MAX_GAZE_DEG)


def track_to_motion(track: FaceTrack, fps: float, meta: dict | None = None) -> MotionSequence:
    """A ``MotionSequence`` with one row per tracked frame (needs at least one frame with a face)."""
    found = np.asarray(track.found, dtype=bool)
    if not found.any():
        raise ValueError("no face was tracked in any frame")
    t = track.num_frames
    rotation = fill_missing(matrix_to_axis_angle(np.where(found[:, None, None], track.rotation, np.eye(3))), found)
    mouth = fill_missing(np.nan_to_num(track.mouth_opening), found)
    jaw = np.zeros((t, 3))
    jaw[:, 0] = np.clip(mouth * JAW_PER_MOUTH_OPENING, 0.0, 0.6)
    openness = fill_missing(np.nan_to_num(track.eye_openness), found)
    open_level = np.maximum(np.percentile(openness[found], 90, axis=0), 1e-3)
    eyelids = np.clip(1.0 - openness / open_level, 0.0, 1.0)
    gaze = gaze_degrees(track)
    eyes6 = matrix_to_rotation_6d(gaze_to_matrix(gaze[:, 0], gaze[:, 1]))
    scale_px = fill_missing(np.nan_to_num(track.scale, nan=1.0), found)
    ref_scale = float(np.median(scale_px[found]))
    translation_px = fill_missing(np.nan_to_num(track.translation), found)
    translation = (translation_px - np.median(translation_px[found], axis=0)) / ref_scale / 100.0  # px -> cm -> m
    return MotionSequence(
        fps=fps, global_rotation=rotation, eyes=np.concatenate([eyes6, eyes6], axis=1), jaw=jaw, eyelids=eyelids,
        expression=np.zeros((t, NUM_FLAME_EXPRESSION)), translation=translation, scale=scale_px / ref_scale,
        controls=np.zeros((t, NUM_CONTROLS)),
        meta=dict(meta or {}, source="tracked", tracker="flap.face.tracker", frames_without_face=int((~found).sum())),
    )
