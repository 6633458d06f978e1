"""Generating many short held-out clips at once with a FLAP model, for measuring what it learned.

The pipeline's own sampler (``FLAPPipeline.stream``) renders one video at a time in overlapping windows, which
is right for the app; an evaluation renders dozens of short clips, so here all clips go through the denoiser as
one batch (one reference per clip, classifier-free guidance in the same batch), with the model's public pieces:
``encode_condition``, ``project_reference``/``set_reference`` and the scheduler.  Clips are at most one window
long (the temporal layers' trained length), so windows are not needed.
"""

from __future__ import annotations

import copy

import numpy as np
import torch


@torch.no_grad()
def generate_clips(pipe, references: np.ndarray, conditions: np.ndarray, *, steps: int = 25, guidance: float = 2.0,
                   temporal: bool = True, drop_expression: bool = False, seed: int = 0, batch_clips: int = 32
                   ) -> np.ndarray:
    """references: (N, R, R, 3) uint8; conditions: (N, F, 120) -> (N, F, R, R, 3) uint8 frames.

    temporal=False samples as the image stages trained (temporal layers bypassed); drop_expression=True gives
    only the head condition (how stage 1 trained)."""
    from flap.training.datasets import to_tensor

    unet, device = pipe.denoising_unet, pipe.device
    dtype = unet.dtype
    unet.set_temporal(temporal)
    out = []
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    try:
        for a in range(0, len(references), batch_clips):
            ref = to_tensor(references[a:a + batch_clips], pipe.resolution).to(device)
            cond = torch.from_numpy(np.asarray(conditions[a:a + batch_clips], np.float32)).to(device)
            b, f = cond.shape[:2]
            ref_latent = pipe.encode_image(ref)
            features = pipe.reference_net(ref_latent.to(pipe.reference_net.dtype))
            guided = guidance != 1.0
            if guided:
                features = {k: torch.cat([v, v]) for k, v in features.items()}
            unet.set_reference(features)
            drop = torch.full((b,), bool(drop_expression), device=device)
            tokens = unet.encode_condition(cond, drop_expression=drop)
            if guided:
                tokens = torch.cat([tokens, torch.zeros_like(tokens)])
            scheduler = copy.deepcopy(pipe.scheduler)
            scheduler.set_timesteps(steps, device=device)
            c, h, w = pipe.latent_shape
            x = torch.randn((b, c, f, h, w), generator=generator).to(device) * scheduler.init_noise_sigma
            for t in scheduler.timesteps:
                model_in = scheduler.scale_model_input(torch.cat([x, x]) if guided else x, t)
                eps = unet(model_in.to(dtype), t, tokens=tokens).float()
                if guided:
                    cond_eps, uncond_eps = eps.chunk(2)
                    eps = uncond_eps + guidance * (cond_eps - uncond_eps)
                x = scheduler.step(eps, t, x).prev_sample
            frames = x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
            images = pipe.decode_latents(frames.to(dtype)).float().clamp(-1, 1)
            images = ((images + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            out.append(images.reshape(b, f, *images.shape[1:]))
    finally:
        unet.set_reference(None)
        unet.set_temporal(True)  # the pipeline's default
    return np.concatenate(out)
