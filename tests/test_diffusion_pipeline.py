"""FLAPPipeline end to end with tiny random weights: frames, determinism, the condition and the reference are
used, save/load round trips exactly, pixel-space models, composing from standard parts, paste-back.

Set FLAP_TEST_DEVICE=cuda to run the same checks on a GPU (scripts/gpu_full_model.sh does)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flap.engines.diffusion.compose import paste_back
from flap.engines.diffusion.pipeline import FLAPPipeline
from flap.engines.diffusion.sampling import SamplingOptions, SamplingStats
from flap.engines.diffusion.testing import (device_under_test, portrait,
                                            talking_motion, tiny_pipeline)
from flap.errors import MotionFormatError
from flap.motion.representation import MotionSequence

pytestmark = [pytest.mark.usefixtures("torch_test_settings"), pytest.mark.gpu]  # one torch thread (tests/conftest.py)

DEVICE = device_under_test()
STEPS = 3


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline(DEVICE)


@pytest.fixture(scope="module")
def motion():
    return talking_motion(6, amplitude=0.5)


@pytest.fixture(scope="module")
def frames(pipe, motion):
    return pipe(portrait(24), motion, num_inference_steps=STEPS, seed=3).frames


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def test_frames_at_crop_size(frames, motion):
    assert frames.shape == (motion.num_frames, 24, 24, 3)
    assert frames.dtype == np.uint8
    assert frames.std() > 0


def test_same_seed_same_video_other_seed_other_video(pipe, motion, frames):
    again = pipe(portrait(24), motion, num_inference_steps=STEPS, seed=3).frames
    assert np.array_equal(again, frames)
    assert _diff(pipe(portrait(24), motion, num_inference_steps=STEPS, seed=4).frames, frames) > 1.0


def test_condition_and_reference_change_the_frames(pipe, motion, frames):
    def latents(image, m):
        return torch.stack(list(pipe.stream(image, m, output="latents", num_inference_steps=STEPS, seed=3)))

    base = latents(portrait(24), motion)
    scale = base.abs().mean()
    other_motion = talking_motion(motion.num_frames, seed=9, amplitude=1.0)
    assert (latents(portrait(24), other_motion) - base).abs().mean() > 1e-2 * scale
    assert (latents(portrait(24, seed=7), motion) - base).abs().mean() > 1e-3 * scale
    assert _diff(pipe(portrait(24, seed=7), motion, num_inference_steps=STEPS, seed=3).frames, frames) > 0


def test_accepts_a_condition_array_and_rejects_bad_shapes(pipe, motion, frames):
    from_array = pipe(portrait(24), motion.to_condition(), num_inference_steps=STEPS, seed=3).frames
    assert np.array_equal(from_array, frames)
    with pytest.raises(MotionFormatError, match="120"):
        pipe(portrait(24), np.zeros((4, 100)), num_inference_steps=1)


def test_save_and_load_round_trip_is_exact(pipe, motion, frames, tmp_path):
    pipe.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "model_index.json").read_text())["denoising_unet"][1] == "FLAPDenoisingUNet"
    loaded = FLAPPipeline.from_pretrained(tmp_path).to(DEVICE)
    for name in ("reference_net", "denoising_unet", "vae"):
        ours, theirs = getattr(pipe, name).state_dict(), getattr(loaded, name).state_dict()
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert np.array_equal(loaded(portrait(24), motion, num_inference_steps=STEPS, seed=3).frames, frames)


def test_pixel_space_model_without_vae(tmp_path):
    pipe = tiny_pipeline(DEVICE, pixel_space=True, resolution=8)
    assert pipe.vae is None and pipe.resolution == 8 and pipe.latent_shape == (3, 8, 8)
    out = pipe(portrait(8), talking_motion(3), num_inference_steps=2, seed=0).frames
    assert out.shape == (3, 8, 8, 3)
    pipe.save_pretrained(tmp_path)
    loaded = FLAPPipeline.from_pretrained(tmp_path).to(DEVICE)
    assert loaded.vae is None
    assert np.array_equal(loaded(portrait(8), talking_motion(3), num_inference_steps=2, seed=0).frames, out)


def test_fast_options_run_fewer_full_passes(pipe, motion):
    plain, fast = SamplingStats(), SamplingStats()
    ref = pipe.prepare_reference(portrait(24))
    a = torch.stack(list(pipe.stream(ref, motion, output="latents", stats=plain, num_inference_steps=6)))
    b = torch.stack(list(pipe.stream(ref, motion, output="latents", stats=fast, options=SamplingOptions.fast(),
                                     num_inference_steps=6)))
    assert plain.full_frames == 6 * 2 * motion.num_frames and not plain.shallow_frames
    assert fast.full_frames < plain.full_frames and fast.shallow_frames
    assert a.shape == b.shape and torch.isfinite(b).all()


@pytest.mark.slow
def test_compiled_pipeline_gives_the_same_frames(motion, frames, monkeypatch):
    """optimize_for_inference(compile=True) wraps the denoiser's blocks and the VAE decoder; traced by dynamo
    (the 'eager' backend keeps the test quick), the frames must not change, and no block may fall back to eager
    because dynamo's per-code-object variant limit ran out (here lowered to 2; the tiny UNet has 7 resnet shapes)."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 2)
    torch._dynamo.reset()
    counters.clear()
    compiled = tiny_pipeline(DEVICE).optimize_for_inference(dtype=torch.float32, compile=True, backend="eager")
    assert compiled.vae is not None and hasattr(compiled.vae.decoder, "_compiled_call_impl")
    conv = compiled.denoising_unet.unet.conv_in.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()  # NHWC pays compiled
    again = compiled(portrait(24), motion, num_inference_steps=STEPS, seed=3).frames
    assert _diff(again, frames) < 0.5
    assert not any("recompile limit" in reason.lower() for reason in counters["unimplemented"])
    assert counters["stats"]["unique_graphs"] > 2


