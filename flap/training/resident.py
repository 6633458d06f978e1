"""Training small models on a small set with the whole set resident on the device, for experiments.

The synthetic sets (flap.training.synthetic) fit on a GPU many times over (16,000 frames at 96 px are 440 MB of
uint8), so batches are drawn there by indexing, with no DataLoader, no worker processes and no host-to-device
copies: a small model is then bound by its own kernels, not by feeding them.  The loss, the stage plans and the
trainable groups are the loop's own (``DiffusionTask``); what this adds is several stages in one process on one
pipeline (no reload between stages), a wall-clock deadline per stage, a fused AdamW, and exports of the EMA
weights at fixed intervals, so a run that outlives one device command can be sampled at any point.

``flap.training.loop.train`` stays the tool for real data, checkpoints and DDP.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from flap.training.manifest import ClipEntry, ClipFrames, clip_dir
from flap.training.synthetic import MOUTH_BOXES_FILE


class ResidentClips:
    """Every frame and condition of a list of clips as device tensors, and batches drawn from them there.

    Batches are the ``DiffusionDataset`` items stacked: ``target`` (B, F, 3, R, R) and ``reference`` (B, 3, R, R)
    in [-1, 1], ``condition`` (B, F, 120), and ``mouth_box`` (B, F, 4) where every clip has one; windows uniform over all (clip, start) pairs of the chosen clips, the
    reference any frame of a chosen clip of the same identity (``reference="identity"``)."""

    def __init__(self, root: str | Path, clips: list[ClipEntry], device: torch.device | str, seed: int = 0):
        from flap.motion.representation import MotionSequence

        self.device = torch.device(device)
        self.ids = [c.id for c in clips]
        frames = [ClipFrames(root, c).read(np.arange(c.num_frames)) for c in clips]
        conds = [MotionSequence.load(clip_dir(root, c.id) / "motion.npz").to_condition() for c in clips]
        box_files = [clip_dir(root, c.id) / MOUTH_BOXES_FILE for c in clips]
        self.mouth_boxes = (torch.from_numpy(np.concatenate([np.load(f) for f in box_files])).to(self.device)
                            if all(f.is_file() for f in box_files) else None)
        lengths = np.array([len(f) for f in frames])
        self.frames = torch.from_numpy(np.concatenate(frames)).permute(0, 3, 1, 2).contiguous().to(self.device)
        self.conditions = torch.from_numpy(np.concatenate(conds).astype(np.float32)).to(self.device)
        self.lengths = torch.from_numpy(lengths).to(self.device)
        self.offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]])).to(self.device)
        names = sorted({c.identity or c.id for c in clips})
        self.identity = torch.tensor([names.index(c.identity or c.id) for c in clips], device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(int(seed))

    def subset(self, ids: list[str]) -> torch.Tensor:
        wanted = set(ids)
        return torch.tensor([k for k, i in enumerate(self.ids) if i in wanted], device=self.device)

    def _images(self, index: torch.Tensor) -> torch.Tensor:
        return self.frames[index].float().div_(127.5).sub_(1.0)

    def batch(self, clips: torch.Tensor, size: int, frames: int) -> dict[str, torch.Tensor]:
        g = self.generator
        windows = (self.lengths[clips] - frames + 1).clamp(min=0).float()
        k = clips[torch.multinomial(windows, size, replacement=True, generator=g)]
        start = (torch.rand(size, device=self.device, generator=g) * (self.lengths[k] - frames + 1)).long()
        index = self.offsets[k, None] + start[:, None] + torch.arange(frames, device=self.device)
        same = (self.identity[clips][None, :] == self.identity[k][:, None]).float()
        r = clips[torch.multinomial(same, 1, generator=g)[:, 0]]
        ref = self.offsets[r] + (torch.rand(size, device=self.device, generator=g) * self.lengths[r]).long()
        out = {"target": self._images(index), "reference": self._images(ref), "condition": self.conditions[index]}
        if self.mouth_boxes is not None:
            out["mouth_box"] = self.mouth_boxes[index]
        return out


@dataclass
class StageRun:
    """What one stage did (the fields ``decoupling.run_summary`` reads)."""

    stage: str
    steps: int = 0
    samples: int = 0
    train_seconds: float = 0.0
    final_loss: float = float("nan")
    stopped_by: str = "time"
    description: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)


def _freeze_unreachable(task, batch: dict) -> int:
    """As the loop does: trainable parameters that get no gradient are frozen (and not stepped)."""
    one = {k: v[:1] for k, v in batch.items()}
    with torch.autocast(batch["target"].device.type, dtype=torch.bfloat16, enabled=batch["target"].is_cuda):
        task.loss(task.module, one).backward()
    task.after_backward(task.module)
    frozen = 0
    for p in task.trainable_parameters():
        if p.grad is None:
            p.requires_grad_(False)
            frozen += 1
    task.module.zero_grad(set_to_none=True)
    return frozen


def export_ema(pipe, folder: Path, info: dict) -> Path:
    """Save the pipeline (EMA weights already copied in) atomically: a reader never sees half a folder."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    from flap.training.diffusion_task import save_pipeline

    shutil.rmtree(tmp, ignore_errors=True)
    save_pipeline(pipe, tmp, info)
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def train_stage(pipe, config, data: ResidentClips, deadline: float, *, export_to: Path | None = None,
                export_every_s: float = 0.0, export_info: dict | None = None, max_steps: int | None = None,
                log=print) -> StageRun:
    """Train ``pipe`` in place for one stage (``config``: a ``TrainConfig``, for the stage, loss, optimiser, batch
    and EMA) until ``time.time() >= deadline`` (or ``max_steps``); the EMA weights are left in the pipeline.
    With ``export_to``, the EMA weights are exported there every ``export_every_s`` seconds (and not at the end:
    the caller exports what it wants)."""
    from diffusers.optimization import get_scheduler

    from flap.training.diffusion_task import DiffusionTask

    config = config.validated()
    task = DiffusionTask(config, pipe=pipe)
    device = data.device
    task.module.to(device)
    task.module.train()
    clips = data.subset([c.id for c in task.clips])
    run, optim = config.run, config.optim
    frames = task.plan.frames
    cuda = device.type == "cuda"
    frozen = _freeze_unreachable(task, data.batch(clips, 2, frames))
    params = task.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=optim.learning_rate, betas=(optim.adam_beta1, optim.adam_beta2),
                                  weight_decay=optim.weight_decay, eps=optim.adam_epsilon, fused=cuda)
    schedule = get_scheduler(optim.lr_scheduler, optimizer, num_warmup_steps=optim.lr_warmup_steps,
                             num_training_steps=max_steps or 10**9)
    ema = None
    if run.ema_decay:
        from diffusers.training_utils import EMAModel

        ema = EMAModel(params, decay=run.ema_decay, use_ema_warmup=True, power=0.75, foreach=True)
    result = StageRun(str(config.stage), description=dict(task.describe(), frozen_unreachable=frozen,
                                                          global_batch=run.batch_size * frames, resident=True))
    result.description["samples_per_step"] = run.batch_size
    start = time.time()
    last_export = start
    window = torch.zeros((), device=device)
    count = 0

    def put_ema_in():
        if ema is not None:
            ema.store(params)
            ema.copy_to(params)

    def take_ema_out():
        if ema is not None:
            ema.restore(params)

    while time.time() < deadline and (max_steps is None or result.steps < max_steps):
        batch = data.batch(clips, run.batch_size, frames)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = task.loss(task.module, batch)
        loss.backward()
        task.after_backward(task.module)
        if optim.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(params, optim.max_grad_norm, foreach=True)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            ema.step(params)
        result.steps += 1
        result.samples += run.batch_size
        window += loss.detach().float()
        count += 1
        if result.steps % run.log_every == 0:
            result.final_loss = float(window / count)
            now = time.time()
            record = {"step": result.steps, "loss": round(result.final_loss, 5), "elapsed_s": round(now - start, 1),
                      "steps_per_s": round(result.steps / (now - start), 2)}
            result.history.append(record)
            log(f"[resident] stage {config.stage} {json.dumps(record)}")
            window, count = torch.zeros((), device=device), 0
            if export_to is not None and export_every_s and now - last_export >= export_every_s:
                put_ema_in()
                export_ema(pipe, export_to, dict(export_info or {}, stage=str(config.stage), stage_steps=result.steps,
                                                 exported_at=now))
                take_ema_out()
                last_export = time.time()
    if count:
        result.final_loss = float(window / count)
    result.stopped_by = "max_steps" if max_steps is not None and result.steps >= max_steps else "time"
    result.train_seconds = round(time.time() - start, 1)
    if ema is not None:
        ema.copy_to(params)  # the next stage (and any export) starts from the averaged weights, as the loop exports
    pipe.denoising_unet.set_reference(None)
    del optimizer
    if cuda:
        torch.cuda.empty_cache()
    return result
