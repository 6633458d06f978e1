"""The page's live parts as plain Python: the control preview follows the controls, and a microphone stream's
pieces come back as frames of a LiveSession on the cached portrait."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")
from flap.webapp import live  # noqa: E402

ASTRONAUT = str(Path(__file__).resolve().parents[1] / "examples" / "portraits" / "astronaut.jpg")


def test_preview_follows_the_controls():
    neutral = live.ui_preview(ASTRONAUT, True)
    turned = live.ui_preview(ASTRONAUT, True, yaw=20)
    happy = live.ui_preview(ASTRONAUT, True, emotion="happy", emotion_strength=1.0)
    assert neutral.shape == (live.LIVE_SIZE, live.LIVE_SIZE, 3) and neutral.dtype == np.uint8
    for other in (turned, happy):
        assert np.abs(other.astype(int) - neutral).mean() > 0.5
    assert np.array_equal(live.ui_preview(ASTRONAUT, True, yaw=20), turned)  # a still: the same controls, the same frame
    assert live.ui_preview(None, True) is None


def test_microphone_pieces_become_frames(speech_wav):
    from flap.audio.loading import load_audio

    clip = load_audio(speech_wav, sample_rate=48000)
    samples = (clip.samples[: 48000 * 2] * 32767).astype(np.int16)  # as the browser sends them: int16 at 48 kHz
    session, shown, times = None, 0, []
    for begin in range(0, len(samples), 4800):  # 0.1 s pieces
        image, status, session = live.ui_live((48000, samples[begin: begin + 4800]), session, ASTRONAUT, True, yaw=10)
        if isinstance(image, np.ndarray):
            shown += 1
            times.append(float(status.split("=")[1].split(" ")[0].rstrip(",")))
    assert shown >= 18  # nearly every piece brings a frame
    assert times == sorted(times) and times[-1] > 1.7
    assert session.controls.yaw == 10
    image, _, session = live.ui_live((48000, samples[:4800]), session, ASTRONAUT, True, yaw=-10)
    assert session.controls.yaw == -10  # a control moved while it runs applies from the next piece
    live.ui_live_stop(session)


def test_latest_only_renders_just_the_newest_frame(speech_wav):
    from flap.audio.loading import load_audio
    from flap.motion.controls import MotionControls

    clip = load_audio(speech_wav, sample_rate=16000)
    piece = clip.samples[:8000]
    every, latest = live.new_session(ASTRONAUT, MotionControls()), live.new_session(ASTRONAUT, MotionControls())
    frames = every.push(piece, 16000)
    newest = latest.push(piece, 16000, latest_only=True)
    assert len(frames) > 3 and len(newest) == 1
    assert newest[0].time_s == frames[-1].time_s and np.array_equal(newest[0].image, frames[-1].image)
