"""Decoding every supported format, resampling, and a clear AudioInputError for every kind of bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from flap.audio import AudioClip, load_audio
from flap.errors import AudioInputError
from flap.io.ffmpeg import ffmpeg_executable


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_executable(), "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="module")
def formats(speech_wav, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("formats")
    files = {"wav": speech_wav}
    for ext, extra in {"mp3": [], "flac": [], "m4a": [], "ogg": [], "webm": ["-ar", "48000"], "opus": ["-ar", "48000"]}.items():
        path = out / f"speech.{ext}"
        ffmpeg("-i", str(speech_wav), "-ac", "2", *(extra or ["-ar", "44100"]), str(path))
        files[ext] = path
    stereo = out / "stereo_44k.wav"
    ffmpeg("-i", str(speech_wav), "-ac", "2", "-ar", "44100", str(stereo))
    files["stereo wav"] = stereo
    video = out / "talk.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=10", "-i", str(speech_wav), "-shortest",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(video))
    files["mp4 video"] = video
    return files


@pytest.fixture(scope="module")
def reference(speech_wav) -> AudioClip:
    return load_audio(speech_wav)


def _envelope(x: np.ndarray, hop: int = 320) -> np.ndarray:
    n = len(x) // hop
    return np.sqrt((x[: n * hop].reshape(n, hop) ** 2).mean(axis=1))


@pytest.mark.parametrize("kind", ["wav", "mp3", "flac", "m4a", "ogg", "webm", "opus", "stereo wav", "mp4 video"])
def test_every_format_decodes_to_the_same_speech(formats, reference, kind):
    clip = load_audio(formats[kind])
    assert clip.sample_rate == 16000
    assert clip.samples.dtype == np.float32 and clip.samples.ndim == 1
    assert np.abs(clip.samples).max() <= 1.0
    assert abs(clip.duration - reference.duration) < 0.12, (kind, clip.duration, reference.duration)
    # Same content: the loudness envelopes line up (codec delay is at most a few ms).
    a, b = _envelope(reference.samples), _envelope(clip.samples)
    n = min(len(a), len(b))
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.95, kind
    assert clip.source == formats[kind].name


def test_resampling_keeps_duration_and_pitch(tmp_path):
    sr = 44100
    t = np.arange(int(2.5 * sr)) / sr
    tone = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    path = tmp_path / "tone.wav"
    sf.write(path, np.stack([tone, tone], axis=1), sr)
    for rate in (16000, 22050, 48000):
        clip = load_audio(path, sample_rate=rate)
        assert clip.sample_rate == rate
        assert abs(clip.duration - 2.5) < 1.5 / rate * 10
        spectrum = np.abs(np.fft.rfft(clip.samples * np.hanning(len(clip.samples))))
        peak = np.argmax(spectrum) * rate / len(clip.samples)
        assert abs(peak - 440.0) < 2.0
        assert abs(np.sqrt(np.mean(clip.samples[1000:-1000] ** 2)) - 0.5 / np.sqrt(2)) < 0.01


def test_stereo_is_mixed_down(tmp_path):
    sr = 16000
    left = np.full(sr, 0.4, np.float32)
    right = np.full(sr, -0.2, np.float32)
    path = tmp_path / "st.wav"
    sf.write(path, np.stack([left, right], axis=1), sr, subtype="FLOAT")
    clip = load_audio(path)
    assert np.allclose(clip.samples, 0.1, atol=1e-4)


def test_silence_is_not_an_error(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000 * 2, np.float32), 16000)
    clip = load_audio(path)
    assert clip.duration == pytest.approx(2.0) and not clip.samples.any()


# ------------------------------------------------------------------------------------------------ bad inputs
def _error(path, **kwargs) -> str:
    with pytest.raises(AudioInputError) as info:
        load_audio(path, **kwargs)
    message = str(info.value)
    assert "Traceback" not in message and "File \"" not in message
    assert len(message) < 400
    return message


def test_missing_file(tmp_path):
    assert "not found" in _error(tmp_path / "nowhere.wav")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp3"
    path.write_bytes(b"")
    assert "empty" in _error(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    message = _error(path)
    assert "noise.wav" in message and "not a readable audio file" in message


def test_image_renamed_to_wav(tmp_path, astronaut_rgb):
    from PIL import Image

    path = tmp_path / "photo.wav"
    Image.fromarray(astronaut_rgb).save(path, format="JPEG")
    message = _error(path)
    assert "no audio track" in message and "image" in message


def test_video_without_audio(tmp_path):
    path = tmp_path / "silent_video.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=10", "-t", "1", "-pix_fmt", "yuv420p", str(path))
    message = _error(path)
    assert "no audio track" in message and "video" in message


def test_truncated_wav(speech_wav, tmp_path):
    path = tmp_path / "cut.wav"
    path.write_bytes(speech_wav.read_bytes()[:30000])
    message = _error(path)
    assert "truncated" in message and "s of audio" in message


def test_truncated_flac(formats, tmp_path):
    path = tmp_path / "cut.flac"
    path.write_bytes(formats["flac"].read_bytes()[:20000])
    assert "truncated" in _error(path)


def test_half_a_header(speech_wav, tmp_path):
    path = tmp_path / "header.wav"
    path.write_bytes(speech_wav.read_bytes()[:20])
    assert "not a readable audio file" in _error(path)


def test_zero_length_audio(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, np.float32), 16000)
    assert "zero length" in _error(path)


@pytest.mark.parametrize("kind", ["wav", "mp3"])
def test_longer_than_the_limit(formats, kind):
    message = _error(formats[kind], max_seconds=3)
    assert "limit is 3 s" in message
    assert "s long" in message  # says how long the file is


def test_within_the_limit_loads(formats):
    clip = load_audio(formats["mp3"], max_seconds=60)
    assert clip.duration > 3
