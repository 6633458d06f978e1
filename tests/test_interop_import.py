"""Importing FLAME parameter files in every supported layout (fixtures written here), resampling and fitting."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from flap.interop import export_flame_npz, import_motion
from flap.motion import MotionSequence
from flap.motion.rotations import axis_angle_to_matrix, matrix_to_rotation_6d

T = 40
RNG = np.random.default_rng(0)
EXP50 = RNG.normal(0, 1, size=(T, 50))
GLOBAL = np.stack([0.1 * np.sin(np.arange(T) / 5), 0.2 * np.sin(np.arange(T) / 7), 0.05 * np.cos(np.arange(T) / 3)], axis=1)
JAW = np.stack([0.25 * np.abs(np.sin(np.arange(T) / 4)), np.zeros(T), np.zeros(T)], axis=1)
EYES = np.concatenate([RNG.normal(0, 0.1, (T, 3)), RNG.normal(0, 0.1, (T, 3))], axis=1)


def check_core(motion: MotionSequence):
    """The file's 50 coefficients, jaw and head rotation arrive unchanged (rest of the expression zero)."""
    np.testing.assert_allclose(motion.expression[:, :50], EXP50, atol=1e-5)
    assert not np.any(motion.expression[:, 50:])
    np.testing.assert_allclose(motion.jaw, JAW, atol=1e-5)
    np.testing.assert_allclose(motion.global_rotation, GLOBAL, atol=1e-5)


def test_deca_codedict_npz(tmp_path):
    path = tmp_path / "deca.npz"
    np.savez(path, exp=EXP50, pose=np.concatenate([GLOBAL, JAW], 1), shape=np.zeros((T, 100)), cam=np.tile([9.0, 0.01, 0.02], (T, 1)),
             tex=np.zeros((T, 50)), light=np.zeros((T, 9, 3)))
    motion, report = import_motion(path, target_fps=25, center_pose=False, source_fps=25)
    check_core(motion)
    assert report.layout.startswith("DECA codedict")
    assert report.channels == ["head_pose", "jaw", "expression"]
    assert any("exp (40, 50) -> expression[:, :50] (rest zero)" in line for line in report.mapping)
    assert any("identity" in line for line in report.mapping)
    assert "DECA" in report.summary() and "40 frames" in report.summary()


def test_emoca_per_frame_pickles_in_a_folder(tmp_path):
    folder = tmp_path / "emoca"
    folder.mkdir()
    for i in range(T):  # names that sort wrongly as text: 1, 2, ..., 10, 11
        with open(folder / f"frame_{i + 1}.pkl", "wb") as handle:
            pickle.dump({"expcode": EXP50[i : i + 1].astype(np.float32), "posecode": np.concatenate([GLOBAL, JAW], 1)[i : i + 1],
                         "shapecode": np.zeros((1, 100)), "cam": np.array([[8.0, 0.0, 0.0]])}, handle)
    motion, report = import_motion(folder, source_fps=25, center_pose=False)
    check_core(motion)
    assert "EMOCA" in report.layout and "40 files" in report.layout


def test_smirk_output_with_eyelids(tmp_path):
    lids = np.clip(RNG.random((T, 2)), 0, 1)
    path = tmp_path / "smirk.pkl"
    with open(path, "wb") as handle:
        pickle.dump({"expression_params": EXP50, "pose_params": GLOBAL, "jaw_params": JAW, "eyelid_params": lids,
                     "shape_params": np.zeros((T, 300)), "cam": np.tile([9.0, 0, 0], (T, 1)), "fps": 25}, handle)
    motion, report = import_motion(path, center_pose=False)
    check_core(motion)
    np.testing.assert_allclose(motion.eyelids, lids, atol=1e-6)
    assert "SMIRK" in report.layout and report.fps_in == 25
    assert "eyelids" in report.channels


