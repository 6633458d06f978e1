"""Tracking faces through video frames: landmarks, head pose, eye and mouth state per frame.

Used to measure what the engines produce (fidelity checks, benchmarks) and to turn training videos into motion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from flap.face import measures
from flap.face.detection import landmarks_full_frame
from flap.face.geometry import estimate_pose


@dataclass
class FaceTrack:
    """Per-frame measurements; NaN where no face was found."""

    landmarks: np.ndarray  # (T, 478, 3) pixels
    euler: np.ndarray  # (T, 3) yaw, pitch, roll degrees (user convention)
    rotation: np.ndarray  # (T, 3, 3)
    scale: np.ndarray  # (T,) pixels per cm
    translation: np.ndarray  # (T, 3) camera pixels
    eye_openness: np.ndarray  # (T, 2)
    mouth_opening: np.ndarray  # (T,)
    found: np.ndarray  # (T,) bool

    @property
    def num_frames(self) -> int:
        return len(self.found)


def track_frames(frames: Iterable[np.ndarray], video_mode: bool = True) -> FaceTrack:
    """Track the most prominent face through RGB frames (MediaPipe's own temporal tracking in video mode)."""
    rows = []
    for frame in frames:
        points = landmarks_full_frame(frame, static=not video_mode)
        if points is None:
            rows.append(None)
            continue
        pose = estimate_pose(points)
        rows.append((points, pose))
    t = len(rows)
    out = FaceTrack(
        landmarks=np.full((t, 478, 3), np.nan), euler=np.full((t, 3), np.nan), rotation=np.full((t, 3, 3), np.nan),
        scale=np.full(t, np.nan), translation=np.full((t, 3), np.nan), eye_openness=np.full((t, 2), np.nan),
        mouth_opening=np.full(t, np.nan), found=np.zeros(t, dtype=bool),
    )
    for i, row in enumerate(rows):
        if row is None:
            continue
        points, pose = row
        out.landmarks[i] = points
        out.euler[i] = pose.euler_degrees
        out.rotation[i] = pose.rotation
        out.scale[i] = pose.scale
        out.translation[i] = pose.translation
        out.eye_openness[i] = measures.eye_openness(points)
        out.mouth_opening[i] = measures.mouth_opening(points)
        out.found[i] = True
    return out


def count_blinks(eye_openness: np.ndarray, fps: float, min_depth: float = 0.15) -> int:
    """Blinks = short dips of the eye openness (mean of both eyes) below its local baseline.

    The baseline is a rolling median over about a second; a dip counts when it is deeper than ``min_depth`` of the
    baseline and than six times the signal's own noise (median absolute deviation).  Relative and noise-aware, so
    it also finds blinks where the tracker sees lids poorly (behind glasses) without counting tracking jitter.
    """
    from scipy.ndimage import median_filter

    signal = np.nanmean(eye_openness, axis=1) if eye_openness.ndim == 2 else np.asarray(eye_openness, dtype=float)
    if len(signal) == 0 or np.all(np.isnan(signal)):
        return 0
    signal = np.where(np.isnan(signal), np.nanmedian(signal), signal)
    window = max(3, int(round(fps)) | 1)
    baseline = median_filter(signal, size=window, mode="nearest")
    depth = baseline - signal
    noise = 1.4826 * np.median(np.abs(signal - baseline)) + 1e-6
    closed = depth > np.maximum(min_depth * baseline, 6.0 * noise)
    min_gap = max(1, int(round(0.08 * fps)))
    blinks, last_end, i = 0, -10**9, 0
    while i < len(closed):
        if closed[i]:
            start = i
            while i < len(closed) and closed[i]:
                i += 1
            if start - last_end >= min_gap:
                blinks += 1
            last_end = i
        i += 1
    return blinks
