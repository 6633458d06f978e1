"""Renderers that turn a portrait and a MotionSequence into frames.

``flap.engines.embedded`` warps the portrait on the CPU with no weights; ``flap.engines.diffusion`` is the FLAP
diffusion model (ReferenceNet + motion UNet + FLAME condition encoder) and needs CUDA and weights.  Both take the
same motion, after the same user controls, so the app's sliders drive either one.
"""
