"""Stages 1-3: the denoising loss ||eps - eps_theta(z_t, t, condition, reference)||^2 on a FLAP pipeline.

``DiffusionTrainingModule`` is what accelerate wraps (and DDP replicates): the ReferenceNet and the denoising UNet,
so gradients reach both through the reference attention.  The VAE (latent models) stays outside, frozen.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from flap.training.config import TrainConfig
from flap.training.datasets import DiffusionDataset, load_training_clips, top_head_motion
from flap.training.models import build_pipeline
from flap.training.stages import StagePlan, plan_for


def zero_temporal_outputs(denoising_unet: nn.Module) -> int:
    """Zero the output projection of every temporal (AnimateDiff) block: each becomes an exact identity (its
    output is residual + 0) that still receives gradients.  Returns how many were zeroed."""
    count = 0
    with torch.no_grad():
        for module in denoising_unet.temporal_modules():
            module.proj_out.weight.zero_()
            if module.proj_out.bias is not None:
                module.proj_out.bias.zero_()
            count += 1
    return count


def box_mask(boxes: torch.Tensor, size: tuple[int, int], image_size: int) -> torch.Tensor:
    """(B, F, 4) boxes x0, y0, x1, y1 in image pixels -> (B, 1, F, h, w) soft masks on the denoised grid: each
    cell's covered fraction of the box (so a box a few pixels wide still weighs in proportion to its area)."""
    h, w = size
    scale = torch.tensor([w, h, w, h], device=boxes.device, dtype=torch.float32) / image_size
    b = boxes.float() * scale
    ys = torch.arange(h, device=boxes.device, dtype=torch.float32)
    xs = torch.arange(w, device=boxes.device, dtype=torch.float32)
    cover_x = ((torch.minimum(xs + 1, b[..., 2:3]) - torch.maximum(xs, b[..., 0:1])).clamp(min=0))  # (B, F, w)
    cover_y = ((torch.minimum(ys + 1, b[..., 3:4]) - torch.maximum(ys, b[..., 1:2])).clamp(min=0))  # (B, F, h)
    return (cover_y[..., :, None] * cover_x[..., None, :]).unsqueeze(1)


class DiffusionTrainingModule(nn.Module):
    """noisy latents (B, C, F, h, w) + timesteps + condition (B, F, 120) + reference latent (B, C, h, w) -> noise."""

    def __init__(self, reference_net: nn.Module, denoising_unet: nn.Module, temporal: bool):
        super().__init__()
        self.reference_net = reference_net
        self.denoising_unet = denoising_unet
        self.temporal = temporal

    def forward(self, noisy: torch.Tensor, timesteps: torch.Tensor, condition: torch.Tensor, reference: torch.Tensor,
                drop_head: torch.Tensor, drop_expression: torch.Tensor) -> torch.Tensor:
        if any(p.requires_grad for p in self.reference_net.parameters()):
            features = self.reference_net(reference)
        else:  # stage 3: the ReferenceNet is frozen, so no activations are kept for it
            with torch.no_grad():
                features = self.reference_net(reference)
        return self.denoising_unet(noisy, timesteps, condition, drop_head=drop_head, drop_expression=drop_expression,
                                   reference=features, temporal=self.temporal)


