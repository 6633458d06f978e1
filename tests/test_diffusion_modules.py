"""FLAP diffusion modules with tiny random weights: shapes, the conditions are really used, the head-motion and
expression paths are separable, parameter groups, image mode, DeepCache and gradient checkpointing.

Set FLAP_TEST_DEVICE=cuda to run the same checks on a GPU (scripts/gpu_full_model.sh does)."""

from __future__ import annotations

import pytest
import torch

from flap.engines.diffusion.denoising_unet import PARAMETER_GROUPS, DeepCache
from flap.engines.diffusion.testing import device_under_test, tiny_pipeline

pytestmark = [pytest.mark.usefixtures("torch_test_settings"), pytest.mark.gpu]  # one torch thread (tests/conftest.py)

DEVICE = device_under_test()


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline(DEVICE)


@pytest.fixture(scope="module")
def reference(pipe):
    torch.manual_seed(1)
    with torch.no_grad():
        return pipe.reference_net(torch.randn(1, 4, 8, 8, device=DEVICE))


def _inputs(frames=3, batch=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    sample = torch.randn(batch, 4, frames, 8, 8, generator=g).to(DEVICE)
    condition = (0.5 * torch.randn(batch, frames, 120, generator=g)).to(DEVICE)
    return sample, condition


def _run(unet, sample, condition, reference, **kw):
    with torch.no_grad():
        return unet(sample, 500, condition, reference=reference, **kw)


def test_forward_shape_and_same_as_diffusers_forward(pipe, reference):
    unet = pipe.denoising_unet
    sample, condition = _inputs(frames=3, batch=2)
    out = _run(unet, sample, condition, reference)
    assert out.shape == sample.shape
    assert torch.isfinite(out).all()
    # Our block-by-block forward must equal diffusers' own UNetMotionModel.forward on the same tokens.
    with torch.no_grad():
        tokens = unet.encode_condition(condition)
        theirs = unet.unet(sample, 500, encoder_hidden_states=tokens).sample
    torch.testing.assert_close(out, theirs, rtol=1e-5, atol=1e-5)


def test_reference_features_cover_every_self_attention(pipe, reference):
    assert set(reference) == set(pipe.denoising_unet.reference_layers)
    assert all("motion_modules" not in name for name in reference)


def test_condition_and_reference_are_used(pipe, reference):
    unet = pipe.denoising_unet
    sample, condition = _inputs()
    base = _run(unet, sample, condition, reference)
    other_condition = _run(unet, sample, condition.flip(0) * -1.0 + 0.3, reference)
    with torch.no_grad():
        other_ref = pipe.reference_net(torch.randn(1, 4, 8, 8, device=DEVICE) * 2)
    other_reference = _run(unet, sample, condition, other_ref)
    assert (base - other_condition).abs().mean() > 1e-3
    assert (base - other_reference).abs().mean() > 1e-3
    unet.set_reference(reference)


def test_head_and_expression_paths_are_separate(pipe, reference):
    unet = pipe.denoising_unet
    sample, condition = _inputs()
    head_changed = condition.clone()
    head_changed[..., 0:3] += 0.4
    expr_changed = condition.clone()
    expr_changed[..., 3:] += 0.4
    groups = unet.parameter_groups()
    # Encoder: head tokens depend only on columns 0:3, expression tokens only on 3:120.
    nh = unet.condition_encoder.config.head_tokens
    with torch.no_grad():
        t0, th, te = (unet.encode_condition(c) for c in (condition, head_changed, expr_changed))
    assert torch.equal(t0[:, nh:], th[:, nh:]) and not torch.equal(t0[:, :nh], th[:, :nh])
    assert torch.equal(t0[:, :nh], te[:, :nh]) and not torch.equal(t0[:, nh:], te[:, nh:])
    # UNet: with the head path's key/value projections zeroed, head motion has no effect at all (and likewise
    # for expression): the head tokens enter only through the head-motion layers.
    for group, changed, other in (("head_motion", head_changed, expr_changed), ("expression", expr_changed, head_changed)):
        kv = [p for n, p in groups[group].items() if any(k in n for k in ("to_k", "to_v"))]
        saved = [p.detach().clone() for p in kv]
        try:
            with torch.no_grad():
                for p in kv:
                    p.zero_()
            base = _run(unet, sample, condition, reference)
            torch.testing.assert_close(_run(unet, sample, changed, reference), base, rtol=0, atol=1e-6)
            assert (_run(unet, sample, other, reference) - base).abs().mean() > 1e-4
        finally:
            with torch.no_grad():
                for p, s in zip(kv, saved):
                    p.copy_(s)


def test_dropped_condition_branches(pipe, reference):
    unet = pipe.denoising_unet
    sample, condition = _inputs()
    dropped = _run(unet, sample, condition, reference, drop_head=torch.tensor([True]), drop_expression=torch.tensor([True]))
    zero_tokens = torch.zeros(3, unet.condition_encoder.num_tokens, unet.condition_encoder.config.token_dim, device=DEVICE)
    with torch.no_grad():
        torch.testing.assert_close(dropped, unet(sample, 500, tokens=zero_tokens))


def test_parameter_groups_are_disjoint_and_complete(pipe):
    unet = pipe.denoising_unet
    groups = unet.parameter_groups()
    assert tuple(groups) == PARAMETER_GROUPS
    names = [n for g in groups.values() for n in g]
    assert len(names) == len(set(names)) == len(list(unet.parameters()))
    assert all(len(g) > 0 for g in groups.values())
    assert all(".motion_modules." in n for n in groups["temporal"])
    assert {id(p) for p in unet.head_motion_parameters()}.isdisjoint({id(p) for p in unet.expression_parameters()})
    assert any("attn2.to_k" in n for n in groups["head_motion"])
    assert any("processor.to_k_expression" in n for n in groups["expression"])


def test_training_stages_freeze_the_right_groups(pipe):
    groups = pipe.parameter_groups()
    try:
        trainable = {id(p) for p in pipe.set_training_stage(2)}
        assert not {id(p) for p in groups["head_motion"].values()} & trainable
        assert {id(p) for p in groups["expression"].values()} <= trainable
        assert not {id(p) for p in groups["temporal"].values()} & trainable
        trainable = {id(p) for p in pipe.set_training_stage(3)}
        assert trainable == {id(p) for p in groups["temporal"].values()}
    finally:
        pipe.set_training_stage(1)
        for m in pipe._models():
            m.requires_grad_(False)


def test_image_mode_bypasses_temporal_layers(pipe, reference):
    unet = pipe.denoising_unet
    sample, condition = _inputs(frames=3)
    single = _run(unet, sample[:, :, :1], condition[:, :1], reference, temporal=False)
    assert single.shape == sample[:, :, :1].shape
    video = _run(unet, sample, condition, reference, temporal=False)
    torch.testing.assert_close(video[:, :, :1], single, rtol=1e-5, atol=1e-5)  # frames are independent
    with_temporal = _run(unet, sample, condition, reference, temporal=True)
    assert (with_temporal[:, :, :1] - single).abs().mean() > 1e-4


@pytest.mark.parametrize("branch", [0, 1])
def test_deep_cache_shallow_pass_reproduces_full_pass(pipe, reference, branch):
    unet = pipe.denoising_unet
    sample, condition = _inputs()
    cache = DeepCache()
    full = _run(unet, sample, condition, reference, cache=cache, cache_branch=branch)
    shallow = _run(unet, sample, condition, reference, cache=cache, shallow=True, cache_branch=branch)
    torch.testing.assert_close(shallow, full, rtol=1e-5, atol=1e-5)
    nearby = _run(unet, sample * 0.98, condition, reference, cache=cache, shallow=True, cache_branch=branch)
    assert (nearby - full).abs().mean() > 0


def test_gradient_checkpointing_gives_the_same_gradients(pipe):
    unet, refnet = pipe.denoising_unet, pipe.reference_net
    sample, condition = _inputs(frames=2)
    latent = torch.randn(1, 4, 8, 8, device=DEVICE)

    def grads():
        unet.zero_grad(set_to_none=True)
        refnet.zero_grad(set_to_none=True)
        loss = unet(sample, 300, condition, reference=refnet(latent)).square().mean()
        loss.backward()
        named = [(f"denoiser.{n}", p) for n, p in unet.named_parameters()]
        named += [(f"reference.{n}", p) for n, p in refnet.named_parameters()]
        return {n: p.grad.clone() for n, p in named if p.grad is not None}

    unet.requires_grad_(True)
    refnet.requires_grad_(True)
    try:
        plain = grads()
        unet.enable_gradient_checkpointing()
        refnet.enable_gradient_checkpointing()
        checkpointed = grads()
    finally:
        unet.disable_gradient_checkpointing()
        refnet.disable_gradient_checkpointing()
        unet.requires_grad_(False)
        refnet.requires_grad_(False)
        unet.zero_grad(set_to_none=True)
        refnet.zero_grad(set_to_none=True)
    assert plain.keys() == checkpointed.keys()
    # the ReferenceNet learns through reference attention
    assert any(n.startswith("reference.") and plain[n].abs().sum() > 0 for n in plain)
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], rtol=1e-3, atol=1e-5)
