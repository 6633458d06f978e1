"""The full engine's clear errors (no weights, incomplete weights, unreachable repo, no CUDA) and its adapter API
(prepare / render_frames) on a tiny saved model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from flap import weights
from flap.engines.diffusion import loading
from flap.engines.diffusion.engine import DiffusionEngine
from flap.engines.diffusion.pipeline import FLAPPipeline
from flap.engines.diffusion.testing import (device_under_test, portrait,
                                            talking_motion, tiny_pipeline)
from flap.errors import EngineUnavailableError
from flap.job import JobConfig

pytestmark = [pytest.mark.usefixtures("torch_test_settings"), pytest.mark.gpu]  # one torch thread (tests/conftest.py)

DEVICE = device_under_test()


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flap-tiny")
    tiny_pipeline("cpu").save_pretrained(folder)
    return folder


def test_no_weights_configured_names_the_variable(monkeypatch):
    monkeypatch.delenv(weights.ENV_MODEL, raising=False)
    with pytest.raises(EngineUnavailableError, match="FLAP_MODEL is not set"):
        weights.locate_weights()
    ok, reason = DiffusionEngine(device="cpu").availability()
    assert not ok and "FLAP_MODEL" in reason and "HF_TOKEN" in reason


def test_missing_folder_and_missing_files_are_named(saved_model, tmp_path):
    with pytest.raises(EngineUnavailableError, match="does not exist"):
        weights.locate_weights(str(tmp_path / "nowhere"))
    with pytest.raises(EngineUnavailableError, match="model_index.json is missing"):
        weights.locate_weights(str(tmp_path))
    broken = tmp_path / "broken"
    shutil.copytree(saved_model, broken)
    (broken / "denoising_unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(EngineUnavailableError, match=r"no weights file .* denoising_unet"):
        FLAPPipeline.from_pretrained(str(broken))
    shutil.copy(saved_model / "denoising_unet" / "diffusion_pytorch_model.safetensors", broken / "denoising_unet")
    (broken / "reference_net" / "config.json").unlink()
    with pytest.raises(EngineUnavailableError, match=r"reference_net/config.json is missing"):
        weights.check_pipeline_folder(broken)
    index = json.loads((saved_model / "model_index.json").read_text())
    del index["denoising_unet"]
    (broken / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(EngineUnavailableError, match="no 'denoising_unet' component"):
        weights.check_pipeline_folder(broken)


def test_unreachable_hub_repo_says_what_to_do(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read at import time: the variable alone is too late
    monkeypatch.delenv(weights.ENV_TOKEN, raising=False)
    with pytest.raises(EngineUnavailableError) as info:
        weights.locate_weights("some-org/flap-weights")
    message = str(info.value)
    assert "some-org/flap-weights" in message and "FLAP_MODEL" in message
    problem, _ = weights.weights_problem("some-org/flap-weights")
    assert "not in the local Hugging Face cache" in problem


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_availability_without_cuda_says_cuda_is_required(saved_model, monkeypatch):
    monkeypatch.setenv(weights.ENV_MODEL, str(saved_model))
    ok, reason = DiffusionEngine().availability()
    assert not ok
    assert "CUDA" in reason and "embedded engine" in reason
    with pytest.raises(EngineUnavailableError, match="CUDA"):
        DiffusionEngine().prepare(portrait(16))


def test_too_little_gpu_memory_is_reported(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (3 * 2**30, 24 * 2**30))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Test GPU")
    problem = loading.cuda_problem(16)
    assert "16 GB" in problem and "3.0 GB free of 24.0 GB" in problem and "Test GPU" in problem


def test_engine_renders_frames_at_the_crop_size(saved_model):
    engine = DiffusionEngine(source=str(saved_model), device=DEVICE, dtype="float32", preset="quality")
    ok, reason = engine.availability() if DEVICE == "cpu" else (True, "")
    assert ok, reason
    state = engine.prepare(portrait(20))
    progress = []
    request = JobConfig(steps=2, guidance=2.0, seed=1)
    frames = list(engine.render_frames(state, talking_motion(5), request, progress=lambda d, t: progress.append((d, t))))
    assert len(frames) == 5 and all(f.shape == (20, 20, 3) and f.dtype == np.uint8 for f in frames)
    assert progress[-1] == (2, 2)
    again = list(DiffusionEngine(source=str(saved_model), device=DEVICE, dtype="float32", preset="quality")
                 .render_frames(state, talking_motion(5), request))
    assert all(np.array_equal(a, b) for a, b in zip(frames, again))  # cached pipeline reused, same output
