"""Ahead-of-time compiled FLAP (torch.export + AOTInductor) on the CPU with the tiny model: the artifacts, loaded
into another pipeline object with the same weights, give the eager model's videos; other weights, shapes they
were not built for, another torch or dtype fall back to eager with a note.  One compile for the module (a few minutes on 2 cores)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from flap.engines.diffusion import aot
from flap.engines.diffusion.sampling import SamplingOptions
from flap.engines.diffusion.testing import portrait, talking_motion, tiny_pipeline

WINDOW = 8
# one AOTInductor compile for the module: minutes on 2 cores; one torch thread (tests/conftest.py)
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("torch_test_settings")]

OPTIONS = SamplingOptions.fast(num_inference_steps=6, window=WINDOW, overlap=2, decode_chunk=4)


def ready(seed: int = 0):
    pipe = tiny_pipeline(device="cpu", resolution=16, seed=seed)
    pipe.optimize_for_inference(dtype=torch.float32)
    return pipe


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, torch_test_settings):
    folder = tmp_path_factory.mktemp("aot")
    manifest = ready().compile_ahead_of_time(folder, window=WINDOW, decode_chunk=4, cache_branch=0,
                                             log_fn=lambda _: None)
    assert set(manifest["parts"]) == set(aot.PARTS)
    return folder


def video(pipe, frames: int = 20, output: str = "latents"):
    items = list(pipe.stream(portrait(16), talking_motion(frames), options=OPTIONS, seed=3, output=output))
    return torch.stack(items) if output == "latents" else np.stack(items)


def forbid_eager(pipe, monkeypatch):
    """Make any eager denoiser or decoder call fail: what runs after this is compiled code."""
    def fail(*args, **kwargs):
        raise AssertionError("the eager model ran")

    monkeypatch.setattr(pipe.denoising_unet, "forward", fail)
    monkeypatch.setattr(pipe.vae.decoder, "forward", fail)
    monkeypatch.setattr(pipe.reference_net, "forward", fail)


def test_fresh_pipeline_loads_artifacts_and_matches_eager(artifacts, monkeypatch):
    eager_latents, eager_frames = video(ready()), video(ready(), output="frames")
    pipe = ready()
    note = pipe.load_compiled(artifacts, dtype=torch.float32)
    assert note.startswith("loaded compiled denoiser_full, denoiser_shallow, vae_decoder, reference_net"), note
    forbid_eager(pipe, monkeypatch)
    latents, frames = video(pipe), video(pipe, output="frames")
    assert torch.linalg.vector_norm(latents - eager_latents) / torch.linalg.vector_norm(eager_latents) < 1e-4
    assert np.abs(frames.astype(int) - eager_frames.astype(int)).max() <= 1


def test_other_weights_are_refused_with_a_note(artifacts):
    other = ready(seed=5)  # same architecture, other weights: the packages hold the compiled-in ones
    expected = video(other)
    note = other.load_compiled(artifacts, dtype=torch.float32)
    assert "values differ" in note and "running eagerly" in note and other._compiled is None
    assert torch.allclose(video(other), expected, atol=1e-6)


def test_shapes_outside_the_compiled_ones_run_eagerly(artifacts):
    expected = video(ready(), frames=5)  # shorter than a window: 5 frames, not 8
    pipe = ready()
    pipe.load_compiled(artifacts, dtype=torch.float32)
    got = video(pipe, frames=5)  # (the compiled ReferenceNet still runs: float rounding, not a different model)
    assert torch.linalg.vector_norm(got - expected) / torch.linalg.vector_norm(expected) < 1e-5


def test_artifacts_of_another_torch_are_refused_with_a_note(artifacts, tmp_path):
    folder = tmp_path / "aot"
    shutil.copytree(artifacts, folder)
    manifest = json.loads((folder / aot.MANIFEST).read_text())
    manifest["target"]["torch_version"] = "1.0.0"
    (folder / aot.MANIFEST).write_text(json.dumps(manifest))
    pipe = ready()
    note = pipe.load_compiled(folder, dtype=torch.float32)
    assert "torch_version" in note and "running eagerly" in note
    assert pipe._compiled is None
    assert torch.allclose(video(pipe, frames=10), video(ready(), frames=10), atol=1e-6)


def test_missing_artifacts_and_other_dtype_give_notes(artifacts, tmp_path):
    pipe = ready()
    assert "no compiled artifacts" in pipe.load_compiled(tmp_path / "nothing", dtype=torch.float32)
    note = pipe.load_compiled(artifacts, dtype=torch.float64)
    assert "dtype" in note and pipe._compiled is None


def test_another_dtype_after_loading_drops_the_compiled_programs(artifacts):
    pipe = ready()
    pipe.load_compiled(artifacts, dtype=torch.float32)
    pipe.to(dtype=torch.float64)  # the programs were built for float32 inputs
    got = video(pipe, frames=10)
    assert pipe._compiled is None and torch.isfinite(got).all()