def test_diffposetalk_npz_at_25fps(tmp_path):
    path = tmp_path / "dpt.npz"
    np.savez_compressed(path, exp=EXP50, pose=np.concatenate([GLOBAL, JAW], 1), shape=np.zeros((T, 100)))
    motion, report = import_motion(path, center_pose=False)
    check_core(motion)
    assert "DiffPoseTalk" in report.layout
    assert any("does not say its frame rate" in w for w in report.warnings)


def test_separate_keys_with_6d_jaw_neck_and_eyes(tmp_path):
    """EMOTE / FaceFormer-FLAME-style: expression (100), jaw as 6D, global + neck, per-eye axis-angle."""
    exp100 = RNG.normal(0, 1, (T, 100))
    neck = np.tile([0.05, 0.0, 0.0], (T, 1))
    path = tmp_path / "emote.npz"
    np.savez(path, expression=exp100, jaw_pose=matrix_to_rotation_6d(axis_angle_to_matrix(JAW)), global_pose=GLOBAL,
             neck_pose=neck, eye_pose=EYES, fps=np.array(30.0))
    motion, report = import_motion(path, target_fps=30, center_pose=False)
    np.testing.assert_allclose(motion.expression, exp100, atol=1e-5)
    np.testing.assert_allclose(motion.jaw, JAW, atol=1e-5)
    head = axis_angle_to_matrix(GLOBAL) @ axis_angle_to_matrix(neck)
    np.testing.assert_allclose(axis_angle_to_matrix(motion.global_rotation), head, atol=1e-5)
    np.testing.assert_allclose(motion.eye_matrices(), axis_angle_to_matrix(EYES.reshape(T, 2, 3)), atol=1e-5)
    assert any("6D" in line for line in report.mapping) and any("neck" in line for line in report.mapping)


def test_metrical_tracker_nested_frames(tmp_path):
    folder = tmp_path / "tracker"
    folder.mkdir()
    rot = axis_angle_to_matrix(GLOBAL)
    for i in range(T):
        frame = {"flame": {"exp": RNG.normal(size=(1, 100)), "jaw": matrix_to_rotation_6d(axis_angle_to_matrix(JAW[i]))[None],
                           "eyes": np.tile([1.0, 0, 0, 0, 1, 0], (1, 2)), "eyelids": np.array([[0.1, 0.2]]), "shape": np.zeros((1, 300))},
                 "camera": {"R": rot[i][None], "t": np.array([[0, 0, 1.0]]), "fl": np.array([[1000.0]])}}
        with open(folder / f"{i:05d}.pkl", "wb") as handle:
            pickle.dump(frame, handle)
    motion, report = import_motion(folder, source_fps=25, center_pose=False)
    np.testing.assert_allclose(motion.global_rotation, GLOBAL, atol=1e-5)
    np.testing.assert_allclose(motion.jaw, JAW, atol=1e-5)
    np.testing.assert_allclose(motion.eyelids, np.tile([0.1, 0.2], (T, 1)), atol=1e-6)
    assert "metrical-tracker" in report.layout


def test_json_records_and_columns(tmp_path):
    records = [{"exp": EXP50[i].tolist(), "jaw_pose": JAW[i].tolist(), "global_pose": GLOBAL[i].tolist()} for i in range(T)]
    (tmp_path / "frames.json").write_text(json.dumps({"fps": 25, "frames": records}))
    motion, report = import_motion(tmp_path / "frames.json", center_pose=False)
    check_core(motion)
    assert report.fps_in == 25
    (tmp_path / "cols.json").write_text(json.dumps({"fps": 25, "exp": EXP50.tolist(), "pose": np.concatenate([GLOBAL, JAW], 1).tolist()}))
    motion2, _ = import_motion(tmp_path / "cols.json", center_pose=False)
    check_core(motion2)


