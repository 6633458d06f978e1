"""analyze_audio: shapes and frame windows, voice activity, loudness normalisation, pitch, lip drivers on
contrasting texts, silence, and speed."""

from __future__ import annotations


import numpy as np
import pytest

from conftest import make_speech
from flap.audio import AudioAnalysisConfig, AudioClip, analyze_audio, load_audio
from flap.audio.pitch import track_pitch


def speak(tmp_path_factory, text: str, voice: str = "en-us", speed: int = 150) -> AudioClip:
    path = tmp_path_factory.mktemp("say") / "say.wav"
    return load_audio(make_speech(path, text, voice, speed))


def events(x: np.ndarray, threshold: float = 0.5) -> int:
    return int(np.sum((x[1:] > threshold) & (x[:-1] <= threshold)))


@pytest.fixture(scope="module")
def clip(speech_wav) -> AudioClip:
    return load_audio(speech_wav)


@pytest.fixture(scope="module")
def analysis(clip):
    return analyze_audio(clip)


@pytest.fixture(scope="module")
def paused(tmp_path_factory):
    """Two sentences with 1.5 s of silence between them (and a faint noise floor).  Returns the clip and the
    pause's true start and end (espeak pads each sentence with its own trailing silence, measured here)."""
    first = speak(tmp_path_factory, "The weather is lovely today.")
    second = speak(tmp_path_factory, "Let us go for a walk.")
    sr = first.sample_rate
    gap = np.zeros(int(1.5 * sr), np.float32)
    samples = np.concatenate([first.samples, gap, second.samples])
    samples += np.random.default_rng(0).normal(0, 1e-3, len(samples)).astype(np.float32)
    voice_end = (len(first.samples) - np.argmax(np.abs(first.samples[::-1]) > 0.01)) / sr
    voice_start = np.argmax(np.abs(second.samples) > 0.01) / sr
    return AudioClip(samples, sr, "paused"), voice_end, first.duration + 1.5 + voice_start


def test_shapes_and_types(analysis, clip):
    t = analysis.num_frames
    assert t == round(clip.duration * 25)
    for name in ("loudness", "pitch_hz", "openness", "spread", "closure", "labiodental"):
        value = getattr(analysis, name)
        assert value.shape == (t,) and value.dtype == np.float32 and np.all(np.isfinite(value)), name
    assert analysis.speech.dtype == bool
    assert 0 <= analysis.loudness.min() and analysis.loudness.max() <= 1
    assert -1 <= analysis.spread.min() and analysis.spread.max() <= 1
    assert analysis.openness.min() >= 0 and analysis.closure.max() <= 1
    assert analysis.phonemes is None and analysis.warnings == []


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0])
def test_frame_count_follows_fps(clip, fps):
    a = analyze_audio(clip, fps=fps)
    assert a.num_frames == round(clip.duration * fps)
    assert a.fps == fps


def test_speech_is_detected_and_prosody_found(analysis):
    assert 0.6 < analysis.speech.mean() < 0.98
    assert len(analysis.stress_times_s) >= 5
    frames = np.minimum((analysis.stress_times_s * analysis.fps).astype(int), analysis.num_frames - 1)
    assert analysis.speech[frames].mean() > 0.9  # accents sit on speech
    assert np.all((analysis.stress_strength > 0) & (analysis.stress_strength <= 1))
    assert len(analysis.phrase_boundaries_s) >= 2  # "Hello there." ... "system." ...
    voiced = analysis.pitch_hz > 0
    assert voiced.mean() > 0.3
    assert 70 < np.median(analysis.pitch_hz[voiced]) < 200  # espeak's default male voice


@pytest.mark.parametrize("vad", ["silero", "energy"])
def test_vad_finds_the_inserted_pause(paused, vad):
    clip, pause_start, pause_end = paused
    a = analyze_audio(clip, config=AudioAnalysisConfig(vad=vad))
    assert a.vad_method == vad
    t = a.times
    inside = (t > pause_start + 0.15) & (t < pause_end - 0.15)
    assert not a.speech[inside].any()
    assert a.speech[(t > 0.3) & (t < pause_start - 0.3)].mean() > 0.8
    assert a.speech[(t > pause_end + 0.2) & (t < a.duration - 0.4)].mean() > 0.8
    assert np.min(np.abs(a.pause_starts_s - pause_start)) < 0.2
    assert np.all(a.openness[inside] == 0)


