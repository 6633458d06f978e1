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


def test_box_mask_covers_each_cell_by_its_share_of_the_box():
    from flap.training.diffusion_task import box_mask

    boxes = torch.tensor([[[2.0, 4.0, 6.0, 5.5]]])  # 4 x 1.5 px in a 16 px image
    mask = box_mask(boxes, (8, 8), 16)  # on an 8 x 8 grid: 2 x 0.75 cells
    assert mask.shape == (1, 1, 1, 8, 8)
    assert torch.isclose(mask.sum(), torch.tensor(2.0 * 0.75))
    m = mask[0, 0, 0]  # columns 1..3, rows 2..2.75
    assert torch.allclose(m[2, 1:3], torch.tensor([0.75, 0.75])) and m[2, 0] == 0 and m[2, 3] == 0
    assert m[1].sum() == 0 and m[3].sum() == 0


def _batch_with_box(tmp_path, box):
    from flap.training.resident import ResidentClips
    from flap.training.synthetic import MOUTH_BOXES_FILE

    manifest = write_toy_set(tmp_path / "data", clips=2, frames=6, size=16, audio=False)
    for c in manifest.clips:
        np.save(tmp_path / "data" / "clips" / c.id / MOUTH_BOXES_FILE, np.tile(np.float32(box), (6, 1)))
    data = ResidentClips(tmp_path / "data", manifest.clips, "cpu", seed=1)
    return data.batch(data.subset([c.id for c in manifest.clips]), 3, 1)


def test_mouth_weight_scales_the_error_inside_the_box_only(tmp_path, monkeypatch):
    """The mouth-weighted loss is the plain loss where the error is even, and weighs an error in the box
    1 + mouth_weight times as much as the same error outside it."""
    from flap.training.diffusion_task import DiffusionTask

    batch = _batch_with_box(tmp_path, [4, 4, 8, 8])
    assert batch["mouth_box"].shape == (3, 1, 4)
    monkeypatch.setattr(torch, "randn_like", torch.zeros_like)  # the loss's noise is 0: its error is the prediction

    def loss(weight, prediction):
        config = tiny_config("2", tmp_path / "data", tmp_path / "run", gradient_checkpointing=False, ema_decay=None)
        config.diffusion.mouth_weight = weight
        config.diffusion.snr_gamma = None
        return float(DiffusionTask(config).loss(lambda *args: prediction, batch))

    inside = torch.zeros(3, 3, 1, 16, 16)
    inside[..., 4:8, 4:8] = 1.0
    outside = torch.zeros(3, 3, 1, 16, 16)
    outside[..., 10:14, 10:14] = 1.0
    even = torch.full((3, 3, 1, 16, 16), 0.5)
    assert np.isclose(loss(9.0, even), 0.25, rtol=1e-5) and np.isclose(loss(0.0, even), 0.25, rtol=1e-5)
    assert np.isclose(loss(9.0, inside) / loss(9.0, outside), 10.0, rtol=1e-4)
    assert np.isclose(loss(0.0, inside), loss(0.0, outside), rtol=1e-6)


def test_mouth_weight_without_boxes_is_an_error(tmp_path):
    from flap.training.diffusion_task import DiffusionTask
    from flap.training.resident import ResidentClips

    manifest = write_toy_set(tmp_path / "data", clips=2, frames=6, size=16, audio=False)
    data = ResidentClips(tmp_path / "data", manifest.clips, "cpu")
    assert data.mouth_boxes is None
    config = tiny_config("2", tmp_path / "data", tmp_path / "run", gradient_checkpointing=False, ema_decay=None)
    config.diffusion.mouth_weight = 5.0
    task = DiffusionTask(config)
    import pytest

    with pytest.raises(ValueError, match="mouth_box"):
        task.loss(task.module, data.batch(data.subset([c.id for c in manifest.clips]), 2, 1))
