"""The denoising UNet: diffusers' ``UNetMotionModel`` (SD-1.5 spatial layers + AnimateDiff temporal layers) with
FLAP's FLAME condition encoder, reference attention and decoupled head/expression cross-attention.

The forward pass drives the UNet's own blocks; it is written out here (rather than calling
``UNetMotionModel.forward``) for two reasons: the UNet sees motion only through the condition encoder's tokens,
and the outermost level can run alone on cached deeper features (DeepCache-style reuse across adjacent sampling
steps, ``cache``/``shallow``), which is the largest single speed-up at 20 steps.

Parameter groups for FLAP's progressive training (``parameter_groups``): ``head_motion`` (the head branch of the
condition encoder and the cross-attention q/k/v/out that read head tokens), ``expression`` (the expression
branch and the processors' expression k/v), ``temporal`` (AnimateDiff motion modules) and ``spatial`` (the rest).
They are disjoint and cover every parameter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from diffusers import ModelMixin, UNetMotionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.resnet import ResnetBlock2D
from diffusers.models.transformers.transformer_2d import Transformer2DModel
from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D
from torch import nn

from flap.engines.diffusion.attention import DecoupledConditionAttnProcessor, ReferenceAttnProcessor
from flap.engines.diffusion.condition import FLAPConditionEncoder
from flap.engines.diffusion.config import ConditionEncoderConfig
from flap.engines.diffusion.speed import allow_block_recompiles
from flap.engines.diffusion.reference_net import ReferenceFeatures, init_config, spatial_self_attention_names

PARAMETER_GROUPS = ("head_motion", "expression", "temporal", "spatial")


class ReferenceKV(dict):
    """{layer name: (key, value)} reference projections, (R, heads, tokens, head_dim) each: one per video."""


class SwitchableTemporal(AnimateDiffTransformer3D):
    """An AnimateDiff motion module that can be bypassed (image mode: stages 1-2 of training, single frames).

    Installed by swapping the class of diffusers' modules in place, so parameter names and weights are untouched.
    """

    enabled = True

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if not self.enabled:
            return hidden_states
        return super().forward(hidden_states, *args, **kwargs)


@dataclass
class DeepCache:
    """Deep features of one window from the last full step, reused by the following shallow steps."""

    feature: torch.Tensor | None = None

    def clear(self) -> None:
        self.feature = None


class FLAPDenoisingUNet(ModelMixin, ConfigMixin):
    """noisy latents (B, C, F, H, W) + timestep + FLAP condition (B, F, 120) + reference -> noise (B, C, F, H, W)."""

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(self, unet_config: dict, condition_config: dict):
        super().__init__()
        self.unet = UNetMotionModel(**unet_config)
        condition_config = ConditionEncoderConfig(**{k: tuple(v) if isinstance(v, list) else v
                                                     for k, v in condition_config.items()})
        if condition_config.token_dim != self.unet.config.cross_attention_dim:
            raise ValueError(f"condition token_dim {condition_config.token_dim} must equal the UNet's cross_attention_dim "
                             f"{self.unet.config.cross_attention_dim}")
        self.condition_encoder = FLAPConditionEncoder(condition_config)
        modules = dict(self.unet.named_modules())
        self.reference_layers = spatial_self_attention_names(self.unet)
        for name in self.reference_layers:
            modules[name].set_processor(ReferenceAttnProcessor())
            cross = modules[name[: -len("attn1")] + "attn2"]
            cross.set_processor(DecoupledConditionAttnProcessor(cross.to_k.out_features, cross.to_k.in_features,
                                                                condition_config.head_tokens))
        for module in self.unet.modules():
            if type(module) is AnimateDiffTransformer3D:
                module.__class__ = SwitchableTemporal
        self._temporal = True

    # ------------------------------------------------------------------ construction from standard parts
    @classmethod
    def from_motion_unet(cls, motion_unet: UNetMotionModel, condition: ConditionEncoderConfig) -> "FLAPDenoisingUNet":
        """Wrap a ``UNetMotionModel`` (e.g. ``UNetMotionModel.from_unet2d(sd_unet, motion_adapter)``).

        The expression key/value projections start as copies of the text cross-attention's, as IP-Adapter does.
        """
        model = cls(unet_config=init_config(motion_unet), condition_config=asdict(condition))
        missing, unexpected = model.unet.load_state_dict(motion_unet.state_dict(), strict=False)
        if unexpected or any(".processor." not in key for key in missing):
            raise ValueError(f"UNet weights do not match: missing {missing[:5]}, unexpected {unexpected[:5]}")
        modules = dict(model.unet.named_modules())
        with torch.no_grad():
            for name in model.reference_layers:
                cross = modules[name[: -len("attn1")] + "attn2"]
                cross.processor.to_k_expression.weight.copy_(cross.to_k.weight)
                cross.processor.to_v_expression.weight.copy_(cross.to_v.weight)
        return model.to(device=motion_unet.device, dtype=motion_unet.dtype)

    # ------------------------------------------------------------------ conditions
    def encode_condition(self, condition: torch.Tensor, drop_head: torch.Tensor | None = None,
                         drop_expression: torch.Tensor | None = None) -> torch.Tensor:
        """(B, F, 120) condition -> (B*F, tokens, dim); drop_* are per clip (B,) booleans."""
        batch, frames, _ = condition.shape

        def per_frame(mask):
            return None if mask is None else torch.as_tensor(mask, device=condition.device).reshape(batch).repeat_interleave(frames)

        return self.condition_encoder(condition.reshape(batch * frames, -1), per_frame(drop_head), per_frame(drop_expression))

    def project_reference(self, features: ReferenceFeatures) -> ReferenceKV:
        """ReferenceNet features -> this UNet's reference keys/values (once per video at inference)."""
        missing = [name for name in self.reference_layers if name not in features]
        if missing:
            raise ValueError(f"reference features lack {len(missing)} layers of this UNet (first: {missing[0]}); "
                             "the ReferenceNet and the denoising UNet must share one spatial layout")
        modules = dict(self.unet.named_modules())
        return ReferenceKV({name: ReferenceAttnProcessor.project_reference(modules[name], features[name])
                            for name in self.reference_layers})

    def set_reference(self, reference: ReferenceFeatures | ReferenceKV | None) -> None:
        """Install the portrait's keys/values in every reference-attention layer (None removes them)."""
        if reference is not None and not isinstance(reference, ReferenceKV):
            reference = self.project_reference(reference)
        modules = dict(self.unet.named_modules())
        for name in self.reference_layers:
            key, value = reference[name] if reference is not None else (None, None)
            modules[name].processor.set_reference(key, value)

    def set_temporal(self, enabled: bool) -> None:
        """Run (True) or bypass (False) the AnimateDiff temporal layers."""
        if enabled != self._temporal:
            for module in self.temporal_modules():
                module.enabled = enabled
            self._temporal = enabled

    def temporal_modules(self) -> list[SwitchableTemporal]:
        return [m for m in self.unet.modules() if isinstance(m, SwitchableTemporal)]

    # ------------------------------------------------------------------ parameter groups (training)
    @staticmethod
    def parameter_group_of(name: str) -> str:
        if ".motion_modules." in name:
            return "temporal"
        if name.startswith("condition_encoder.head."):
            return "head_motion"
        if name.startswith("condition_encoder.expression.") or ".attn2.processor." in name:
            return "expression"
        if ".attn2.to_" in name:
            return "head_motion"
        return "spatial"

    def parameter_groups(self) -> dict[str, dict[str, nn.Parameter]]:
        """{group: {name: parameter}} for the groups in ``PARAMETER_GROUPS`` (disjoint, covering all)."""
        groups: dict[str, dict[str, nn.Parameter]] = {g: {} for g in PARAMETER_GROUPS}
        for name, param in self.named_parameters():
            groups[self.parameter_group_of(name)][name] = param
        return groups

    def head_motion_parameters(self) -> list[nn.Parameter]:
        return list(self.parameter_groups()["head_motion"].values())

    def expression_parameters(self) -> list[nn.Parameter]:
        return list(self.parameter_groups()["expression"].values())

    def temporal_parameters(self) -> list[nn.Parameter]:
        return list(self.parameter_groups()["temporal"].values())

    def spatial_parameters(self) -> list[nn.Parameter]:
        return list(self.parameter_groups()["spatial"].values())

    # ------------------------------------------------------------------ inference speed-ups
    def fuse_qkv_projections(self) -> None:
        """One matrix product for q/k/v in the reference self-attentions (inference: a copy of the weights)."""
        modules = dict(self.unet.named_modules())
        for name in self.reference_layers:
            modules[name].processor.fuse(modules[name])

    def unfuse_qkv_projections(self) -> None:
        modules = dict(self.unet.named_modules())
        for name in self.reference_layers:
            modules[name].processor.unfuse()

    def compile_blocks(self, **compile_kwargs) -> int:
        """Regional ``torch.compile``: each resnet, spatial transformer and motion module is compiled in place.

        Blocks of one class and shape share their compiled code, so this compiles far faster than the whole UNet
        and also covers the shallow (cached) path.  Returns the number of modules compiled.
        """
        allow_block_recompiles()  # more block shapes than dynamo's default 8 variants per code object
        count = 0
        for module in self.unet.modules():
            if isinstance(module, (ResnetBlock2D, Transformer2DModel, AnimateDiffTransformer3D)):
                module.compile(**compile_kwargs)
                count += 1
        return count

    # ------------------------------------------------------------------ forward
    @property
    def deep_cache_branches(self) -> int:
        """Valid ``cache_branch`` values are 0..this (how many outer layer pairs the shallow pass recomputes - 1)."""
        return len(self.unet.down_blocks[0].resnets)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor | float | int, condition: torch.Tensor | None = None,
                *, tokens: torch.Tensor | None = None, drop_head: torch.Tensor | None = None,
                drop_expression: torch.Tensor | None = None, reference: ReferenceFeatures | ReferenceKV | None = None,
                temporal: bool | None = None, cache: DeepCache | None = None, shallow: bool = False,
                cache_branch: int = 0) -> torch.Tensor:
        """Predict the noise.

        sample: (B, C, F, H, W); timestep: scalar or (B,); condition: (B, F, 120), or ``tokens`` (B*F, N, D) from
        ``encode_condition``; reference: ReferenceNet features or projected keys/values (None keeps the installed
        ones); temporal: False bypasses the temporal layers (image mode), None keeps ``set_temporal``'s choice.
        cache: a full pass stores its deep features there; shallow=True reuses them and recomputes only the
        outermost ``cache_branch + 1`` layers of the last up block (and ``cache_branch`` of the first down block).
        """
        batch, _, frames, height, width = sample.shape
        if tokens is None:
            if condition is None:
                raise ValueError("pass the FLAP condition (B, F, 120) or its tokens")
            tokens = self.encode_condition(condition, drop_head, drop_expression)
        if reference is not None:
            self.set_reference(reference)
        if temporal is not None:
            self.set_temporal(temporal)
        unet = self.unet
        dtype = unet.conv_in.weight.dtype
        tokens = tokens.to(dtype)

        timesteps = torch.as_tensor(timestep, device=sample.device)
        timesteps = timesteps.reshape(-1).expand(batch) if timesteps.numel() == 1 else timesteps.reshape(batch)
        emb = unet.time_embedding(unet.time_proj(timesteps).to(dtype))
        emb = emb.repeat_interleave(frames, dim=0)

        x = sample.permute(0, 2, 1, 3, 4).reshape(batch * frames, -1, height, width).to(dtype)
        x = unet.conv_in(x)
        first, last = unet.down_blocks[0], unet.up_blocks[-1]
        n_up = len(last.resnets)
        if not 0 <= cache_branch <= self.deep_cache_branches:
            raise ValueError(f"cache_branch must be between 0 and {self.deep_cache_branches}")
        resume = n_up - 1 - cache_branch  # the last up block's layer whose input is cached
        res = [x]
        h = x
        if shallow:
            if cache is None or cache.feature is None:
                raise ValueError("a shallow pass needs the deep features of an earlier full pass")
            for i in range(cache_branch):
                h = self._layer(first, i, h, emb, tokens, frames)
                res.append(h)
            h = cache.feature
            if h.shape[0] != x.shape[0]:  # cached with guidance, used without: the conditional half comes first
                h = h[: x.shape[0]]
        else:
            for i in range(len(first.resnets)):
                h = self._layer(first, i, h, emb, tokens, frames)
                res.append(h)
            if first.downsamplers is not None:
                h = first.downsamplers[0](h)
                res.append(h)
            for block in unet.down_blocks[1:]:
                if getattr(block, "has_cross_attention", False):
                    h, states = block(hidden_states=h, temb=emb, encoder_hidden_states=tokens, num_frames=frames)
                else:
                    h, states = block(hidden_states=h, temb=emb, num_frames=frames)
                res.extend(states)
            if unet.mid_block is not None:
                if hasattr(unet.mid_block, "motion_modules"):
                    h = unet.mid_block(h, emb, encoder_hidden_states=tokens, num_frames=frames)
                else:
                    h = unet.mid_block(h, emb, encoder_hidden_states=tokens)
            forward_size = any(s % (2 ** unet.num_upsamplers) for s in (height, width))
            for block in unet.up_blocks[:-1]:
                skips, res = tuple(res[-len(block.resnets):]), res[: -len(block.resnets)]
                size = res[-1].shape[2:] if forward_size else None
                if getattr(block, "has_cross_attention", False):
                    h = block(hidden_states=h, temb=emb, res_hidden_states_tuple=skips, encoder_hidden_states=tokens,
                              upsample_size=size, num_frames=frames)
                else:
                    h = block(hidden_states=h, temb=emb, res_hidden_states_tuple=skips, upsample_size=size,
                              num_frames=frames)
            for j in range(resume):
                h = self._layer(last, j, h, emb, tokens, frames, skip=res.pop())
            if cache is not None:
                cache.feature = h
        for j in range(resume, n_up):
            h = self._layer(last, j, h, emb, tokens, frames, skip=res.pop())

        if unet.conv_norm_out is not None:
            h = unet.conv_act(unet.conv_norm_out(h))
        h = unet.conv_out(h)
        return h.reshape(batch, frames, *h.shape[1:]).permute(0, 2, 1, 3, 4)

    @staticmethod
    def _layer(block: nn.Module, i: int, h: torch.Tensor, emb: torch.Tensor, tokens: torch.Tensor, frames: int,
               skip: torch.Tensor | None = None) -> torch.Tensor:
        """Layer i of a motion block: (skip concat,) resnet, spatial transformer, motion module - as the block does."""
        if skip is not None:
            h = torch.cat([h, skip], dim=1)
        resnet = block.resnets[i]
        if torch.is_grad_enabled() and block.gradient_checkpointing:
            h = block._gradient_checkpointing_func(resnet, h, emb)
        else:
            h = resnet(h, emb)
        attentions = getattr(block, "attentions", None)
        if attentions is not None:
            h = attentions[i](h, encoder_hidden_states=tokens, return_dict=False)[0]
        return block.motion_modules[i](h, num_frames=frames)
