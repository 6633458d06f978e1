"""Attention processors (diffusers' processor mechanism) that give FLAP its two conditions.

- ``ReferenceCaptureProcessor`` (ReferenceNet): records the hidden states entering each spatial self-attention.
- ``ReferenceAttnProcessor`` (denoising UNet, spatial self-attention): appends the reference's keys/values to the
  frame's own, so every frame attends to the portrait (identity, clothes, background).  The reference keys/values
  are projected once per video and kept as plain attributes (not buffers: they never enter a checkpoint, DDP
  need not broadcast them, and ``torch.export`` sees them as the inputs they are, not as frozen constants).
- ``DecoupledConditionAttnProcessor`` (denoising UNet, cross-attention): head-motion tokens go through the
  attention's own key/value projections, expression tokens through a second pair owned by the processor; the two
  softmax attentions are summed before the shared output projection (IP-Adapter's decoupled cross-attention).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from torch import nn


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, L, H*d) -> (B, H, L, d)."""
    b, n, inner = x.shape
    return x.view(b, n, heads, inner // heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, L, d) -> (B, L, H*d)."""
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


def _finish(attn: Attention, out: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    out = attn.to_out[1](attn.to_out[0](out))
    if attn.residual_connection:
        out = out + residual
    return out / attn.rescale_output_factor


def expand_to_batch(ref: torch.Tensor, batch: int) -> torch.Tensor:
    """Reference tensors for a batch: one reference is broadcast (a view, no copy) to every row; R references
    split the batch into R equal contiguous parts (video r's frames use reference r)."""
    r = ref.shape[0]
    if r == batch:
        return ref
    if r == 1:
        return ref.expand(batch, *ref.shape[1:])
    if batch % r:
        raise ValueError(f"a batch of {batch} rows cannot be split evenly among {r} references")
    return ref.repeat_interleave(batch // r, dim=0)


class ReferenceCaptureProcessor(AttnProcessor2_0):
    """Plain SDPA self-attention that also records its input under the layer's name."""

    def __init__(self, name: str, store: dict):
        super().__init__()
        self.name = name
        self.store = store

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        self.store[self.name] = hidden_states
        return super().__call__(attn, hidden_states, *args, **kwargs)


class ReferenceAttnProcessor(nn.Module):
    """Self-attention over [frame tokens, reference tokens] with reference keys/values computed once per video."""

    def __init__(self):
        super().__init__()
        self.ref_key: torch.Tensor | None = None
        self.ref_value: torch.Tensor | None = None
        self.register_buffer("qkv_weight", None, persistent=False)

    @staticmethod
    def project_reference(attn: Attention, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(R, L, C) ReferenceNet hidden states -> this layer's (R, H, L, d) keys and values."""
        features = features.to(attn.to_k.weight.dtype)
        return _heads(attn.to_k(features), attn.heads), _heads(attn.to_v(features), attn.heads)

    def set_reference(self, key: torch.Tensor | None, value: torch.Tensor | None) -> None:
        self.ref_key, self.ref_value = key, value

    def fuse(self, attn: Attention) -> None:
        """One (3C, C) matrix product for q, k and v instead of three (inference only: the buffer is a copy)."""
        if attn.to_q.bias is None and attn.to_k.bias is None and attn.to_v.bias is None:
            self.qkv_weight = torch.cat([attn.to_q.weight, attn.to_k.weight, attn.to_v.weight]).detach()

    def unfuse(self) -> None:
        self.qkv_weight = None

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        residual = hidden_states
        if self.qkv_weight is not None:
            q, k, v = F.linear(hidden_states, self.qkv_weight).chunk(3, dim=-1)
        else:
            q, k, v = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        q, k, v = _heads(q, attn.heads), _heads(k, attn.heads), _heads(v, attn.heads)
        if self.ref_key is not None:
            batch = hidden_states.shape[0]
            k = torch.cat([k, expand_to_batch(self.ref_key, batch)], dim=2)
            v = torch.cat([v, expand_to_batch(self.ref_value, batch)], dim=2)
        out = F.scaled_dot_product_attention(q, k, v)
        return _finish(attn, _merge_heads(out).to(q.dtype), residual)


class DecoupledConditionAttnProcessor(nn.Module):
    """Cross-attention with separable head-motion and expression paths.

    ``encoder_hidden_states`` holds ``head_tokens`` head-motion tokens followed by the expression tokens.  Head
    tokens use ``attn.to_k/to_v`` (the head-motion layers, with ``to_q``/``to_out``); expression tokens use this
    processor's ``to_k_expression``/``to_v_expression`` only.
    """

    def __init__(self, hidden_size: int, cross_attention_dim: int, head_tokens: int):
        super().__init__()
        self.head_tokens = head_tokens
        self.to_k_expression = nn.Linear(cross_attention_dim, hidden_size, bias=False)
        self.to_v_expression = nn.Linear(cross_attention_dim, hidden_size, bias=False)

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        if encoder_hidden_states is None:
            raise ValueError("the FLAP cross-attention needs condition tokens (encoder_hidden_states)")
        residual = hidden_states
        head = encoder_hidden_states[:, : self.head_tokens]
        expression = encoder_hidden_states[:, self.head_tokens:]
        q = _heads(attn.to_q(hidden_states), attn.heads)
        out = F.scaled_dot_product_attention(q, _heads(attn.to_k(head), attn.heads), _heads(attn.to_v(head), attn.heads))
        out = out + F.scaled_dot_product_attention(
            q, _heads(self.to_k_expression(expression), attn.heads), _heads(self.to_v_expression(expression), attn.heads))
        return _finish(attn, _merge_heads(out).to(q.dtype), residual)
