"""Restyle: an emoji, icon or drawing redrawn in a vendor's style, and the classical baselines
it is measured against (identity, Reinhard colour transfer, nearest-emoji lookup).

Arrays in, arrays out: images are uint8 straight RGBA (N, 64, 64, 4), as a PNG stores them.
"""

from __future__ import annotations

import difflib
import functools
from typing import Sequence

import cv2
import numpy as np
import torch

from genstudio.data import premultiply
from genstudio.devices import autocast
from genstudio.errors import UserError
from genstudio.limits import Limits
from genstudio.registry import LoadedModel
from genstudio.tasks.images import to_uint8, unpremultiply

SIZE = 64
CONTENT_SIDE = 60  # the longest side of an input's drawing once fitted (Noto draws 62 px of 64, Twemoji 64, Fluent 56)
BASELINES = ("identity", "colour transfer", "lookup")
MAX_ROWS = 16  # inputs in one sheet of the Restyle tab


def as_rgba(image: np.ndarray, limits: Limits | None = None) -> np.ndarray:
    """Any picture as straight RGBA uint8: grey or RGB gain an alpha channel in which the
    background (the colour along the border, where it reaches in from the edge) is transparent."""
    limits = limits or Limits.from_env()
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise UserError("not an image: give a grey, RGB or RGBA picture (uint8)")
    if min(image.shape[:2]) < 2:
        raise UserError(f"the image is {image.shape[1]}x{image.shape[0]} px: too small to restyle")
    if image.shape[0] * image.shape[1] > limits.max_pixels:
        raise UserError(f"the image has {image.shape[0] * image.shape[1]:,} pixels; the limit is {limits.max_pixels:,}")
    if image.ndim == 2 or image.shape[2] == 1:
        image = np.repeat(image.reshape(*image.shape[:2], 1), 3, axis=2)
    if image.shape[2] == 4:
        return image
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).astype(np.float32)
    background = np.median(border, axis=0)
    near = (np.abs(image.astype(np.float32) - background).max(axis=2) < 24).astype(np.uint8)
    count, parts = cv2.connectedComponents(near, connectivity=4)
    edge = np.unique(np.concatenate([parts[0], parts[-1], parts[:, 0], parts[:, -1]]))
    outside = np.isin(parts, edge[edge > 0]) & (near > 0)
    alpha = np.where(outside, 0, 255).astype(np.uint8)
    return np.dstack([image, alpha])


def fit(image: np.ndarray, limits: Limits | None = None) -> np.ndarray:
    """A picture as the model sees it: straight RGBA uint8 64x64, its drawing cropped to its
    visible extent and scaled (aspect kept) to CONTENT_SIDE px, centred on transparency."""
    rgba = as_rgba(image, limits)
    visible = rgba[..., 3] > 8
    if not visible.any():
        raise UserError("the image is fully transparent: nothing to restyle")
    ys, xs = np.nonzero(visible)
    crop = rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape[:2]
    scale = CONTENT_SIDE / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    pre = premultiply(crop)  # resample premultiplied, so transparent pixels lend no colour to the edge
    resized = cv2.resize(pre, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    out = np.zeros((SIZE, SIZE, 4), np.float32)
    top, left = (SIZE - new_h) // 2, (SIZE - new_w) // 2
    out[top : top + new_h, left : left + new_w] = np.clip(resized, 0, 1)
    out[..., :3] = np.minimum(out[..., :3], out[..., 3:])
    return unpremultiply(np.round(out * 255).astype(np.uint8))


def check_restyler(model: LoadedModel) -> None:
    if model.task != "restyle":
        raise UserError(f"model {model.name!r} is a {model.task!r} model; choose a restyle model")


def style_weights(model: LoadedModel, style, blend_style=None, weight: float = 0.0) -> torch.Tensor:
    """(1, S) weights of a style (name or index), optionally mixed with a second by `weight`."""
    from genstudio.tasks.generate import _resolve, one_hot_weights

    first = _resolve(model.styles, style, "style", model.name)
    second = None if blend_style is None else _resolve(model.styles, blend_style, "style", model.name)
    return one_hot_weights(len(model.styles), [first], second, weight)


@torch.no_grad()
def _decode(model: LoadedModel, codes: torch.Tensor, weights: torch.Tensor, batch: int = 256) -> np.ndarray:
    out = []
    for i in range(0, len(codes), batch):
        c, w = codes[i : i + batch].to(model.device), weights[i : i + batch].to(model.device)
        with autocast(model.device, cpu_bfloat16=True):
            out.append(to_uint8(model.net.decode(c.float(), w).float()))
    return unpremultiply(np.concatenate(out))


@torch.no_grad()
def encode(model: LoadedModel, images: Sequence[np.ndarray] | np.ndarray, batch: int = 256) -> torch.Tensor:
    """Pictures (any size) -> content codes (N, K, 8, 8), on the CPU."""
    check_restyler(model)
    fitted = np.stack([fit(image) for image in images])
    x = torch.from_numpy(premultiply(fitted)).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    codes = []
    for i in range(0, len(x), batch):
        with autocast(model.device, cpu_bfloat16=True):
            codes.append(model.net.encode(x[i : i + batch].to(model.device)).float().cpu())
    return torch.cat(codes)


def find_name(model: LoadedModel, text: str) -> int:
    """The index of an emoji name the model can draw: exact (any case, '_' or ' '), else the one
    name that contains it; otherwise a clear error listing the nearest names."""
    check_restyler(model)
    names = model.card.get("names") or []
    if not isinstance(text, str) or not text.strip():
        raise UserError("give an emoji name, e.g. 'cat face'")
    wanted = " ".join(text.replace("_", " ").lower().split())
    if wanted in names:
        return names.index(wanted)
    containing = [i for i, n in enumerate(names) if wanted in n]
    if len(containing) == 1:
        return containing[0]
    nearest = difflib.get_close_matches(wanted, names, n=5, cutoff=0.5) or [names[i] for i in containing[:5]]
    hint = f"; nearest: {', '.join(nearest)}" if nearest else ""
    raise UserError(f"no emoji named {text!r} in {model.name}{hint}")


def search_names(model: LoadedModel, text: str, limit: int = 20) -> list[str]:
    """Names that contain the text (a search box's choices)."""
    wanted = " ".join((text or "").replace("_", " ").lower().split())
    return [n for n in model.card.get("names") or [] if wanted in n][:limit]


def name_codes(model: LoadedModel, names: Sequence[str]) -> torch.Tensor:
    """The stored content codes of emoji names (the checkpoint carries them: no data set needed)."""
    rows = [find_name(model, n) for n in names]
    return model.net.name_codes[rows].float().cpu()


def restyle(
    model: LoadedModel,
    images: Sequence[np.ndarray] | np.ndarray | None = None,
    style="noto",
    names: Sequence[str] | None = None,
    blend_style=None,
    style_weight: float = 0.0,
) -> np.ndarray:
    """Pictures (any size, grey/RGB/RGBA) or emoji names, redrawn in a style -> uint8 straight RGBA (N, 64, 64, 4)."""
    check_restyler(model)
    if (images is None) == (names is None):
        raise UserError("give pictures or emoji names to restyle (one of the two)")
    codes = encode(model, images) if images is not None else name_codes(model, names)
    weights = style_weights(model, style, blend_style, style_weight).expand(len(codes), -1)
    return _decode(model, codes, weights)


# ---------------------------------------------------------------- classical baselines


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)


