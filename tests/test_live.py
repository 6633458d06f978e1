"""flap.live and the causal generator: frames as audio arrives, the offline motion's quality, controls live."""

from __future__ import annotations

import numpy as np
import pytest

from flap.audio.analysis import analyze_audio
from flap.audio.loading import load_audio
from flap.audio2motion.causal import CausalMotionConfig, CausalMotionGenerator
from flap.audio2motion.embedded import generate_motion
from flap.errors import ControlRangeError, InputError
from flap.motion.controls import MotionControls
from flap.motion.representation import MotionSequence


def pieces(samples: np.ndarray, rate: int, seed: int = 0):
    """Random 10-100 ms pieces, as a microphone or a TTS engine delivers them."""
    rng = np.random.default_rng(seed)
    i = 0
    while i < len(samples):
        n = int(rng.integers(rate // 100, rate // 10 + 1))
        yield samples[i: i + n]
        i += n


def live_motion(samples: np.ndarray, rate: int, fps: float = 25.0, **kwargs) -> MotionSequence:
    gen = CausalMotionGenerator(fps, **kwargs)
    parts = [gen.push(p, rate) for p in pieces(samples, rate)] + [gen.flush()]
    return MotionSequence.concatenate([p for p in parts if p is not None])


@pytest.fixture(scope="module")
def speech(speech_wav):
    clip = load_audio(speech_wav, sample_rate=22050)  # not 16 kHz: the stream is resampled as it arrives
    return clip, analyze_audio(clip, fps=25.0)


def test_live_mouth_is_as_good_as_offline(speech):
    clip, analysis = speech
    live = live_motion(clip.samples, clip.sample_rate)
    offline = generate_motion(analysis)
    assert live.num_frames == offline.num_frames == analysis.num_frames
    live_corr = np.corrcoef(live.jaw_opening(), analysis.loudness)[0, 1]
    offline_corr = np.corrcoef(offline.jaw_opening(), analysis.loudness)[0, 1]
    assert live_corr >= offline_corr - 0.05
    # Closed in silence: a frame more than 0.15 s from any speech has a shut jaw.
    near = np.convolve(analysis.speech.astype(float), np.ones(9), mode="same") > 0
    assert np.all(live.jaw_opening()[~near] == 0.0)


def test_silence_keeps_the_mouth_shut_but_the_head_alive():
    rate = 16000
    live = live_motion(np.zeros(rate * 6, np.float32), rate)
    assert np.all(live.jaw_opening() == 0.0)
    euler = live.head_euler_degrees()
    assert 0.05 < euler.std(axis=0).max() < 2.0  # idle drift and breathing, not a frozen photo


def test_head_motion_is_natural_not_a_wobble(speech):
    clip, analysis = speech
    live = live_motion(clip.samples, clip.sample_rate).head_euler_degrees()
    offline = generate_motion(analysis).head_euler_degrees()
    # About as much movement as offline, and as smooth: frame-to-frame changes and jerk of the same order.
    assert 0.4 < live.std(axis=0).sum() / offline.std(axis=0).sum() < 2.5
    step_live, step_off = np.abs(np.diff(live, axis=0)).mean(), np.abs(np.diff(offline, axis=0)).mean()
    assert step_live < 2.0 * step_off
    jerk_live, jerk_off = np.abs(np.diff(live, 3, axis=0)).mean(), np.abs(np.diff(offline, 3, axis=0)).mean()
    assert jerk_live < 2.5 * jerk_off
    assert np.abs(live[:, 0]).max() <= 6.0 + 1e-3


@pytest.mark.parametrize("rate", [10.0, 30.0])
def test_blinks_at_the_requested_rate(rate):
    gen = CausalMotionGenerator(25.0, seed=3)
    gen.blink_rate = rate
    sr = 16000
    minutes = 2.0
    # Push in big pieces (the analysis cost is per push); the blink process does not depend on piece size.
    parts = [gen.push(np.zeros(sr, np.float32), sr) for _ in range(int(minutes * 60))]
    lids = np.concatenate([p.eyelids[:, 0] for p in parts if p is not None])
    count = int((np.diff((lids > 0.5).astype(int)) == 1).sum())
    assert abs(count - rate * minutes) <= 0.25 * rate * minutes


def test_frames_come_out_after_exactly_the_lookahead():
    """Latency by construction: once audio up to T has arrived, every frame whose interval ends by T - lookahead
    is out, and none later (wall-clock latency is benchmarks/bench_live.py's job)."""
    fps, sr = 25.0, 16000
    config = CausalMotionConfig(lookahead_s=0.08)
    gen = CausalMotionGenerator(fps, config=config)
    noise = np.random.default_rng(0).normal(0, 0.1, sr * 2).astype(np.float32)
    emitted = 0
    for k, piece in enumerate(np.array_split(noise, 100)):
        out = gen.push(piece, sr)
        emitted += 0 if out is None else out.num_frames
        heard = sum(len(p) for p in np.array_split(noise, 100)[: k + 1]) / sr
        assert emitted == max(0, int(np.floor((heard - 0.08) * fps + 1e-9)))
    tail = gen.flush()
    assert emitted + tail.num_frames == 50


def test_memory_stays_flat_in_session_length():
    gen = CausalMotionGenerator(25.0)
    sr = 16000
    for _ in range(30):
        gen.push(np.zeros(sr, np.float32), sr)
    held = len(gen._audio)
    for _ in range(30):
        gen.push(np.zeros(sr, np.float32), sr)
    assert len(gen._audio) == held <= sr * (gen.config.context_s + 1.5)


@pytest.fixture(scope="module")
def portrait(astronaut_rgb):
    from flap.face.portrait import analyze_portrait

    return analyze_portrait(astronaut_rgb, size=256)


def test_live_session_renders_every_frame_in_order(portrait, speech):
    from flap.live import LiveSession

    clip, analysis = speech
    samples = clip.samples[: clip.sample_rate * 2]
    session = LiveSession(portrait, controls=MotionControls(emotion="happy"), fps=25)
    frames = []
    for piece in pieces(samples, clip.sample_rate):
        frames += session.push(piece, clip.sample_rate)
    frames += session.close()
    assert len(frames) == 50
    assert [f.time_s for f in frames] == pytest.approx([i / 25 for i in range(50)])
    image, time_s = frames[10]
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert np.std([f.image.astype(float).mean() for f in frames]) > 0 or np.any(frames[0].image != frames[-1].image)
    with pytest.raises(InputError):
        session.push(samples[:100], clip.sample_rate)


def test_a_control_changed_while_running_shows_in_the_next_frame(portrait, speech):
    from flap.live import LiveSession

    clip, _ = speech
    sr = clip.sample_rate
    steady, turned = LiveSession(portrait, fps=25), LiveSession(portrait, fps=25)
    piece = sr // 50
    before, after = [], []
    for k in range(75):
        chunk = clip.samples[k * piece: (k + 1) * piece]
        if k == 50:
            turned.controls = MotionControls(yaw=20.0)
        a, b = steady.push(chunk, sr), turned.push(chunk, sr)
        (before if k < 50 else after).append((a, b))
    same = [np.array_equal(fa.image, fb.image) for a, b in before for fa, fb in zip(a, b)]
    assert same and all(same)
    first_after = next((a[0], b[0]) for a, b in after if a)
    diff = np.abs(first_after[0].image.astype(int) - first_after[1].image.astype(int)).mean()
    assert diff > 5.0


def test_bad_input_gets_clear_messages(portrait):
    from flap.live import LiveSession

    session = LiveSession(portrait)
    with pytest.raises(ControlRangeError, match="yaw"):
        session.controls = MotionControls(yaw=90)
    with pytest.raises(ValueError, match="sample_rate"):
        session.push(np.zeros(160, np.float32), 100)
    session.push(np.zeros(160, np.float32), 16000)
    with pytest.raises(ValueError, match="sample rate changed"):
        session.push(np.zeros(160, np.float32), 44100)
    with pytest.raises(ValueError, match="mono"):
        session.push(np.zeros((2, 3, 4), np.float32), 16000)
    assert session.push(np.full(1600, np.nan, np.float32), 16000) is not None  # NaN is cleaned, not a crash


def test_preview_follows_the_controls(portrait):
    from flap.live import LiveSession

    session = LiveSession(portrait)
    still = session.preview()
    turned = session.preview(MotionControls(yaw=20))
    assert still.shape == turned.shape == (256, 256, 3)
    assert np.abs(still.astype(int) - turned.astype(int)).mean() > 5.0
