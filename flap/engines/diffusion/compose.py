"""Image plumbing around the model: portrait <-> tensors at the model's resolution, and paste-back into the photo."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from flap.errors import InputError


def image_to_tensor(image: np.ndarray | Image.Image, size: int) -> torch.Tensor:
    """(H, W, 3) uint8 RGB (or PIL) -> (1, 3, size, size) float32 in [-1, 1]."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"the reference portrait must be an (H, W, 3) uint8 RGB image; got {image.shape} {image.dtype}")
    if image.shape[:2] != (size, size):
        image = np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC))
    return torch.from_numpy(image.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]


def tensor_to_frames(images: torch.Tensor, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """(N, 3, H, W) in [-1, 1] -> N (h, w, 3) uint8 frames, resized to ``size`` = (h, w) when given."""
    array = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    frames = list(array)
    if size is not None and tuple(size) != array.shape[1:3]:
        frames = [np.asarray(Image.fromarray(f).resize((size[1], size[0]), Image.BICUBIC)) for f in frames]
    return frames


def paste_back(frame: np.ndarray, photo: np.ndarray, box: tuple[int, int, int, int], feather: float = 0.08) -> np.ndarray:
    """Put a rendered crop back into the full photo.  box = (x0, y0, x1, y1) of the crop in the photo (may extend
    past its edges); the crop's border is faded over ``feather`` of its size so no edge shows."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    if x1 <= x0 or y1 <= y0:
        raise InputError(f"empty crop box {box}")
    crop = np.asarray(Image.fromarray(frame).resize((x1 - x0, y1 - y0), Image.BICUBIC)).astype(np.float32)
    h, w = crop.shape[:2]
    ramp_y = np.clip(np.minimum(np.arange(h), np.arange(h)[::-1]) / max(feather * h, 1.0), 0, 1)
    ramp_x = np.clip(np.minimum(np.arange(w), np.arange(w)[::-1]) / max(feather * w, 1.0), 0, 1)
    alpha = (ramp_y[:, None] * ramp_x[None, :])[..., None]
    out = photo.astype(np.float32).copy()
    H, W = photo.shape[:2]
    px0, py0, px1, py1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if px1 <= px0 or py1 <= py0:
        return photo.copy()
    c = crop[py0 - y0: py1 - y0, px0 - x0: px1 - x0]
    a = alpha[py0 - y0: py1 - y0, px0 - x0: px1 - x0]
    out[py0:py1, px0:px1] = a * c + (1 - a) * out[py0:py1, px0:px1]
    return np.clip(out.round(), 0, 255).astype(np.uint8)
