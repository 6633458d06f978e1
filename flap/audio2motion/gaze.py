"""Eye movements of a speaker talking to the camera: fixations on the camera with small jitter, brief glances
away (more likely when a phrase starts or in a pause, as speakers look away while planning), fast saccades
between them, and the vestibulo-ocular reflex: the eyes counter-rotate the head so the gaze stays put.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flap.audio.analysis import AudioAnalysis
from flap.audio2motion.signals import coloured_noise, smooth_s
from flap.motion.rotations import gaze_to_matrix, matrix_to_rotation_6d


@dataclass(frozen=True)
class GazeConfig:
    fixation_s: tuple[float, float] = (1.0, 3.2)  # camera fixations, uniform range
    glance_s: tuple[float, float] = (0.35, 1.1)  # glances away
    glance_probability: float = 0.3  # chance that a fixation ends in a glance away
    glance_yaw_deg: float = 4.5
    glance_pitch_deg: float = 2.5
    camera_jitter_deg: float = 0.6  # scatter of camera fixations (micro-corrections)
    saccade_s: float = 0.04
    vor_gain: float = 0.8  # share of head rotation the eyes cancel
    yaw_limit_deg: float = 25.0
    pitch_limit_deg: float = 18.0


def gaze_angles(analysis: AudioAnalysis, head_euler_deg: np.ndarray, cfg: GazeConfig,
                rng: np.random.Generator) -> np.ndarray:
    """(T, 2) eye yaw/pitch degrees relative to the head."""
    fps, t_count = analysis.fps, analysis.num_frames
    duration = t_count / fps
    cues = np.concatenate([np.asarray(analysis.phrase_boundaries_s, float), np.asarray(analysis.pause_starts_s, float)])
    times, targets = [0.0], [np.zeros(2)]
    now = 0.0
    looking_away = False
    while now < duration:
        if looking_away:
            now += rng.uniform(*cfg.glance_s)
            target = rng.normal(0.0, cfg.camera_jitter_deg, size=2)
            looking_away = False
        else:
            now += rng.uniform(*cfg.fixation_s)
            near_cue = cues.size and np.min(np.abs(cues - now)) < 0.6
            p = cfg.glance_probability * (1.8 if near_cue else 1.0)
            if rng.random() < p:
                angle = rng.uniform(0, 2 * np.pi)
                target = np.array([cfg.glance_yaw_deg * np.cos(angle), cfg.glance_pitch_deg * np.sin(angle) - 0.8])
                target *= rng.uniform(0.5, 1.0)
                looking_away = True
            else:
                target = rng.normal(0.0, cfg.camera_jitter_deg, size=2)
        times.append(now)
        targets.append(target)
    times_arr, targets_arr = np.array(times), np.array(targets)
    t = np.arange(t_count) / fps
    idx = np.clip(np.searchsorted(times_arr, t, side="right") - 1, 0, len(times_arr) - 1)
    # Each saccade: a fast ease from the previous target over saccade_s.
    since = t - times_arr[idx]
    prev = targets_arr[np.maximum(idx - 1, 0)]
    x = np.clip(since / max(cfg.saccade_s, 1e-3), 0, 1)[:, None]
    x = x * x * (3 - 2 * x)
    world = prev + (targets_arr[idx] - prev) * x
    world[:, 0] += 0.12 * coloured_noise(t_count, fps, rng, 2.0)  # fixational drift
    world[:, 1] += 0.12 * coloured_noise(t_count, fps, rng, 2.0)
    eyes = world - cfg.vor_gain * head_euler_deg[:, :2]
    eyes[:, 0] = np.clip(eyes[:, 0], -cfg.yaw_limit_deg, cfg.yaw_limit_deg)
    eyes[:, 1] = np.clip(eyes[:, 1], -cfg.pitch_limit_deg, cfg.pitch_limit_deg)
    return eyes.astype(np.float32)


def eyes_6d(angles_deg: np.ndarray) -> np.ndarray:
    """(T, 12) both eyes' 6D rotations (left eye first) from yaw/pitch degrees."""
    rot = matrix_to_rotation_6d(gaze_to_matrix(angles_deg[:, 0], angles_deg[:, 1]))
    return np.concatenate([rot, rot], axis=1).astype(np.float32)


def lid_follow(angles_deg: np.ndarray, fps: float) -> np.ndarray:
    """Upper lids follow the gaze down a little (lid-eye coordination): extra closure in [0, 0.2]."""
    return np.clip(smooth_s(-angles_deg[:, 1], 0.04, fps) / 30.0, 0.0, 0.2).astype(np.float32)
