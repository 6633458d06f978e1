"""The motion contract: representation, file format, rotations, controls, emotions and blinks."""

from __future__ import annotations

import numpy as np
import pytest

from flap.errors import ControlRangeError, MotionFormatError
from flap.motion import CONDITION_DIM, MotionSequence
from flap.motion.blinks import blink_curve, blink_times
from flap.motion.controls import SPEECH_CONTROLS, MotionControls, apply_controls
from flap.motion.representation import (
    ARRAY_FIELDS,
    CONDITION_FIELDS,
    CONDITION_LAYOUT,
    CONTROL_NAMES,
    EXPRESSION_COLUMNS,
    HEAD_MOTION_COLUMNS,
)
from flap.motion.emotions import EMOTION_NAMES
from flap.motion.rotations import (
    axis_angle_to_euler,
    axis_angle_to_matrix,
    euler_to_axis_angle,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_euler,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)


def random_motion(n: int = 60, seed: int = 0) -> MotionSequence:
    rng = np.random.default_rng(seed)
    m = MotionSequence.neutral(n, 25.0)
    return m.replace(
        global_rotation=euler_to_axis_angle(rng.normal(0, 5, n), rng.normal(0, 3, n), rng.normal(0, 2, n)),
        jaw=np.stack([np.abs(rng.normal(0, 0.1, n)), np.zeros(n), np.zeros(n)], 1),
        expression=rng.normal(0, 1, (n, 100)),
        controls=np.abs(rng.normal(0, 0.3, (n, m.controls.shape[1]))),
        eyelids=rng.uniform(0, 1, (n, 2)),
    )


def test_rotation_conversions_round_trip_and_follow_the_documented_axes():
    rng = np.random.default_rng(1)
    angles = rng.uniform(-40, 40, (50, 3))
    m = euler_to_matrix(angles[:, 0], angles[:, 1], angles[:, 2])
    assert np.allclose(matrix_to_euler(m), angles, atol=1e-6)
    assert np.allclose(axis_angle_to_matrix(matrix_to_axis_angle(m)), m, atol=1e-9)
    assert np.allclose(rotation_6d_to_matrix(matrix_to_rotation_6d(m)), m, atol=1e-9)
    assert euler_to_matrix(20, 0, 0) @ np.array([0, 0, 1.0]) @ np.array([1.0, 0, 0]) > 0.3  # yaw+ faces image right
    assert euler_to_matrix(0, 15, 0) @ np.array([0, 0, 1.0]) @ np.array([0, 1.0, 0]) > 0.2  # pitch+ lifts the chin
    assert euler_to_matrix(0, 0, 10) @ np.array([0, 1.0, 0]) @ np.array([1.0, 0, 0]) > 0.1  # roll+ clockwise on screen


def test_save_load_round_trip_and_condition_layout(tmp_path):
    m = random_motion()
    m.meta["source"] = "test"
    path = m.save(tmp_path / "m.npz")
    back = MotionSequence.load(path)
    assert np.array_equal(back.to_condition(), m.to_condition())
    assert np.array_equal(back.controls, m.controls) and back.meta["source"] == "test"
    cond = m.to_condition()
    assert cond.shape == (60, CONDITION_DIM)
    assert np.array_equal(cond[:, 15:18], m.jaw) and np.array_equal(cond[:, 20:], m.expression)
    assert np.allclose(MotionSequence.from_condition(cond, 25).to_condition(), cond)


@pytest.mark.parametrize("change, message", [
    (dict(jaw=np.zeros((60, 2))), "jaw"),
    (dict(eyelids=np.zeros((59, 2))), "frames"),
    (dict(expression=np.full((60, 100), np.nan)), "NaN"),
    (dict(global_rotation=np.full((60, 3), 30.0)), "degrees"),
    (dict(fps=0.0), "fps"),
])
def test_invalid_motions_are_refused_with_the_reason(change, message):
    with pytest.raises(MotionFormatError, match=message):
        random_motion().replace(**change)



