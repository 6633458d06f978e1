"""ARKit 52-blendshape curves: names and orders, Live Link Face CSV / Audio2Face / MediaPipe JSON / arrays, the
mapping onto FLAP's motion, export and round trips."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from flap.errors import MotionFormatError
from flap.interop import ARKIT_NAMES, arkit_to_motion, export_arkit_csv, import_motion, motion_to_arkit
from flap.interop.arkit import ALPHABETICAL_ORDER, ARKIT_INDEX, LIVE_LINK_FACE_NAMES, ArkitMapping
from flap.motion import MotionSequence
from flap.motion.representation import CONTROL_INDEX
from flap.motion.rotations import euler_to_axis_angle, gaze_to_matrix, matrix_to_euler, matrix_to_rotation_6d

LLF_HEADER = ("Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,EyeSquintLeft,"
              "EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,EyeSquintRight,EyeWideRight,"
              "JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,MouthRight,MouthLeft,MouthSmileLeft,"
              "MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,MouthDimpleRight,MouthStretchLeft,MouthStretchRight,"
              "MouthRollLower,MouthRollUpper,MouthShrugLower,MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,"
              "MouthLowerDownRight,MouthUpperUpLeft,MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,"
              "BrowOuterUpRight,CheekPuff,CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,"
              "HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll").split(",")


def realistic_curves(t: int, seed: int = 0) -> np.ndarray:
    """(t, 52) in Apple order with left/right pairs moving together, as real captures do."""
    rng = np.random.default_rng(seed)
    base = np.abs(np.cumsum(rng.normal(0, 0.08, size=(t, 52)), axis=0)) % 1.0
    curves = base.copy()
    for name in ARKIT_NAMES:
        if name.endswith("Left"):
            right = ARKIT_INDEX[name[:-4] + "Right"]
            curves[:, right] = np.clip(base[:, ARKIT_INDEX[name]] + rng.normal(0, 0.02, t), 0, 1)
    return curves


def test_names_and_orders():
    assert len(ARKIT_NAMES) == 52 == len(set(ARKIT_NAMES))
    assert ARKIT_NAMES[:3] == ("eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft") and ARKIT_NAMES[-1] == "tongueOut"
    assert ARKIT_NAMES.index("jawOpen") == 17 and ARKIT_NAMES.index("browInnerUp") == 43
    assert list(LIVE_LINK_FACE_NAMES) == LLF_HEADER[2:54]
    assert ALPHABETICAL_ORDER[:4] == ("browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft")
    assert ALPHABETICAL_ORDER[8:10] == ("eyeBlinkLeft", "eyeBlinkRight") and ALPHABETICAL_ORDER[24] == "jawOpen"  # EmoTalk


def test_mapping_semantics():
    curves = np.zeros((4, 52))
    curves[0, ARKIT_INDEX["jawOpen"]] = 1.0
    curves[1, ARKIT_INDEX["eyeLookOutLeft"]] = 1.0  # left eye looks toward the subject's left = image right
    curves[1, ARKIT_INDEX["eyeLookInRight"]] = 1.0  # right eye looks toward the nose = image right too
    curves[2, ARKIT_INDEX["mouthSmileLeft"]] = 0.8
    curves[2, ARKIT_INDEX["eyeBlinkRight"]] = 1.0
    curves[3, ARKIT_INDEX["mouthClose"]] = 0.3
    curves[3, [ARKIT_INDEX["mouthPressLeft"], ARKIT_INDEX["mouthPressRight"]]] = 0.6
    curves[3, ARKIT_INDEX["eyeLookUpLeft"]] = 0.5
    m = arkit_to_motion(curves, 30.0)
    assert m.jaw[0, 0] == pytest.approx(ArkitMapping().jaw_open_rad)
    yaw_pitch = matrix_to_euler(m.eye_matrices())
    np.testing.assert_allclose(yaw_pitch[1, :, 0], [30.0, 30.0], atol=1e-4)
    assert yaw_pitch[3, 0, 1] == pytest.approx(12.5, abs=1e-4) and yaw_pitch[3, 1, 1] == pytest.approx(0.0, abs=1e-6)
    assert m.controls[2, CONTROL_INDEX["smile_left"]] == pytest.approx(0.8) and m.controls[2, CONTROL_INDEX["smile_right"]] == 0
    np.testing.assert_allclose(m.eyelids[2], [0.0, 1.0])  # ARKit "Right" = subject's right = FLAP's second eyelid
    assert m.controls[3, CONTROL_INDEX["lip_press"]] == pytest.approx(0.6)


def test_motion_to_arkit_inverts_the_mapping():
    rng = np.random.default_rng(1)
    t = 25
    m = MotionSequence.neutral(t).replace(
        jaw=np.stack([rng.uniform(0, 0.3, t), rng.uniform(-0.08, 0.08, t), np.zeros(t)], 1), eyelids=rng.random((t, 2)),
        controls=rng.random((t, 17)),
        eyes=matrix_to_rotation_6d(gaze_to_matrix(rng.uniform(-25, 25, (t, 2)), rng.uniform(-20, 20, (t, 2)))).reshape(t, 12))
    curves = motion_to_arkit(m)
    assert curves.shape == (t, 52) and curves.min() >= 0 and curves.max() <= 1
    back = arkit_to_motion(curves, 25.0)
    for name in ("jaw", "eyelids", "controls"):
        np.testing.assert_allclose(getattr(back, name), getattr(m, name), atol=1e-5, err_msg=name)
    np.testing.assert_allclose(back.eye_matrices(), m.eye_matrices(), atol=1e-4)


def write_llf_csv(path, curves, head=None, timecode_fps=30, rows_per_frame=2):
    """Live Link Face style: 60 rows per second whose timecodes count 30 fps frames with .5 sub-frames."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(LLF_HEADER)
        for i, row in enumerate(curves):
            frame, half = divmod(i, rows_per_frame)
            sec, ff = divmod(frame, timecode_fps)
            code = f"14:{3 + (52 + sec) // 60:02d}:{(52 + sec) % 60:02d}:{ff:02d}.{500 * half:03d}"
            llf = [row[ARKIT_INDEX[n[0].lower() + n[1:]]] for n in LIVE_LINK_FACE_NAMES]
            rot = list(head[i]) if head is not None else [0.0, 0.0, 0.0]
            writer.writerow([code, 61, *(f"{v:.5f}" for v in llf), *(f"{v:.5f}" for v in rot), *["0"] * 6])
    return path


