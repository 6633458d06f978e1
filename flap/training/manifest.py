"""The training-set folder: what ``prepare-data`` and ``synthetic`` write and every training stage reads.

    <root>/manifest.json                  this file's ``Manifest``: one entry per kept clip
    <root>/summary.json                   what was kept and what was skipped, with reasons
    <root>/clips/<id>/frames.npy          (T, S, S, 3) uint8 face crops (memory-mapped), or
    <root>/clips/<id>/frames/000000.jpg   one JPEG per frame (large resolutions)
    <root>/clips/<id>/motion.npz          the clip's per-frame motion (flap.motion.MotionSequence)
    <root>/clips/<id>/audio.wav           16 kHz mono PCM (optional)
    <root>/clips/<id>/audio_features.npz  per-frame speech features (flap.audio.analyze_audio), optional
    <root>/clips/<id>/audio_encoder.npy   cached audio-encoder (wav2vec2) hidden states, optional

Frame i of every array is the same instant; all clips share the manifest's fps and crop size.
"""

from __future__ import annotations

import json
import os
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

MANIFEST_FORMAT = "flap-training-set"
MANIFEST_VERSION = 1


@dataclass
class ClipEntry:
    id: str
    num_frames: int
    identity: str = ""  # the person (reference frames may come from any clip of the same identity)
    frames: str = "npy"  # "npy" or "jpg"
    has_audio: bool = False
    has_audio_features: bool = False
    has_audio_encoder_features: bool = False
    head_motion: float = 0.0  # degrees: RMS over yaw/pitch/roll of the deviation from the clip's mean pose
    split: str = "train"
    emotion: str = "neutral"
    style: int = 0
    source: str = ""
    crop_box: tuple[float, float, float] | None = None  # x0, y0, side in source-video pixels
    extra: dict = field(default_factory=dict)


@dataclass
class Manifest:
    fps: float
    resolution: int
    sample_rate: int = 16000
    clips: list[ClipEntry] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ files
    def save(self, root: str | Path) -> Path:
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        payload = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "fps": self.fps, "resolution": self.resolution,
                   "sample_rate": self.sample_rate, "meta": self.meta, "clips": [asdict(c) for c in self.clips]}
        tmp = root / "manifest.json.part"
        tmp.write_text(json.dumps(payload, indent=1))
        os.replace(tmp, root / "manifest.json")
        return root / "manifest.json"

    @classmethod
    def load(cls, root: str | Path) -> "Manifest":
        path = Path(root) / "manifest.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: make a training set with `python -m flap.training prepare-data` "
                                    "or `python -m flap.training synthetic`")
        data = json.loads(path.read_text())
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"{path} is not a FLAP training-set manifest")
        if int(data.get("version", 0)) > MANIFEST_VERSION:
            raise ValueError(f"{path} was written by a newer FLAP (version {data['version']})")
        clips = []
        for c in data["clips"]:
            if c.get("crop_box") is not None:
                c["crop_box"] = tuple(c["crop_box"])
            clips.append(ClipEntry(**c))
        return cls(fps=float(data["fps"]), resolution=int(data["resolution"]), sample_rate=int(data.get("sample_rate", 16000)),
                   clips=clips, meta=data.get("meta", {}))

    def select(self, split: str | None = "train") -> list[ClipEntry]:
        return [c for c in self.clips if split is None or c.split == split]


def clip_dir(root: str | Path, clip_id: str) -> Path:
    return Path(root) / "clips" / clip_id


def head_motion_score(euler_degrees: np.ndarray) -> float:
    """How much the head moves in a clip: RMS deviation of yaw/pitch/roll from the clip's mean (degrees)."""
    e = np.asarray(euler_degrees, dtype=np.float64)
    e = e[np.all(np.isfinite(e), axis=1)]
    if len(e) < 2:
        return 0.0
    return float(np.sqrt(np.mean(np.sum((e - e.mean(axis=0)) ** 2, axis=1))))


class ClipFrames:
    """Random access to one clip's frames, whichever way they are stored.  Cheap to create; opens lazily, so it
    can be handed to DataLoader workers."""

    def __init__(self, root: str | Path, entry: ClipEntry):
        self.folder = clip_dir(root, entry.id)
        self.kind = entry.frames
        self.num_frames = entry.num_frames
        self._array = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_array"] = None
        return state

    def read(self, indices) -> np.ndarray:
        """(len(indices), S, S, 3) uint8 RGB."""
        idx = np.asarray(indices, dtype=np.int64)
        if self.kind == "npy":
            if self._array is None:
                self._array = np.load(self.folder / "frames.npy", mmap_mode="r")
            return np.ascontiguousarray(self._array[idx])
        frames = []
        for i in idx:
            data = np.fromfile(self.folder / "frames" / f"{int(i):06d}.jpg", dtype=np.uint8)
            frames.append(cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
        return np.stack(frames)


class FrameWriter:
    """Writes a clip's frames one at a time (``.npy`` needs the count up front), so no clip is held in memory."""

    def __init__(self, folder: Path, kind: str, count: int, size: int, jpeg_quality: int = 95):
        self.folder, self.kind, self.count, self.quality = Path(folder), kind, int(count), jpeg_quality
        self.folder.mkdir(parents=True, exist_ok=True)
        self.written = 0
        if kind == "npy":
            self.array = np.lib.format.open_memmap(self.folder / "frames.npy", mode="w+", dtype=np.uint8,
                                                   shape=(self.count, size, size, 3))
        elif kind == "jpg":
            (self.folder / "frames").mkdir(exist_ok=True)
        else:
            raise ValueError(f"frame storage must be 'npy' or 'jpg'; got {kind!r}")

    def write(self, frame: np.ndarray) -> None:
        if self.written >= self.count:
            raise ValueError(f"more than the {self.count} frames announced")
        if self.kind == "npy":
            self.array[self.written] = frame
        else:
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if not ok:
                raise RuntimeError(f"could not encode frame {self.written} as JPEG")
            buf.tofile(self.folder / "frames" / f"{self.written:06d}.jpg")
        self.written += 1

    def close(self) -> None:
        if self.kind == "npy":
            self.array.flush()
            del self.array


def write_frames(folder: Path, frames: np.ndarray, kind: str, jpeg_quality: int = 95) -> None:
    """Store (T, S, S, 3) uint8 frames as one .npy or a folder of JPEGs."""
    writer = FrameWriter(folder, kind, len(frames), frames.shape[1], jpeg_quality)
    for frame in frames:
        writer.write(frame)
    writer.close()


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM mono WAV with the standard library (no audio package needed to read it back)."""
    pcm = (np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(float32 mono samples, sample rate) of a file written by ``write_wav``."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32767.0
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels()).mean(axis=1)
    return data, rate
