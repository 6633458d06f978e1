"""The training loop, shared by every stage: accelerate for devices, DDP, mixed precision, gradient accumulation,
resumable checkpoints (``save_state``/``load_state``), TensorBoard, a wall-clock budget, and the final export.

A task (``DiffusionTask``, ``AudioTask``) supplies the model, its trainable parameters, the dataset, the loss and
the export; this module knows nothing about FLAP itself.

Run it on one GPU with ``python -m flap.training train ...`` or on several with
``accelerate launch --num_processes N -m flap.training train ...``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from flap.training.config import TrainConfig

CHECKPOINT_PREFIX = "checkpoint-"


@dataclass
class TrainingProgress:
    """Loop counters saved in every checkpoint (registered with accelerate)."""

    step: int = 0
    samples: int = 0
    seconds: float = 0.0

    def state_dict(self) -> dict:
        return {"step": self.step, "samples": self.samples, "seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.samples, self.seconds = int(state["step"]), int(state["samples"]), float(state["seconds"])


@dataclass
class TrainResult:
    steps: int
    samples: int
    seconds: float
    final_loss: float
    export_dir: Path | None
    checkpoint: Path | None
    stopped_by: str  # "max_steps" or "time"
    history: list[dict] = field(default_factory=list)
    description: dict = field(default_factory=dict)


def make_task(config: TrainConfig):
    if config.stage == "audio":
        from flap.training.audio_task import AudioTask

        return AudioTask(config)
    from flap.training.diffusion_task import DiffusionTask

    return DiffusionTask(config)


def resolve_mixed_precision(value: str) -> str:
    if value == "auto":
        return "bf16" if torch.cuda.is_available() else "no"
    return value


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    folder = Path(output_dir) / "checkpoints"
    found = [p for p in folder.glob(CHECKPOINT_PREFIX + "*") if p.is_dir() and p.name[len(CHECKPOINT_PREFIX):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))


def _make_accelerator(config: TrainConfig):
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration

    run = config.run
    log_with = None
    if run.report_to == "tensorboard":
        try:
            import tensorboard  # noqa: F401

            log_with = "tensorboard"
        except ImportError:
            warnings.warn("TensorBoard is not installed (pip install tensorboard): logging to metrics.jsonl only")
    elif run.report_to not in ("none", "", None):
        log_with = run.report_to
    # broadcast_buffers=False: the reference keys/values live in (non-persistent) attention buffers, per rank and
    # per batch; DDP must not overwrite them with rank 0's.
    ddp = DistributedDataParallelKwargs(broadcast_buffers=False, find_unused_parameters=False)
    return Accelerator(
        gradient_accumulation_steps=run.gradient_accumulation_steps,
        mixed_precision=resolve_mixed_precision(run.mixed_precision),
        log_with=log_with,
        project_config=ProjectConfiguration(project_dir=run.output_dir, logging_dir=str(Path(run.output_dir) / "logs")),
        kwargs_handlers=[ddp],
    )


def _freeze_unreachable(task, batch: dict, device: torch.device, accelerator) -> list[str]:
    """One forward/backward before training: trainable parameters that get no gradient (e.g. the ReferenceNet's
    layers after its last captured attention) are frozen, so DDP needs no unused-parameter search.  Returns their
    names."""
    module = task.module
    batch = {k: v.to(device) for k, v in batch.items()}
    with accelerator.autocast():
        loss = task.loss(module, batch)
    loss.backward()
    task.after_backward(module)
    names = {id(p): n for n, p in module.named_parameters()}
    frozen = []
    for p in task.trainable_parameters():
        if p.grad is None:
            p.requires_grad_(False)
            frozen.append(names.get(id(p), "?"))
    module.zero_grad(set_to_none=True)
    return frozen


def _cycle(loader):
    epoch = 0
    while True:
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        yield from loader
        epoch += 1


def train(config: TrainConfig, task=None, on_start=None) -> TrainResult:
    """Run one stage to ``run.max_steps`` (or ``run.max_seconds``), checkpointing and exporting as configured.

    on_start(accelerator, module, optimizer, progress), if given, is called once everything is prepared and any
    checkpoint is loaded (tests use it to inspect the resumed state)."""
    from accelerate.utils import set_seed
    from diffusers.optimization import get_scheduler
    from torch.utils.data import DataLoader

    config = config.validated()
    run = config.run
    start_time = time.perf_counter()
    accelerator = _make_accelerator(config)
    set_seed(run.seed, device_specific=True)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest convolutions
        if run.allow_tf32:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
    output = Path(run.output_dir)
    if accelerator.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
        config.save_yaml(output / "config.yaml")
    task = task or make_task(config)
    device = accelerator.device
    task.to(device, torch.bfloat16 if accelerator.mixed_precision == "bf16" else None)
    loader = DataLoader(task.dataset, batch_size=run.batch_size, shuffle=True, drop_last=len(task.dataset) >= run.batch_size,
                        num_workers=config.data.num_workers, pin_memory=device.type == "cuda",
                        persistent_workers=config.data.num_workers > 0)
    task.module.to(device)
    frozen = _freeze_unreachable(task, next(iter(DataLoader(task.dataset, batch_size=1, shuffle=False))), device, accelerator)
    params = task.trainable_parameters()
    if not params:
        raise RuntimeError("this stage has no trainable parameters")
    optim = config.optim
    optimizer = torch.optim.AdamW(params, lr=optim.learning_rate, betas=(optim.adam_beta1, optim.adam_beta2),
                                  weight_decay=optim.weight_decay, eps=optim.adam_epsilon)
    lr_scheduler = get_scheduler(optim.lr_scheduler, optimizer,
                                 num_warmup_steps=optim.lr_warmup_steps * accelerator.num_processes,
                                 num_training_steps=run.max_steps * accelerator.num_processes)
    module, optimizer, loader, lr_scheduler = accelerator.prepare(task.module, optimizer, loader, lr_scheduler)
    progress = TrainingProgress()
    accelerator.register_for_checkpointing(progress)
    ema = None
    if run.ema_decay:
        from diffusers.training_utils import EMAModel

        ema = EMAModel(params, decay=run.ema_decay, use_ema_warmup=True, power=0.75, foreach=True)
        accelerator.register_for_checkpointing(ema)

    resumed_from = _resume(accelerator, run)
    if on_start is not None:
        on_start(accelerator, module, optimizer, progress)
    description = dict(task.describe(), frozen_unreachable=len(frozen), processes=accelerator.num_processes,
                       mixed_precision=accelerator.mixed_precision, device=str(device),
                       global_batch=run.batch_size * accelerator.num_processes * run.gradient_accumulation_steps,
                       resumed_from=str(resumed_from) if resumed_from else None)
    if accelerator.is_main_process:
        print(f"[flap.training] stage {config.stage}: {json.dumps(description)}", flush=True)
        if accelerator.log_with:
            accelerator.init_trackers("flap", config=_flat(config.to_dict()))
    metrics_path = output / "metrics.jsonl"
    history: list[dict] = []
    deadline = start_time + run.max_seconds if run.max_seconds else None
    window_loss, window_count, window_start, window_samples = torch.zeros((), device=device), 0, time.perf_counter(), 0
    samples_per_step = run.batch_size * accelerator.num_processes
    stopped_by = "max_steps"
    last_loss = float("nan")
    last_checkpoint = None
    batches = _cycle(loader)
    step_start_seconds = progress.seconds
    loop_start = time.perf_counter()
    micro = 0
    while progress.step < run.max_steps:
        if deadline is not None and _should_stop(accelerator, deadline, micro):
            stopped_by = "time"
            break
        batch = next(batches)
        with accelerator.accumulate(module):
            with accelerator.autocast():
                loss = task.loss(module, batch)
            accelerator.backward(loss)
            if accelerator.sync_gradients and optim.max_grad_norm:
                accelerator.clip_grad_norm_(params, optim.max_grad_norm)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        task.after_backward(module)
        micro += 1
        window_loss += loss.detach().float()
        window_count += 1
        window_samples += samples_per_step
        if not accelerator.sync_gradients:
            continue
        progress.step += 1
        progress.samples += samples_per_step * run.gradient_accumulation_steps
        if ema is not None:
            ema.step(params)
        if progress.step % run.log_every == 0 or progress.step == run.max_steps:
            mean = window_loss / max(window_count, 1)
            last_loss = float(accelerator.reduce(mean, reduction="mean"))
            now = time.perf_counter()
            record = {"step": progress.step, "loss": last_loss, "lr": lr_scheduler.get_last_lr()[0],
                      "samples_per_s": window_samples / max(now - window_start, 1e-9), "samples": progress.samples,
                      "elapsed_s": step_start_seconds + now - loop_start}
            history.append(record)
            if accelerator.is_main_process:
                with metrics_path.open("a") as fh:
                    fh.write(json.dumps(record) + "\n")
                if accelerator.log_with:
                    accelerator.log({k: v for k, v in record.items() if k != "step"}, step=progress.step)
            window_loss, window_count, window_start, window_samples = torch.zeros((), device=device), 0, time.perf_counter(), 0
        if run.checkpoint_every and progress.step % run.checkpoint_every == 0:
            progress.seconds = step_start_seconds + time.perf_counter() - loop_start
            last_checkpoint = save_checkpoint(accelerator, run, progress.step)
    progress.seconds = step_start_seconds + time.perf_counter() - loop_start
    # An abandoned epoch never tells accelerate it ended: do it, so no reference (and no worker process) outlives
    # this stage when several run in one process.
    batches.close()
    if hasattr(loader, "end"):
        loader.end()
    if run.checkpoint_every and (last_checkpoint is None or not last_checkpoint.name.endswith(f"-{progress.step}")):
        last_checkpoint = save_checkpoint(accelerator, run, progress.step)
    if not math.isfinite(last_loss) and window_count:
        last_loss = float(accelerator.reduce(window_loss / window_count, reduction="mean"))
    export_dir = None
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        info = {"stage": config.stage, "steps": progress.step, "samples": progress.samples, "seconds": progress.seconds,
                "final_loss": last_loss, "stopped_by": stopped_by, "description": description, "config": config.to_dict()}
        if ema is not None:  # export the averaged weights, then put the raw ones back
            ema.store(params)
            ema.copy_to(params)
            info["ema_decay"] = run.ema_decay
        export_dir = task.export(config.export_dir, info)
        if ema is not None:
            ema.restore(params)
        print(f"[flap.training] stage {config.stage} done: {progress.step} steps, loss {last_loss:.4f}, exported to {export_dir}",
              flush=True)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    accelerator.free_memory()
    return TrainResult(progress.step, progress.samples, progress.seconds, last_loss, export_dir, last_checkpoint, stopped_by,
                       history, description)


def _should_stop(accelerator, deadline: float, micro_step: int) -> bool:
    """One process: its clock, every step.  Several: every process must stop at the same step or DDP would wait
    forever, so rank 0's clock decides, sent to all every 10 steps (each message synchronises the processes)."""
    if accelerator.num_processes == 1:
        return time.perf_counter() >= deadline
    if micro_step % 10:
        return False
    from accelerate.utils import broadcast

    flag = torch.tensor([1.0 if time.perf_counter() >= deadline else 0.0], device=accelerator.device)
    return bool(broadcast(flag, from_process=0).item() > 0.5)


def save_checkpoint(accelerator, run, step: int) -> Path:
    """``accelerator.save_state`` to <output>/checkpoints/checkpoint-<step>, keeping the newest few."""
    folder = Path(run.output_dir) / "checkpoints" / f"{CHECKPOINT_PREFIX}{step}"
    accelerator.save_state(str(folder))
    if accelerator.is_main_process and run.checkpoints_total_limit:
        for old in list_checkpoints(run.output_dir)[: -run.checkpoints_total_limit]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return folder


def _resume(accelerator, run) -> Path | None:
    if not run.resume:
        return None
    if run.resume == "latest":
        found = list_checkpoints(run.output_dir)
        if not found:
            return None
        path = found[-1]
    else:
        path = Path(run.resume)
        if not path.is_dir():
            raise FileNotFoundError(f"run.resume: checkpoint folder {path} not found")
    accelerator.load_state(str(path))
    return path


def _flat(data: dict, prefix: str = "") -> dict:
    """Nested config -> flat scalars (TensorBoard's hparams take only numbers, strings and booleans)."""
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, name + "."))
        elif isinstance(value, (int, float, str, bool)):
            out[name] = value
        else:
            out[name] = str(value)
    return out
