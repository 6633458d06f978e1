"""PyTorch datasets over a training-set folder (flap.training.manifest).

``DiffusionDataset`` gives (target frames, reference frame, condition) for the image stages (1 frame) and the
video stage (consecutive frames); ``AudioMotionDataset`` gives (speech window, condition window) pairs for
Audio-to-FLAME.  Both read lazily (memory-mapped frames, per-worker caches), so they work in DataLoader workers.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from flap.motion.emotions import EMOTION_NAMES
from flap.motion.representation import MotionSequence
from flap.training.manifest import ClipEntry, ClipFrames, Manifest, clip_dir, read_wav

_draws = itertools.count()


def _rng(index: int) -> np.random.Generator:
    """Fresh randomness per draw: differs per worker (torch seeds workers), per epoch and per call."""
    return np.random.default_rng([torch.initial_seed() % 2**32, int(index), next(_draws)])


def top_head_motion(clips: list[ClipEntry], fraction: float) -> list[ClipEntry]:
    """The ``fraction`` of clips with the most head motion (at least one): FLAP's stage-1 selection."""
    count = max(1, int(round(len(clips) * fraction)))
    return sorted(clips, key=lambda c: c.head_motion, reverse=True)[:count]


def to_tensor(frames: np.ndarray, resolution: int) -> torch.Tensor:
    """(N, S, S, 3) uint8 -> (N, 3, R, R) float32 in [-1, 1] (area-resized when S != R)."""
    if frames.shape[1] != resolution:
        frames = np.stack([cv2.resize(f, (resolution, resolution), interpolation=cv2.INTER_AREA) for f in frames])
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


class DiffusionDataset(Dataset):
    """Samples of ``frames`` consecutive frames with their FLAP condition and a reference frame of the same person.

    Items: ``target`` (F, 3, R, R), ``reference`` (3, R, R), ``condition`` (F, 120) float32.
    reference="clip" takes the reference from the same clip (real videos: same lighting and clothes);
    "identity" from any clip of the same identity (synthetic sets, where each clip is one motion).
    """

    def __init__(self, root: str | Path, clips: list[ClipEntry], frames: int, resolution: int,
                 reference: str = "clip"):
        self.root = Path(root)
        self.frames = int(frames)
        self.resolution = int(resolution)
        self.reference = reference
        self.clips = [c for c in clips if c.num_frames >= self.frames + (1 if reference == "clip" else 0)]
        if not self.clips:
            raise ValueError(f"no clip in {root} has the {self.frames} frames a sample needs")
        self.readers = [ClipFrames(self.root, c) for c in self.clips]
        self.conditions = [MotionSequence.load(clip_dir(self.root, c.id) / "motion.npz").to_condition() for c in self.clips]
        for c, cond in zip(self.clips, self.conditions):
            if len(cond) != c.num_frames:
                raise ValueError(f"clip {c.id}: motion has {len(cond)} frames, frames {c.num_frames}")
        by_identity: dict[str, list[int]] = {}
        for i, c in enumerate(self.clips):
            by_identity.setdefault(c.identity or c.id, []).append(i)
        self.same_identity = [by_identity[c.identity or c.id] for c in self.clips]
        starts = [np.arange(c.num_frames - self.frames + 1) for c in self.clips]
        self.index = np.concatenate([np.stack([np.full(len(s), k), s], 1) for k, s in enumerate(starts)])

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        k, start = (int(v) for v in self.index[i])
        rng = _rng(i)
        target = self.readers[k].read(np.arange(start, start + self.frames))
        if self.reference == "identity":
            r = int(rng.choice(self.same_identity[k]))
            ref_index = int(rng.integers(self.clips[r].num_frames))
        else:
            r = k
            outside = np.setdiff1d(np.arange(self.clips[k].num_frames), np.arange(start, start + self.frames))
            ref_index = int(rng.choice(outside))
        reference = self.readers[r].read([ref_index])
        return {
            "target": to_tensor(target, self.resolution),
            "reference": to_tensor(reference, self.resolution)[0],
            "condition": torch.from_numpy(self.conditions[k][start:start + self.frames]),
        }


