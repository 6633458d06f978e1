"""User options of the engines that the embedded one ignores (the full model's sampling steps, guidance), declared
once and cheap to import (no torch); here, not in engines/diffusion, because the engine contract (base.py) names them.

JobConfig, the CLI, the page, the API and ``SamplingOptions`` take their defaults and ranges from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from flap.parameters import checked, declare


@dataclass(frozen=True)
class FullModelOptions:
    """How the full model samples a video; ignored by the embedded engine."""

    steps: int = declare(20, label="Sampling steps (full model)", help="full model: sampling steps", range=(1, 100), step=1)
    guidance: float = declare(3.5, label="Guidance (full model)", help="full model: classifier-free guidance",
                              range=(1.0, 15.0), step=0.5)

    def validated(self) -> "FullModelOptions":
        return checked(self)
