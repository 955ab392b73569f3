"""Array helpers shared by the tasks: grids, conversions, display scaling."""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> (N, H, W, C) uint8."""
    return (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def to_tensor(images: np.ndarray, device=None) -> torch.Tensor:
    """(N, H, W, C) or (H, W, C) uint8 -> (N, C, H, W) floats in [0, 1]."""
    arr = images if images.ndim == 4 else images[None]
    return torch.from_numpy(np.ascontiguousarray(arr)).to(device).permute(0, 3, 1, 2).float() / 255


def grid(images: np.ndarray, columns: int | None = None, padding: int = 2, fill: int = 255) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (rows*H, columns*W, C) image, row-major, with gaps."""
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    out = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, c), fill, np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        out[y : y + h, x : x + w] = image
    return out


def resize(image: np.ndarray, scale: float, smooth: bool = False) -> np.ndarray:
    """Enlarge for display: nearest keeps 28 px digits pixel-crisp, Lanczos smooths them."""
    if scale == 1:
        return image
    h, w = image.shape[:2]
    squeeze = image.ndim == 3 and image.shape[2] == 1
    pil = Image.fromarray(image[..., 0] if squeeze else image)
    out = np.asarray(pil.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS if smooth else Image.NEAREST))
    return out[..., None] if squeeze else out


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Gray (H, W) or (H, W, 1) -> (H, W, 3); RGB passes through."""
    if image.ndim == 2:
        image = image[..., None]
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def composite(images: np.ndarray, background: int | np.ndarray = 255, premultiplied: bool = False) -> np.ndarray:
    """RGBA uint8 (..., 4) over a background -> RGB uint8 (..., 3).
    background: a grey level, or an RGB uint8 array broadcastable to the images."""
    x = images.astype(np.float32)
    alpha = x[..., 3:] / 255
    colour = x[..., :3] if premultiplied else x[..., :3] * alpha
    out = colour + (1 - alpha) * np.asarray(background, np.float32)
    return np.clip(out.round(), 0, 255).astype(np.uint8)


def unpremultiply(images: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA uint8 -> straight RGBA uint8 (what a PNG stores)."""
    x = images.astype(np.float32)
    alpha = x[..., 3:]
    rgb = np.where(alpha > 0, x[..., :3] * 255 / np.maximum(alpha, 1e-6), 0)
    return np.clip(np.concatenate([rgb, alpha], -1).round(), 0, 255).astype(np.uint8)
