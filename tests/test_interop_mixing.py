"""Channel mixing: chosen channels from an imported file, the rest from the audio-driven motion; controls on top."""

from __future__ import annotations

import numpy as np
import pytest

from flap.errors import MotionFormatError
from flap.interop import CHANNELS, export_flame_npz, import_motion, mix_channels
from flap.interop.mixing import parse_channels
from flap.motion import MotionSequence
from flap.motion.controls import MotionControls, apply_controls

T = 50


def audio_motion() -> MotionSequence:
    rng = np.random.default_rng(0)
    return MotionSequence.neutral(T).replace(
        global_rotation=rng.normal(0, 0.05, (T, 3)), jaw=np.stack([rng.uniform(0, 0.2, T), np.zeros(T), np.zeros(T)], 1),
        controls=rng.uniform(0, 0.5, (T, 17)), eyelids=rng.random((T, 2)), meta={"source": "audio"})


def file_motion() -> MotionSequence:
    rng = np.random.default_rng(1)
    return MotionSequence.neutral(T).replace(
        global_rotation=rng.normal(0, 0.1, (T, 3)), jaw=np.stack([rng.uniform(0, 0.3, T), np.zeros(T), np.zeros(T)], 1),
        expression=rng.normal(0, 1, (T, 100)), eyelids=rng.random((T, 2)), translation=rng.normal(0, 0.01, (T, 3)), meta={"source": "f.npz"})


def test_take_head_pose_keeps_the_audio_mouth():
    base, imported = audio_motion(), file_motion()
    mixed = mix_channels(base, imported, ["head_pose"])
    np.testing.assert_array_equal(mixed.global_rotation, imported.global_rotation)
    np.testing.assert_array_equal(mixed.translation, imported.translation)
    for name in ("jaw", "expression", "controls", "eyelids", "eyes"):
        np.testing.assert_array_equal(getattr(mixed, name), getattr(base, name))
    assert mixed.meta["mixed"] == {"from_file": ["head_pose"], "from_audio": ["jaw", "eyelids", "expression", "eyes"], "file": "f.npz"}


def test_take_expression_brings_coefficients_and_controls():
    base, imported = audio_motion(), file_motion()
    mixed = mix_channels(base, imported, "expression, eyelids")
    np.testing.assert_array_equal(mixed.expression, imported.expression)
    np.testing.assert_array_equal(mixed.controls, imported.controls)
    np.testing.assert_array_equal(mixed.eyelids, imported.eyelids)
    np.testing.assert_array_equal(mixed.jaw, base.jaw)


def test_all_and_none():
    base, imported = audio_motion(), file_motion()
    assert parse_channels("all") == list(CHANNELS) and parse_channels("none") == []
    np.testing.assert_array_equal(mix_channels(base, imported, "all").to_condition(), imported.to_condition())
    np.testing.assert_array_equal(mix_channels(base, imported, []).to_condition(), base.to_condition())
    assert parse_channels(["Head", "gaze", "blinks"]) == ["head_pose", "eyes", "eyelids"]


def test_controls_apply_on_top_of_the_mix():
    base, imported = audio_motion(), file_motion()
    mixed = mix_channels(base, imported, ["jaw"])
    louder = apply_controls(mixed, MotionControls(mouth=1.5))  # the jaw follows the mouth amount (e89eade)
    np.testing.assert_allclose(louder.jaw[:, 0], np.clip(1.5 * imported.jaw[:, 0], -0.05, 0.55), atol=1e-6)


def test_mismatches_are_explained():
    base = audio_motion()
    with pytest.raises(MotionFormatError, match="unknown channel 'lips'"):
        mix_channels(base, file_motion(), ["lips"])
    with pytest.raises(MotionFormatError, match="num_frames=50"):
        mix_channels(base, file_motion().take(range(20)), ["jaw"])
    with pytest.raises(MotionFormatError, match="target_fps=25"):
        mix_channels(base, file_motion().replace(fps=30), ["jaw"])


def test_import_then_mix_end_to_end(tmp_path):
    """A 30 fps, 1.2 s file drives the head of a 2 s, 25 fps audio motion (held at the end)."""
    source = file_motion().replace(fps=30).take(range(36))
    path = export_flame_npz(source, tmp_path / "head.npz")
    base = audio_motion()
    imported, report = import_motion(path, target_fps=base.fps, num_frames=base.num_frames, fit="hold")
    mixed = mix_channels(base, imported, ["head_pose"])
    assert mixed.num_frames == T and report.frames_out == T
    np.testing.assert_allclose(mixed.global_rotation[-1], mixed.global_rotation[30], atol=1e-6)  # held after 1.2 s
    np.testing.assert_array_equal(mixed.jaw, base.jaw)
