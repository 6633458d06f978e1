"""The FLAP diffusion model (arXiv 2502.19455): ReferenceNet + AnimateDiff-style denoising UNet + FLAME condition
encoder, as a diffusers pipeline, plus the engine adapter the app and CLI use.  docs/full-model.md describes it.

Importing this package is cheap: diffusers and torch load only when a name below is first used, so the app can
ask ``DiffusionEngine().availability()`` without paying for them.
"""

from __future__ import annotations

from flap.lazy import lazy_exports

_EXPORTS = {
    "FLAPPipeline": "flap.engines.diffusion.pipeline",
    "FLAPOutput": "flap.engines.diffusion.pipeline",
    "SamplingOptions": "flap.engines.diffusion.sampling",
    "FLAPModelConfig": "flap.engines.diffusion.config",
    "UNetConfig": "flap.engines.diffusion.config",
    "ConditionEncoderConfig": "flap.engines.diffusion.config",
    "FLAPDenoisingUNet": "flap.engines.diffusion.denoising_unet",
    "FLAPReferenceNet": "flap.engines.diffusion.reference_net",
    "FLAPConditionEncoder": "flap.engines.diffusion.condition",
    "DiffusionEngine": "flap.engines.diffusion.engine",
}

__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