class AudioMotionDataset(Dataset):
    """Windows of speech and the motion tracked on the same frames.

    Items: ``audio`` (samples,) normalised 16 kHz speech, or ``features`` (N, D) cached audio-encoder states when
    ``use_cached_features``; ``condition`` (F, 120); ``emotion``, ``style`` (long); ``intensity`` (float).
    """

    def __init__(self, root: str | Path, clips: list[ClipEntry], window_frames: int, fps: float, sample_rate: int = 16000,
                 use_cached_features: bool = False, num_styles: int = 32, stride: int | None = None):
        self.root = Path(root)
        self.window = int(window_frames)
        self.fps = float(fps)
        self.sample_rate = int(sample_rate)
        self.use_features = use_cached_features
        need = "has_audio_encoder_features" if use_cached_features else "has_audio"
        self.clips = [c for c in clips if getattr(c, need) and c.num_frames >= self.window]
        if not self.clips:
            raise ValueError(f"no clip in {root} has {'cached audio-encoder features' if use_cached_features else 'audio'} "
                             f"and at least {self.window} frames")
        self.num_styles = num_styles
        self.conditions = [MotionSequence.load(clip_dir(self.root, c.id) / "motion.npz").to_condition() for c in self.clips]
        stride = stride or max(1, self.window // 4)
        self.index = np.array([(k, s) for k, c in enumerate(self.clips) for s in range(0, c.num_frames - self.window + 1, stride)])
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.index)

    def _signal(self, k: int) -> np.ndarray:
        if k not in self._cache:
            folder = clip_dir(self.root, self.clips[k].id)
            if self.use_features:
                self._cache[k] = np.load(folder / "audio_encoder.npy").astype(np.float32)
            else:
                from flap.audio2motion.network import prepare_waveform

                samples, rate = read_wav(folder / "audio.wav")
                self._cache[k] = prepare_waveform(samples, rate, self.sample_rate)
        return self._cache[k]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        k, start = (int(v) for v in self.index[i])
        clip = self.clips[k]
        signal = self._signal(k)
        t0, t1 = start / self.fps, (start + self.window) / self.fps
        if self.use_features:  # states at about 50 per second; a fixed count per window so batches stack
            rate = len(signal) / (clip.num_frames / self.fps)
            n = max(1, int(round((t1 - t0) * rate)))
            a = min(int(round(t0 * rate)), max(len(signal) - n, 0))
            piece = np.zeros((n, signal.shape[1]), np.float32)
            got = signal[a:a + n]
            piece[: len(got)] = got
            key = "features"
        else:
            a, n = int(round(t0 * self.sample_rate)), int(round((t1 - t0) * self.sample_rate))
            piece = np.zeros(n, np.float32)
            got = signal[a:a + n]
            piece[: len(got)] = got
            key = "audio"
        emotion = EMOTION_NAMES.index(clip.emotion) if clip.emotion in EMOTION_NAMES else 0
        return {
            key: torch.from_numpy(np.ascontiguousarray(piece)),
            "condition": torch.from_numpy(self.conditions[k][start:start + self.window]),
            "emotion": torch.tensor(emotion, dtype=torch.long),
            "intensity": torch.tensor(float(clip.extra.get("emotion_intensity", 1.0))),
            "style": torch.tensor(int(clip.style) % self.num_styles, dtype=torch.long),
        }


def load_training_clips(root: str | Path, split: str | None = "train") -> tuple[Manifest, list[ClipEntry]]:
    manifest = Manifest.load(root)
    clips = manifest.select(split)
    if not clips:
        raise ValueError(f"{root}: the manifest has no clip in split '{split}'")
    return manifest, clips