def test_live_link_face_csv_at_60fps_with_timecodes(tmp_path):
    t = 120  # 2 s at 60 rows per second
    curves = realistic_curves(t)
    head = np.stack([0.1 * np.sin(np.arange(t) / 20), 0.05 * np.ones(t), np.zeros(t)], 1)  # normalised: x 90 degrees
    path = write_llf_csv(tmp_path / "take.csv", curves, head)
    motion, report = import_motion(path, target_fps=25, center_pose=False)
    assert report.layout == "ARKit Live Link Face CSV"
    assert report.fps_in == 60 and report.frames_in == 120 and report.frames_out == 50
    assert report.channels == ["head_pose", "jaw", "eyelids", "expression", "eyes"]
    src = np.arange(t) / 60.0
    dst = np.arange(50) / 25.0
    np.testing.assert_allclose(motion.eyelids[:, 0], np.interp(dst, src, curves[:, ARKIT_INDEX["eyeBlinkLeft"]]), atol=2e-3)
    np.testing.assert_allclose(motion.jaw[:, 0], 0.35 * np.interp(dst, src, curves[:, ARKIT_INDEX["jawOpen"]]), atol=2e-3)
    yaw_pitch_roll = motion.head_euler_degrees()
    np.testing.assert_allclose(yaw_pitch_roll[:, 0], 90 * np.interp(dst, src, head[:, 0]), atol=0.05)
    np.testing.assert_allclose(yaw_pitch_roll[:, 1], 4.5, atol=0.05)
    assert "Timecode" in report.summary()


def test_arkit_export_is_a_live_link_face_csv_and_round_trips(tmp_path):
    rng = np.random.default_rng(2)
    t = 30
    m = MotionSequence.neutral(t, 30).replace(
        global_rotation=euler_to_axis_angle(rng.uniform(-20, 20, t), rng.uniform(-10, 10, t), rng.uniform(-5, 5, t)),
        jaw=np.stack([rng.uniform(0, 0.3, t), np.zeros(t), np.zeros(t)], 1), eyelids=rng.random((t, 2)), controls=rng.random((t, 17)),
        eyes=matrix_to_rotation_6d(gaze_to_matrix(rng.uniform(-20, 20, (t, 2)), rng.uniform(-15, 15, (t, 2)))).reshape(t, 12))
    path = export_arkit_csv(m, tmp_path / "out.csv")
    rows = list(csv.reader(open(path)))
    assert rows[0] == LLF_HEADER and len(rows) == t + 1
    assert rows[1][:2] == ["00:00:00:00.000", "61"] and rows[31 - 1][0] == "00:00:00:29.000"
    assert all(0 <= float(v) <= 1 for v in rows[5][2:54])
    back, report = import_motion(path, target_fps=30, center_pose=False)
    assert report.fps_in == 30 and back.num_frames == t
    for name in ("global_rotation", "jaw", "eyelids", "controls"):
        np.testing.assert_allclose(getattr(back, name), getattr(m, name), atol=1e-4, err_msg=name)
    np.testing.assert_allclose(back.eye_matrices(), m.eye_matrices(), atol=1e-4)


