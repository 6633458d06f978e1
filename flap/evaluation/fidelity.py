"""Fidelity metrics on produced videos, with the face tracker and the audio: what the README's numbers are."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flap.face.tracker import FaceTrack, count_blinks, track_frames
from flap.io.video import read_frames


def track_video(path) -> tuple[FaceTrack, np.ndarray]:
    frames = read_frames(path)
    return track_frames(frames, video_mode=True), frames


def pose_offset(track: FaceTrack, baseline: FaceTrack) -> np.ndarray:
    """Mean (yaw, pitch, roll) of a video minus that of a baseline video (degrees)."""
    return np.nanmean(track.euler[track.found], axis=0) - np.nanmean(baseline.euler[baseline.found], axis=0)


def frame_loudness(samples: np.ndarray, sample_rate: int, fps: float, num_frames: int) -> np.ndarray:
    """RMS amplitude in a 40 ms window centred on each video frame."""
    half = int(0.02 * sample_rate)
    centres = (np.arange(num_frames) / fps * sample_rate).astype(int)
    out = np.zeros(num_frames)
    for i, c in enumerate(centres):
        window = samples[max(0, c - half): c + half]
        out[i] = np.sqrt(np.mean(window**2)) if len(window) else 0.0
    return out


@dataclass
class LipSync:
    pearson: float  # mouth opening vs loudness, over all frames
    closed_in_silence: float  # share of silent frames (after a short settle) whose mouth is closed
    silent_frames: int


def lip_sync(track: FaceTrack, samples: np.ndarray, sample_rate: int, fps: float, closed_below: float = 0.06) -> LipSync:
    loud = frame_loudness(samples, sample_rate, fps, track.num_frames)
    mouth = track.mouth_opening
    ok = track.found & np.isfinite(mouth)
    pearson = float(np.corrcoef(mouth[ok], loud[ok])[0, 1]) if ok.sum() > 3 else float("nan")
    silent = loud < 0.03 * np.percentile(loud, 95)
    # A mouth needs a moment to close after speech stops: judge silent frames that follow 3 silent frames.
    run = np.convolve(silent.astype(int), np.ones(4, int), mode="full")[: len(silent)]
    settled = silent & (run >= 4)
    settled &= ok
    closed = float(np.mean(mouth[settled] < closed_below)) if settled.any() else float("nan")
    return LipSync(pearson=pearson, closed_in_silence=closed, silent_frames=int(settled.sum()))


def blinks_in(track: FaceTrack, fps: float) -> int:
    return count_blinks(track.eye_openness[track.found], fps)


def background_change(frames: np.ndarray, crop: np.ndarray, person_mask: np.ndarray, margin: float = 0.08) -> tuple[float, float]:
    """(mean, max over frames) of the mean absolute difference on pixels far from the person."""
    size = crop.shape[0]
    radius = max(1, int(margin * size))
    near = cv2.dilate((person_mask > 0.3).astype(np.uint8), np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)) > 0
    far = ~near
    if far.sum() < 100:
        return float("nan"), float("nan")
    diffs = [np.abs(f.astype(np.int16) - crop.astype(np.int16))[far].mean() for f in frames]
    return float(np.mean(diffs)), float(np.max(diffs))
