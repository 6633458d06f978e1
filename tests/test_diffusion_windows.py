"""Long videos by causal overlapping windows: the plan, exactness where frames are independent, closeness to one
big window, and no jump at the joins.  Set FLAP_TEST_DEVICE=cuda to run on a GPU."""

from __future__ import annotations

import pytest
import torch

from flap.engines.diffusion.sampling import frame_noise, plan_windows, ramp
from flap.engines.diffusion.testing import (device_under_test, portrait,
                                            talking_motion, tiny_pipeline)

pytestmark = [pytest.mark.usefixtures("torch_test_settings"), pytest.mark.gpu]  # one torch thread (tests/conftest.py)

DEVICE = device_under_test()
FRAMES, WINDOW, OVERLAP, STEPS = 20, 12, 4, 4


@pytest.mark.parametrize("frames,window,overlap", [(1, 16, 4), (16, 16, 4), (17, 16, 4), (40, 16, 4), (1500, 16, 4),
                                                   (30, 8, 0), (9, 8, 7)])
def test_window_plan_covers_every_frame_with_full_windows(frames, window, overlap):
    plan = plan_windows(frames, window, overlap)
    assert plan[0][0] == 0 and plan[-1][1] == frames
    assert all(b - a == min(window, frames) for a, b in plan)
    for (a0, b0), (a1, b1) in zip(plan, plan[1:]):
        assert a0 < a1 and b0 - a1 >= overlap and b0 > a1 - (overlap == 0)  # overlapping (or touching) windows


def test_ramp_weights_fall_from_one_to_zero():
    w = ramp(4)
    assert torch.all(w[:-1] > w[1:]) and 0 < w[-1] < w[0] < 1


def test_frame_noise_depends_only_on_seed_and_frame():
    whole = frame_noise(3, 0, 6, (4, 2, 2))
    assert torch.equal(whole[:, :, 2:5], frame_noise(3, 2, 5, (4, 2, 2)))
    assert not torch.equal(whole, frame_noise(4, 0, 6, (4, 2, 2)))


def test_overlap_frames_follow_the_previous_windows_trajectory():
    """At every step, a window's first frames are exactly the previous window's last frames at that step."""
    from flap.engines.diffusion.pipeline import default_scheduler
    from flap.engines.diffusion.sampling import SamplingOptions, sample_latents

    calls = []

    def model(x, t, tokens=None, **kwargs):  # couples frames, like temporal attention does
        calls.append(x[:1].clone())
        return 0.3 * x + 0.2 * x.mean(dim=2, keepdim=True)

    options = SamplingOptions(num_inference_steps=3, window=6, overlap=2, guidance_scale=1.0)
    out = list(sample_latents(model, default_scheduler(), 14, lambda a, b: torch.zeros(b - a, 1, 1),
                              lambda a, b: frame_noise(0, a, b, (1, 2, 2)), options))
    plan = plan_windows(14, 6, 2)
    assert [a for a, _ in out] == [0, 4, 8] and sum(x.shape[2] for _, x in out) == 14
    steps = options.num_inference_steps
    for k in range(1, len(plan)):
        known = plan[k - 1][1] - plan[k][0]
        for s in range(steps):
            before, now = calls[(k - 1) * steps + s], calls[k * steps + s]
            assert torch.equal(now[:, :, :known], before[:, :, -known:])


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline(DEVICE)


@pytest.fixture(scope="module")
def reference(pipe):
    return pipe.prepare_reference(portrait(16))


def _latents(pipe, reference, window, seed=0, motion=None):
    motion = motion or talking_motion(FRAMES, amplitude=0.3)
    return torch.stack(list(pipe.stream(reference, motion, output="latents", num_inference_steps=STEPS, seed=seed,
                                        window=window, overlap=OVERLAP)))


def test_windows_equal_one_window_when_frames_are_independent(pipe, reference):
    """With the temporal layers bypassed every frame is denoised on its own, so windowing must change nothing:
    this checks the trajectory hand-over and the overlap blending bit for bit (up to float rounding)."""
    pipe.denoising_unet.set_temporal(False)
    try:
        whole = _latents(pipe, reference, window=FRAMES)
        windowed = _latents(pipe, reference, window=WINDOW)
    finally:
        pipe.denoising_unet.set_temporal(True)
    torch.testing.assert_close(windowed, whole, rtol=1e-4, atol=1e-4 * whole.abs().mean().item())


@pytest.mark.slow
def test_windows_stay_close_to_one_window_and_join_without_jumps(pipe, reference):
    whole = _latents(pipe, reference, window=FRAMES)
    windowed = _latents(pipe, reference, window=WINDOW)
    other_seed = _latents(pipe, reference, window=FRAMES, seed=1)
    seed_gap = (whole - other_seed).abs().mean()
    per_frame = (windowed - whole).abs().mean(dim=(1, 2, 3))
    assert per_frame.mean() < 0.15 * seed_gap  # windows only approximate full temporal attention
    # Joins: the frame-to-frame change across each join is what one big window gives there too.
    joins = [a for a, _ in plan_windows(FRAMES, WINDOW, OVERLAP)[1:]]
    step_windowed = (windowed[1:] - windowed[:-1]).abs().mean(dim=(1, 2, 3))
    step_whole = (whole[1:] - whole[:-1]).abs().mean(dim=(1, 2, 3))
    for a in joins:
        for i in (a - 1, a, a + OVERLAP - 1, a + OVERLAP):  # the overlap's first frame and the first new frame
            assert abs(step_windowed[i] - step_whole[i]) < 0.2 * step_whole.mean()
