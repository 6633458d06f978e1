"""The FLAME head model: loading the user's model file safely, the numpy FLAME layer, the FLAME <-> MediaPipe
correspondence that lets FLAME expression coefficients deform the embedded engine's face, and a mesh preview
(``flap.flame.preview``, imported on demand because it needs OpenCV).

FLAME's licence forbids redistribution, so nothing here ships model data: see docs/flame.md.
"""

from flap.flame.landmark_offsets import expression_offsets, expression_status
from flap.flame.layer import flame_forward
from flap.flame.loading import flame_model_configured, load_flame_model, load_flame_model_if_configured
from flap.flame.model import FlameModel

__all__ = ["FlameModel", "expression_offsets", "expression_status", "flame_forward", "flame_model_configured",
           "load_flame_model", "load_flame_model_if_configured"]
