"""``prepare-data``: a folder of talking videos -> a training set (flap.training.manifest).

Per video: check it decodes and is long enough; look for faces on a few frames (none, or several people of
similar size, means skip); track the face through every frame at 25 fps (flap.face.tracker, the tracker the
embedded engine uses) and turn the track into motion (flap.training.tracking); choose ONE crop box for the whole
clip around the median face position, so the crop never jitters; decode again and write the crops (512x512 by
default); decode the audio at 16 kHz and cache its per-frame features (and optionally an audio encoder's).
Anything unusable is skipped with its reason; the summary (printed and in summary.json) says what was kept.

Two streaming decoding passes keep memory flat (frames are tracked and written as they are decoded), whatever the
video's resolution and length.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from flap.training.manifest import ClipEntry, FrameWriter, Manifest, clip_dir, head_motion_score, write_wav

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg")
TRACK_MAX_SIDE = 960  # frames are tracked at most this large (MediaPipe's mesh works on a 192 px face crop anyway)


@dataclass
class PrepareConfig:
    resolution: int = 512
    fps: float = 25.0
    sample_rate: int = 16000
    min_seconds: float = 2.0
    max_seconds: float | None = None
    frames: str = "jpg"  # "jpg" or "npy"
    crop_scale: float = 2.6  # crop side / face size, as flap.face.portrait crops portraits
    crop_shift_up: float = 0.06
    min_face_px: float = 64.0  # in the source video
    min_found_share: float = 0.9  # frames with a tracked face
    second_face_area: float = 0.25  # a second face this large (area share of the first) means several people
    probe_frames: int = 5
    audio_encoder: str | None = None
    test_share: float = 0.0


@dataclass
class Skipped:
    file: str
    reason: str


@dataclass
class PrepareSummary:
    kept: list[ClipEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def text(self) -> str:
        fps = 25.0
        frames = sum(c.num_frames for c in self.kept)
        lines = [f"kept {len(self.kept)} clip(s), {frames} frames ({frames / fps:.1f} s); skipped {len(self.skipped)}; "
                 f"took {self.seconds:.1f} s"]
        for c in self.kept:
            audio = "audio" if c.has_audio else "NO audio"
            lines.append(f"  kept    {c.source}: {c.num_frames} frames, head motion {c.head_motion:.1f} deg, {audio}")
        for s in self.skipped:
            lines.append(f"  skipped {s.file}: {s.reason}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"kept": [asdict(c) for c in self.kept], "skipped": [asdict(s) for s in self.skipped], "notes": self.notes,
                "seconds": self.seconds}


class SkipClip(Exception):
    """The video cannot be used; the message is the reason shown in the summary."""


def find_videos(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def decode_frames(path: Path, fps: float, max_seconds: float | None = None):
    """Yield RGB frames resampled to ``fps`` (ffmpeg's fps filter: frames are dropped or repeated, never blended)."""
    import imageio_ffmpeg

    output = ["-vf", f"fps={fps:g}"]
    if max_seconds:
        output += ["-t", f"{max_seconds:g}"]
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24", output_params=output)
    meta = next(reader)
    w, h = meta["size"]
    for buf in reader:
        yield np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)


def _reduce(frame: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = frame.shape[:2]
    factor = min(1.0, max_side / max(h, w))
    if factor >= 1.0:
        return frame, 1.0
    return cv2.resize(frame, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA), factor


def check_faces(frames: list[np.ndarray], config: PrepareConfig) -> None:
    """Skip unless most probe frames show exactly one prominent face, large enough."""
    from flap.face.detection import detect_faces

    counts, sizes = [], []
    for frame in frames:
        boxes = detect_faces(frame)
        if not boxes:
            counts.append(0)
            continue
        first = boxes[0].area
        counts.append(1 + sum(1 for b in boxes[1:] if b.area >= config.second_face_area * first))
        sizes.append(max(boxes[0].width, boxes[0].height))
    counts = np.array(counts)
    if np.mean(counts == 0) > 0.5:
        raise SkipClip(f"no face found ({int(np.sum(counts == 0))} of {len(counts)} probe frames have none)")
    if np.mean(counts >= 2) >= 0.5:
        raise SkipClip(f"several people ({int(counts.max())} faces of similar size)")
    if sizes and np.median(sizes) < config.min_face_px:
        raise SkipClip(f"face too small ({np.median(sizes):.0f} px; at least {config.min_face_px:.0f} px needed)")


def clip_crop_box(landmarks: np.ndarray, found: np.ndarray, image_shape: tuple[int, int], config: PrepareConfig
                  ) -> tuple[float, float, float]:
    """One square box for the whole clip: centred on the median face centre, large enough for the 90th-percentile
    face size, inside the frame (shifted, then shrunk if it must be)."""
    pts = landmarks[found][..., :2]
    lo, hi = pts.min(axis=1), pts.max(axis=1)
    size = np.percentile(np.max(hi - lo, axis=1), 90)
    centre = np.median((lo + hi) / 2, axis=0)
    h, w = image_shape
    side = float(min(config.crop_scale * size, h, w))
    cx, cy = centre[0], centre[1] - config.crop_shift_up * side
    x0 = float(np.clip(cx - side / 2, 0, w - side))
    y0 = float(np.clip(cy - side / 2, 0, h - side))
    return x0, y0, side


def crop(frame: np.ndarray, box: tuple[float, float, float], size: int) -> np.ndarray:
    x0, y0, side = box
    scale = size / side
    matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT101)


