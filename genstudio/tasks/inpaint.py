"""Inpainting: fill the masked part of an image with a learned model or a classical method.

Only the hole changes: pixels outside the mask come back exactly as they went in.
Large images are handled by cropping around the hole ("crop", the default) or by
working on a reduced copy of the whole image ("whole").
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from PIL import Image

from genstudio.devices import autocast
from genstudio.errors import UserError
from genstudio.registry import LoadedModel
from genstudio.tasks.io import normalize_array

BASELINES = {"telea": cv2.INPAINT_TELEA, "navier-stokes": cv2.INPAINT_NS}
STRATEGIES = ("crop", "whole")


@dataclass
class InpaintResult:
    image: np.ndarray  # same shape and mode as the input
    mask: np.ndarray  # (H, W) uint8, 255 = filled
    notice: str = ""


def mask_from_array(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Any mask (bool, 0/1, 0/255, gray or colour, any size) -> (H, W) uint8 0/1 at `shape`.

    Nonzero is hole: white or any painted colour. A 4-channel mask (a painted layer)
    uses its alpha. Other sizes are resized with nearest neighbour."""
    m = np.asarray(mask)
    if m.ndim == 3:
        m = m[..., 3] if m.shape[2] == 4 else m.max(axis=2)
    if m.ndim != 2:
        raise UserError(f"mask must be a 2-D image, got shape {np.asarray(mask).shape}")
    m = (m > (127 if m.dtype == np.uint8 and m.max() > 1 else 0)).astype(np.uint8)
    if m.shape != tuple(shape):
        m = np.asarray(Image.fromarray(m * 255).resize((shape[1], shape[0]), Image.NEAREST)) > 0
    return m.astype(np.uint8)


def classical_fill(image: np.ndarray, mask: np.ndarray, method: str = "telea", radius: int = 3) -> np.ndarray:
    """OpenCV's Telea or Navier-Stokes fill of a uint8 gray/colour image; mask 1 = hole."""
    return cv2.inpaint(np.ascontiguousarray(image), mask.astype(np.uint8), radius, BASELINES[method]).reshape(
        image.shape
    )


FLIPS = (1, 2, 4)
_FLIP_DIMS = ((), (3,), (2,), (2, 3))  # identity, mirrored, upside down, both


@torch.no_grad()
def _learned(image: np.ndarray, mask: np.ndarray, model: LoadedModel, flips: int = 1) -> np.ndarray:
    """Run a refine net on a colour (H, W, C) uint8 image: Telea fill, then the net's correction.
    flips > 1 averages the net's fills of that many mirrored copies (a self-ensemble: each
    pass costs as much as the first, the average is closer to the photo)."""
    channels = int(model.card["channels"])
    h, w, c = image.shape
    if c != channels:  # gray into a colour model, or colour into a gray one: per-channel
        if channels == 3:
            out = _learned(np.repeat(image, 3, axis=2), mask, model, flips)
            return np.round(out.astype(np.float32).mean(axis=2, keepdims=True)).astype(np.uint8)
        return np.concatenate([_learned(image[..., i : i + 1], mask, model, flips) for i in range(c)], axis=2)
    prefilled = classical_fill(image, mask, "telea")
    multiple = getattr(model.net, "multiple", 4)
    ph, pw = -h % multiple, -w % multiple
    pad = lambda a: np.pad(
        a, ((0, ph), (0, pw)) + ((0, 0),) * (a.ndim - 2), mode="reflect" if min(h, w) > 1 else "edge"
    )
    x = torch.from_numpy(pad(prefilled)).permute(2, 0, 1)[None].float().div(255).to(model.device)
    m = torch.from_numpy(pad(mask)).float()[None, None].to(model.device)
    dims = _FLIP_DIMS[:flips]
    with autocast(model.device, cpu_bfloat16=getattr(model.net, "cpu_bfloat16", False)):
        y = model.net(torch.cat([x.flip(d) for d in dims]), torch.cat([m.flip(d) for d in dims])).float()
    y = torch.stack([part.flip(d) for part, d in zip(y[:, None], dims)]).mean(0)
    out = (y.clamp(0, 1) * 255).round().byte()[0].permute(1, 2, 0).cpu().numpy()
    return out[:h, :w]


def _fill(image: np.ndarray, mask: np.ndarray, method: LoadedModel | str, flips: int = 1) -> np.ndarray:
    if isinstance(method, str):
        return classical_fill(image, mask, method)
    return _learned(image, mask, method, flips)


