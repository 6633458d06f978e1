"""The GPU-resident trainer (flap.training.resident) on a toy set, on the CPU: batches are the dataset's items
(consecutive frames of one clip, a reference of the same identity), and a stage trains and moves the weights."""

from __future__ import annotations

import time

import numpy as np
import torch

from flap.training.manifest import ClipFrames, Manifest
from flap.training.testing import tiny_config, write_toy_set


def test_batches_are_consecutive_frames_with_a_same_identity_reference(tmp_path):
    from flap.training.resident import ResidentClips

    manifest = write_toy_set(tmp_path / "data", clips=4, frames=10, size=16, audio=False)
    data = ResidentClips(tmp_path / "data", manifest.clips, "cpu", seed=1)
    batch = data.batch(data.subset([c.id for c in manifest.clips]), 6, 4)
    assert batch["target"].shape == (6, 4, 3, 16, 16) and batch["condition"].shape == (6, 4, 120)
    assert batch["reference"].shape == (6, 3, 16, 16)
    videos = {c.id: ClipFrames(tmp_path / "data", c).read(np.arange(10)) for c in manifest.clips}
    as_uint8 = lambda x: ((x + 1) * 127.5).round().to(torch.uint8).permute(*range(x.dim() - 3), -2, -1, -3).numpy()  # noqa: E731
    for target, ref in zip(as_uint8(batch["target"]), as_uint8(batch["reference"])):
        owner = [i for i, v in videos.items() if any((v[s:s + 4] == target).all() for s in range(7))]
        assert len(owner) == 1  # four consecutive frames of one clip
        ref_owner = [c for c in manifest.clips if (videos[c.id] == ref).all(axis=(1, 2, 3)).any()]
        identity = next(c.identity for c in manifest.clips if c.id == owner[0])
        assert ref_owner and ref_owner[0].identity == identity


def test_a_stage_trains_the_pipeline_in_place_until_its_deadline(tmp_path):
    from flap.training.models import build_pipeline
    from flap.training.resident import ResidentClips, train_stage

    write_toy_set(tmp_path / "data", clips=3, frames=12, size=16, audio=False)
    config = tiny_config("2", tmp_path / "data", tmp_path / "run", gradient_checkpointing=False, ema_decay=None)
    pipe = build_pipeline(config.model)
    before = {n: p.detach().clone() for n, p in pipe.denoising_unet.named_parameters()}
    data = ResidentClips(tmp_path / "data", Manifest.load(tmp_path / "data").clips, "cpu")
    run = train_stage(pipe, config, data, time.time() + 60, max_steps=3, log=lambda _: None)
    assert run.steps == 3 and run.stopped_by == "max_steps" and np.isfinite(run.final_loss)
    changed = [n for n, p in pipe.denoising_unet.named_parameters() if not torch.equal(before[n], p)]
    assert changed