def test_equality_is_identity_and_allclose_compares_values():
    """The generated __eq__ compared arrays and raised; now == is identity and allclose says 'same motion'."""
    m = random_motion()
    copy = m.replace(meta={"source": "elsewhere"})
    assert m == m and m != copy and not (m == copy)
    assert m.allclose(copy) and copy.allclose(m)
    assert m.allclose(copy.replace(jaw=copy.jaw + 1e-8))
    assert not m.allclose(copy.replace(jaw=copy.jaw + 0.01))
    assert not m.allclose(m.replace(fps=30.0)) and not m.allclose(m.take(range(59))) and not m.allclose("motion")


@pytest.mark.parametrize("mutate, message", [
    (lambda m: setattr(m, "jaw", np.zeros((59, 3))), "frames"),
    (lambda m: m.jaw.__setitem__((slice(None), 0), 30.0), "degrees"),
    (lambda m: m.expression.__setitem__((3, 7), np.inf), "NaN or Inf"),
    (lambda m: setattr(m, "fps", 0.0), "fps"),
    (lambda m: setattr(m, "eyelids", [[0.0, 0.0]] * 59 + [[0.0]]), "array of numbers"),
])
def test_a_motion_changed_in_place_cannot_save_a_file_that_load_refuses(tmp_path, mutate, message):
    m = random_motion()
    mutate(m)
    path = tmp_path / "changed.npz"
    with pytest.raises(MotionFormatError, match=message):
        m.save(path)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a half-written part


def test_condition_columns_are_derived_from_the_layout():
    assert CONDITION_DIM == 120 and tuple(CONDITION_LAYOUT) == CONDITION_FIELDS
    stops = [0] + [b for _, b in CONDITION_LAYOUT.values()]
    assert [a for a, _ in CONDITION_LAYOUT.values()] == stops[:-1]  # contiguous, in order
    assert all(b - a == int(np.prod(ARRAY_FIELDS[n])) for n, (a, b) in CONDITION_LAYOUT.items())
    assert (HEAD_MOTION_COLUMNS.start, HEAD_MOTION_COLUMNS.stop) == CONDITION_LAYOUT["global_rotation"]
    assert (EXPRESSION_COLUMNS.start, EXPRESSION_COLUMNS.stop) == (HEAD_MOTION_COLUMNS.stop, CONDITION_DIM)
    m = random_motion()
    cond = m.to_condition()
    assert np.array_equal(cond[:, HEAD_MOTION_COLUMNS], m.global_rotation)
    assert np.array_equal(cond[:, EXPRESSION_COLUMNS], np.concatenate([m.eyes, m.jaw, m.eyelids, m.expression], 1))


def test_every_per_frame_field_belongs_to_exactly_one_channel():
    from flap.interop.mixing import CHANNEL_FIELDS  # the map's home is the channel module (interop or motion)

    owners = [f for fields in CHANNEL_FIELDS.values() for f in fields]
    assert sorted(owners) == sorted(ARRAY_FIELDS)

def test_malformed_files_are_refused(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    with pytest.raises(MotionFormatError, match="not a readable"):
        MotionSequence.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, exp=np.zeros((10, 50)))
    with pytest.raises(MotionFormatError, match="importer"):
        MotionSequence.load(other)


def test_resampling_and_fitting_keep_time():
    m = random_motion(100)
    r = m.resample(30)
    assert r.num_frames == 120 and abs(r.duration - m.duration) < 1e-6
    assert np.allclose(r.head_euler_degrees()[0], m.head_euler_degrees()[0], atol=1e-4)
    assert m.fit_to_length(130, "hold").num_frames == 130
    looped = m.fit_to_length(250, "loop")
    assert np.array_equal(looped.jaw[100:200], m.jaw)
    assert m.fit_to_length(40, "hold").num_frames == 40


