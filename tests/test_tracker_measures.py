"""Measurements behind the fidelity numbers: blink counting and lip-sync scoring on known signals."""

from __future__ import annotations

import numpy as np

from flap.evaluation.fidelity import frame_loudness
from flap.face.tracker import count_blinks


def test_blink_counter_finds_shallow_and_deep_blinks_but_not_jitter():
    rng = np.random.default_rng(0)
    t = 1500
    signal = 0.28 + rng.normal(0, 0.004, t)
    for k, start in enumerate(range(40, t - 10, 75)):  # 20 blinks in 60 s at 25 fps
        depth = 0.25 if k % 2 else 0.8  # half of them barely visible (as behind glasses)
        signal[start:start + 4] -= 0.28 * depth * np.array([0.5, 1.0, 1.0, 0.4])
    assert count_blinks(signal, 25.0) == 20
    calm = 0.28 + rng.normal(0, 0.004, t)
    assert count_blinks(calm, 25.0) == 0
    drifting = calm + 0.03 * np.sin(np.arange(t) / 200)  # slow changes (gaze, squint) are not blinks
    assert count_blinks(drifting, 25.0) == 0


def test_frame_loudness_follows_the_signal():
    sr = 16000
    audio = np.zeros(sr * 2, np.float32)
    audio[sr // 2: sr] = 0.5 * np.sin(np.arange(sr // 2) / 5.0)
    loud = frame_loudness(audio, sr, 25.0, 50)
    assert loud[:10].max() == 0 and loud[15:23].min() > 0.3 and loud[30:].max() == 0
