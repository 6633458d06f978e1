"""Typed training configurations, loadable from YAML (configs/*.yaml) and overridable from the command line.

One ``TrainConfig`` describes one run of one stage: FLAP's three progressively focused stages (``"1"`` head
motion, ``"2"`` expression, ``"3"`` video) or ``"audio"`` (Audio-to-FLAME).  Nested sections keep unrelated knobs
apart (model, data, optimiser, run, audio); every field has a default, so a YAML file names only what it changes.
"""

from __future__ import annotations

import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

STAGES = ("1", "2", "3", "all", "audio")  # "all": one stage training everything (the ablation baseline)


@dataclass
class ModelSpec:
    """Where the weights of a stage start.

    init_from: a saved FLAP pipeline (folder or hub id), usually the previous stage's export; when set it wins.
    preset: random weights of a named size (flap.training.models.PRESETS) when nothing is loaded.
    base_model / motion_adapter / audio_encoder: compose from standard parts (SD-1.5 layout + AnimateDiff,
        wav2vec2) as the paper does; used when init_from is empty and base_model is set.
    """

    init_from: str | None = None
    preset: str = "tiny"
    resolution: int = 64
    pixel_space: bool = True
    base_model: str | None = None
    motion_adapter: str | None = None
    audio_encoder: str | None = None


@dataclass
class DataSpec:
    """The prepared dataset (a folder with manifest.json, written by ``prepare-data`` or ``synthetic``)."""

    root: str = "data/train"
    head_motion_top_fraction: float = 0.2  # stage 1 trains on the clips with the most head motion (paper: 20%)
    frames_per_clip: int = 16  # stage 3 window of consecutive frames
    reference: str = "clip"  # "clip": reference frame from the same clip; "identity": any clip of the same person
    split: str = "train"  # clips whose manifest split is this (held-out clips are left out)
    num_workers: int = 2


@dataclass
class OptimSpec:
    learning_rate: float = 1e-5
    weight_decay: float = 1e-2
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    lr_scheduler: str = "constant_with_warmup"  # any name diffusers.optimization.get_scheduler knows
    lr_warmup_steps: int = 0


@dataclass
class RunSpec:
    """How the loop runs: sizes, precision, checkpoints, logs, budgets."""

    output_dir: str = "runs/flap"
    batch_size: int = 4  # per device (per process)
    gradient_accumulation_steps: int = 1
    max_steps: int = 1000
    max_seconds: float | None = None  # wall-clock budget of the loop; it stops, checkpoints and exports in time
    mixed_precision: str = "auto"  # "auto" = bf16 on CUDA, none on CPU; or "no" / "bf16" / "fp16"
    gradient_checkpointing: bool = True
    checkpoint_every: int = 500  # optimisation steps between resumable checkpoints
    checkpoints_total_limit: int = 2
    resume: str | None = "latest"  # "latest" (if any), a checkpoint folder, or None to start fresh
    log_every: int = 10
    report_to: str = "tensorboard"  # or "none"; TensorBoard falls back to none (with a warning) if not installed
    seed: int = 0
    export_dir: str | None = None  # default: <output_dir>/pipeline
    allow_tf32: bool = True
    # Exponential moving average of the trained weights (diffusers' EMAModel, with warm-up); the export holds the
    # averaged weights.  Diffusion samples are much cleaner from averaged weights, most of all in short runs.
    ema_decay: float | None = None


@dataclass
class DiffusionSpec:
    """Diffusion-loss knobs of stages 1-3."""

    uncond_probability: float = 0.1  # drop the whole condition (classifier-free guidance at sampling)
    snr_gamma: float | None = 5.0  # min-SNR-gamma loss weighting (Hang et al. 2023); None = plain MSE
    stage2_feed_head: bool = True  # stage 2 still gives the head tokens through the frozen head-motion path
    # Stage 3 from a model whose temporal layers never trained (no AnimateDiff weights): zero their output
    # projections first, so they start as the identity and the video stage begins at the image stages' quality.
    zero_init_temporal: bool = False
    # Weight of the mouth's pixels in the denoising loss, on top of 1 everywhere (0 = the plain loss): the mouth
    # is ~2 % of a 96 px frame, so the plain loss barely asks for the lips (the lip-mask losses of Hallo and
    # EchoMimic).  Needs batches with a "mouth_box" (B, F, 4) in the denoised resolution's pixels (the synthetic
    # set's mouth_boxes.npy, via flap.training.resident).
    mouth_weight: float = 0.0


