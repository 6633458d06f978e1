"""The embedded motion generator: determinism, a mouth that follows loudness and closes in silence, head motion
that follows the speech (nods on accents, calmer in pauses, smooth, within range), gaze and blinks."""

from __future__ import annotations

import numpy as np
import pytest

from flap.audio import AudioClip, analyze_audio, load_audio
from flap.audio.analysis import AudioAnalysis
from flap.audio2motion import EmbeddedMotionConfig, generate_motion
from flap.motion.representation import CONTROL_INDEX, MotionSequence


def synthetic(duration: float = 20.0, fps: float = 25.0, speech_spans=((1.0, 8.0), (11.0, 18.0)),
              stresses: np.ndarray | None = None) -> AudioAnalysis:
    """An analysis with known speech, syllables at 4 Hz, and accents where asked."""
    a = AudioAnalysis.silent(duration, fps)
    t = a.times
    speech = np.zeros(a.num_frames, bool)
    for lo, hi in speech_spans:
        speech |= (t >= lo) & (t < hi)
    loud = (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) * speech
    a.speech = speech
    a.loudness = loud.astype(np.float32)
    a.openness = loud.astype(np.float32)
    a.pitch_hz = np.where(speech, 120.0, 0.0).astype(np.float32)
    if stresses is None:
        stresses = np.concatenate([np.arange(lo + 0.6, hi - 0.3, 1.3) for lo, hi in speech_spans])
    a.stress_times_s = np.asarray(stresses, np.float32)
    a.stress_strength = np.full(len(stresses), 0.9, np.float32)
    a.pause_starts_s = np.array([hi for _, hi in speech_spans], np.float32)
    a.pause_ends_s = np.array([lo for lo, _ in speech_spans[1:]] + [duration], np.float32)
    a.phrase_boundaries_s = a.pause_starts_s.copy()
    return a


@pytest.fixture(scope="module")
def speech_analysis(speech_wav):
    return analyze_audio(load_audio(speech_wav))


@pytest.fixture(scope="module")
def speech_motion(speech_analysis):
    return generate_motion(speech_analysis, seed=3)


def test_output_is_a_valid_motion(speech_motion, speech_analysis):
    m = speech_motion
    assert isinstance(m, MotionSequence)
    assert m.num_frames == speech_analysis.num_frames and m.fps == speech_analysis.fps
    assert m.meta["source"] == "embedded-generator" and m.meta["seed"] == 3
    m.validate()
    assert np.all(m.controls >= 0)
    assert np.allclose(m.scale, 1.0, atol=0.02)
    assert np.abs(m.translation).max() < 0.006  # a few millimetres