def colour_stats(images: np.ndarray) -> list[float]:
    """Lab mean and standard deviation (6 numbers) of the visible pixels of straight RGBA images."""
    visible = images[..., 3] > 128
    lab = _lab(np.ascontiguousarray(images[..., :3]).reshape(-1, 1, 3)).reshape(-1, 3)[visible.reshape(-1)]
    return [*map(float, lab.mean(0)), *map(float, lab.std(0))]


def colour_transfer(image: np.ndarray, target_stats: Sequence[float]) -> np.ndarray:
    """Reinhard et al. 2001: the visible pixels' Lab mean and spread moved to the target's. RGBA in and out."""
    rgba = fit(image)
    visible = rgba[..., 3] > 128
    lab = _lab(rgba[..., :3])
    if visible.any():
        mean, std = lab[visible].mean(0), lab[visible].std(0) + 1e-6
        lab = (lab - mean) / std * np.asarray(target_stats[3:]) + np.asarray(target_stats[:3])
    rgb = np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB) * 255, 0, 255).round().astype(np.uint8)
    return np.dstack([rgb, rgba[..., 3]])


def on_white_small(images: np.ndarray, size: int = 32) -> np.ndarray:
    """Straight RGBA -> RGB on white, area-resized: what the lookup compares."""
    from genstudio.tasks.images import composite

    small = [cv2.resize(composite(im, 255), (size, size), interpolation=cv2.INTER_AREA) for im in images]
    return np.stack(small).astype(np.float32)


def lookup(images: np.ndarray, candidates: np.ndarray, candidates_small: np.ndarray | None = None) -> np.ndarray:
    """Retrieval instead of generation: for each picture, the candidate (the training emoji of the
    target style) nearest in pixels at 32 px on white."""
    small = on_white_small(np.stack([fit(im) for im in images])).reshape(len(images), -1)
    pool = (on_white_small(candidates) if candidates_small is None else candidates_small).reshape(len(candidates), -1)
    distances = (small**2).sum(1)[:, None] - 2 * small @ pool.T + (pool**2).sum(1)[None]
    return candidates[distances.argmin(1)]


@functools.lru_cache(maxsize=1)
def training_emoji() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lookup's candidates: the train split's emoji (straight RGBA), their style indices and
    their 32-px copies on white. Needs the data set, which the app does not ship."""
    from genstudio import data
    from genstudio.tasks.images import unpremultiply

    emoji = data.load_emoji("train", SIZE)
    images = unpremultiply((emoji["images"] * 255).round().astype(np.uint8))
    return images, emoji["styles"], on_white_small(images)


def lookup_in_training_set(model: LoadedModel, images: Sequence[np.ndarray], style) -> np.ndarray:
    """The lookup baseline against the train split's emoji in a style (a clear error without the data)."""
    from genstudio.tasks.generate import _resolve

    index = _resolve(model.styles, style, "style", model.name)
    candidates, styles, small = training_emoji()
    return lookup(list(images), candidates[styles == index], small[styles == index])