def _resize(a: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    squeeze = a.ndim == 3 and a.shape[2] == 1
    out = np.asarray(Image.fromarray(a[..., 0] if squeeze else a).resize(size, resample))
    return out[..., None] if squeeze else out


def inpaint(
    image: np.ndarray,
    mask: np.ndarray,
    method: LoadedModel | str = "telea",
    strategy: str = "crop",
    padding: int = 32,
    max_side: int = 512,
    dilate: int = 0,
    feather: int = 0,
    invert: bool = False,
    flips: int = 1,
) -> InpaintResult:
    """Fill `mask` (nonzero = hole) in `image` with a learned model or 'telea' / 'navier-stokes'.

    strategy 'crop' works on the hole's bounding box plus `padding` pixels of context;
    'whole' on the whole image. Either is shrunk to at most `max_side` for the fill if
    larger, and the fill is enlarged back into the hole. `dilate` grows the hole by that
    many pixels; `feather` blends the fill into the hole's inner edge (never outside it);
    `invert` swaps hole and kept part first (keep what was painted, fill the rest); `flips`
    (1, 2 or 4) averages a learned model's fills of mirrored copies: slower, a little closer."""
    if isinstance(method, str) and method not in BASELINES:
        raise UserError(f"unknown method {method!r}; choose a model or one of {', '.join(BASELINES)}")
    if not isinstance(method, str) and method.task != "inpaint":
        raise UserError(f"model {method.name!r} is a {method.task!r} model, not an inpainting model")
    if strategy not in STRATEGIES:
        raise UserError(f"strategy must be one of {STRATEGIES}")
    if not 0 <= dilate <= 64 or not 0 <= feather <= 64:
        raise UserError("dilate and feather must be 0-64 pixels")
    if flips not in FLIPS:
        raise UserError(f"flips must be one of {', '.join(map(str, FLIPS))} (passes of the model over mirrored copies)")
    image = normalize_array(image)
    h, w = image.shape[:2]
    hole = mask_from_array(mask, (h, w))
    if invert:
        hole = 1 - hole
    if dilate:
        hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1)))
    if not hole.any():
        return InpaintResult(
            image.copy(), hole * 255, "The mask is empty: nothing to fill, the image is returned unchanged."
        )
    if hole.all():
        raise UserError(
            "The mask covers the whole image: there is nothing left to fill it from. Paint only the part to replace."
        )

    alpha = image[..., -1] if image.ndim == 3 and image.shape[2] in (2, 4) else None
    color = image if image.ndim == 3 and alpha is None else image[..., None] if image.ndim == 2 else image[..., :-1]

    if strategy == "crop":
        ys, xs = np.nonzero(hole)
        y0, y1 = max(0, ys.min() - padding), min(h, ys.max() + 1 + padding)
        x0, x1 = max(0, xs.min() - padding), min(w, xs.max() + 1 + padding)
    else:
        y0, y1, x0, x1 = 0, h, 0, w
    region, region_hole = color[y0:y1, x0:x1], hole[y0:y1, x0:x1]
    rh, rw = region.shape[:2]
    shrink = max(rh, rw) / max_side
    if shrink > 1:  # fill a reduced copy, enlarge the fill back
        small = (max(1, round(rw / shrink)), max(1, round(rh / shrink)))
        small_hole = mask_from_array(_resize(region_hole * 255, small, Image.NEAREST), small[::-1])
        if not small_hole.any():
            small_hole = mask_from_array(_resize(region_hole * 255, small, Image.BOX) > 0, small[::-1])
        filled = _resize(
            _fill(_resize(region, small, Image.LANCZOS), small_hole, method, flips), (rw, rh), Image.BICUBIC
        )
    else:
        filled = _fill(np.ascontiguousarray(region), region_hole, method, flips)

    weight = region_hole.astype(np.float32)
    if feather:
        weight = cv2.GaussianBlur(weight, (0, 0), feather / 2) * region_hole  # inside the hole only
    weight = weight[..., None]
    blended = np.round(region * (1 - weight) + filled.astype(np.float32) * weight).astype(np.uint8)
    out_color = color.copy()
    out_color[y0:y1, x0:x1] = np.where(region_hole[..., None] > 0, blended, region)
    if alpha is not None:
        out = np.dstack([out_color, alpha])
    else:
        out = out_color[..., 0] if image.ndim == 2 else out_color
    return InpaintResult(out, hole * 255)


