"""Array helpers shared by the tasks: grids, conversions, display scaling."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from PIL import Image

from genstudio.errors import UserError


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


def cells(image: np.ndarray, size: int, padding: int = 2) -> list[np.ndarray]:
    """The images of a `grid` of size x size cells, row-major (the inverse of `grid`); the empty
    cells a last row ends with (the padding's colour throughout) are left out."""
    step = size + padding
    rows, columns = (image.shape[0] - padding) // step, (image.shape[1] - padding) // step
    out = [
        image[padding + r * step : padding + r * step + size, padding + c * step : padding + c * step + size]
        for r in range(rows)
        for c in range(columns)
    ]
    while out and (out[-1] == image[0, 0]).all():
        out.pop()
    return out


def resize(image: np.ndarray, scale: float, smooth: bool = False) -> np.ndarray:
    """Enlarge for display: nearest keeps 28 px digits pixel-crisp, Lanczos smooths them."""
    if scale == 1:
        return image
    h, w = image.shape[:2]
    squeeze = image.ndim == 3 and image.shape[2] == 1
    pil = Image.fromarray(image[..., 0] if squeeze else image)
    out = np.asarray(
        pil.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS if smooth else Image.NEAREST)
    )
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


@functools.cache
def _unpremultiplied() -> np.ndarray:
    """table[alpha, premultiplied value] = straight value, for every uint8 pair."""
    value = np.arange(256, dtype=np.float32)
    alpha = value[:, None]
    table = np.where(alpha > 0, value[None, :] * 255 / np.maximum(alpha, 1), 0)
    return np.clip(table.round(), 0, 255).astype(np.uint8)


def unpremultiply(images: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA uint8 -> straight RGBA uint8 (what a PNG stores), by table lookup
    (the same values as dividing in floats, in half the time)."""
    alpha = images[..., 3:]
    straight = np.take(_unpremultiplied(), (alpha.astype(np.intp) << 8) | images[..., :3])
    return np.concatenate([straight, alpha], -1)


def checkerboard(height: int, width: int, cell: int = 8) -> np.ndarray:
    """The grey checks that stand for transparency, (H, W, 3) uint8."""
    yy, xx = np.mgrid[:height, :width]
    light = (yy // cell + xx // cell) % 2 == 0
    return np.where(light[..., None], 230, 190).astype(np.uint8).repeat(3, axis=2)


def on_background(image: np.ndarray, background: str = "white") -> np.ndarray:
    """Straight RGBA shown on 'white', 'black' or 'checkerboard'; 'transparent' keeps it
    RGBA. Images without alpha pass through unchanged."""
    if image.ndim != 3 or image.shape[2] != 4 or background == "transparent":
        return image
    if background == "checkerboard":
        return composite(image, checkerboard(*image.shape[:2]))
    if background not in ("white", "black"):
        raise UserError(f"background must be transparent, white, black or checkerboard, got {background!r}")
    return composite(image, 255 if background == "white" else 0)


def label_rows(
    image: np.ndarray, names: list[str], margin: int | None = None, background: int = 255, font_size: int | None = None
) -> np.ndarray:
    """Write one name per row in a left margin: an 'all classes' grid that says which row is which.
    The text grows with the rows (and the margin with the longest name), so it stays legible
    when a large grid is shown shrunk."""
    from PIL import ImageDraw, ImageFont

    rgb = as_rgb(image) if image.ndim == 2 or image.shape[2] != 4 else image
    font = ImageFont.load_default(size=font_size or int(np.clip(rgb.shape[0] / len(names) / 4, 12, 72)))
    if margin is None:
        margin = max(150, int(max(font.getlength(n) for n in names)) + 16)
    out = Image.new(
        "RGBA" if rgb.shape[2] == 4 else "RGB", (rgb.shape[1] + margin, rgb.shape[0]), (background,) * rgb.shape[2]
    )
    out.paste(Image.fromarray(rgb), (margin, 0))
    draw = ImageDraw.Draw(out)
    row = rgb.shape[0] / len(names)
    for i, name in enumerate(names):
        draw.text(
            (6, row * (i + 0.5)),
            name,
            fill=(40, 40, 40) + ((255,) if rgb.shape[2] == 4 else ()),
            font=font,
            anchor="lm",
        )
    return np.asarray(out)
