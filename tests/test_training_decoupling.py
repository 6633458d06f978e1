"""The decoupling ablation's pieces on the CPU: the cross-talk probes freeze exactly one side of the motion, the
JPEG frame files round-trip, the cross-talk measures see movement where there is some and none where there is
none, and the all-at-once stage trains every layer on video clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flap.engines.diffusion.testing import talking_motion
from flap.training.decoupling import crosstalk, load_frames, save_frames
from flap.training.evaluation import Measures
from flap.training.synthetic import probe_motion

ROOT = Path(__file__).resolve().parents[1]


def test_fixed_pose_probe_freezes_the_pose_and_keeps_the_expression():
    motion = talking_motion(30)
    probe = probe_motion(motion, "fixed_pose")
    assert np.ptp(probe.global_rotation, axis=0).max() == 0
    np.testing.assert_array_equal(probe.global_rotation[0], motion.global_rotation[0])
    np.testing.assert_array_equal(probe.jaw, motion.jaw)
    np.testing.assert_array_equal(probe.eyelids, motion.eyelids)
    assert np.ptp(motion.global_rotation, axis=0).max() > 0.05  # the original did move


def test_fixed_expression_probe_freezes_jaw_lids_gaze_and_expression_only():
    motion = talking_motion(30)
    motion = motion.replace(eyes=motion.eyes + np.linspace(0, 0.1, 30)[:, None])  # gaze moving too
    for name in ("jaw", "eyelids", "eyes", "expression"):
        assert np.ptp(getattr(motion, name), axis=0).max() > 0, name
    probe = probe_motion(motion, "fixed_expression")
    for name in ("jaw", "eyelids", "eyes", "expression"):
        assert np.ptp(getattr(probe, name), axis=0).max() == 0, name
    np.testing.assert_array_equal(probe.global_rotation, motion.global_rotation)
    assert probe_motion(motion, "motion") is motion
    with pytest.raises(ValueError, match="unknown probe"):
        probe_motion(motion, "sideways")


def test_jpeg_frame_files_round_trip(tmp_path):
    y, x = np.mgrid[0:32, 0:32]
    frames = np.stack([np.stack([(x * 8 + k) % 256, (y * 8) % 256, np.full_like(x, 40 * k)], -1)
                       for k in range(6)]).astype(np.uint8).reshape(2, 3, 32, 32, 3)
    save_frames(tmp_path / "f.npz", frames, quality=95)
    back = load_frames(tmp_path / "f.npz")
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 4


def _measures(euler: np.ndarray, mouth: np.ndarray, eyes: np.ndarray) -> Measures:
    n = len(mouth)
    return Measures(np.ones(n, bool), euler, mouth, eyes, np.zeros((n, 4)))


def test_crosstalk_measures_movement_only_where_there_is_some():
    frames = 8
    rng = np.random.default_rng(0)
    still = _measures(np.zeros((2 * frames, 3)), np.full(2 * frames, 0.1), np.full(2 * frames, 0.8))
    ok = np.ones(2 * frames, bool)
    none = crosstalk(still, ok, still, ok, 2, 2)
    assert none.pose_drift_deg == 0 and none.mouth_change == 0 and none.eyes_change == 0
    moving = _measures(rng.normal(0, 5, (2 * frames, 3)), rng.uniform(0, 0.3, 2 * frames), rng.uniform(0.2, 1, 2 * frames))
    some = crosstalk(moving, ok, moving, ok, 2, 2)
    assert some.pose_drift_deg > 2 and some.mouth_change > 0.03 and some.eyes_change > 0.1
    assert crosstalk(moving, np.zeros(2 * frames, bool), moving, ok, 2, 2).pose_drift_deg is None  # no usable frame


@pytest.mark.slow  # MediaPipe on one portrait (~6 s on 2 cores)
def test_mouth_boxes_hold_the_lips_and_open_with_the_jaw():
    """The synthetic set's mouth boxes (the mouth-weighted loss's) follow the rendered lips: every posed lip
    landmark lies inside its frame's box, and the box grows as the jaw opens."""
    from flap.engines.embedded import EmbeddedRenderer
    from flap.face import landmark_groups as G
    from flap.face.geometry import image_to_camera
    from flap.face.portrait import analyze_portrait
    from flap.training.synthetic import SyntheticSpec, mouth_boxes, sample_motion

    renderer = EmbeddedRenderer()
    state = renderer.prepare(analyze_portrait(str(ROOT / "examples" / "portraits" / "astronaut.jpg"), size=256))
    motion = sample_motion(np.random.default_rng(3), SyntheticSpec(frames_per_clip=30), 1.0)
    boxes = mouth_boxes(renderer, state, motion, 96)
    lips = np.stack([image_to_camera(c)[:, :2] for c in renderer.vertex_positions(state, motion)[:, : G.NUM_LANDMARKS]])
    lips = lips[:, list(G.UPPER_OUTER_LIP + G.LOWER_OUTER_LIP)] * (96 / state.portrait.size)
    assert boxes.shape == (30, 4)
    assert (lips >= boxes[:, None, :2]).all() and (lips <= boxes[:, None, 2:]).all()
    height = boxes[:, 3] - boxes[:, 1]
    assert np.corrcoef(height, motion.jaw[:, 0])[0, 1] > 0.9
    assert 0.005 < ((boxes[:, 2] - boxes[:, 0]) * height).mean() / 96**2 < 0.06  # a mouth, not the face
