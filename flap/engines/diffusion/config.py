"""Typed configurations of the FLAP diffusion model: the full SD-1.5-shaped size and tiny sizes for tests/training.

One ``UNetConfig`` describes the spatial layout shared by the ReferenceNet (a ``UNet2DConditionModel``) and the
denoising UNet (a ``UNetMotionModel``): both are built from it, so their self-attention layers have the same names
and shapes, which is what reference attention relies on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from flap.motion.representation import CONDITION_DIM, EXPRESSION_COLUMNS, HEAD_MOTION_COLUMNS

_MOTION_TO_2D = {
    "CrossAttnDownBlockMotion": "CrossAttnDownBlock2D",
    "DownBlockMotion": "DownBlock2D",
    "CrossAttnUpBlockMotion": "CrossAttnUpBlock2D",
    "UpBlockMotion": "UpBlock2D",
}


@dataclass(frozen=True)
class UNetConfig:
    """Spatial UNet layout (defaults: Stable Diffusion 1.5) plus AnimateDiff temporal layers."""

    in_channels: int = 4
    out_channels: int = 4
    sample_size: int = 64  # latent side; 512 px through the SD VAE
    block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280)
    down_block_types: tuple[str, ...] = ("CrossAttnDownBlockMotion",) * 3 + ("DownBlockMotion",)
    up_block_types: tuple[str, ...] = ("UpBlockMotion",) + ("CrossAttnUpBlockMotion",) * 3
    layers_per_block: int = 2
    num_attention_heads: int = 8
    cross_attention_dim: int = 768
    norm_num_groups: int = 32
    # AnimateDiff motion modules (v2/v3 layout: 8 heads, 32 positions, a motion mid block)
    motion_num_attention_heads: int = 8
    motion_max_seq_length: int = 32
    use_motion_mid_block: bool = True

    def motion_unet_kwargs(self) -> dict:
        """Arguments of diffusers' ``UNetMotionModel``."""
        return dict(
            in_channels=self.in_channels,
            out_channels=self.out_channels,
            sample_size=self.sample_size,
            block_out_channels=list(self.block_out_channels),
            down_block_types=list(self.down_block_types),
            up_block_types=list(self.up_block_types),
            layers_per_block=self.layers_per_block,
            num_attention_heads=self.num_attention_heads,
            cross_attention_dim=self.cross_attention_dim,
            norm_num_groups=self.norm_num_groups,
            motion_num_attention_heads=self.motion_num_attention_heads,
            motion_max_seq_length=self.motion_max_seq_length,
            use_motion_mid_block=self.use_motion_mid_block,
        )

    def unet2d_kwargs(self) -> dict:
        """Arguments of the matching ``UNet2DConditionModel`` (the ReferenceNet).

        SD-1.5's config names the head count ``attention_head_dim`` (a known diffusers naming quirk), so the head
        count goes there to get the same heads as the motion UNet.
        """
        return dict(
            in_channels=self.in_channels,
            out_channels=self.out_channels,
            sample_size=self.sample_size,
            block_out_channels=list(self.block_out_channels),
            down_block_types=[_MOTION_TO_2D[t] for t in self.down_block_types],
            up_block_types=[_MOTION_TO_2D[t] for t in self.up_block_types],
            layers_per_block=self.layers_per_block,
            attention_head_dim=self.num_attention_heads,
            cross_attention_dim=self.cross_attention_dim,
            norm_num_groups=self.norm_num_groups,
        )


@dataclass(frozen=True)
class ConditionEncoderConfig:
    """The FLAME condition encoder: 120-D per frame -> head-motion tokens and expression tokens.

    Several tokens per branch (not one) because attention over a single key returns that key's value at every
    pixel; with a few keys each position can choose what it takes.
    """

    condition_dim: int = CONDITION_DIM
    head_columns: tuple[int, int] = (HEAD_MOTION_COLUMNS.start, HEAD_MOTION_COLUMNS.stop)
    expression_columns: tuple[int, int] = (EXPRESSION_COLUMNS.start, EXPRESSION_COLUMNS.stop)
    token_dim: int = 768  # = the UNet's cross_attention_dim
    hidden_dim: int = 1024
    head_tokens: int = 4
    expression_tokens: int = 8
    head_frequencies: int = 6  # sinusoidal embedding of the head angles: sin/cos(2^k * angle), k < this


@dataclass(frozen=True)
class FLAPModelConfig:
    """Everything needed to build a FLAP model with random weights.

    vae: True builds an SD-1.5-shaped AutoencoderKL (latents are images / 8); False means pixel space: the
    "latent" is the RGB image itself at ``resolution`` (for tiny models trained at low resolution in minutes).
    """

    unet: UNetConfig = field(default_factory=UNetConfig)
    condition: ConditionEncoderConfig = field(default_factory=ConditionEncoderConfig)
    vae: bool = True
    vae_block_out_channels: tuple[int, ...] = (128, 256, 512, 512)
    vae_norm_num_groups: int = 32
    reference_context_tokens: int = 1

    @property
    def resolution(self) -> int:
        """Side of the square crop, in pixels."""
        return self.unet.sample_size * self.latent_factor

    @property
    def latent_factor(self) -> int:
        return 2 ** (len(self.vae_block_out_channels) - 1) if self.vae else 1

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def sd15(cls) -> "FLAPModelConfig":
        """Full size: SD-1.5 UNet and VAE, AnimateDiff v2/v3 motion modules, 512x512 crops."""
        return cls()

    @classmethod
    def tiny(cls, pixel_space: bool = False, resolution: int = 32) -> "FLAPModelConfig":
        """A few-hundred-thousand-parameter model for tests, or for training a small model in minutes.

        pixel_space=True drops the VAE: the UNet denoises ``resolution``-sized RGB images directly.
        """
        channels = 3 if pixel_space else 4
        factor = 1 if pixel_space else 2
        unet = UNetConfig(
            in_channels=channels,
            out_channels=channels,
            sample_size=resolution // factor,
            block_out_channels=(32, 64),
            down_block_types=("CrossAttnDownBlockMotion", "DownBlockMotion"),
            up_block_types=("UpBlockMotion", "CrossAttnUpBlockMotion"),
            layers_per_block=1,
            num_attention_heads=2,
            cross_attention_dim=32,
            norm_num_groups=8,
            motion_num_attention_heads=2,
            motion_max_seq_length=32,
            use_motion_mid_block=True,
        )
        condition = replace(ConditionEncoderConfig(), token_dim=32, hidden_dim=64, head_tokens=2, expression_tokens=3,
                            head_frequencies=3)
        return cls(unet=unet, condition=condition, vae=not pixel_space, vae_block_out_channels=(16, 32),
                   vae_norm_num_groups=8)