def test_same_seed_same_motion_different_seed_differs(speech_analysis):
    a, b = generate_motion(speech_analysis, seed=7), generate_motion(speech_analysis, seed=7)
    c = generate_motion(speech_analysis, seed=8)
    for name in ("global_rotation", "jaw", "eyes", "eyelids", "controls", "translation"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.allclose(a.global_rotation, c.global_rotation)
    assert not np.array_equal(a.eyelids, c.eyelids)
    assert np.array_equal(a.jaw, c.jaw)  # the mouth follows the sound, not the dice


def test_jaw_follows_loudness(speech_motion, speech_analysis):
    jaw = speech_motion.jaw_opening()
    assert np.corrcoef(jaw, speech_analysis.loudness)[0, 1] >= 0.6
    speaking = jaw[speech_analysis.speech]
    assert 0.04 < np.percentile(speaking, 75) and np.max(jaw) <= 0.31
    assert np.all(speech_motion.jaw[:, 1:] == 0)


def test_jaw_is_closed_in_silence():
    a = synthetic()
    jaw = generate_motion(a).jaw_opening()
    t = a.times
    silent = ((t > 8.1) & (t < 10.9)) | (t < 0.9) | (t > 18.1)
    assert np.all(jaw[silent] == 0)
    assert jaw[a.speech].max() > 0.2


def test_jaw_is_closed_for_bilabial_closures():
    a = synthetic()
    a.closure = np.zeros(a.num_frames, np.float32)
    a.closure[[100, 101, 150]] = 1.0
    jaw = generate_motion(a, config=EmbeddedMotionConfig(lead_time_s=0.0)).jaw_opening()
    assert np.all(jaw[[100, 101, 150]] == 0)
    press = generate_motion(a).controls[:, CONTROL_INDEX["lip_press"]]
    assert press[99:103].max() > 0.8


def test_mouth_anticipates_onsets():
    a = synthetic()
    late = generate_motion(a, config=EmbeddedMotionConfig(lead_time_s=0.0)).jaw_opening()
    early = generate_motion(a, config=EmbeddedMotionConfig(lead_time_s=0.08)).jaw_opening()
    onset = int(1.0 * a.fps)
    assert early[onset - 1] > late[onset - 1] + 0.03
    assert early[onset - 2:onset + 3].sum() > late[onset - 2:onset + 3].sum()
    offset = int(8.0 * a.fps)  # the mouth stays with the voice to its end, then shuts
    assert early[offset - 3:offset].sum() > 0 and np.all(early[offset + 2:offset + 20] == 0)


def test_nods_on_accents():
    stresses = np.array([2.0, 4.0, 6.0, 12.0, 14.5, 16.5])
    a = synthetic(stresses=stresses)
    pitch = np.mean([generate_motion(a, seed=s).head_euler_degrees()[:, 1] for s in range(6)], axis=0)
    t = a.times
    for s in stresses:
        apex = pitch[np.abs(t - (s + 0.06)) < 0.1].min()
        before = pitch[(t > s - 0.6) & (t < s - 0.35)].mean()
        after = pitch[(t > s + 0.45) & (t < s + 0.7)].mean()
        assert apex < before - 0.8 and apex < after - 0.8, s  # chin dips on the accent and comes back


def test_head_moves_more_while_speaking():
    a = synthetic()
    e = generate_motion(a, seed=1).head_euler_degrees()
    speed = np.linalg.norm(np.diff(e, axis=0), axis=1) * a.fps
    t = a.times[1:]
    speaking = ((t > 1.5) & (t < 7.5)) | ((t > 11.5) & (t < 17.5))
    pausing = (t > 8.8) & (t < 10.2)
    assert speed[speaking].mean() > 2.0 * speed[pausing].mean()


def test_head_motion_is_smooth_and_in_range(speech_motion, speech_analysis):
    e = speech_motion.head_euler_degrees()
    assert np.abs(e[:, 0]).max() <= 6.0 and np.abs(e[:, 1]).max() <= 5.0 and np.abs(e[:, 2]).max() <= 3.0
    assert e.std(axis=0).max() > 0.3  # it does move
    assert np.abs(np.diff(e, axis=0)).max() < 1.0  # degrees per frame at 25 fps: at most 25 deg/s
    # Energy above 3 Hz is a small share of the movement.
    x = e - e.mean(axis=0)
    spectrum = np.abs(np.fft.rfft(x, axis=0)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / speech_analysis.fps)
    assert spectrum[freqs > 3].sum() / spectrum.sum() < 0.02


def test_brows_rise_on_emphasis(speech_motion, speech_analysis):
    brow = speech_motion.controls[:, CONTROL_INDEX["brow_raise"]]
    assert 0.1 < brow.max() <= 0.5
    assert np.mean(brow > 0.05) < 0.5  # brief, not a constant surprised look


def test_lip_shapes_follow_the_drivers():
    a = synthetic()
    a.spread = np.where(a.times < 5, 0.8, -0.8).astype(np.float32) * a.speech
    a.labiodental = np.zeros(a.num_frames, np.float32)
    a.labiodental[300:303] = 1.0
    c = generate_motion(a).controls
    assert c[60:110, CONTROL_INDEX["lip_stretch"]].mean() > 0.4
    assert c[150:190, CONTROL_INDEX["lip_pucker"]].mean() + c[150:190, CONTROL_INDEX["lip_funnel"]].mean() > 0.5
    assert c[60:110, CONTROL_INDEX["lip_pucker"]].max() == 0
    assert c[299:303, CONTROL_INDEX["lower_lip_tuck"]].max() > 0.7


@pytest.mark.parametrize("rate", [0.0, 17.0, 30.0])
def test_blink_rate(rate):
    a = synthetic(duration=120.0, speech_spans=((1.0, 50.0), (53.0, 118.0)))
    counts = []
    for seed in range(3):
        lid = generate_motion(a, seed=seed, config=EmbeddedMotionConfig(blink_rate_per_min=rate)).eyelids
        assert np.array_equal(lid[:, 0], lid[:, 1])  # both eyes together
        counts.append(np.sum((lid[1:, 0] > 0.5) & (lid[:-1, 0] <= 0.5)))
    assert abs(np.mean(counts) - rate * 2) <= max(1.0, 0.15 * rate * 2)


def test_gaze_fixates_the_camera_with_saccades():
    a = synthetic(duration=30.0)
    m = generate_motion(a, seed=2)
    head = m.head_euler_degrees()
    eye_rot = m.eye_matrices()[:, 0]
    from flap.motion.rotations import euler_to_matrix, matrix_to_euler

    world = matrix_to_euler(euler_to_matrix(head[:, 0], head[:, 1], head[:, 2]) @ eye_rot)
    off_camera = np.linalg.norm(world[:, :2], axis=1)
    assert np.median(off_camera) < 2.0  # mostly on the camera despite head motion (VOR)
    assert off_camera.max() < 8.0
    jumps = np.linalg.norm(np.diff(m.eye_matrices()[:, 0, :2, 2], axis=0), axis=1)
    assert np.sum(jumps > np.deg2rad(1.5)) >= 3  # some fast saccades
    assert np.array_equal(m.eyes[:, :6], m.eyes[:, 6:])


def test_silence_gives_an_idle_listening_head():
    a = analyze_audio(AudioClip(np.zeros(16000 * 5, np.float32), 16000, "silence"))
    m = generate_motion(a)
    assert np.all(m.jaw == 0)
    assert np.all(m.controls[:, CONTROL_INDEX["lip_press"]] == 0)
    e = m.head_euler_degrees()
    assert 0.02 < e.std(axis=0).max() < 1.5  # alive but calm
    assert m.meta["warnings"]


@pytest.mark.parametrize("fps", [12.0, 30.0, 60.0])
def test_other_frame_rates(speech_wav, fps):
    a = analyze_audio(load_audio(speech_wav), fps=fps)
    m = generate_motion(a)
    assert m.num_frames == a.num_frames
    assert np.corrcoef(m.jaw_opening(), a.loudness)[0, 1] >= 0.55
    assert np.abs(np.diff(m.head_euler_degrees(), axis=0)).max() < 25.0 / fps


def test_one_frame_and_still_head():
    m = generate_motion(AudioAnalysis.silent(0.01))
    assert m.num_frames == 1
    still = generate_motion(synthetic(), config=EmbeddedMotionConfig(head_motion=0.0))
    assert np.allclose(still.global_rotation, 0) and np.allclose(still.translation, 0)


def test_config_is_checked():
    with pytest.raises(ValueError, match="blink_rate"):
        generate_motion(synthetic(), config=EmbeddedMotionConfig(blink_rate_per_min=-1))
    with pytest.raises(ValueError, match="lead_time"):
        generate_motion(synthetic(), config=EmbeddedMotionConfig(lead_time_s=0.5))
