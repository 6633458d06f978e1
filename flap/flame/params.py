"""MotionSequence <-> FLAME's own pose parameters (axis-angle per joint), shared by the preview and the exporters."""

from __future__ import annotations

import numpy as np

from flap.motion.representation import MotionSequence
from flap.motion.rotations import matrix_to_axis_angle


def motion_to_flame_params(motion: MotionSequence) -> dict[str, np.ndarray]:
    """FLAME parameters of a motion: the head rotation goes to the global joint (neck zero), eyes to axis-angle."""
    t = motion.num_frames
    eye_aa = matrix_to_axis_angle(motion.eye_matrices()).reshape(t, 6)
    return {
        "global_pose": motion.global_rotation.astype(np.float32),
        "neck_pose": np.zeros((t, 3), dtype=np.float32),
        "jaw_pose": motion.jaw.astype(np.float32),
        "eye_pose": eye_aa.astype(np.float32),
        "eyelids": motion.eyelids.astype(np.float32),
        "expression": motion.expression.astype(np.float32),
    }
