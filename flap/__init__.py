"""FLAP: controllable, audio-driven portrait video.

    import flap
    result = flap.generate("photo.jpg", "speech.wav", "out.mp4", controls=flap.MotionControls(yaw=10, emotion="happy"))
    result.video, result.motion          # the MP4 path and the MotionSequence that made it

Names are imported on first use, so ``import flap`` stays cheap (the web app relies on that).
"""

from __future__ import annotations

from flap.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "generate": "flap.pipeline",
    "render": "flap.pipeline",
    "make_motion": "flap.pipeline",
    "JobConfig": "flap.pipeline",
    "JobResult": "flap.pipeline",
    "MotionSequence": "flap.motion.representation",
    "MotionControls": "flap.motion.controls",
    "apply_controls": "flap.motion.controls",
    "analyze_portrait": "flap.face.portrait",
    "import_motion": "flap.interop.importers",
}

__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
