"""Each user parameter is declared once (MotionControls, JobConfig, the full model's options) and the CLI, the page,
the API and validation are built from that declaration: checked here by comparing each surface with it."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flap import cli
from flap.engines.options import FullModelOptions
from flap.errors import ControlRangeError
from flap.job import JobConfig
from flap.motion import MotionSequence
from flap.motion.controls import MotionControls
from flap.parameters import specs

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "examples/portraits/astronaut.jpg"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flap", *args], capture_output=True, text=True, cwd=ROOT)


def test_validation_returns_a_new_object_and_leaves_the_callers_alone():
    controls = MotionControls(gaze="right", yaw="12", emotion=" Happy ")
    checked = controls.validated()
    assert checked.gaze == (20.0, 0.0) and checked.yaw == 12.0 and checked.emotion == "happy"
    assert controls.gaze == "right" and controls.yaw == "12" and controls.emotion == " Happy "
    config = JobConfig(size=301, engine="FULL")
    assert config.validated().size == 300 and config.validated().engine == "full"
    assert config.size == 301 and config.engine == "FULL"
    with pytest.raises(AttributeError):
        checked.yaw = 3.0  # frozen


def test_the_job_takes_the_full_models_declaration():
    job, full = specs(JobConfig), specs(FullModelOptions)
    for name in ("steps", "guidance"):
        assert job[name].default == full[name].default and job[name].spec == full[name].spec
    assert JobConfig(steps=7, guidance=2.0).full_model == FullModelOptions(steps=7, guidance=2.0)
    with pytest.raises(ControlRangeError, match="guidance must be between 1 and 15"):
        JobConfig(guidance=20).validated()


@pytest.mark.parametrize("command", ["generate", "render"])
def test_cli_options_are_the_declared_parameters(command):
    parser = cli.build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    actions = {a.dest: a for a in sub._actions}
    for cls in (MotionControls, JobConfig):
        for name, p in specs(cls).items():
            action = actions[name]
            assert p.flag in action.option_strings
            assert action.default == p.default, name
            if p.spec.choices:
                assert tuple(action.choices) == p.spec.choices
            if p.spec.range:
                assert f"{p.spec.range[0]:g}..{p.spec.range[1]:g}" in action.help


def test_api_endpoints_take_the_declared_parameters():
    from flap.webapp import handlers

    for endpoint, job_names in ((handlers.generate, specs(JobConfig)), (handlers.render, specs(JobConfig)),
                                (handlers.motion, ("fps", "seed", "fit"))):
        signature = inspect.signature(endpoint).parameters
        for name, p in specs(MotionControls).items():
            assert signature[name].default == p.default, (endpoint.__name__, name)
        for name in job_names:
            assert signature[name].default == specs(JobConfig)[name].default
    assert list(inspect.signature(handlers.generate).parameters)[:3] == ["portrait", "audio", "transcript"]


def test_page_components_follow_the_declaration():
    """The page's sliders (including the new Mouth one) show the declared ranges and defaults."""
    import app

    components = {c.elem_id: c for c in app.demo.blocks.values() if getattr(c, "elem_id", None)}
    for cls, names in ((MotionControls, ("yaw", "pitch", "roll", "motion_scale", "mouth", "expression",
                                         "emotion_strength")), (JobConfig, ("fps", "size", "steps", "guidance"))):
        for name in names:
            p, slider = specs(cls)[name], components[name]
            assert (slider.minimum, slider.maximum, slider.value) == (*p.spec.range, p.default), name
    assert components["size"].minimum == 128  # the page used to stop at 256 while jobs accept 128


def test_mouth_reaches_the_motion_from_the_cli_and_the_api(speech_wav, tmp_path):
    proc = run_cli("motion", "--audio", str(speech_wav), "--out", str(tmp_path / "closed.npz"), "--mouth", "0")
    assert proc.returncode == 0, proc.stderr
    closed = MotionSequence.load(tmp_path / "closed.npz")
    assert closed.meta["controls"]["mouth"] == 0.0 and np.abs(closed.jaw).max() < 1e-6

    from flap.webapp import handlers

    wide_path, *_ = handlers.motion(str(speech_wav), mouth=2.0, seed=0)
    natural_path, *_ = handlers.motion(str(speech_wav), seed=0)
    wide, natural = MotionSequence.load(wide_path), MotionSequence.load(natural_path)
    assert wide.meta["controls"]["mouth"] == 2.0
    assert wide.jaw[:, 0].mean() > natural.jaw[:, 0].mean() > 0.01


def test_cli_take_all_is_the_same_selection_as_the_page(speech_wav, tmp_path):
    """One parser for a channel selection: the CLI used to split --take itself and refuse 'all'."""
    source = MotionSequence.neutral(20, 25.0)
    source.save(tmp_path / "source.npz")
    proc = run_cli("generate", "--portrait", str(ASTRONAUT), "--audio", str(speech_wav), "--motion",
                   str(tmp_path / "source.npz"), "--take", "all", "--size", "128", "--out", str(tmp_path / "v.mp4"),
                   "--save-motion")
    assert proc.returncode == 0, proc.stderr
    motion = MotionSequence.load(tmp_path / "v.motion.npz")
    assert motion.meta["mixed"]["from_file"] == ["head_pose", "jaw", "eyelids", "expression", "eyes"]
    proc = run_cli("generate", "--portrait", str(ASTRONAUT), "--audio", str(speech_wav), "--motion",
                   str(tmp_path / "source.npz"), "--take", "jaw,ears", "--out", str(tmp_path / "w.mp4"))
    assert proc.returncode == 2 and "unknown channel 'ears'" in proc.stderr and not (tmp_path / "w.mp4").exists()
