"""ReferenceNet: a copy of the denoising UNet's spatial part that encodes the portrait once per video.

It is diffusers' ``UNet2DConditionModel``, run at timestep 0 on the reference latent; a capture processor on each
spatial self-attention records the hidden states entering it.  Those features, keyed by layer name, join the
denoising UNet's self-attention of the same name (see ``FLAPDenoisingUNet.set_reference``).
"""

from __future__ import annotations

import torch
from diffusers import ModelMixin, UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.attention_processor import Attention
from torch import nn

from flap.engines.diffusion.attention import ReferenceCaptureProcessor

ReferenceFeatures = dict[str, torch.Tensor]


def init_config(model: ModelMixin) -> dict:
    """A diffusers model's config as constructor arguments (without the bookkeeping keys such as _class_name)."""
    return {k: v for k, v in dict(model.config).items() if not k.startswith("_")}


def spatial_self_attention_names(model: nn.Module) -> list[str]:
    """Names of the spatial self-attention modules (``...transformer_blocks.N.attn1``), temporal layers excluded."""
    return [name for name, module in model.named_modules()
            if isinstance(module, Attention) and name.endswith(".attn1") and "motion_modules" not in name]


class FLAPReferenceNet(ModelMixin, ConfigMixin):
    """Reference image latent (R, C, H, W) -> {layer name: (R, H*W, C_layer) features}.

    ``context`` is the ReferenceNet's cross-attention input: learned tokens (zeros at the start, i.e. "no text"),
    since the reference path sees no motion.
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(self, unet_config: dict, context_tokens: int = 1):
        super().__init__()
        self.unet = UNet2DConditionModel(**unet_config)
        self.context = nn.Parameter(torch.zeros(1, context_tokens, self.unet.config.cross_attention_dim))
        self._store: dict[str, torch.Tensor] = {}
        self.layer_names = spatial_self_attention_names(self.unet)
        modules = dict(self.unet.named_modules())
        for name in self.layer_names:
            modules[name].set_processor(ReferenceCaptureProcessor(name, self._store))

    @classmethod
    def from_unet2d(cls, unet2d: UNet2DConditionModel, context_tokens: int = 1) -> "FLAPReferenceNet":
        """Wrap pretrained SD weights (the ReferenceNet is initialised from the same UNet as the denoiser)."""
        model = cls(unet_config=init_config(unet2d), context_tokens=context_tokens)
        model.unet.load_state_dict(unet2d.state_dict())
        return model.to(device=unet2d.device, dtype=unet2d.dtype)

    def forward(self, reference_latent: torch.Tensor) -> ReferenceFeatures:
        batch = reference_latent.shape[0]
        self._store.clear()
        timestep = torch.zeros(batch, device=reference_latent.device, dtype=torch.long)
        context = self.context.to(reference_latent.dtype).expand(batch, -1, -1)
        self.unet(reference_latent.to(self.dtype), timestep, encoder_hidden_states=context.to(self.dtype))
        features = dict(self._store)
        self._store.clear()
        return features