def _ffmpeg_reason(message: str) -> str:
    """The line of ffmpeg's output that says what is wrong (its last error line)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    for line in reversed(lines):
        if ":" in line and ("Invalid" in line or "error" in line.lower() or "not found" in line):
            return line.split("] ", 1)[-1][:160]
    return (lines[-1] if lines else message)[:160]


def _clip_id(path: Path, root: Path, taken: set[str]) -> str:
    rel = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(rel.with_suffix(""))).strip("_") or "clip"
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def prepare_clip(path: Path, out_root: Path, clip_id: str, identity: str, config: PrepareConfig, notes: list[str]
                 ) -> ClipEntry:
    """One video -> one clip folder, or SkipClip with the reason."""
    from flap.errors import FlapError
    from flap.face.tracker import track_frames
    from flap.io.video import probe_video
    from flap.training.tracking import track_to_motion

    try:
        info = probe_video(path)
    except FlapError as exc:
        raise SkipClip(f"corrupt or not a video (ffmpeg: {_ffmpeg_reason(str(exc))})") from exc
    if np.isfinite(info.duration) and info.duration < config.min_seconds:
        raise SkipClip(f"too short ({info.duration:.2f} s; at least {config.min_seconds:g} s needed)")

    # Pass 1: track every frame (reduced), streaming; a few probe frames are kept for the face check.
    expected = int(info.duration * config.fps) if np.isfinite(info.duration) else 0
    probe_at = set(np.linspace(0, max(expected - 1, 0), config.probe_frames).astype(int).tolist())
    probes: list[np.ndarray] = []
    shape_factor: list = []

    def reduced_frames():
        for i, frame in enumerate(decode_frames(path, config.fps, config.max_seconds)):
            small, factor = _reduce(frame, TRACK_MAX_SIDE)
            if not shape_factor:
                shape_factor.extend([small.shape[:2], factor])
            if i in probe_at:
                probes.append(small.copy())
            yield small

    try:
        track = track_frames(reduced_frames(), video_mode=True)
    except Exception as exc:  # ffmpeg died half-way: a truncated or damaged file
        raise SkipClip(f"corrupt video (decoding failed: {type(exc).__name__})") from exc
    count = track.num_frames
    if count < config.min_seconds * config.fps:
        raise SkipClip(f"too short ({count / config.fps:.2f} s of frames; at least {config.min_seconds:g} s needed)")
    check_faces(probes, config)
    shape, factor = shape_factor
    found_share = float(track.found.mean())
    if found_share < config.min_found_share:
        raise SkipClip(f"face lost in {100 * (1 - found_share):.0f}% of the frames")
    motion = track_to_motion(track, config.fps, meta={"video": path.name})
    box_small = clip_crop_box(track.landmarks, track.found, shape, config)
    box = (box_small[0] / factor, box_small[1] / factor, box_small[2] / factor)
    del track

    # Pass 2: the crops at full quality, written as they are decoded.
    folder = clip_dir(out_root, clip_id)
    writer = FrameWriter(folder, config.frames, count, config.resolution)
    for _, frame in zip(range(count), decode_frames(path, config.fps, config.max_seconds)):
        writer.write(crop(frame, box, config.resolution))
    writer.close()
    if writer.written != count:
        raise SkipClip(f"the video decoded differently twice ({writer.written} vs {count} frames)")
    motion.save(folder / "motion.npz")

    has_audio = has_features = has_encoder = False
    if info.audio_codec:
        has_audio, has_features, has_encoder = _prepare_audio(path, folder, count, config, notes)
    else:
        notes.append(f"{path.name}: no audio track (usable for the image and video stages, not for Audio-to-FLAME)")
    return ClipEntry(id=clip_id, num_frames=count, identity=identity, frames=config.frames, has_audio=has_audio,
                     has_audio_features=has_features, has_audio_encoder_features=has_encoder,
                     head_motion=head_motion_score(motion.head_euler_degrees()), source=str(path.name),
                     crop_box=tuple(float(v) for v in box), extra={"found_share": found_share, "source_fps": info.fps})


def _prepare_audio(path: Path, folder: Path, frames: int, config: PrepareConfig, notes: list[str]) -> tuple[bool, bool, bool]:
    from flap.audio.analysis import analyze_audio
    from flap.audio.loading import AudioClip, load_audio
    from flap.errors import AudioInputError

    try:
        clip = load_audio(path, sample_rate=config.sample_rate)
    except AudioInputError as exc:
        notes.append(f"{path.name}: audio unusable ({exc}); kept without audio")
        return False, False, False
    need = int(round(frames / config.fps * config.sample_rate))
    samples = np.zeros(need, np.float32)
    samples[: min(need, len(clip.samples))] = clip.samples[:need]
    write_wav(folder / "audio.wav", samples, config.sample_rate)
    analysis = analyze_audio(AudioClip(samples, config.sample_rate, path.name), fps=config.fps)
    np.savez_compressed(folder / "audio_features.npz", loudness=analysis.loudness, speech=analysis.speech,
                        pitch_hz=analysis.pitch_hz, openness=analysis.openness, spread=analysis.spread,
                        closure=analysis.closure, labiodental=analysis.labiodental, fps=np.float32(config.fps))
    has_encoder = False
    if config.audio_encoder:
        np.save(folder / "audio_encoder.npy", encode_audio(samples, config.sample_rate, config.audio_encoder).astype(np.float16))
        has_encoder = True
    return True, True, has_encoder


_ENCODERS: dict[str, object] = {}


def encode_audio(samples: np.ndarray, sample_rate: int, encoder_id: str) -> np.ndarray:
    """(N, D) hidden states of a wav2vec2 encoder (about 50 per second), as Audio2FlameNetwork computes them."""
    import torch
    from transformers import Wav2Vec2Model

    from flap.audio2motion.network import prepare_waveform

    if encoder_id not in _ENCODERS:
        _ENCODERS[encoder_id] = Wav2Vec2Model.from_pretrained(encoder_id).eval()
    model = _ENCODERS[encoder_id]
    wave = prepare_waveform(samples, sample_rate, 16000)
    with torch.no_grad():
        return model(torch.from_numpy(wave)[None]).last_hidden_state[0].float().numpy()


def prepare_dataset(videos: str | Path, out: str | Path, config: PrepareConfig = PrepareConfig(),
                    progress: bool = True) -> PrepareSummary:
    """Prepare every video under ``videos`` into the training set ``out`` (manifest.json + summary.json)."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    root = Path(videos)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = PrepareSummary()
    files = find_videos(root)
    if not files:
        summary.notes.append(f"no video files ({', '.join(VIDEO_SUFFIXES)}) under {root}")
    taken: set[str] = set()
    bar = tqdm(files, desc="preparing videos", unit="video", disable=not progress)
    for path in bar:
        bar.set_postfix_str(path.name[:40])
        clip_id = _clip_id(path, root if root.is_dir() else path.parent, taken)
        rel_parent = path.parent.relative_to(root) if root.is_dir() and path.is_relative_to(root) else Path(".")
        identity = str(rel_parent) if str(rel_parent) != "." else clip_id
        try:
            entry = prepare_clip(path, out, clip_id, identity, config, summary.notes)
        except SkipClip as exc:
            summary.skipped.append(Skipped(str(path.name), str(exc)))
            import shutil

            shutil.rmtree(clip_dir(out, clip_id), ignore_errors=True)
            continue
        summary.kept.append(entry)
    _assign_splits(summary.kept, config.test_share)
    manifest = Manifest(fps=config.fps, resolution=config.resolution, sample_rate=config.sample_rate, clips=summary.kept,
                        meta={"source": str(root), "prepared_with": asdict(config)})
    manifest.save(out)
    summary.seconds = time.perf_counter() - start
    (out / "summary.json").write_text(json.dumps(summary.to_dict(), indent=1, default=str))
    return summary


def _assign_splits(clips: list[ClipEntry], test_share: float) -> None:
    """Every k-th clip (by id) goes to split 'test', so held-out clips are spread over the set."""
    if test_share <= 0 or len(clips) < 2:
        return
    every = max(2, int(round(1 / test_share)))
    for k, clip in enumerate(sorted(clips, key=lambda c: c.id)):
        if k % every == every - 1:
            clip.split = "test"
