"""Audio-to-FLAME training on (speech, tracked motion) pairs: a weighted regression of the 120-D condition.

The loss weighs each part of the condition (the jaw matters most for lip sync; FLAME expression is zero in data
tracked without a FLAME fit, so it weighs little) and adds a velocity term so the motion's dynamics match,
not only its average.  With the whole audio encoder frozen and features cached by ``prepare-data``, the encoder
is skipped: a stand-in module hands the cached states to the network's own forward.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from flap.motion.representation import CONDITION_LAYOUT
from flap.training.config import TrainConfig
from flap.training.datasets import AudioMotionDataset, load_training_clips
from flap.training.models import build_audio_network


class CachedAudioEncoder(nn.Module):
    """Stands in for the (frozen) wav2vec2 when its hidden states were cached: returns its input as them."""

    def forward(self, features: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(last_hidden_state=features)


class AudioTrainingModule(nn.Module):
    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, signal: torch.Tensor, num_frames: int, emotion: torch.Tensor, intensity: torch.Tensor,
                style: torch.Tensor) -> torch.Tensor:
        return self.network(signal, num_frames, emotion, intensity, style)


def condition_loss(pred: torch.Tensor, target: torch.Tensor, weights: dict[str, float], velocity_weight: float) -> torch.Tensor:
    """Weighted MSE over the condition's parts plus the same on frame-to-frame differences."""
    total = pred.new_zeros(())
    for name, (a, b) in CONDITION_LAYOUT.items():
        w = float(weights.get(name, 1.0))
        if w == 0:
            continue
        p, t = pred[..., a:b].float(), target[..., a:b].float()
        total = total + w * torch.mean((p - t) ** 2)
        if velocity_weight and pred.shape[1] > 1:
            total = total + w * velocity_weight * torch.mean(((p[:, 1:] - p[:, :-1]) - (t[:, 1:] - t[:, :-1])) ** 2)
    return total


class AudioTask:
    def __init__(self, config: TrainConfig):
        self.config = config
        spec = config.audio
        self.network = build_audio_network(config.model)
        encoder = self.network.audio_encoder
        # Stochastic layer skipping and time masking change which parameters are used from step to step, which DDP
        # (without the slower unused-parameter search) cannot follow; both are regularisers, off here.
        encoder.config.layerdrop = 0.0
        encoder.config.mask_time_prob = 0.0
        self.network.requires_grad_(True)
        if spec.freeze_audio_encoder:
            encoder.requires_grad_(False)
        elif spec.freeze_feature_encoder:
            self.network.freeze_audio_feature_encoder()
        self.real_encoder = encoder
        manifest, clips = load_training_clips(config.data.root, config.data.split)
        self.use_features = bool(spec.freeze_audio_encoder and spec.use_cached_features
                                 and any(c.has_audio_encoder_features for c in clips))
        if self.use_features:
            self.network.audio_encoder = CachedAudioEncoder()
        self.clips = clips
        self.dataset = AudioMotionDataset(config.data.root, clips, spec.window_frames, manifest.fps, manifest.sample_rate,
                                          use_cached_features=self.use_features, num_styles=self.network.config.num_styles)
        self.module = AudioTrainingModule(self.network)
        self.module.train()
        if config.run.gradient_checkpointing and not self.use_features:
            # transformers renamed the switch (v5.2x); older versions only have the first name
            enable = getattr(encoder, "activation_checkpointing_enable", None) or encoder.gradient_checkpointing_enable
            enable()

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.network.parameters() if p.requires_grad]

    def to(self, device: torch.device, dtype: torch.dtype | None = None) -> None:
        self.real_encoder.to(device)

    def loss(self, module: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        signal = batch["features"] if self.use_features else batch["audio"]
        target = batch["condition"]
        pred = module(signal, target.shape[1], batch["emotion"], batch["intensity"], batch["style"])
        spec = self.config.audio
        return condition_loss(pred, target, spec.loss_weights, spec.velocity_weight)

    def after_backward(self, module: nn.Module) -> None:
        pass

    def export(self, folder: Path, info: dict) -> Path:
        """The trained network inside a FLAP pipeline (audio.pipeline or model.init_from, when that is a pipeline),
        else as a network folder (``Audio2FlameNetwork.from_pretrained``)."""
        self.network.audio_encoder = self.real_encoder
        folder = Path(folder)
        pipeline = self.config.audio.pipeline
        if not pipeline and self.config.model.init_from and (Path(self.config.model.init_from) / "model_index.json").is_file():
            pipeline = self.config.model.init_from
        if pipeline:
            from flap.engines.diffusion.pipeline import FLAPPipeline

            pipe = FLAPPipeline.from_pretrained(pipeline)
            pipe.register_modules(audio_to_flame=self.network)
            pipe.save_pretrained(folder)
        else:
            self.network.save_pretrained(folder)
        (folder / "training_info.json").write_text(json.dumps(info, indent=1, default=str))
        if self.use_features:
            self.network.audio_encoder = CachedAudioEncoder()
        return folder

    def describe(self) -> dict:
        return {
            "stage": "audio", "clips": len(self.clips), "windows": len(self.dataset), "cached_features": self.use_features,
            "trainable_parameters": sum(p.numel() for p in self.trainable_parameters()),
            "total_parameters": sum(p.numel() for p in self.real_encoder.parameters())
            + sum(p.numel() for n, p in self.network.named_parameters() if not n.startswith("audio_encoder.")),
        }
