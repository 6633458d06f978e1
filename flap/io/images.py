"""Loading portraits: any common format, EXIF orientation applied, transparency flattened, huge images reduced."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from flap.errors import InputError

#: Longest side kept for analysis and paste-back output; larger photos are reduced (memory and speed).
MAX_WORKING_SIDE = 2048
MIN_IMAGE_SIDE = 64
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic")


def unreadable_image_message(name: str = "The portrait", suffix: str = "") -> str:
    """The one wording for a portrait that is not an image (a text file named .png, a PDF, a truncated JPEG)."""
    kind = f" ({suffix.lower()})" if suffix else ""
    return f"{name} could not be read as an image{kind}; use a JPEG, PNG or WebP photo"


def load_image(source, max_side: int = MAX_WORKING_SIDE) -> tuple[np.ndarray, list[str]]:
    """Return (RGB uint8 image, notes).  ``source`` is a path or an (H, W[, C]) array."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    notes: list[str] = []
    if isinstance(source, np.ndarray):
        image = _array_to_rgb(source)
    else:
        path = Path(os.fspath(source))
        if not path.exists():
            raise InputError(f"portrait file not found: {path}")
        if path.stat().st_size == 0:
            raise InputError(f"the portrait file {path.name} is empty")
        try:
            Image.MAX_IMAGE_PIXELS = 200_000_000
            with Image.open(path) as pil:
                pil = ImageOps.exif_transpose(pil)
                pil.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced size directly
                image = _pil_to_rgb(pil)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise InputError(unreadable_image_message(path.name, path.suffix or "no file extension")) from exc
    h, w = image.shape[:2]
    if min(h, w) < MIN_IMAGE_SIDE:
        raise InputError(f"the portrait is {w}x{h} pixels; it must be at least {MIN_IMAGE_SIDE} pixels on each side")
    if max(h, w) > max_side:
        import cv2

        factor = max_side / max(h, w)
        image = cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
        notes.append(f"the {w}x{h} photo was reduced to {image.shape[1]}x{image.shape[0]} for processing")
    return np.ascontiguousarray(image), notes


def _pil_to_rgb(pil) -> np.ndarray:
    from PIL import Image

    if pil.mode in ("RGBA", "LA", "PA") or (pil.mode == "P" and "transparency" in pil.info):
        rgba = pil.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(pil.convert("RGB"))


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    image = np.asarray(array)
    if image.dtype != np.uint8:
        if image.dtype.kind == "f" and image.size and image.max() <= 1.0 + 1e-6:
            image = image * 255.0
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise InputError(f"a portrait array must be (H, W), (H, W, 3) or (H, W, 4); got {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        image = (image[:, :, :3] * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
    return image