def test_audio2face_json(tmp_path):
    t = 45
    curves = realistic_curves(t, 3)
    data = {"exportFps": 30, "trackPath": "/World/audio", "numPoses": 52, "numFrames": t, "facsNames": list(ARKIT_NAMES),
            "weightMat": curves.tolist()}
    (tmp_path / "a2f_bsweight.json").write_text(json.dumps(data))
    motion, report = import_motion(tmp_path / "a2f_bsweight.json", target_fps=30)
    assert report.layout.startswith("Audio2Face") and report.fps_in == 30 and motion.num_frames == t
    np.testing.assert_allclose(motion.jaw[:, 0], 0.35 * curves[:, ARKIT_INDEX["jawOpen"]], atol=1e-6)
    assert "head_pose" not in report.channels


def test_mediapipe_blendshape_json(tmp_path):
    t = 10
    curves = realistic_curves(t, 4)
    frames = [{"timestamp_ms": 40 * i, "blendshapes": [{"categoryName": "_neutral", "score": 0.5}]
               + [{"categoryName": n, "score": float(curves[i, j])} for j, n in enumerate(ARKIT_NAMES)]} for i in range(t)]
    (tmp_path / "mp.json").write_text(json.dumps(frames))
    motion, report = import_motion(tmp_path / "mp.json", source_fps=25)
    np.testing.assert_allclose(motion.eyelids[:, 1], curves[:, ARKIT_INDEX["eyeBlinkRight"]], atol=1e-6)
    assert report.layout == "ARKit blendshape JSON"


def test_csv_with_time_column_and_percent_values(tmp_path):
    t = 30
    curves = realistic_curves(t, 5)
    with open(tmp_path / "bs.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", *ARKIT_NAMES])
        for i in range(t):
            writer.writerow([i / 50.0, *(100 * curves[i])])
    motion, report = import_motion(tmp_path / "bs.csv", target_fps=25)
    assert report.fps_in == 50 and report.frames_out == 15
    assert any("percentages" in w for w in report.warnings)
    np.testing.assert_allclose(motion.eyelids[:, 0], curves[::2, ARKIT_INDEX["eyeBlinkLeft"]], atol=1e-5)


@pytest.mark.parametrize("order", ["apple", "alphabetical"])
def test_unnamed_arrays_are_read_in_the_right_order(tmp_path, order):
    curves = realistic_curves(200, 6)
    columns = ARKIT_NAMES if order == "apple" else ALPHABETICAL_ORDER
    stored = np.stack([curves[:, ARKIT_INDEX[n]] for n in columns], axis=1)
    np.save(tmp_path / "emotalk.npy", stored)
    motion, report = import_motion(tmp_path / "emotalk.npy", target_fps=30)
    assert any(f"{order} order" in line for line in report.mapping)
    assert report.fps_in == 30  # EmoTalk writes 30 fps; the report says it was assumed
    np.testing.assert_allclose(motion.jaw[:, 0], 0.35 * curves[:, ARKIT_INDEX["jawOpen"]], atol=1e-6)


@pytest.mark.parametrize("content, pattern", [
    (",".join(LLF_HEADER) + "\n00:00:00:00.000,61," + ",".join(["0"] * 30) + "\n", r"line 2 has 32 values but the header has 63"),
    (",".join(LLF_HEADER) + "\nsoon,61," + ",".join(["0"] * 61) + "\n", r"Timecode 'soon'"),
    (",".join(LLF_HEADER) + "\n00:00:00:00.000,61,abc," + ",".join(["0"] * 60) + "\n", r"column 'EyeBlinkLeft' must hold numbers"),
    (",".join(LLF_HEADER) + "\n", r"header but no frames"),
    (",".join(LLF_HEADER) + "\n00:00:00:00.000,61,nan," + ",".join(["0"] * 60) + "\n", r"'eyeBlinkLeft' contains NaN"),
])
def test_malformed_arkit_csv(tmp_path, content, pattern):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(MotionFormatError, match=pattern):
        import_motion(tmp_path / "bad.csv")


def test_dropped_rows_are_interpolated_and_degree_head_columns_warned(tmp_path):
    t = 60
    curves = realistic_curves(t, 8)
    head = np.stack([np.linspace(-20, 20, t), np.zeros(t), np.zeros(t)], 1)  # degrees, not normalised
    path = write_llf_csv(tmp_path / "take.csv", curves, head, timecode_fps=30, rows_per_frame=1)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:21] + lines[24:]) + "\n")  # rows 20-22 dropped (a stall)
    motion, report = import_motion(path, target_fps=30, center_pose=False)
    assert report.fps_in == 30 and motion.num_frames == t
    keep = np.r_[0:20, 23:t]
    np.testing.assert_allclose(motion.jaw[:, 0], 0.35 * np.interp(np.arange(t), keep, curves[keep, ARKIT_INDEX["jawOpen"]]), atol=1e-4)
    np.testing.assert_allclose(motion.head_euler_degrees()[:, 0], np.linspace(-20, 20, t), atol=1e-3)
    assert any("read as degrees" in w for w in report.warnings)
