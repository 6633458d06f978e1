"""End to end: the Python API and the CLI on real inputs, checked on the produced video files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from flap.errors import AudioInputError, ControlRangeError, FaceNotFoundError
from flap.face.tracker import track_frames
from flap.io.video import count_frames, probe_video, read_frames
from flap.motion import MotionSequence
from flap.motion.controls import MotionControls
from flap.pipeline import JobConfig, generate, make_motion, render

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "examples/portraits/astronaut.jpg"
GRACE = ROOT / "examples/portraits/grace_hopper.jpg"

pytestmark = pytest.mark.slow  # whole jobs: video in, video out


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flap", *args], capture_output=True, text=True, cwd=ROOT)


def test_generate_makes_a_video_exactly_as_long_as_the_speech(speech_wav, tmp_path):
    result = generate(ASTRONAUT, speech_wav, tmp_path / "talk.mp4", save_motion=True)
    duration = sf.info(str(speech_wav)).duration
    info = probe_video(result.video)
    frames = count_frames(result.video)
    assert (info.width, info.height, info.fps) == (512, 512, 25.0)
    assert info.video_codec == "h264" and info.pixel_format == "yuv420p"
    assert info.audio_codec == "aac"
    assert abs(frames / 25.0 - duration) <= 1 / 25.0
    assert abs(info.duration - duration) <= 1 / 25.0 + 0.03
    motion = MotionSequence.load(result.motion_path)
    assert motion.num_frames == frames
    assert not list(tmp_path.glob("*.part*")), "no temporary files are left behind"


def test_cli_controls_are_visible_on_the_output(speech_wav, tmp_path):
    out = tmp_path / "turned.mp4"
    proc = run_cli("generate", "--portrait", str(ASTRONAUT), "--audio", str(speech_wav), "--yaw", "15", "--motion-scale", "0",
                   "--emotion", "happy", "--emotion-strength", "1", "--blink-rate", "0", "--size", "384", "--out", str(out),
                   "--save-motion")
    assert proc.returncode == 0, proc.stderr
    motion = MotionSequence.load(out.with_name("turned.motion.npz"))
    assert np.allclose(motion.head_euler_degrees()[:, 0], 15, atol=0.5), "fixed pose at the requested yaw"
    assert motion.eyelids.max() < 0.05, "blink rate 0 means no blinks"
    assert motion.control("smile_left").min() > 0.5, "happy smiles"
    frames = read_frames(out)[::10]
    track = track_frames(frames, video_mode=False)
    from flap.face.portrait import analyze_portrait

    photo_yaw = analyze_portrait(ASTRONAUT, size=384).euler_degrees[0]
    assert abs(np.mean(track.euler[track.found, 0]) - photo_yaw - 15) < 3.0


def test_render_a_saved_motion_and_paste_back(speech_wav, tmp_path):
    motion, warnings = make_motion(speech_wav, controls=MotionControls(yaw=-10), config=JobConfig(fps=20))
    path = motion.save(tmp_path / "m.npz")
    proc = run_cli("render", "--portrait", str(GRACE), "--motion", str(path), "--audio", str(speech_wav), "--paste-back",
                   "--fps", "20", "--out", str(tmp_path / "pasted.mp4"))
    assert proc.returncode == 0, proc.stderr
    info = probe_video(tmp_path / "pasted.mp4")
    assert (info.width, info.height) == (512, 600) and info.fps == 20.0
    assert count_frames(tmp_path / "pasted.mp4") == motion.num_frames


def test_the_same_motion_renders_the_same_frames(speech_wav, tmp_path):
    motion, _ = make_motion(speech_wav, config=JobConfig(seed=3))
    short = motion.take(range(30))
    a = render(ASTRONAUT, short, None, tmp_path / "a.mp4", config=JobConfig(size=256))
    b = render(ASTRONAUT, short, None, tmp_path / "b.mp4", config=JobConfig(size=256))
    assert np.array_equal(read_frames(a.video), read_frames(b.video))


def test_silence_gives_a_still_closed_mouth_and_a_note(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000 * 3, np.float32), 16000)
    result = generate(ASTRONAUT, path, tmp_path / "quiet.mp4", config=JobConfig(size=256))
    assert result.motion.jaw[:, 0].max() < 1e-3
    assert any("silent" in w.lower() or "speech" in w.lower() for w in result.warnings)
    assert count_frames(result.video) == 75


def test_bad_inputs_fail_clearly_and_leave_nothing_behind(speech_wav, tmp_path):
    corrupt = tmp_path / "broken.mp3"
    corrupt.write_bytes(b"ID3" + bytes(range(256)) * 20)
    with pytest.raises(AudioInputError):
        generate(ASTRONAUT, corrupt, tmp_path / "x.mp4")
    flat = tmp_path / "flat.png"
    from PIL import Image

    Image.new("RGB", (300, 300), (120, 120, 120)).save(flat)
    with pytest.raises(FaceNotFoundError):
        generate(flat, speech_wav, tmp_path / "y.mp4")
    with pytest.raises(ControlRangeError, match="yaw"):
        generate(ASTRONAUT, speech_wav, tmp_path / "z.mp4", controls=MotionControls(yaw=90))
    with pytest.raises(AudioInputError, match="long"):
        generate(ASTRONAUT, speech_wav, tmp_path / "w.mp4", config=JobConfig(max_audio_seconds=2))
    assert not list(tmp_path.glob("*.mp4")), "failed jobs leave no video files"


def test_cli_reports_errors_without_tracebacks(tmp_path, speech_wav):
    proc = run_cli("generate", "--portrait", str(tmp_path / "missing.jpg"), "--audio", str(speech_wav), "--out", str(tmp_path / "o.mp4"))
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("generate", "--portrait", str(ASTRONAUT), "--audio", str(speech_wav), "--blink-rate", "500", "--out", str(tmp_path / "o.mp4"))
    assert proc.returncode == 2 and "blink_rate" in proc.stderr


def test_motion_command_writes_motion_and_exports(speech_wav, tmp_path):
    proc = run_cli("motion", "--audio", str(speech_wav), "--out", str(tmp_path / "m.npz"), "--arkit-csv", str(tmp_path / "m.csv"),
                   "--flame-npz", str(tmp_path / "f.npz"), "--emotion", "sad")
    assert proc.returncode == 0, proc.stderr
    motion = MotionSequence.load(tmp_path / "m.npz")
    assert motion.control("brow_inner_raise").mean() > 0.3
    assert (tmp_path / "m.csv").read_text().startswith("Timecode")
    assert "expression" in np.load(tmp_path / "f.npz").files
