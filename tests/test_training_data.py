"""Data preparation on videos made here: a talking video rendered by the embedded engine with espeak-ng speech is
kept (25 fps crops at the asked size, tracked motion that follows the rendered one, 16 kHz audio, cached audio
features, manifest); a corrupt file, a video with no face, a too-short one and one with two people are skipped with
their reasons.  Also: the synthetic set's cached portrait states render without MediaPipe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flap.io.video import VideoWriter, read_frames
from flap.training.manifest import ClipFrames, Manifest, clip_dir, read_wav
from flap.training.prepare import PrepareConfig, prepare_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def videos(tmp_path_factory, astronaut_rgb):
    from conftest import make_speech

    from flap.pipeline import JobConfig, generate

    folder = tmp_path_factory.mktemp("videos")
    speech = make_speech(folder / "speech.wav", "Hello there. This is a short test.", speed=170)
    result = generate(astronaut_rgb, speech, folder / "talk.mp4", config=JobConfig(size=192, seed=3))
    (folder / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    with VideoWriter(folder / "noface.mp4", 25, (128, 128)) as w:
        for i in range(60):
            w.write(np.full((128, 128, 3), 40 + i, np.uint8))
    frames = read_frames(folder / "talk.mp4")
    with VideoWriter(folder / "short.mp4", 25, (192, 192)) as w:
        for f in frames[:8]:
            w.write(f)
    pair = np.concatenate([frames[0], frames[0][:, ::-1]], axis=1)
    with VideoWriter(folder / "two_people.mp4", 25, (384, 192)) as w:
        for _ in range(60):
            w.write(pair)
    return folder, result.motion


@pytest.fixture(scope="module")
def audio_encoder(tmp_path_factory) -> Path:
    """A tiny wav2vec2 saved as a folder (stands in for facebook/wav2vec2-base, which needs the Hub)."""
    from flap.audio2motion.network import Audio2FlameNetwork

    folder = tmp_path_factory.mktemp("wav2vec2")
    Audio2FlameNetwork.tiny().audio_encoder.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def prepared(videos, audio_encoder, tmp_path_factory):
    folder, _ = videos
    out = tmp_path_factory.mktemp("prepared")
    config = PrepareConfig(resolution=96, min_seconds=1.0, audio_encoder=str(audio_encoder))
    summary = prepare_dataset(folder, out, config, progress=False)
    return out, summary


def test_unusable_files_are_skipped_with_their_reasons(prepared):
    out, summary = prepared
    reasons = {s.file: s.reason for s in summary.skipped}
    assert set(reasons) == {"corrupt.mp4", "noface.mp4", "short.mp4", "two_people.mp4"}
    assert reasons["corrupt.mp4"].startswith("corrupt")
    assert reasons["noface.mp4"].startswith("no face")
    assert reasons["short.mp4"].startswith("too short")
    assert reasons["two_people.mp4"].startswith("several people")
    text = summary.text()
    assert "kept 1 clip(s)" in text and "skipped 4" in text
    saved = json.loads((out / "summary.json").read_text())
    assert len(saved["kept"]) == 1 and len(saved["skipped"]) == 4
    assert not (out / "clips" / "corrupt").exists()


def test_kept_clip_has_crops_motion_audio_and_features(prepared, videos):
    out, _ = prepared
    _, rendered = videos
    manifest = Manifest.load(out)
    assert manifest.fps == 25.0 and manifest.resolution == 96 and manifest.sample_rate == 16000
    (clip,) = manifest.clips
    assert clip.has_audio and clip.has_audio_features and clip.crop_box is not None
    frames = ClipFrames(out, clip).read(np.arange(clip.num_frames))
    assert frames.shape == (clip.num_frames, 96, 96, 3)
    assert abs(clip.num_frames - rendered.num_frames) <= 1
    from flap.motion.representation import MotionSequence

    motion = MotionSequence.load(clip_dir(out, clip.id) / "motion.npz")
    assert motion.num_frames == clip.num_frames
    n = min(motion.num_frames, rendered.num_frames)
    assert np.corrcoef(motion.jaw[:n, 0], rendered.jaw[:n, 0])[0, 1] > 0.8  # the tracker follows the mouth
    assert np.corrcoef(motion.head_euler_degrees()[:n, 2], rendered.head_euler_degrees()[:n, 2])[0, 1] > 0.8
    samples, rate = read_wav(clip_dir(out, clip.id) / "audio.wav")
    assert rate == 16000 and abs(len(samples) / rate - clip.num_frames / 25) < 0.05
    features = np.load(clip_dir(out, clip.id) / "audio_features.npz")
    assert features["loudness"].shape == (clip.num_frames,) and features["speech"].any()
    states = np.load(clip_dir(out, clip.id) / "audio_encoder.npy")
    assert clip.has_audio_encoder_features and states.shape[1] == 32 and abs(len(states) - clip.num_frames * 2) <= 2


def test_audio_stage_trains_from_cached_encoder_states(prepared, audio_encoder, tmp_path):
    from flap.training.audio_task import AudioTask, CachedAudioEncoder
    from flap.training.loop import train
    from flap.training.testing import tiny_config

    out, _ = prepared
    config = tiny_config("audio", out, tmp_path / "run")
    config.model.audio_encoder = str(audio_encoder)
    config.audio.freeze_audio_encoder = True
    task = AudioTask(config)
    assert task.use_features and isinstance(task.network.audio_encoder, CachedAudioEncoder)
    assert "features" in task.dataset[0]
    result = train(config, task=task)
    assert np.isfinite(result.final_loss)
    from flap.audio2motion.network import Audio2FlameNetwork

    net = Audio2FlameNetwork.from_pretrained(result.export_dir)  # the real encoder is back in the export
    assert sum(p.numel() for p in net.audio_encoder.parameters()) > 0


def test_synthetic_cache_renders_without_mediapipe(tmp_path):
    from flap.training.synthetic import VARIANTS, build_cache

    build_cache(tmp_path / "cache", size=128, variants=VARIANTS[2:3])
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('mediapipe', 'soundfile', 'imageio_ffmpeg'):
            raise ImportError('blocked ' + name)
sys.meta_path.insert(0, Block())
from flap.training.synthetic import SyntheticSpec, render_dataset
m = render_dataset({str(tmp_path / 'cache')!r}, {str(tmp_path / 'data')!r},
                   SyntheticSpec(resolution=32, clips_per_identity=2, frames_per_clip=6), workers=1)
assert not [k for k in sys.modules if k.split('.')[0] == 'mediapipe']
print(len(m.clips))
"""
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("6")  # 2 portraits x 1 variant x (2 training clips + 1 held out)
    manifest = Manifest.load(tmp_path / "data")
    assert sorted(c.split for c in manifest.clips) == ["test"] * 2 + ["train"] * 4
    clip = manifest.clips[1]
    assert ClipFrames(tmp_path / "data", clip).read([0, 5]).shape == (2, 32, 32, 3)
    assert manifest.clips[1].head_motion > manifest.clips[0].head_motion  # amplitudes spread over the clips
