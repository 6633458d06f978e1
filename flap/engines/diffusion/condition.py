"""FLAME condition encoder: the per-frame 120-D condition becomes two separate sets of attention tokens.

Head motion (global rotation, columns 0:3) and expression (eyes, jaw, eyelids, FLAME expression, columns 3:120) go
through disjoint networks and, in the UNet, through disjoint key/value projections (see attention.py).  FLAP's
progressive training freezes the head-motion path while it learns expression, so that pose cannot be inferred
from expression coefficients; keeping the two paths apart end to end is what makes that freezing meaningful.

A dropped branch (classifier-free guidance, or a training stage that omits it) gives all-zero tokens: with the
UNet's bias-free key/value projections that branch then contributes exactly nothing to attention.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from flap.engines.diffusion.config import ConditionEncoderConfig


def angle_embedding(angles: torch.Tensor, frequencies: int) -> torch.Tensor:
    """[angles, sin(2^k a), cos(2^k a)] for k < frequencies: smooth, periodic features of the head rotation."""
    if frequencies <= 0:
        return angles
    scales = (2.0 ** torch.arange(frequencies, device=angles.device, dtype=angles.dtype)) * math.pi / 2
    phases = angles[..., None] * scales  # (..., 3, F)
    return torch.cat([angles, phases.sin().flatten(-2), phases.cos().flatten(-2)], dim=-1)


class TokenMLP(nn.Module):
    """A vector to ``num_tokens`` normalised tokens (the IP-Adapter image-projection pattern)."""

    def __init__(self, in_dim: int, hidden_dim: int, num_tokens: int, token_dim: int):
        super().__init__()
        self.num_tokens = num_tokens
        self.token_dim = token_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.SiLU(), nn.Linear(hidden_dim, num_tokens * token_dim))
        self.norm = nn.LayerNorm(token_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.net(x).reshape(x.shape[0], self.num_tokens, self.token_dim))


class FLAPConditionEncoder(nn.Module):
    """(N, 120) condition -> (N, head_tokens + expression_tokens, token_dim) tokens, head tokens first."""

    def __init__(self, config: ConditionEncoderConfig):
        super().__init__()
        self.config = config
        h0, h1 = config.head_columns
        e0, e1 = config.expression_columns
        head_in = (h1 - h0) * (1 + 2 * config.head_frequencies)
        self.head = TokenMLP(head_in, config.hidden_dim, config.head_tokens, config.token_dim)
        self.expression = TokenMLP(e1 - e0, config.hidden_dim, config.expression_tokens, config.token_dim)

    @property
    def num_tokens(self) -> int:
        return self.config.head_tokens + self.config.expression_tokens

    def forward(self, condition: torch.Tensor, drop_head: torch.Tensor | None = None,
                drop_expression: torch.Tensor | None = None) -> torch.Tensor:
        """condition: (N, 120); drop_*: (N,) bool, True zeroes that branch's tokens for that row."""
        if condition.ndim != 2 or condition.shape[1] != self.config.condition_dim:
            raise ValueError(f"condition must be (N, {self.config.condition_dim}); got {tuple(condition.shape)}")
        dtype = self.head.net[0].weight.dtype
        condition = condition.to(dtype)
        h0, h1 = self.config.head_columns
        e0, e1 = self.config.expression_columns
        head = self.head(angle_embedding(condition[:, h0:h1], self.config.head_frequencies))
        expression = self.expression(condition[:, e0:e1])
        if drop_head is not None:
            head = head * (~drop_head.to(head.device, torch.bool)).to(dtype)[:, None, None]
        if drop_expression is not None:
            expression = expression * (~drop_expression.to(head.device, torch.bool)).to(dtype)[:, None, None]
        return torch.cat([head, expression], dim=1)
