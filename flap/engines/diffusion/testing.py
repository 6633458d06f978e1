"""Tiny models and inputs shared by the CPU tests, the CUDA test run and the benchmark's smoke mode (library code:
no pytest here; the tests' one-thread fixture is in tests/conftest.py)."""

from __future__ import annotations

import os

import numpy as np
import torch

from flap.engines.diffusion.config import FLAPModelConfig
from flap.engines.diffusion.pipeline import FLAPPipeline
from flap.motion.representation import MotionSequence

TEST_DEVICE_ENV = "FLAP_TEST_DEVICE"


def device_under_test() -> str:
    """'cpu' unless FLAP_TEST_DEVICE says otherwise (the GPU script sets 'cuda')."""
    return os.environ.get(TEST_DEVICE_ENV, "cpu")


def tiny_pipeline(device: str | None = None, pixel_space: bool = False, resolution: int = 16, seed: int = 0,
                  audio: bool = False) -> FLAPPipeline:
    """A random-weight FLAP pipeline small enough for 2 CPU cores (fp32)."""
    torch.manual_seed(seed)
    audio_to_flame = None
    if audio:
        from flap.audio2motion.network import Audio2FlameNetwork

        audio_to_flame = Audio2FlameNetwork.tiny()
    pipe = FLAPPipeline.from_model_config(FLAPModelConfig.tiny(pixel_space=pixel_space, resolution=resolution),
                                          audio_to_flame=audio_to_flame)
    return pipe.to(device or device_under_test())


def portrait(size: int = 24, seed: int = 0) -> np.ndarray:
    """A smooth random RGB image (uint8)."""
    rng = np.random.default_rng(seed)
    base = rng.random((4, 4, 3))
    y, x = np.mgrid[0:size, 0:size] / max(size - 1, 1) * 3
    i0, j0 = np.floor(y).astype(int).clip(0, 2), np.floor(x).astype(int).clip(0, 2)
    fy, fx = (y - i0)[..., None], (x - j0)[..., None]
    img = (base[i0, j0] * (1 - fy) * (1 - fx) + base[i0 + 1, j0] * fy * (1 - fx)
           + base[i0, j0 + 1] * (1 - fy) * fx + base[i0 + 1, j0 + 1] * fy * fx)
    return (img * 255).round().astype(np.uint8)


def talking_motion(num_frames: int, fps: float = 25.0, seed: int = 0, amplitude: float = 1.0) -> MotionSequence:
    """A smooth synthetic motion: head turning, jaw opening and closing, expression coefficients drifting."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / fps
    motion = MotionSequence.neutral(num_frames, fps)
    phase = rng.uniform(0, 2 * np.pi, 4)
    rotation = 0.25 * amplitude * np.stack([np.sin(1.3 * t + phase[0]), np.sin(0.7 * t + phase[1]), 0.3 * np.sin(t)], 1)
    jaw = np.zeros((num_frames, 3))
    jaw[:, 0] = 0.2 * amplitude * (1 + np.sin(8 * t + phase[2]))
    expression = amplitude * np.sin(t[:, None] * rng.uniform(0.5, 3, 100) + rng.uniform(0, 6, 100))
    eyelids = np.repeat((0.5 + 0.5 * np.sin(2 * t + phase[3]))[:, None], 2, axis=1) * amplitude
    return motion.replace(global_rotation=rotation, jaw=jaw, expression=expression, eyelids=eyelids.clip(0, 1))
