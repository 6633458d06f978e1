"""One optimisation step of each FLAP training stage with a tiny model on the CPU: exactly the intended parameter
groups change, the frozen ones stay bit-identical, the loss is finite; checkpoints resume at the right step with
the same optimizer state; the export loads with FLAPPipeline.from_pretrained and generates."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from flap.engines.diffusion.pipeline import ALL_AT_ONCE, TRAINING_STAGES, FLAPPipeline
from flap.engines.diffusion.testing import portrait, talking_motion
from flap.training.diffusion_task import DiffusionTask
from flap.training.loop import list_checkpoints, train
from flap.training.testing import tiny_config, write_toy_set

pytestmark = pytest.mark.usefixtures("torch_test_settings")  # one torch thread (tests/conftest.py)

ALL_GROUPS = ("head_motion", "expression", "temporal", "spatial", "reference")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toyset")
    write_toy_set(root, clips=3, frames=10, size=16)
    return root


def _snapshot(pipe) -> dict[str, dict[str, torch.Tensor]]:
    return {g: {n: p.detach().clone() for n, p in ps.items()} for g, ps in pipe.parameter_groups().items()}


def _changed(pipe, before) -> dict[str, set[str]]:
    now = pipe.parameter_groups()
    return {g: {n for n, p in now[g].items() if not torch.equal(p.detach(), before[g][n])} for g in before}


@pytest.mark.parametrize("stage", [1, 2, 3, "all"])
def test_one_step_changes_exactly_the_stage_groups(stage, toy, tmp_path):
    config = tiny_config(str(stage), toy, tmp_path / "run")
    task = DiffusionTask(config)
    before = _snapshot(task.pipe)
    result = train(config, task=task)
    assert result.steps == 1 and np.isfinite(result.final_loss)
    changed = _changed(task.pipe, before)
    trained = set(TRAINING_STAGES[ALL_AT_ONCE if stage == "all" else stage])
    for group in ALL_GROUPS:
        if group in trained:
            assert changed[group], f"stage {stage}: nothing in trained group {group} changed"
        else:
            assert not changed[group], f"stage {stage}: frozen group {group} changed: {sorted(changed[group])[:3]}"
    assert result.description["trained_groups"] == [g for g in ALL_GROUPS if g in trained]


def test_stage1_drops_expression_and_uses_top_head_motion_clips(toy, tmp_path):
    task = DiffusionTask(tiny_config("1", toy, tmp_path / "run"))
    assert task.plan.always_drop_expression and not task.plan.temporal and task.plan.frames == 1
    from flap.training.manifest import Manifest

    by_motion = sorted(Manifest.load(toy).clips, key=lambda c: c.head_motion, reverse=True)
    assert [c.id for c in task.clips] == [c.id for c in by_motion[:2]]  # the half with the most head motion
    task2 = DiffusionTask(tiny_config("2", toy, tmp_path / "run2"))
    assert not task2.plan.always_drop_expression and not task2.plan.always_drop_head and len(task2.clips) == 3
    task3 = DiffusionTask(tiny_config("3", toy, tmp_path / "run3"))
    assert task3.plan.temporal and task3.dataset[0]["target"].shape == (4, 3, 16, 16)


def test_zero_init_temporal_makes_temporal_layers_identity(toy, tmp_path):
    config = tiny_config("3", toy, tmp_path / "run")
    config.diffusion.zero_init_temporal = True
    task = DiffusionTask(config)
    for module in task.pipe.denoising_unet.temporal_modules():
        assert not module.proj_out.weight.any()
    unet = task.pipe.denoising_unet
    x = torch.randn(1, 3, 4, 16, 16)
    cond = torch.from_numpy(talking_motion(4).to_condition())[None]
    with torch.no_grad():
        feats = task.pipe.reference_net(torch.randn(1, 3, 16, 16))
        with_temporal = unet(x, 10, cond, reference=feats, temporal=True)
        without = unet(x, 10, cond, reference=feats, temporal=False)
    torch.testing.assert_close(with_temporal, without)


@pytest.mark.slow
def test_checkpoint_resume_continues_at_the_step_with_the_same_optimizer_state(toy, tmp_path):
    out = tmp_path / "run"
    first = train(tiny_config("1", toy, out, max_steps=2, checkpoint_every=1, checkpoints_total_limit=2, ema_decay=0.99))
    assert first.steps == 2
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-1", "checkpoint-2"]
    saved = torch.load(out / "checkpoints/checkpoint-2/optimizer.bin", weights_only=False)
    seen = {}

    def on_start(accelerator, module, optimizer, progress):
        seen["step"] = progress.step
        seen["optimizer"] = copy.deepcopy(optimizer.state_dict())  # training goes on updating it in place
        from safetensors.torch import load_file

        weights = load_file(str(out / "checkpoints/checkpoint-2/model.safetensors"))
        seen["weights_equal"] = all(torch.equal(p.detach(), weights[n]) for n, p in module.state_dict().items() if n in weights)

    second = train(tiny_config("1", toy, out, max_steps=3, checkpoint_every=1, checkpoints_total_limit=2, ema_decay=0.99),
                   on_start=on_start)
    assert seen["step"] == 2 and second.steps == 3 and seen["weights_equal"]
    state = seen["optimizer"]["state"]
    assert state.keys() == saved["state"].keys() and len(state) > 0
    for key in state:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(torch.as_tensor(state[key][name]), torch.as_tensor(saved["state"][key][name]))
    steps_logged = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps_logged == [1, 2, 3]
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-2", "checkpoint-3"]


def test_export_loads_with_from_pretrained_and_generates(toy, tmp_path):
    result = train(tiny_config("2", toy, tmp_path / "run"))
    assert (result.export_dir / "training_info.json").is_file()
    info = json.loads((result.export_dir / "training_info.json").read_text())
    assert info["stage"] == "2" and info["steps"] == 1
    pipe = FLAPPipeline.from_pretrained(result.export_dir)
    frames = pipe(portrait(16), talking_motion(3), num_inference_steps=2).frames
    assert frames.shape == (3, 16, 16, 3) and frames.dtype == np.uint8
    from flap.weights import check_pipeline_folder

    check_pipeline_folder(result.export_dir)  # what the app checks before offering the weights ($FLAP_MODEL)
