"""Audio-to-FLAME training: one step changes the network but not the frozen wav2vec2 front end, the cached
audio-encoder path computes exactly what the network computes from the waveform, and the export lands in a FLAP
pipeline that generates motion from speech."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flap.training.audio_task import AudioTask, CachedAudioEncoder
from flap.training.loop import train
from flap.training.manifest import Manifest, clip_dir, read_wav
from flap.training.testing import tiny_config, write_toy_set

pytestmark = pytest.mark.usefixtures("torch_test_settings")  # one torch thread (tests/conftest.py)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toyaudio")
    write_toy_set(root, clips=2, frames=16, size=16)
    return root


def test_one_audio_step_trains_all_but_the_frozen_feature_encoder(toy, tmp_path):
    config = tiny_config("audio", toy, tmp_path / "run")
    task = AudioTask(config)
    before = {n: p.detach().clone() for n, p in task.network.named_parameters()}
    result = train(config, task=task)
    assert result.steps == 1 and np.isfinite(result.final_loss)
    after = dict(task.network.named_parameters())
    frozen = [n for n in before if n.startswith("audio_encoder.feature_extractor.")]
    assert frozen and all(torch.equal(after[n].detach(), before[n]) for n in frozen)
    trained = [n for n in before if not n.startswith("audio_encoder.feature_extractor.")]
    changed = [n for n in trained if not torch.equal(after[n].detach(), before[n])]
    assert len(changed) >= 0.8 * len(trained)
    for name in ("out.weight", "audio_proj.weight", "style.weight", "audio_encoder.encoder.layers.0.attention.q_proj.weight"):
        assert name in changed


def test_cached_encoder_states_give_the_same_prediction(toy):
    from flap.audio2motion.network import Audio2FlameNetwork, prepare_waveform

    net = Audio2FlameNetwork.tiny().eval()
    samples, rate = read_wav(clip_dir(toy, Manifest.load(toy).clips[0].id) / "audio.wav")
    wave = torch.from_numpy(prepare_waveform(samples, rate, 16000))[None]
    with torch.no_grad():
        direct = net(wave, 12)
        states = net.audio_encoder(wave).last_hidden_state
        real, net.audio_encoder = net.audio_encoder, CachedAudioEncoder()
        cached = net(states, 12)
        net.audio_encoder = real
    torch.testing.assert_close(direct, cached)


def test_audio_export_into_a_pipeline_generates_motion(toy, tmp_path):
    stage = train(tiny_config("2", toy, tmp_path / "image"))
    config = tiny_config("audio", toy, tmp_path / "audio")
    config.audio.pipeline = str(stage.export_dir)
    result = train(config)
    from flap.engines.diffusion.pipeline import FLAPPipeline

    pipe = FLAPPipeline.from_pretrained(result.export_dir)
    assert pipe.audio_to_flame is not None
    motion = pipe.motion_from_audio(np.sin(np.arange(16000) / 10).astype(np.float32), 16000)
    assert motion.num_frames == 25 and np.isfinite(motion.to_condition()).all()