def test_pose_controls_set_the_average_pose_and_motion_amount():
    m = random_motion(200)
    still = apply_controls(m, MotionControls(yaw=12, pitch=-8, roll=5, motion_scale=0.0))
    euler = still.head_euler_degrees()
    assert np.allclose(euler, [12, -8, 5], atol=1e-3)
    lively = apply_controls(m, MotionControls(motion_scale=2.0))
    natural = apply_controls(m, MotionControls(motion_scale=1.0))
    assert lively.head_euler_degrees()[:, 0].std() > 1.8 * natural.head_euler_degrees()[:, 0].std()


def test_expression_intensity_emotion_and_gaze():
    m = random_motion()
    calm = apply_controls(m, MotionControls(expression=0.0))
    assert np.abs(calm.expression).max() == 0, "expression 0 is a calm face"
    speech = np.array([CONTROL_NAMES[i] in SPEECH_CONTROLS for i in range(len(CONTROL_NAMES))])
    assert np.abs(calm.controls[:, ~speech]).max() == 0
    assert np.allclose(calm.jaw, m.jaw) and np.allclose(calm.controls[:, speech], np.clip(m.controls[:, speech], 0, 2)), \
        "expression 0 still speaks"
    shut = apply_controls(m, MotionControls(mouth=0.0))
    assert np.abs(shut.jaw).max() == 0 and np.abs(shut.controls[:, speech]).max() == 0
    assert np.allclose(shut.expression, m.expression), "the mouth amount leaves the rest of the face alone"
    assert np.array_equal(calm.eyelids, m.eyelids), "blinks are not expression"
    doubled = apply_controls(m, MotionControls(expression=2.0))
    assert np.allclose(doubled.expression, 2 * m.expression, atol=1e-5)
    for emotion in EMOTION_NAMES[1:]:
        e = apply_controls(MotionSequence.neutral(10), MotionControls(emotion=emotion, emotion_strength=1.0))
        assert e.controls.sum() > 0.5, emotion
    looking = apply_controls(m, MotionControls(gaze="right"))
    eye = rotation_6d_to_matrix(looking.eyes[0, :6]) @ np.array([0, 0, 1.0])
    assert eye[0] > 0.2
    camera = apply_controls(m, MotionControls(yaw=20, motion_scale=0, gaze="camera"))
    head = axis_angle_to_matrix(camera.global_rotation[0])
    eye = head @ rotation_6d_to_matrix(camera.eyes[0, :6]) @ np.array([0, 0, 1.0])
    assert np.allclose(eye, [0, 0, 1], atol=1e-6), "camera gaze looks down the camera axis"


@pytest.mark.parametrize("controls, name", [
    (MotionControls(yaw=31), "yaw"), (MotionControls(pitch=-26), "pitch"), (MotionControls(motion_scale=3), "motion_scale"),
    (MotionControls(blink_rate=-1), "blink_rate"), (MotionControls(emotion="bored"), "emotion"),
    (MotionControls(gaze="sideways"), "gaze"), (MotionControls(expression=float("nan")), "expression"),
])
def test_out_of_range_controls_are_refused(controls, name):
    with pytest.raises(ControlRangeError, match=name):
        controls.validated()


@pytest.mark.parametrize("rate", [6, 15, 30, 60])
def test_blinks_follow_the_requested_rate_with_natural_durations(rate):
    for seed in range(5):
        peaks, durations = blink_times(60.0, rate, np.random.default_rng(seed))
        assert abs(len(peaks) - rate) <= 1
        assert durations.min() >= 0.1 and durations.max() <= 0.3
    curve = blink_curve(1500, 25.0, rate, seed=3)
    closed_onsets = np.sum(np.diff((curve > 0.9).astype(int)) == 1) + (curve[0] > 0.9)
    assert abs(closed_onsets - rate) <= 1, "every blink reaches full closure on a frame"
    assert np.array_equal(curve, blink_curve(1500, 25.0, rate, seed=3))
    assert not np.array_equal(curve, blink_curve(1500, 25.0, rate, seed=4))


def test_axis_angle_euler_helpers_agree():
    aa = euler_to_axis_angle(10, -5, 3)
    assert np.allclose(axis_angle_to_euler(aa), [10, -5, 3], atol=1e-9)
