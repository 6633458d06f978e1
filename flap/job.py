"""How a job runs (frame rate, size, engine, seed, ...), declared once; cheap to import (the page builds from it).

What the motion looks like is MotionControls' business (flap.motion.controls).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flap.engines.options import FullModelOptions
from flap.engines.registry import ENGINE_NAMES
from flap.motion.representation import FIT_MODES
from flap.parameters import checked, declare, same_as


@dataclass(frozen=True)
class JobConfig:
    """How a job runs (what the motion looks like is MotionControls' business).  The user-facing fields are
    declared once here (flap.parameters); the CLI, the page and the API are built from them."""

    fps: float = declare(25.0, label="Frame rate (fps)", help="frames per second", range=(10, 60), step=1)
    size: int = declare(512, label="Output size (pixels)", help="side of the face-crop video in pixels (made even)",
                        range=(128, 1024), step=64)
    paste_back: bool = declare(False, label="Paste back into the whole photo",
                               help="animate the whole photo instead of the face crop")
    seed: int = declare(0, label="Seed", help="same seed, same motion")
    engine: str = declare("embedded", label="Engine", help="renderer", choices=ENGINE_NAMES)
    steps: int = same_as(FullModelOptions, "steps")
    guidance: float = same_as(FullModelOptions, "guidance")
    fit: str = declare("hold", label="If the motion file is shorter than the speech",
                       help="how a given motion is fitted to the audio length", choices=FIT_MODES)
    max_audio_seconds: float | None = None  # None: no limit (the shared Space sets one); not a user parameter

    def validated(self) -> "JobConfig":
        """A checked copy (the size made even); ControlRangeError names the parameter.  ``self`` is left as it was."""
        config = checked(self)
        return replace(config, size=config.size - config.size % 2)

    @property
    def full_model(self) -> FullModelOptions:
        return FullModelOptions(steps=self.steps, guidance=self.guidance)
