"""FLAP's Progressively Focused Training as data: what each stage trains, on which frames, with which condition.

1. head motion: image training (one frame, temporal layers bypassed) on the clips with the most head motion;
   condition = head rotation + reference (the expression tokens are always dropped); every layer but the
   temporal ones trains.
2. expression: image training on all clips; condition = eyes, jaw, eyelids, expression, learned through the
   expression path while the head-motion attention and head encoder stay frozen.  The frozen head path is still
   fed the head rotation (``diffusion.stage2_feed_head``): the paper freezes those layers so that pose cannot be
   re-learned from expression coefficients; withholding the pose as well would push the model to guess it from
   them, the leak the staging exists to stop.
3. video: consecutive frames through the AnimateDiff temporal layers, the only ones that train.

"all" (stage 0) is the ablation's baseline, not part of FLAP: one stage training every layer at once on video
clips with the full condition, to measure what the staging itself gives.

Which parameters belong to which group is the pipeline's business (``FLAPPipeline.parameter_groups`` and
``set_training_stage``); this module only picks the stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from flap.training.config import TrainConfig

ALL_AT_ONCE = 0  # flap.engines.diffusion.pipeline.ALL_AT_ONCE (not imported: that module loads diffusers)


@dataclass(frozen=True)
class StagePlan:
    stage: int
    frames: int  # frames per sample
    temporal: bool  # run the temporal layers
    always_drop_expression: bool
    always_drop_head: bool
    top_head_motion: float | None  # fraction of clips kept (stage 1), None = all

    @property
    def name(self) -> str:
        return {0: "all at once", 1: "head motion", 2: "expression", 3: "video"}[self.stage]


def plan_for(config: TrainConfig) -> StagePlan:
    if config.stage == "all":
        return StagePlan(ALL_AT_ONCE, config.data.frames_per_clip, True, False, False, None)
    stage = int(config.stage)
    if stage == 1:
        return StagePlan(1, 1, False, True, False, config.data.head_motion_top_fraction)
    if stage == 2:
        return StagePlan(2, 1, False, False, not config.diffusion.stage2_feed_head, None)
    if stage == 3:
        return StagePlan(3, config.data.frames_per_clip, True, False, False, None)
    raise ValueError(f"stage {config.stage!r} is not a diffusion stage")


def trained_groups(stage: int) -> tuple[str, ...]:
    from flap.engines.diffusion.pipeline import TRAINING_STAGES

    return TRAINING_STAGES[stage]