def test_progress_reports_every_step(pipe):
    calls = []
    list(pipe.stream(portrait(24), MotionSequence.neutral(5), num_inference_steps=2, window=4, overlap=1,
                     progress=lambda done, total: calls.append((done, total))))
    assert calls == [(i, 4) for i in range(1, 5)]  # 2 windows x 2 steps


def test_paste_back_into_the_photo():
    photo = np.full((40, 60, 3), 10, np.uint8)
    frame = np.full((16, 16, 3), 200, np.uint8)
    out = paste_back(frame, photo, (20, 10, 40, 30))
    assert out.shape == photo.shape
    assert out[20, 30].min() > 150 and out[0, 0].max() == 10  # crop centre replaced, outside untouched
    assert 10 < out[10, 30, 0] < 200 or out[10, 30, 0] == 10  # feathered edge


@pytest.mark.slow
def test_compose_from_standard_parts(tmp_path):
    """SD-layout UNet + VAE folder, a MotionAdapter folder and a wav2vec2 folder -> a trainable pipeline."""
    from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    from flap.audio2motion.network import tiny_audio_encoder_config
    from flap.engines.diffusion.config import ConditionEncoderConfig, FLAPModelConfig

    config = FLAPModelConfig.tiny(resolution=16)
    torch.manual_seed(0)
    sd_unet = UNet2DConditionModel(**config.unet.unet2d_kwargs())
    sd_unet.save_pretrained(tmp_path / "sd" / "unet")
    AutoencoderKL(down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                  block_out_channels=[16, 32], layers_per_block=1, norm_num_groups=8).save_pretrained(tmp_path / "sd" / "vae")
    MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=1, motion_num_attention_heads=2,
                  motion_norm_num_groups=8, motion_max_seq_length=32, use_motion_mid_block=True
                  ).save_pretrained(tmp_path / "adapter")
    Wav2Vec2Model(Wav2Vec2Config(**tiny_audio_encoder_config())).save_pretrained(tmp_path / "w2v")

    pipe = FLAPPipeline.from_parts(str(tmp_path / "sd"), str(tmp_path / "adapter"), str(tmp_path / "w2v"),
                                   condition=ConditionEncoderConfig(token_dim=32, hidden_dim=32, head_tokens=2,
                                                                    expression_tokens=2, head_frequencies=2),
                                   num_styles=2, d_model=32, num_layers=1, num_heads=2, ff_dim=32)
    # The ReferenceNet and the denoiser's spatial layers start from the SD UNet's weights.
    sd = sd_unet.state_dict()
    key = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight"
    assert torch.equal(pipe.reference_net.unet.state_dict()[key], sd[key])
    assert torch.equal(pipe.denoising_unet.unet.state_dict()[key], sd[key])
    cross = pipe.denoising_unet.unet.down_blocks[0].attentions[0].transformer_blocks[0].attn2
    assert torch.equal(cross.processor.to_k_expression.weight, cross.to_k.weight)
    out = pipe.to(DEVICE)(portrait(16), talking_motion(2), num_inference_steps=1).frames
    assert out.shape == (2, 16, 16, 3)
    assert pipe.motion_from_audio(np.zeros(8000, np.float32), 16000, fps=10).num_frames == 5