OUTPAINT_BAND = 48  # px added per pass: the model fills a narrow strip best, with its context beside it
OUTPAINT_SEGMENT = 384  # px along an edge per fill, so a long edge is filled at full resolution


def parse_extension(text: str | tuple | list) -> tuple[int, int, int, int]:
    """'LEFT,TOP,RIGHT,BOTTOM' (or one number for every side) -> four whole pixel counts."""
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    try:
        values = tuple(int(p) for p in (parts * 4 if len(parts) == 1 else parts))
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4:
        raise UserError(f"extend must be four whole numbers LEFT,TOP,RIGHT,BOTTOM (pixels to add), got {text!r}")
    return values


def outpaint(
    image: np.ndarray,
    extend: tuple[int, int, int, int],
    method: LoadedModel | str = "telea",
    max_pixels: int = 4096 * 4096,
) -> InpaintResult:
    """Extend `image` by (left, top, right, bottom) pixels, the new border filled by `method`.

    The border is filled outward in bands of OUTPAINT_BAND pixels, side by side and in
    segments along each edge, so every fill sees real or already-filled pixels next to it
    at full resolution. The original pixels come back exactly."""
    left, top, right, bottom = (int(v) for v in extend)
    if min(left, top, right, bottom) < 0:
        raise UserError(f"extend takes pixels to add on each side (0 or more), got {left},{top},{right},{bottom}")
    image = normalize_array(image)
    h, w = image.shape[:2]
    if not any((left, top, right, bottom)):
        return InpaintResult(image.copy(), np.zeros((h, w), np.uint8), "Nothing to extend: every side is 0 px.")
    if max(left, right) > 4 * w or max(top, bottom) > 4 * h:
        raise UserError(f"extend a side by at most 4x the image ({4 * w} px left/right, {4 * h} px top/bottom)")
    out_h, out_w = h + top + bottom, w + left + right
    if out_h * out_w > max_pixels:
        raise UserError(
            f"the extended image would be {out_w}x{out_h} = {out_h * out_w:,} pixels; the limit is {max_pixels:,}"
        )
    squeeze = image.ndim == 2
    canvas = image[..., None] if squeeze else image
    filled = np.zeros((h, w), np.uint8)  # 0 = original, 1 = new
    remaining = [left, top, right, bottom]
    while any(remaining):
        step = [min(OUTPAINT_BAND, r) for r in remaining]
        remaining = [r - s for r, s in zip(remaining, step)]
        # replicated edges only give the new band a shape; the fill replaces every new pixel
        canvas = cv2.copyMakeBorder(canvas, step[1], step[3], step[0], step[2], cv2.BORDER_REPLICATE).reshape(
            canvas.shape[0] + step[1] + step[3], canvas.shape[1] + step[0] + step[2], canvas.shape[2]
        )
        filled = np.pad(filled, ((step[1], step[3]), (step[0], step[2])), constant_values=1)
        ch, cw = canvas.shape[:2]
        todo = np.zeros((ch, cw), np.uint8)
        todo[: step[1]], todo[ch - step[3] :], todo[:, : step[0]], todo[:, cw - step[2] :] = 1, 1, 1, 1
        for segment in _segments(todo):
            canvas = inpaint(canvas, segment, method, strategy="crop", padding=OUTPAINT_BAND).image.reshape(
                canvas.shape
            )
    out = canvas[..., 0] if squeeze else canvas
    return InpaintResult(out, filled * 255)


def _segments(todo: np.ndarray):
    """The band to fill, cut into pieces at most OUTPAINT_SEGMENT long along each edge."""
    h, w = todo.shape
    for y in range(0, h, OUTPAINT_SEGMENT):
        for x in range(0, w, OUTPAINT_SEGMENT):
            piece = np.zeros_like(todo)
            piece[y : y + OUTPAINT_SEGMENT, x : x + OUTPAINT_SEGMENT] = todo[
                y : y + OUTPAINT_SEGMENT, x : x + OUTPAINT_SEGMENT
            ]
            if piece.any():
                yield piece


def mask_overlay(image: np.ndarray, mask: np.ndarray, color=(255, 0, 255), opacity: float = 0.45) -> np.ndarray:
    """The image with its mask (nonzero = filled) tinted on top, to see what was filled."""
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    hole = mask_from_array(mask, rgb.shape[:2]).astype(bool)
    out = rgb.astype(np.float32)
    out[hole] = out[hole] * (1 - opacity) + np.array(color, np.float32) * opacity
    return np.round(out).astype(np.uint8)
