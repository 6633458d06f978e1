"""Model sizes and where a stage's weights come from (a previous stage's export, standard parts, or random).

Presets (random weights) for training from scratch at low resolution:
- ``tiny``: ``FLAPModelConfig.tiny`` (tests; seconds on a CPU).
- ``small``: a pixel-space model for 64-128 px experiments (about 60 M parameters, half in the ReferenceNet).
  Attention (reference, head and expression cross-attention) sits at 1/2 and 1/4 of the resolution and in the
  middle block, not at full resolution, where self-attention over every pixel would cost most of the compute.
- ``sd15``: the full SD-1.5 shape (normally composed from pretrained parts instead: ``model.base_model``).
"""

from __future__ import annotations

from dataclasses import replace

from flap.engines.diffusion.config import ConditionEncoderConfig, FLAPModelConfig, UNetConfig
from flap.training.config import ModelSpec

PRESETS = ("tiny", "small", "sd15")


def small_config(resolution: int = 64, pixel_space: bool = True) -> FLAPModelConfig:
    channels = 3 if pixel_space else 4
    factor = 1 if pixel_space else 8
    unet = UNetConfig(
        in_channels=channels, out_channels=channels, sample_size=resolution // factor,
        block_out_channels=(64, 128, 256, 256),
        down_block_types=("DownBlockMotion", "CrossAttnDownBlockMotion", "CrossAttnDownBlockMotion", "DownBlockMotion"),
        up_block_types=("UpBlockMotion", "CrossAttnUpBlockMotion", "CrossAttnUpBlockMotion", "UpBlockMotion"),
        layers_per_block=1, num_attention_heads=4, cross_attention_dim=128, norm_num_groups=32,
        motion_num_attention_heads=4, motion_max_seq_length=32, use_motion_mid_block=True,
    )
    condition = replace(ConditionEncoderConfig(), token_dim=128, hidden_dim=256, head_tokens=4, expression_tokens=8,
                        head_frequencies=4)
    return FLAPModelConfig(unet=unet, condition=condition, vae=not pixel_space)


def model_config(spec: ModelSpec) -> FLAPModelConfig:
    if spec.preset == "tiny":
        return FLAPModelConfig.tiny(pixel_space=spec.pixel_space, resolution=spec.resolution)
    if spec.preset == "small":
        return small_config(spec.resolution, spec.pixel_space)
    if spec.preset == "sd15":
        return FLAPModelConfig.sd15()
    raise ValueError(f"unknown model preset {spec.preset!r}; choose one of {', '.join(PRESETS)}")


def pixel_space_scheduler():
    """DDIM on DDPM's linear schedule, with the predicted image clipped to [-1, 1], for pixel-space models.

    SD-1.5's scaled-linear schedule was made for VAE latents and leaves images visible at the last step (signal
    scale 0.07 at t = 999, against 0.006 here), so a sampler starting from pure noise would start off the training
    distribution.  Clipping (as DDPM does in pixel space) keeps an early, imperfect noise estimate from throwing
    the trajectory out of range: on a tiny model after 1k steps it turned half of the frames from saturated noise
    into faces (mean error against the ground truth 63 -> 10.5 grey levels)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
                         clip_sample=True, clip_sample_range=1.0, set_alpha_to_one=False, steps_offset=1,
                         prediction_type="epsilon", timestep_spacing="trailing")


def new_pipeline(spec: ModelSpec):
    """Random weights of a preset (pixel-space models get the pixel-space noise schedule)."""
    from flap.engines.diffusion.pipeline import FLAPPipeline

    config = model_config(spec)
    pipe = FLAPPipeline.from_model_config(config)
    if not config.vae:
        pipe.register_modules(scheduler=pixel_space_scheduler())
    return pipe


def build_pipeline(spec: ModelSpec):
    """The FLAP pipeline a diffusion stage starts from (float32, on the CPU)."""
    from flap.engines.diffusion.pipeline import FLAPPipeline

    if spec.init_from:
        return FLAPPipeline.from_pretrained(spec.init_from)
    if spec.base_model:
        if not spec.motion_adapter:
            raise ValueError("model.base_model needs model.motion_adapter (an AnimateDiff MotionAdapter)")
        return FLAPPipeline.from_parts(spec.base_model, spec.motion_adapter, spec.audio_encoder)
    return new_pipeline(spec)


def build_audio_network(spec: ModelSpec):
    """The Audio-to-FLAME network the audio stage starts from.

    init_from: a saved pipeline with an ``audio_to_flame`` component, or a saved network folder; else a new network
    around a pretrained audio encoder (``audio_encoder``), else random weights (``tiny`` preset or the default size).
    """
    from pathlib import Path

    from flap.audio2motion.network import Audio2FlameNetwork

    if spec.init_from:
        folder = Path(spec.init_from)
        if (folder / "model_index.json").is_file():
            if (folder / "audio_to_flame" / "config.json").is_file():
                return Audio2FlameNetwork.from_pretrained(folder, subfolder="audio_to_flame")
        else:
            return Audio2FlameNetwork.from_pretrained(spec.init_from)
    if spec.audio_encoder:
        return Audio2FlameNetwork.from_audio_encoder(spec.audio_encoder)
    if spec.preset == "tiny":
        return Audio2FlameNetwork.tiny()
    return Audio2FlameNetwork()
