"""Audio-to-FLAME network (tiny random weights): valid motion of the right length, determinism, emotion and style
change the output, save/load round trip, pretrained audio encoder by folder, clear input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flap.audio2motion.network import Audio2FlameNetwork, prepare_waveform, tiny_audio_encoder_config
from flap.engines.diffusion.testing import device_under_test
from flap.errors import AudioInputError, ControlRangeError
from flap.motion.representation import CONDITION_DIM, MotionSequence

pytestmark = [pytest.mark.usefixtures("torch_test_settings"), pytest.mark.gpu]  # one torch thread (tests/conftest.py)

DEVICE = device_under_test()


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return Audio2FlameNetwork.tiny().to(DEVICE)


@pytest.fixture(scope="module")
def speech():
    rng = np.random.default_rng(0)
    t = np.arange(int(1.2 * 22050)) / 22050
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def test_output_is_a_valid_motion_at_the_video_rate(net, speech):
    motion = net.generate(speech, 22050, fps=25.0)
    assert isinstance(motion, MotionSequence)
    assert motion.num_frames == 30 and motion.fps == 25.0  # 1.2 s at 25 fps
    condition = motion.to_condition()
    assert condition.shape == (30, CONDITION_DIM) and np.isfinite(condition).all()
    assert np.abs(motion.global_rotation).max() <= net.config.max_head_rotation + 1e-6
    assert 0 <= motion.eyelids.min() and motion.eyelids.max() <= 1
    assert net.generate(speech, 22050, fps=10.0).num_frames == 12


def test_same_input_same_output_and_conditions_matter(net, speech):
    a = net.generate(speech, 22050, emotion="happy", intensity=0.8, style=1).to_condition()
    assert np.array_equal(a, net.generate(speech, 22050, emotion="happy", intensity=0.8, style=1).to_condition())
    assert np.abs(a - net.generate(speech, 22050, emotion="sad", intensity=0.8, style=1).to_condition()).mean() > 1e-4
    assert np.abs(a - net.generate(speech, 22050, emotion="happy", intensity=0.8, style=2).to_condition()).mean() > 1e-4
    quiet = net.generate(np.zeros_like(speech), 22050, emotion="happy", intensity=0.8, style=1).to_condition()
    assert np.abs(a - quiet).mean() > 1e-4  # the audio is used


def test_batched_forward_shape(net):
    out = net(torch.randn(2, 16000, device=DEVICE), num_frames=7, emotion=torch.tensor([0, 3]),
              intensity=torch.tensor([1.0, 0.5]), style=torch.tensor([0, 1]))
    assert out.shape == (2, 7, CONDITION_DIM)


def test_save_and_load_round_trip(net, speech, tmp_path):
    net.save_pretrained(tmp_path / "a2f")
    loaded = Audio2FlameNetwork.from_pretrained(tmp_path / "a2f").to(DEVICE)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), loaded.state_dict().values()))
    assert np.array_equal(net.generate(speech, 22050).to_condition(), loaded.generate(speech, 22050).to_condition())


def test_pretrained_audio_encoder_from_a_folder(tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(1)
    encoder = Wav2Vec2Model(Wav2Vec2Config(**tiny_audio_encoder_config()))
    encoder.save_pretrained(tmp_path / "w2v")
    net = Audio2FlameNetwork.from_audio_encoder(str(tmp_path / "w2v"), d_model=16, num_layers=1, num_heads=2,
                                                ff_dim=16, num_styles=2)
    assert net.config.audio_encoder_id == str(tmp_path / "w2v")
    assert all(torch.equal(a, b) for a, b in zip(encoder.state_dict().values(), net.audio_encoder.state_dict().values()))


def test_clear_errors(net, speech):
    with pytest.raises(ControlRangeError, match="unknown emotion"):
        net.generate(speech, 22050, emotion="bored")
    with pytest.raises(ControlRangeError, match="style"):
        net.generate(speech, 22050, style=99)
    with pytest.raises(AudioInputError):
        net.generate(np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioInputError, match="NaN"):
        prepare_waveform(np.array([0.0, np.nan] * 500, np.float32), 16000, 16000)


def test_found_in_a_saved_full_model_and_loaded_on_the_cpu(net, tmp_path, monkeypatch):
    from flap.audio2motion.network import ENV_AUDIO2FLAME, find_audio2flame, load_audio2flame

    monkeypatch.delenv(ENV_AUDIO2FLAME, raising=False)
    monkeypatch.setenv("FLAP_MODEL", str(tmp_path / "model"))
    assert find_audio2flame() is None and load_audio2flame() is None  # no weights: the embedded generator is used
    net.save_pretrained(tmp_path / "model" / "audio_to_flame")
    assert find_audio2flame() == str(tmp_path / "model" / "audio_to_flame")
    loaded = load_audio2flame()
    assert isinstance(loaded, Audio2FlameNetwork) and loaded.out.weight.device.type == "cpu"
    monkeypatch.setenv(ENV_AUDIO2FLAME, "/somewhere/else")
    assert find_audio2flame() == "/somewhere/else"

