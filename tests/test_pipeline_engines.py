"""The pipeline with the full model's parts: the diffusion engine behind the engine interface, and trained
Audio-to-FLAME weights replacing the rule-based motion generator (tiny random models, on the CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flap.engines import registry
from flap.engines.diffusion.engine import DiffusionEngine
from flap.engines.diffusion.testing import tiny_pipeline
from flap.io.video import count_frames, probe_video
from flap.motion import MotionSequence
from flap.pipeline import JobConfig, render

pytestmark = pytest.mark.usefixtures("torch_test_settings")  # one torch thread (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "examples/portraits/astronaut.jpg"


def test_full_engine_renders_through_the_pipeline(tmp_path, monkeypatch):
    weights = tmp_path / "flap-tiny"
    tiny_pipeline(device="cpu", resolution=16).save_pretrained(weights)
    engine = DiffusionEngine(source=str(weights), device="cpu", dtype="float32")
    monkeypatch.setattr(registry, "full_model_status", lambda refresh=False: (True, "tiny test model"))
    monkeypatch.setattr(registry, "_full", lambda: engine)
    motion = MotionSequence.neutral(10, 25.0)
    config = JobConfig(engine="full", size=128, steps=2, guidance=2.0)
    result = render(ASTRONAUT, motion, None, tmp_path / "full.mp4", config=config)
    info = probe_video(result.video)
    assert (info.width, info.height) == (128, 128)
    assert count_frames(result.video) == 10


def test_full_engine_unavailable_is_a_clear_error(tmp_path):
    from flap.errors import EngineUnavailableError

    with pytest.raises(EngineUnavailableError, match="(CUDA|GPU|FLAP_MODEL)"):
        render(ASTRONAUT, MotionSequence.neutral(5), None, tmp_path / "x.mp4", config=JobConfig(engine="full"))
    assert not list(tmp_path.glob("*.mp4"))


def test_trained_audio_to_flame_replaces_the_rule_based_generator(tmp_path, monkeypatch, speech_wav):
    from flap import pipeline
    from flap.audio2motion.network import Audio2FlameNetwork

    folder = tmp_path / "a2f"
    Audio2FlameNetwork.tiny().save_pretrained(folder)
    monkeypatch.setenv("FLAP_AUDIO2FLAME", str(folder))
    pipeline._load_audio_to_flame.cache_clear()
    try:
        motion, warnings = pipeline.make_motion(speech_wav, config=JobConfig(fps=25))
    finally:
        pipeline._load_audio_to_flame.cache_clear()
    assert any("Audio-to-FLAME" in w for w in warnings)
    assert motion.meta.get("source") != "embedded-generator"
    import soundfile as sf

    assert abs(motion.num_frames - round(sf.info(str(speech_wav)).duration * 25)) <= 1