def test_npy_dict_and_torch_files(tmp_path):
    torch = pytest.importorskip("torch")
    payload = {"exp": EXP50, "pose": np.concatenate([GLOBAL, JAW], 1)}
    np.save(tmp_path / "codedict.npy", payload, allow_pickle=True)
    motion, _ = import_motion(tmp_path / "codedict.npy", source_fps=25, center_pose=False)
    check_core(motion)
    tensors = {k: torch.from_numpy(v) for k, v in payload.items()}
    torch.save(tensors, tmp_path / "codedict.pt")
    motion, _ = import_motion(tmp_path / "codedict.pt", source_fps=25, center_pose=False)
    check_core(motion)
    with open(tmp_path / "tensors.pkl", "wb") as handle:  # pickle.dump of a DECA codedict of tensors
        pickle.dump(tensors, handle)
    motion, _ = import_motion(tmp_path / "tensors.pkl", source_fps=25, center_pose=False)
    check_core(motion)


def test_flap_condition_and_motion_files(tmp_path):
    source = MotionSequence.neutral(T, 25).replace(jaw=JAW, global_rotation=GLOBAL, expression=np.pad(EXP50, ((0, 0), (0, 50))))
    np.save(tmp_path / "cond.npy", source.to_condition())
    motion, report = import_motion(tmp_path / "cond.npy")
    assert report.layout.startswith("FLAP condition")
    np.testing.assert_allclose(motion.to_condition(), source.to_condition(), atol=1e-6)  # relative: not re-centred
    saved = source.replace(controls=np.full((T, 17), 0.3)).save(tmp_path / "motion.npz")
    motion, report = import_motion(saved)
    assert report.layout == "FLAP motion" and report.warnings == []
    np.testing.assert_allclose(motion.controls, 0.3, atol=1e-6)


def test_flame_export_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    source = MotionSequence.neutral(T, 30).replace(
        global_rotation=GLOBAL, jaw=JAW, expression=rng.normal(size=(T, 100)), eyelids=rng.random((T, 2)),
        eyes=matrix_to_rotation_6d(axis_angle_to_matrix(EYES.reshape(T, 2, 3))).reshape(T, 12),
        translation=rng.normal(0, 0.01, (T, 3)), scale=1 + 0.01 * rng.normal(size=T), controls=rng.random((T, 17)))
    path = export_flame_npz(source, tmp_path / "out.npz")
    with np.load(path) as data:
        assert {"global_pose", "pose", "jaw_pose", "eye_pose", "eyelids", "expression", "neck_pose", "transl", "fps"} <= set(data.files)
        assert data["expression"].shape == (T, 100) and data["pose"].shape == (T, 6) and not data["neck_pose"].any()
        assert float(data["fps"]) == 30
    back, report = import_motion(path, target_fps=30)
    assert report.layout == "FLAP FLAME-parameter export"
    for name in ("global_rotation", "jaw", "expression", "eyelids", "translation", "scale", "controls"):
        np.testing.assert_allclose(getattr(back, name), getattr(source, name), atol=1e-5, err_msg=name)
    np.testing.assert_allclose(back.eye_matrices(), source.eye_matrices(), atol=1e-5)


# ---------------------------------------------------------------------------------------------- time
def test_resampling_30_to_25_keeps_duration(tmp_path):
    n = 90  # 3 s at 30 fps
    t = np.arange(n) / 30.0
    jaw = np.stack([0.2 * (0.5 + 0.5 * np.sin(2 * np.pi * t)), np.zeros(n), np.zeros(n)], 1)
    np.savez(tmp_path / "m.npz", exp=np.zeros((n, 50)), jaw_pose=jaw, fps=30.0)
    motion, report = import_motion(tmp_path / "m.npz", target_fps=25)
    assert (report.frames_in, report.fps_in, report.frames_out, report.fps_out) == (90, 30, 75, 25)
    assert motion.duration == pytest.approx(3.0)
    t25 = np.arange(75) / 25.0
    np.testing.assert_allclose(motion.jaw[:, 0], 0.2 * (0.5 + 0.5 * np.sin(2 * np.pi * t25)), atol=0.01)


