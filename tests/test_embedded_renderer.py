"""The embedded warp renderer, measured on its output frames with the face tracker."""

from __future__ import annotations

import numpy as np
import pytest

from flap.engines.embedded import EmbeddedRenderer
from flap.face import landmark_groups as G
from flap.face.portrait import analyze_portrait
from flap.face.tracker import track_frames
from flap.motion import MotionSequence
from flap.motion.representation import CONTROL_INDEX
from flap.motion.rotations import euler_to_axis_angle, gaze_to_matrix, matrix_to_rotation_6d


def grace_path() -> str:
    import matplotlib

    return matplotlib.get_data_path() + "/sample_data/grace_hopper.jpg"


@pytest.fixture(scope="module", params=["astronaut", "grace"])
def prepared(request, astronaut_rgb):
    source = astronaut_rgb if request.param == "astronaut" else grace_path()
    portrait = analyze_portrait(source, size=384)
    renderer = EmbeddedRenderer()
    return renderer, renderer.prepare(portrait), request.param


def motion_with(n: int, **fields) -> MotionSequence:
    return MotionSequence.neutral(n).replace(**fields)


def render(prepared, motion):
    renderer, state, _ = prepared
    return np.stack(list(renderer.render_frames(state, motion)))


def test_requested_head_angles_are_reached_on_the_output(prepared):
    angles = [(0, 0, 0), (20, 0, 0), (-20, 0, 0), (0, 15, 0), (0, -15, 0), (0, 0, 15), (0, 0, -15)]
    motion = motion_with(len(angles), global_rotation=np.stack([euler_to_axis_angle(*a) for a in angles]))
    track = track_frames(render(prepared, motion), video_mode=False)
    assert track.found.all()
    measured = track.euler[1:] - track.euler[0]
    for (yaw, pitch, roll), got in zip(angles[1:], measured):
        axis = int(np.argmax(np.abs([yaw, pitch, roll])))
        assert abs(got[axis] - (yaw, pitch, roll)[axis]) < 3.0, (yaw, pitch, roll, got)


def test_still_frames_are_identical_and_far_background_untouched(prepared):
    renderer, state, _ = prepared
    t = np.arange(20) / 25.0
    motion = motion_with(20, global_rotation=euler_to_axis_angle(12 * np.sin(3 * t), 6 * np.sin(2 * t), 4 * np.sin(t)))
    frames = render(prepared, motion)
    still = render(prepared, motion.take([5, 5]))
    assert np.array_equal(still[0], still[1]), "the same motion must give the same frame"
    assert np.array_equal(still[0], frames[5])
    mask = state.portrait.person_mask
    ys, xs = np.nonzero(mask > 0.5)
    far = np.ones_like(mask, dtype=bool)
    far[max(ys.min() - 60, 0):, max(xs.min() - 60, 0): xs.max() + 60] = False  # everything around the person
    far &= mask < 0.05
    if far.sum() > 500:
        diff = np.abs(frames.astype(int) - state.portrait.crop.astype(int)).max(axis=-1)
        assert diff[:, far].max() == 0


def test_jaw_opens_and_closes_the_mouth(prepared):
    jaw = np.zeros((3, 3))
    jaw[1, 0] = 0.12
    jaw[2, 0] = 0.25
    track = track_frames(render(prepared, motion_with(3, jaw=jaw)), video_mode=False)
    opening = track.mouth_opening
    assert opening[0] < 0.08, "jaw 0 means a closed mouth"
    assert opening[1] > opening[0] + 0.05 and opening[2] > opening[1] + 0.05


def test_blinks_close_the_eyes(prepared):
    lids = np.zeros((2, 2))
    lids[1] = 1.0
    track = track_frames(render(prepared, motion_with(2, eyelids=lids)), video_mode=False)
    # Trackers see lids less well behind glasses (Grace Hopper wears them): a clear drop is required everywhere,
    # a near-closure where nothing is in the way.
    wears_glasses = prepared[2] == "grace"
    limit = 0.8 if wears_glasses else 0.45
    assert (track.eye_openness[1] < limit * track.eye_openness[0]).all()


def test_gaze_moves_the_irises_within_the_eyes(prepared):
    eyes = np.tile(np.concatenate([matrix_to_rotation_6d(gaze_to_matrix(0, 0))] * 2), (3, 1))
    eyes[1] = np.concatenate([matrix_to_rotation_6d(gaze_to_matrix(20, 0))] * 2)
    eyes[2] = np.concatenate([matrix_to_rotation_6d(gaze_to_matrix(-20, 0))] * 2)
    track = track_frames(render(prepared, motion_with(3, eyes=eyes)), video_mode=False)

    def iris_position(points):  # iris centre relative to the eye corners, 0..1 across the eye
        out = []
        for iris, upper in ((G.LEFT_IRIS, G.LEFT_EYE_UPPER), (G.RIGHT_IRIS, G.RIGHT_EYE_UPPER)):
            a, b = points[upper[0], 0], points[upper[-1], 0]
            out.append((points[iris[0], 0] - min(a, b)) / abs(a - b))
        return np.mean(out)

    centre, right, left = (iris_position(p) for p in track.landmarks)
    assert right > centre + 0.02 and left < centre - 0.02


def test_named_controls_move_what_they_claim(prepared):
    controls = np.zeros((3, len(CONTROL_INDEX)))
    controls[1, CONTROL_INDEX["smile_left"]] = controls[1, CONTROL_INDEX["smile_right"]] = 1.0
    controls[2, CONTROL_INDEX["brow_raise"]] = 1.0
    track = track_frames(render(prepared, motion_with(3, controls=controls)), video_mode=False)
    pts = track.landmarks
    mouth_width = [np.linalg.norm(p[61, :2] - p[291, :2]) for p in pts]
    assert mouth_width[1] > mouth_width[0] * 1.03, "a smile widens the mouth"
    corner_lift = [(p[13, 1] - (p[61, 1] + p[291, 1]) / 2) for p in pts]
    assert corner_lift[1] > corner_lift[0] + 1.0, "a smile lifts the mouth corners relative to the lip centre"
    brow_height = [np.mean(p[list(G.LEFT_BROW + G.RIGHT_BROW), 1]) - np.mean(p[[33, 263], 1]) for p in pts]
    if prepared[2] == "grace":
        # her brows lie along a glasses frame's rim, and a frame does not move with the brows (the tracker reads the
        # rim as her brows; tests/test_appearance.py::test_brows_move_behind_a_glasses_frame_not_with_it)
        assert abs(brow_height[2] - brow_height[0]) < 1.0
    else:
        assert brow_height[2] < brow_height[0] - 1.0, "raised brows move away from the eyes (smaller y)"
