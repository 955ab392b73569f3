"""Super-resolution: any size and mode, in overlapping tiles so memory stays bounded."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from PIL import Image

from genstudio.devices import autocast
from genstudio.errors import UserError
from genstudio.registry import LoadedModel
from genstudio.tasks.io import normalize_array


def _check(model: LoadedModel) -> int:
    if model.task != "upscale":
        raise UserError(f"model {model.name!r} is a {model.task!r} model, not a super-resolution model")
    return int(model.card["scale"])


Progress = Callable[[float, str], None]


@torch.no_grad()
def _run_rgb(
    rgb: np.ndarray, model: LoadedModel, tile: int, overlap: int, progress: Progress | None = None
) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> (H*s, W*s, 3), tile by tile with `overlap` LR pixels of context."""
    scale = _check(model)
    h, w = rgb.shape[:2]
    x = torch.from_numpy(np.array(rgb, copy=True)).to(model.device).permute(2, 0, 1)[None].float() / 255
    out = np.empty((h * scale, w * scale, 3), np.uint8)
    tile = max(16, int(tile)) if tile else max(h, w)
    corners = [(top, left) for top in range(0, h, tile) for left in range(0, w, tile)]
    for done, (top, left) in enumerate(corners):
        # the tile plus context on every side; only the tile's own part is kept
        y0, x0 = max(0, top - overlap), max(0, left - overlap)
        y1, x1 = min(h, top + tile + overlap), min(w, left + tile + overlap)
        with autocast(model.device):
            up = model.net(x[:, :, y0:y1, x0:x1]).float()
        up = (up.clamp(0, 1) * 255).round().byte()[0].permute(1, 2, 0).cpu().numpy()
        th, tw = min(tile, h - top), min(tile, w - left)
        oy, ox = (top - y0) * scale, (left - x0) * scale
        out[top * scale : (top + th) * scale, left * scale : (left + tw) * scale] = up[
            oy : oy + th * scale, ox : ox + tw * scale
        ]
        if progress:
            progress((done + 1) / len(corners), f"tile {done + 1} of {len(corners)}")
    return out


def upscale_array(
    image: np.ndarray, model: LoadedModel, tile: int = 256, overlap: int = 16, progress: Progress | None = None
) -> np.ndarray:
    """Upscale by the model's scale. Gray stays gray (the net sees it as RGB, the output's
    channels are averaged back), alpha is upscaled with bicubic. `tile` is in input pixels
    (0 = whole image at once)."""
    image = normalize_array(image)
    scale = _check(model)
    gray = image.ndim == 2 or image.shape[2] == 2
    color = image if image.ndim == 2 else image[..., :1] if gray else image[..., :3]
    rgb = np.repeat(color.reshape(*color.shape[:2], 1), 3, axis=2) if gray else color
    up = _run_rgb(rgb, model, tile, overlap, progress)
    if gray:
        up = np.round(up.astype(np.float32).mean(axis=2)).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] in (2, 4):
        alpha = Image.fromarray(image[..., -1]).resize((image.shape[1] * scale, image.shape[0] * scale), Image.BICUBIC)
        up = np.dstack([up, np.asarray(alpha)])
    return up


def bicubic_upscale(image: np.ndarray, scale: int, method: int = Image.BICUBIC) -> np.ndarray:
    """The classical baseline (PIL BICUBIC or LANCZOS), same modes as `upscale_array`."""
    image = normalize_array(image)
    pil = Image.fromarray(image)
    return np.asarray(pil.resize((pil.width * scale, pil.height * scale), method))


def bicubic_downscale(image: np.ndarray, scale: int) -> np.ndarray:
    """The LR recipe used for training and evaluation: crop to a multiple of `scale`,
    then PIL BICUBIC downsizing."""
    h, w = image.shape[:2]
    image = image[: h - h % scale, : w - w % scale]
    pil = Image.fromarray(image)
    return np.asarray(pil.resize((pil.width // scale, pil.height // scale), Image.BICUBIC))