@pytest.mark.parametrize("fit, target, expected", [("trim", 30, 30), ("hold", 70, 70), ("loop", 70, 70), ("trim", 70, 40)])
def test_fit_modes(tmp_path, fit, target, expected):
    np.savez(tmp_path / "m.npz", exp=EXP50, jaw_pose=JAW, fps=25.0)
    motion, report = import_motion(tmp_path / "m.npz", num_frames=target, fit=fit)
    assert motion.num_frames == expected == report.frames_out
    if fit == "hold":
        np.testing.assert_allclose(motion.jaw[T:], np.repeat(JAW[-1:], target - T, 0), atol=1e-6)
    if fit == "loop":
        np.testing.assert_allclose(motion.jaw[T:], JAW[: target - T], atol=1e-6)
    if fit == "trim" and target > T:
        assert any("shorter than the audio" in w for w in report.warnings)


def test_center_pose_removes_the_mean_head_rotation(tmp_path):
    offset = np.array([0.3, 0.5, 0.0])  # a tracker's absolute pose: turned away from the camera
    np.savez(tmp_path / "m.npz", global_pose=GLOBAL + offset, exp=EXP50, fps=25.0)
    centred, report = import_motion(tmp_path / "m.npz")
    raw_motion, _ = import_motion(tmp_path / "m.npz", center_pose=False)
    assert np.abs(raw_motion.global_rotation.mean(0)).max() > 0.25
    assert np.abs(centred.global_rotation.mean(0)).max() < 0.02
    assert any("re-centred" in line for line in report.mapping)


def test_degrees_can_be_converted_when_asked(tmp_path):
    np.savez(tmp_path / "deg.npz", global_pose=np.rad2deg(GLOBAL) * 3, exp=EXP50, fps=25.0)
    motion, report = import_motion(tmp_path / "deg.npz", angle_unit="degrees", center_pose=False)
    np.testing.assert_allclose(motion.global_rotation, GLOBAL * 3, atol=1e-5)
    assert any("degrees" in w for w in report.warnings)


def test_single_named_arrays(tmp_path):
    np.savez(tmp_path / "pose_only.npz", pose=np.concatenate([GLOBAL, JAW], 1))
    motion, report = import_motion(tmp_path / "pose_only.npz", center_pose=False)
    np.testing.assert_allclose(motion.jaw, JAW, atol=1e-6)
    assert report.channels == ["head_pose", "jaw"]
    np.save(tmp_path / "exp.npy", EXP50)
    motion, report = import_motion(tmp_path / "exp.npy")
    np.testing.assert_allclose(motion.expression[:, :50], EXP50, atol=1e-6)
    assert report.channels == ["expression"] and any("only expression" in w for w in report.warnings)


def test_vhap_tracking_and_emote_quaternion_jaw(tmp_path):
    np.savez(tmp_path / "tracked_flame_params.npz", expr=np.pad(EXP50, ((0, 0), (0, 50))), rotation=GLOBAL, neck_pose=np.zeros((T, 3)),
             jaw_pose=JAW, eyes_pose=EYES, translation=np.tile([0.0, 0.0, 1.2], (T, 1)), shape=np.zeros(300),
             static_offset=np.zeros((1, 5143, 3)), timestep_id=np.arange(T))
    motion, report = import_motion(tmp_path / "tracked_flame_params.npz", source_fps=25, center_pose=False)
    check_core(motion)
    assert "VHAP" in report.layout and np.abs(motion.translation).max() < 1e-6  # constant: relative to its mean
    quat = np.stack([np.cos(JAW[:, 0] / 2), np.sin(JAW[:, 0] / 2), np.zeros(T), np.zeros(T)], 1)
    np.savez(tmp_path / "emote.npz", predicted_exp=EXP50, predicted_jaw=quat)
    motion, report = import_motion(tmp_path / "emote.npz", source_fps=25)
    np.testing.assert_allclose(motion.jaw, JAW, atol=1e-6)
    assert "EMOTE" in report.layout and any("quaternion" in line for line in report.mapping)