@dataclass
class AudioSpec:
    """Audio-to-FLAME training."""

    window_frames: int = 50  # frames per training window (2 s at 25 fps)
    freeze_feature_encoder: bool = True  # wav2vec2's convolutional front end
    freeze_audio_encoder: bool = False  # the whole wav2vec2 (then cached features are used when present)
    use_cached_features: bool = True
    pipeline: str | None = None  # a saved FLAP pipeline to put the trained network into (exported beside it)
    loss_weights: dict[str, float] = field(default_factory=lambda: {
        "global_rotation": 1.0, "eyes": 0.5, "jaw": 4.0, "eyelids": 1.0, "expression": 0.1})
    velocity_weight: float = 0.5


@dataclass
class TrainConfig:
    stage: str = "1"
    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    optim: OptimSpec = field(default_factory=OptimSpec)
    run: RunSpec = field(default_factory=RunSpec)
    diffusion: DiffusionSpec = field(default_factory=DiffusionSpec)
    audio: AudioSpec = field(default_factory=AudioSpec)

    def validated(self) -> "TrainConfig":
        self.stage = str(self.stage)
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}; got {self.stage!r}")
        if not 0 < self.data.head_motion_top_fraction <= 1:
            raise ValueError("data.head_motion_top_fraction must be in (0, 1]")
        if self.data.reference not in ("clip", "identity"):
            raise ValueError("data.reference must be 'clip' or 'identity'")
        if self.run.batch_size < 1 or self.run.gradient_accumulation_steps < 1 or self.run.max_steps < 1:
            raise ValueError("run.batch_size, run.gradient_accumulation_steps and run.max_steps must be >= 1")
        if self.run.mixed_precision not in ("auto", "no", "bf16", "fp16"):
            raise ValueError("run.mixed_precision must be auto, no, bf16 or fp16")
        if self.stage in ("3", "all") and self.data.frames_per_clip < 2:
            raise ValueError("stage 3 trains temporal layers: data.frames_per_clip must be >= 2")
        return self

    @property
    def export_dir(self) -> Path:
        return Path(self.run.export_dir) if self.run.export_dir else Path(self.run.output_dir) / "pipeline"

    def to_dict(self) -> dict:
        return asdict(self)

    def save_yaml(self, path: str | Path) -> Path:
        import yaml

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        return _build(cls, data or {}, "config").validated()

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> "TrainConfig":
        import yaml

        data = yaml.safe_load(Path(path).read_text()) or {}
        for item in overrides:
            apply_override(data, item)
        return cls.from_dict(data)


def apply_override(data: dict, item: str) -> None:
    """``section.key=value`` (value parsed as YAML, so numbers, booleans and null work) into a nested dict."""
    import yaml

    if "=" not in item:
        raise ValueError(f"an override must look like section.key=value; got {item!r}")
    key, value = item.split("=", 1)
    node = data
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = yaml.safe_load(value)


def _build(cls, data: dict, where: str):
    """Nested dicts -> dataclasses, refusing unknown keys (a typo should fail, not be ignored)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping; got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown key(s) in {where}: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for name, value in data.items():
        values[name] = _coerce(hints[name], value, f"{where}.{name}")
    return cls(**values)


def _coerce(hint, value, where: str):
    origin = typing.get_origin(hint)
    if is_dataclass(hint):
        return _build(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(args[0], value, where) if len(args) == 1 else value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # stage: 1 in YAML means "1"
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    return value
