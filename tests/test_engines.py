"""The typed engine interface: both engines implement it, engine-specific inputs stay inside the engine, and the
full model's availability is checked once per job however many layers ask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flap.engines import registry
from flap.engines.base import Engine
from flap.engines.diffusion.engine import DiffusionEngine
from flap.engines.embedded.engine import EmbeddedEngine
from flap.job import JobConfig
from flap.motion import MotionSequence

REPO = Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "examples/portraits/astronaut.jpg"


def test_both_engines_implement_the_interface():
    assert isinstance(registry.get_engine("embedded"), Engine)
    assert isinstance(DiffusionEngine(device="cpu"), Engine)
    assert {registry.get_engine("embedded").name, DiffusionEngine.name} == set(registry.ENGINE_NAMES)
    assert registry.availability("embedded")[0] is True


def test_flame_expression_offsets_are_the_embedded_engines_business(tmp_path, monkeypatch):
    """A motion with FLAME expression coefficients: without a FLAME model the engine says so (and renders the
    rest); with one configured, the same engine call moves the face by the coefficients."""
    from flap.face.portrait import analyze_portrait
    from flap.flame.synthetic import make_synthetic_flame, write_flame_pickle

    analysis = analyze_portrait(str(ASTRONAUT), size=128)
    expression = np.zeros((3, 100))
    expression[:, :10] = 2.0
    motion = MotionSequence.neutral(3, 25.0).replace(expression=expression)
    engine = EmbeddedEngine()
    state = engine.prepare(analysis)
    monkeypatch.delenv("FLAP_FLAME_MODEL", raising=False)
    monkeypatch.delenv("FLAP_FLAME_REPO", raising=False)
    assert any("FLAME" in note for note in engine.notes(motion))
    plain = np.stack(list(engine.render_frames(state, motion, JobConfig())))

    (tmp_path / "flame").mkdir()
    model = write_flame_pickle(make_synthetic_flame(), tmp_path / "flame" / "generic_model.pkl")
    monkeypatch.setenv("FLAP_FLAME_MODEL", str(model))
    assert engine.notes(motion) == []
    moved = np.stack(list(engine.render_frames(state, motion, JobConfig())))
    assert plain.shape == moved.shape == (3, 128, 128, 3)
    assert np.abs(moved.astype(int) - plain.astype(int)).mean() > 0.05


def test_full_model_availability_is_checked_once_per_job(tmp_path, monkeypatch):
    """The page's check, the engine choice before the analysis and the render all share one cached answer (it
    may ask the Hub).  The full model needs CUDA, so the registry hands out the embedded engine here."""
    from flap.webapp import handlers

    checks = []
    monkeypatch.setattr(registry, "_check_full", lambda: checks.append(1) or (True, "test"))
    monkeypatch.setattr(registry, "_full", registry._embedded)
    monkeypatch.setattr(registry, "_status", None)
    monkeypatch.setenv("FLAP_OUTPUT_DIR", str(tmp_path))
    video, motion_file, notes = handlers.generate(str(ASTRONAUT), text="Short one.", engine="full", size=128, steps=2)
    assert Path(video).is_file() and MotionSequence.load(motion_file).num_frames > 10
    assert len(checks) == 1
    assert handlers.engine_status_markdown().startswith("**Full model: available.**") and len(checks) == 1


def test_a_cached_no_is_asked_again_before_refusing(monkeypatch):
    from flap.errors import EngineUnavailableError
    from flap.webapp import handlers

    answers = iter([(False, "no CUDA GPU here"), (False, "still no CUDA GPU")])
    monkeypatch.setattr(registry, "_check_full", lambda: next(answers))
    monkeypatch.setattr(registry, "_status", None)
    assert registry.full_model_status() == (False, "no CUDA GPU here")
    with pytest.raises(EngineUnavailableError, match="still no CUDA GPU"):
        handlers.check_engine("full")
