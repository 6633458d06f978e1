"""The shared motion representation, the user controls that edit it, and the processes (blinks) behind them."""

from flap.motion.representation import (
    CONDITION_DIM,
    CONDITION_LAYOUT,
    CONTROL_NAMES,
    MotionFormatError,
    MotionSequence,
)

__all__ = ["CONDITION_DIM", "CONDITION_LAYOUT", "CONTROL_NAMES", "MotionFormatError", "MotionSequence"]