def test_loudness_does_not_depend_on_recording_level(clip):
    quiet = AudioClip(clip.samples * 0.05, clip.sample_rate, "quiet")
    a, b = analyze_audio(clip), analyze_audio(quiet)
    assert np.abs(a.loudness - b.loudness).max() < 0.05
    assert np.mean(a.speech == b.speech) > 0.97  # Silero may move an edge by a frame


def test_any_sample_rate_in_memory(clip):
    import soxr

    hi = AudioClip.from_array(soxr.resample(clip.samples, 16000, 44100), 44100, "44k")
    a, b = analyze_audio(clip), analyze_audio(hi)
    assert a.num_frames == b.num_frames
    assert np.corrcoef(a.openness, b.openness)[0, 1] > 0.97


def test_pitch_of_a_harmonic_tone():
    sr = 16000
    t = np.arange(sr) / sr
    for f0 in (95.0, 150.0, 240.0):
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)).astype(np.float32) * 0.3
        track = track_pitch(tone, sr)
        core = track.f0_hz[10:-10]
        assert track.voiced[10:-10].all()
        assert np.median(np.abs(core / f0 - 1)) < 0.01


def test_closure_fires_on_bilabials(tmp_path_factory):
    bilabial = analyze_audio(speak(tmp_path_factory, "Papa Bob, a baby boy, bumped my big map."))
    none = analyze_audio(speak(tmp_path_factory, "The cat sat on the hat, said the kid."))
    assert events(bilabial.closure) >= 4
    assert events(bilabial.closure) >= events(none.closure) + 3
    assert bilabial.closure.sum() > 2.5 * none.closure.sum()


def test_spread_differs_between_ee_and_oo(tmp_path_factory):
    ee = analyze_audio(speak(tmp_path_factory, "We see three green trees, see me."))
    oo = analyze_audio(speak(tmp_path_factory, "Who knew you do two moons, go home now."))
    spread_ee = ee.spread[ee.speech].mean()
    spread_oo = oo.spread[oo.speech].mean()
    assert spread_ee > 0.15
    assert spread_ee - spread_oo > 0.25


def test_labiodental_fires_on_f_and_v_more_than_on_s(tmp_path_factory):
    fv = analyze_audio(speak(tmp_path_factory, "Five fine vans, off, fluffy velvet."))
    s = analyze_audio(speak(tmp_path_factory, "Six sissy seas, say yes."))
    assert events(fv.labiodental) >= 4
    assert events(fv.labiodental) > events(s.labiodental)


def test_other_languages_and_voices(tmp_path_factory):
    for voice, text in [("de", "Guten Tag, wie geht es dir heute?"), ("fr", "Bonjour, comment allez-vous?"),
                        ("es", "Buenos días, cómo estás hoy?")]:
        a = analyze_audio(speak(tmp_path_factory, text, voice))
        assert a.speech.mean() > 0.5, voice
        assert np.corrcoef(a.openness, a.loudness)[0, 1] > 0.8, voice


def test_silence_warns_and_keeps_the_mouth_closed():
    a = analyze_audio(AudioClip(np.zeros(16000 * 3, np.float32), 16000, "silence"))
    assert not a.speech.any()
    assert not a.openness.any() and not a.closure.any()
    assert a.warnings and "silent" in a.warnings[0]
    assert len(a.stress_times_s) == 0


def test_noise_only_is_not_speech():
    noise = np.random.default_rng(1).normal(0, 0.05, 16000 * 3).astype(np.float32)
    a = analyze_audio(AudioClip(noise, 16000, "hiss"))
    assert a.speech.mean() < 0.05
    assert a.warnings and "no speech" in a.warnings[0]


def test_tiny_clip():
    a = analyze_audio(AudioClip(np.zeros(100, np.float32), 16000, "blip"))
    assert a.num_frames == 1


def test_numpy_silero_equals_the_packaged_torch_model(clip, paused):
    """The numpy runner (the default: no torch import) against silero-vad's own TorchScript model, on speech with a
    pause and on quiet noise."""
    from flap.audio.silero_numpy import NumpySilero, weights_path
    from flap.audio.vad import _SileroRunner

    torch_runner = _SileroRunner()
    numpy_runner = NumpySilero(weights_path())
    noise = (np.random.default_rng(0).normal(size=16000) * 0.01).astype(np.float32)
    for samples in (clip.samples, paused[0].samples, noise):
        samples = np.asarray(samples, np.float32)
        expected, got = torch_runner(samples), numpy_runner(samples, block=100)  # small blocks: the state is carried
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4
    assert torch_runner(clip.samples).max() > 0.9, "speech must be found (the check compares something)"
