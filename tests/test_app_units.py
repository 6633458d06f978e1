"""The web app's pieces without a server: limits, handlers called from plain Python, plots, examples, GPU sizing,
and a light start-up (nothing heavy imported by app.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from flap.errors import AudioInputError, FaceNotFoundError
from flap.motion.representation import MotionSequence
from flap.webapp import handlers
from flap.webapp.limits import SHARED_SPACE_IDS, SpaceLimits

REPO = Path(__file__).resolve().parents[1]
SCIENCE_MP3 = REPO / "examples" / "speech" / "science.mp3"


# ---------------------------------------------------------------------------------------------- limits
def test_limits_local_run_has_none():
    limits = SpaceLimits.from_env({})
    assert not limits.shared and limits.max_audio_seconds is None and limits.max_file_size is None
    assert limits.concurrency == 1 and limits.describe() == ""


def test_limits_on_the_shared_space_and_lifted_on_a_duplicate():
    shared = SpaceLimits.from_env({"SPACE_ID": SHARED_SPACE_IDS[0]})
    assert shared.shared and shared.on_spaces
    assert shared.max_audio_seconds == 60 and shared.max_upload_mb == 20 and shared.max_file_size == 20 * 2**20
    assert "Duplicate the Space" in shared.describe() and "60 s" in shared.describe()
    duplicate = SpaceLimits.from_env({"SPACE_ID": "someone/FLAP"})
    assert duplicate.on_spaces and not duplicate.shared and duplicate.max_audio_seconds is None


def test_limits_from_variables():
    env = {"SPACE_ID": SHARED_SPACE_IDS[0], "FLAP_MAX_AUDIO_SECONDS": "30", "FLAP_MAX_UPLOAD_MB": "none",
           "FLAP_CONCURRENCY": "3", "FLAP_QUEUE_SIZE": "0"}
    limits = SpaceLimits.from_env(env)
    assert limits.max_audio_seconds == 30 and limits.max_upload_mb is None and limits.concurrency == 3
    assert limits.queue_size is None and limits.max_text_chars == 600
    assert SpaceLimits.from_env({**env, "FLAP_UNLIMITED": "1"}).max_audio_seconds is None
    assert SpaceLimits.from_env({"FLAP_SHARED": "yes"}).max_audio_seconds == 60
    assert SpaceLimits.from_env({"SPACE_ID": "me/x", "FLAP_SHARED_SPACE_ID": "org/a, me/x"}).shared
    for bad in ({"FLAP_MAX_AUDIO_SECONDS": "sixty"}, {"FLAP_SHARED": "maybe"}, {"FLAP_CONCURRENCY": "0"},
                {"FLAP_MAX_UPLOAD_MB": "-1"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SpaceLimits.from_env(bad)


# ---------------------------------------------------------------------------------------------- handlers
def test_flap_errors_become_gr_errors_with_the_same_message():
    @handlers.user_errors("do it")
    def refuse():
        raise FaceNotFoundError("No face was found in the portrait. Use a <b>photo</b>.")

    with pytest.raises(gr.Error) as info:
        refuse()
    assert info.value.message == "No face was found in the portrait. Use a &lt;b&gt;photo&lt;/b&gt;."

    @handlers.user_errors("do it")
    def crash():
        raise KeyError("internal detail")

    with pytest.raises(gr.Error) as info:
        crash()
    assert "Something went wrong" in info.value.message and "internal detail" not in info.value.message
    assert "Traceback" not in info.value.message


def test_controls_and_config_checks():
    controls = handlers.make_controls(yaw="12", gaze="natural", blink_rate=None)
    assert controls.yaw == 12 and controls.gaze is None and controls.blink_rate is None
    assert handlers.make_controls(gaze="left").gaze == (-20.0, 0.0)
    with pytest.raises(Exception, match="yaw must be between -30 and 30"):
        handlers.make_controls(yaw=45)
    with pytest.raises(Exception, match="pitch must be a number"):
        handlers.make_controls(pitch="up")
    config = handlers.make_config(fps=30, size=300, seed="7", limits=SpaceLimits(max_audio_seconds=12.0))
    assert config.fps == 30 and config.size == 300 and config.seed == 7 and config.max_audio_seconds == 12
    with pytest.raises(Exception, match="engine must be one of"):
        handlers.make_config(engine="turbo")


def test_full_engine_unavailable_is_explained(monkeypatch):
    monkeypatch.setattr(handlers, "full_model_status", lambda refresh=False: (False, "no CUDA GPU here"))
    with pytest.raises(gr.Error, match="The full model cannot run here: no CUDA GPU here. Choose the embedded engine"):
        handlers.generate(str(REPO / "examples/portraits/astronaut.jpg"), str(SCIENCE_MP3), engine="full")
    assert "not available here" in handlers.engine_status_markdown()
    monkeypatch.setattr(handlers, "full_model_status", lambda refresh=False: (True, "weights: org/flap"))
    assert handlers.engine_status_markdown().startswith("**Full model: available.**")


def test_motion_from_plain_python(tmp_path, monkeypatch):
    """The API function works without Gradio running (progress is a no-op) and the controls reach the file."""
    monkeypatch.setenv("FLAP_OUTPUT_DIR", str(tmp_path))
    motion_path, arkit, flame, notes = handlers.motion(text="Hello there, my friend.", yaw=-10.0, blink_rate=30, seed=3)
    motion = MotionSequence.load(motion_path)
    assert motion.meta["controls"]["yaw"] == -10.0 and motion.meta["controls"]["blink_rate"] == 30.0
    assert "espeak-ng" in notes and "frames at 25 fps" in notes
    lines = Path(arkit).read_text().strip().splitlines()
    assert len(lines) == motion.num_frames + 1 and "JawOpen" in lines[0]
    with np.load(flame) as data:
        assert data["global_pose"].shape == (motion.num_frames, 3) and data["expression"].shape == (motion.num_frames, 100)
    assert Path(motion_path).parent.parent == tmp_path


def test_bad_inputs_from_plain_python(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAP_OUTPUT_DIR", str(tmp_path))
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((40, 7), np.float32))
    with pytest.raises(gr.Error, match=r"shape \(40, 7\) is not a known layout"):
        handlers.motion(str(SCIENCE_MP3), motion=str(wrong))
    with pytest.raises(gr.Error, match="No speech was given"):
        handlers.motion()
    with pytest.raises(gr.Error, match="No portrait photo was given"):
        handlers.ui_generate(None, str(SCIENCE_MP3), "", "", "en-us", True, None, [], size=256)
    summary, channels = handlers.describe_motion_file(str(wrong))
    assert summary.startswith("Could not use this file") and "(40, 7)" in summary


def test_import_keeps_only_channels_the_file_has(tmp_path):
    from flap.interop.exporters import export_arkit_csv

    csv_path = export_arkit_csv(MotionSequence.neutral(30, 25.0), tmp_path / "curves.csv")
    imported = handlers.import_motion_file(str(csv_path), ["head_pose", "jaw", "eyelids"], 25.0)
    summary, channels = handlers.describe_motion_file(str(csv_path))
    assert summary.startswith("Read curves.csv as") and "Provides:" in summary
    assert set(imported.take) <= set(channels) and imported.take
    assert any(note.startswith("From the motion file:") for note in imported.notes)


def test_channels_are_defined_once():
    from flap.interop.mixing import CHANNELS
    from flap.motion import channels

    assert handlers.CHANNELS is CHANNELS is channels.CHANNELS


# ---------------------------------------------------------------------------------------------- helpers
def test_progress_adapter_rate_limits_but_keeps_stage_changes():
    from flap.webapp.progress import GradioProgress

    calls, now = [], [0.0]
    adapter = GradioProgress(lambda value, desc=None, unit=None: calls.append((value, desc)), min_interval_s=1.0,
                             clock=lambda: now[0])
    for i in range(100):
        adapter("rendering video", i, 100)
    adapter("rendering video", 100, 100)
    adapter("encoding", 0, 1)
    assert calls == [((0, 100), "rendering video"), ((100, 100), "rendering video"), ((0, 1), "encoding")]


def test_plot_and_stats():
    from flap.webapp.plots import count_blinks, motion_figure, motion_stats

    motion = MotionSequence.neutral(100, 25.0)
    lids = np.zeros((100, 2), np.float32)
    lids[20:24] = 1.0
    lids[60:63] = 0.9
    motion = motion.replace(eyelids=lids)
    assert count_blinks(lids.mean(axis=1)) == 2
    stats = motion_stats(motion)
    assert stats.blinks == 2 and stats.frames == 100 and "2 blinks" in stats.describe()
    fig = motion_figure(motion)
    assert len(fig.axes) == 3 and fig.axes[2].get_xlabel() == "time (s)"


def test_examples_exist():
    from flap.webapp.examples import example_rows

    rows = example_rows()
    assert len(rows) >= 3
    for row in rows:
        assert Path(row.portrait).is_file() and (row.audio is None or Path(row.audio).is_file())
        assert row.audio or row.text  # every example has speech, recorded or typed
    assert all(row.emotion in ("neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted", "contempt") for row in rows)


def test_gpu_duration_grows_with_the_clip_and_is_capped(monkeypatch):
    from flap.pipeline import JobConfig
    from flap.webapp import gpu

    short = gpu.gpu_seconds(gpu.GpuJob("generate", {"config": JobConfig()}, audio_seconds=3.0))
    long = gpu.gpu_seconds(gpu.GpuJob("generate", {"config": JobConfig()}, audio_seconds=40.0))
    more_steps = gpu.gpu_seconds(gpu.GpuJob("generate", {"config": JobConfig(steps=50)}, audio_seconds=40.0))
    assert 20 <= short < long < more_steps <= 300
    monkeypatch.setenv("FLAP_GPU_MAX_SECONDS", "90")
    assert gpu.gpu_seconds(gpu.GpuJob("generate", {"config": JobConfig(steps=100)}, audio_seconds=60.0)) == 90
    monkeypatch.delenv("FLAP_GPU_MAX_SECONDS")
    monkeypatch.setattr(gpu, "compiled_loaded", lambda: True)  # AOT artifacts loaded: the measured faster rate
    assert gpu.gpu_seconds(gpu.GpuJob("generate", {"config": JobConfig()}, audio_seconds=40.0)) < long
    # Off ZeroGPU the decorator leaves the function as it is.
    assert gpu.gpu(duration=10)(len) is len


def test_old_outputs_are_removed(tmp_path):
    from flap.webapp import files

    old = tmp_path / "old-job"
    old.mkdir()
    os.utime(old, (time.time() - 10 * 3600,) * 2)
    fresh = tmp_path / "fresh-job"
    fresh.mkdir()
    assert files.remove_old(tmp_path, max_age_hours=2) == 1
    assert fresh.exists() and not old.exists()


@pytest.mark.slow
def test_app_imports_nothing_heavy():
    """The page must be up quickly: app.py builds without torch, mediapipe, OpenCV, scipy or matplotlib."""
    code = ("import sys, time; t = time.perf_counter(); import app; "
            "import json; print(json.dumps({'heavy': [m for m in ('torch', 'mediapipe', 'cv2', 'scipy', 'matplotlib') "
            "if m in sys.modules], 'named': sorted(d['api_name'] for d in app.demo.config['dependencies'] "
            "if d.get('api_visibility', 'public') == 'public' and d.get('api_name'))}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["named"] == ["generate", "generate_stream", "motion", "render"]


def test_audio_limit_is_enforced_from_plain_python(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAP_OUTPUT_DIR", str(tmp_path))
    config = handlers.make_config(limits=SpaceLimits(max_audio_seconds=3.0))
    with pytest.raises(AudioInputError, match="the limit is 3 s"):
        handlers.run_motion(str(SCIENCE_MP3), config=config)


def test_mesh_preview_with_a_flame_model(tmp_path, monkeypatch):
    """With a FLAME model configured (here the synthetic stand-in), the page also gets a mesh preview video."""
    from flap.flame.synthetic import make_synthetic_flame, write_flame_pickle
    from flap.io.video import probe_video

    (tmp_path / "flame").mkdir()
    model = write_flame_pickle(make_synthetic_flame(), tmp_path / "flame" / "generic_model.pkl")
    monkeypatch.setenv("FLAP_FLAME_MODEL", str(model))
    monkeypatch.setenv("FLAP_OUTPUT_DIR", str(tmp_path / "out"))
    outputs = handlers.ui_motion(None, "", "Mesh preview, please.", "en-us", True, None, [], emotion="happy", gaze="camera")
    video, motion_file, arkit, flame, mesh, figure, notes = outputs
    assert video is None and Path(motion_file).is_file() and Path(arkit).is_file() and Path(flame).is_file()
    info = probe_video(mesh)
    assert (info.width, info.height) == (256, 256) and info.audio_codec == "aac"
    assert len(figure.axes) == 3 and "Motion:" in notes


def test_full_engine_goes_through_the_gpu_function(tmp_path, monkeypatch):
    """engine='full' is routed through flap.webapp.gpu.run_full_model with a duration from the clip.  The full
    model itself needs CUDA, so the registry hands out the embedded renderer here."""
    from flap.engines import registry
    from flap.webapp import gpu

    monkeypatch.setenv("FLAP_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setattr(handlers, "full_model_status", lambda refresh=False: (True, "test"))
    monkeypatch.setattr(registry, "get_engine", lambda name: registry._embedded())
    calls = []
    original = gpu.run_full_model

    def recording(job, progress=None):
        calls.append((job.kind, job.audio_seconds, gpu.gpu_seconds(job, progress)))
        return original(job, progress)

    monkeypatch.setattr(gpu, "run_full_model", recording)
    video, motion_file, notes = handlers.generate(str(REPO / "examples/portraits/astronaut.jpg"), text="Short one.",
                                                  engine="full", size=256, steps=10)
    assert Path(video).is_file() and MotionSequence.load(motion_file).num_frames > 10
    assert len(calls) == 1 and calls[0][0] == "generate" and 0.5 < calls[0][1] < 3 and calls[0][2] >= 20
