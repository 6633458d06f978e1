"""Tiny training sets and configs for the CPU tests and the scripts' smoke modes (no face analysis needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flap.training.config import TrainConfig
from flap.training.manifest import ClipEntry, Manifest, clip_dir, head_motion_score, write_frames, write_wav


def write_toy_set(root: str | Path, clips: int = 3, frames: int = 12, size: int = 16, audio: bool = True,
                  seed: int = 0) -> Manifest:
    """Random smooth images with random talking motions (and tones for audio): shapes right, content meaningless."""
    from flap.engines.diffusion.testing import portrait, talking_motion

    root = Path(root)
    rng = np.random.default_rng(seed)
    entries = []
    for k in range(clips):
        clip_id = f"toy{k:02d}"
        folder = clip_dir(root, clip_id)
        base = portrait(size, seed=seed + k).astype(np.int16)
        video = np.stack([np.clip(base + rng.integers(-8, 9, base.shape), 0, 255) for _ in range(frames)]).astype(np.uint8)
        write_frames(folder, video, "npy")
        motion = talking_motion(frames, seed=seed + k, amplitude=0.3 + 0.3 * k)
        motion.save(folder / "motion.npz")
        if audio:
            t = np.arange(int(frames / 25 * 16000)) / 16000
            write_wav(folder / "audio.wav", 0.3 * np.sin(2 * np.pi * (150 + 40 * k) * t) * (1 + np.sin(7 * t)), 16000)
        entries.append(ClipEntry(id=clip_id, num_frames=frames, identity=f"person{k % 2}", frames="npy", has_audio=audio,
                                 head_motion=head_motion_score(motion.head_euler_degrees()), style=k))
    manifest = Manifest(fps=25.0, resolution=size, clips=entries, meta={"source": "toy"})
    manifest.save(root)
    return manifest


def tiny_config(stage: str, data_root: str | Path, output_dir: str | Path, resolution: int = 16, **run_changes) -> TrainConfig:
    """A config that runs a step of any stage in about a second on a CPU."""
    config = TrainConfig.from_dict({
        "stage": stage,
        "model": {"preset": "tiny", "resolution": resolution, "pixel_space": True},
        "data": {"root": str(data_root), "num_workers": 0, "frames_per_clip": 4, "head_motion_top_fraction": 0.5,
                 "reference": "clip"},
        "optim": {"learning_rate": 1e-3},
        "run": dict({"output_dir": str(output_dir), "batch_size": 2, "max_steps": 1, "report_to": "none",
                     "checkpoint_every": 0, "log_every": 1, "gradient_checkpointing": True}, **run_changes),
        "audio": {"window_frames": 8},
    })
    return config