class DiffusionTask:
    """Everything stage-specific the training loop needs: model, trainable parameters, data, loss, export."""

    def __init__(self, config: TrainConfig, pipe=None):
        """pipe: train this pipeline in place instead of building one from ``config.model`` (several stages in
        one process, as ``flap.training.resident`` does)."""
        self.config = config
        self.plan: StagePlan = plan_for(config)
        self.pipe = pipe if pipe is not None else build_pipeline(config.model)
        self.resolution = self.pipe.resolution
        if self.plan.temporal and config.diffusion.zero_init_temporal:
            zero_temporal_outputs(self.pipe.denoising_unet)
        self.trainable = self.pipe.set_training_stage(self.plan.stage)
        if config.run.gradient_checkpointing:
            self.pipe.reference_net.enable_gradient_checkpointing()
            self.pipe.denoising_unet.enable_gradient_checkpointing()
        self.module = DiffusionTrainingModule(self.pipe.reference_net, self.pipe.denoising_unet, self.plan.temporal)
        self.module.train()
        self.scheduler = self.pipe.scheduler
        manifest, clips = load_training_clips(config.data.root, config.data.split)
        self.fps = manifest.fps
        if self.plan.top_head_motion is not None:
            clips = top_head_motion(clips, self.plan.top_head_motion)
        self.clips = clips
        self.dataset = DiffusionDataset(config.data.root, clips, self.plan.frames, self.resolution, config.data.reference)

    # ------------------------------------------------------------------ loop interface
    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.trainable if p.requires_grad]

    def to(self, device: torch.device, dtype: torch.dtype | None = None) -> None:
        """Frozen helpers the loop does not prepare (the VAE) go to the device here."""
        if self.pipe.vae is not None:
            self.pipe.vae.to(device, dtype=dtype or torch.float32)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, R, R) in [-1, 1] -> what the UNet denoises (the image itself in pixel space)."""
        vae = self.pipe.vae
        if vae is None:
            return images
        return vae.encode(images.to(vae.dtype)).latent_dist.sample() * vae.config.scaling_factor

    def loss(self, module: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        target, reference, condition = batch["target"], batch["reference"], batch["condition"]
        b, f = target.shape[:2]
        latents = self.encode(target.flatten(0, 1)).float()
        latents = latents.reshape(b, f, *latents.shape[1:]).permute(0, 2, 1, 3, 4)  # (B, C, F, h, w)
        ref_latent = self.encode(reference).float()
        noise = torch.randn_like(latents)
        timesteps = torch.randint(0, self.scheduler.config.num_train_timesteps, (b,), device=latents.device)
        noisy = self.scheduler.add_noise(latents, noise, timesteps)
        uncond = torch.rand(b, device=latents.device) < self.config.diffusion.uncond_probability
        drop_head = uncond | self.plan.always_drop_head
        drop_expression = uncond | self.plan.always_drop_expression
        pred = module(noisy, timesteps, condition, ref_latent, drop_head, drop_expression)
        error = F.mse_loss(pred.float(), noise, reduction="none")
        weight = self.config.diffusion.mouth_weight
        if weight:
            if "mouth_box" not in batch:
                raise ValueError("diffusion.mouth_weight needs batches with a 'mouth_box' (the synthetic set's)")
            mask = 1.0 + weight * box_mask(batch["mouth_box"], latents.shape[-2:], target.shape[-1])
            per_sample = (error * mask).sum(dim=(1, 2, 3, 4)) / (mask.sum(dim=(1, 2, 3, 4)) * error.shape[1])
        else:
            per_sample = error.mean(dim=(1, 2, 3, 4))
        gamma = self.config.diffusion.snr_gamma
        if gamma:
            from diffusers.training_utils import compute_snr

            snr = compute_snr(self.scheduler, timesteps)
            per_sample = per_sample * (torch.clamp(snr, max=gamma) / snr)
        return per_sample.mean()

    def after_backward(self, module: nn.Module) -> None:
        """Drop the batch's reference keys/values from the attention layers (after backward: gradient
        checkpointing recomputes the forward, reference included)."""
        self.pipe.denoising_unet.set_reference(None)

    def export(self, folder: Path, info: dict) -> Path:
        """A pipeline folder that ``FLAPPipeline.from_pretrained`` loads and the app selects ($FLAP_MODEL)."""
        return save_pipeline(self.pipe, folder, info)

    def describe(self) -> dict:
        groups = self.pipe.parameter_groups()
        return {
            "stage": self.plan.stage, "stage_name": self.plan.name, "frames_per_sample": self.plan.frames,
            "clips": len(self.clips), "samples": len(self.dataset), "resolution": self.resolution,
            "trained_groups": [g for g, ps in groups.items() if any(p.requires_grad for p in ps.values())],
            "trainable_parameters": sum(p.numel() for p in self.trainable_parameters()),
            "total_parameters": sum(p.numel() for ps in groups.values() for p in ps.values()),
        }


def save_pipeline(pipe, folder: Path, info: dict) -> Path:
    """``pipe`` saved for ``FLAPPipeline.from_pretrained``, with the run's ``info`` in training_info.json (no batch's
    reference left in the attention layers)."""
    pipe.denoising_unet.set_reference(None)
    folder = Path(folder)
    pipe.save_pretrained(folder)
    (folder / "training_info.json").write_text(json.dumps(info, indent=1, default=str))
    return folder
