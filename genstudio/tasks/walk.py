"""Latent walks: smooth, looping videos through a generator's latent (and class) space."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import torch

from genstudio.errors import UserError
from genstudio.limits import Limits
from genstudio.registry import LoadedModel
from genstudio.tasks.generate import (
    MAX_SEED,
    STYLE_STREAM,
    check_generator,
    check_seed,
    latents,
    render,
    resolve_label,
    resolve_style,
    seeded_choice,
)
from genstudio.tasks.images import as_rgb, composite, grid

INTERPOLATIONS = ("spherical", "linear")
CELL_SEED_STRIDE = 1_000_003  # walk j of a grid uses seed + j * stride: unrelated, reproducible walks

Progress = Callable[[float, str], None]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation, row-wise; keeps Gaussian latents at a typical norm mid-way."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    out = (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b
    close = omega < 1e-4  # nearly parallel: linear is exact enough and stable
    return torch.where(close, (1 - t) * a + t * b, out)


def frame_count(keyframes: int, frames_per_transition: int, loop: bool) -> int:
    """Loop: every keyframe starts a transition, the last leading back to the first."""
    return keyframes * frames_per_transition if loop else (keyframes - 1) * frames_per_transition + 1


def _path(keys: torch.Tensor, frames_per_transition: int, loop: bool, interpolate) -> torch.Tensor:
    """(K, D) keyframes -> (T, D) frames; frame i * F is exactly keyframe i."""
    k = len(keys)
    if k == 1:
        return keys.repeat(frames_per_transition if loop else 1, 1)
    pairs = k if loop else k - 1
    t = torch.arange(frames_per_transition, dtype=torch.float32)[:, None] / frames_per_transition
    steps = [
        interpolate(keys[i].expand(frames_per_transition, -1), keys[(i + 1) % k].expand(frames_per_transition, -1), t)
        for i in range(pairs)
    ]
    if not loop:
        steps.append(keys[-1:])
    return torch.cat(steps)


def walk_frames(
    model: LoadedModel,
    seeds: Sequence[int],
    frames_per_transition: int = 30,
    labels: Sequence | None = None,
    interpolation: str = "spherical",
    loop: bool = True,
    truncation: float | None = None,
    temperature: float = 1.0,
    grid_size: tuple[int, int] = (1, 1),
    display_size: int = 256,
    resize: str | LoadedModel = "nearest",
    limits: Limits | None = None,
    progress: Progress | None = None,
    styles: Sequence | None = None,
    background: int = 255,
) -> np.ndarray:
    """Render a walk -> uint8 frames (T, H, W, 3).

    Each walk is `display_size` px a side; a grid of walks is that many wide and high.
    Keyframes come from `seeds` (one seed holds the latent still) and, for conditional
    models, `labels` (names or indices; one label holds the class; none: a tour of every
    class in order, the seeds repeating while the latent walks). Style models take
    `styles` likewise (one holds; none: the first seed's style) so a walk can morph one
    emoji between vendor styles. Transparent images are shown on the grey level
    `background`. Each keyframe of walk 0 is the Sample tab's image for that seed (and
    label/style). `resize` is 'nearest', 'smooth' or a super-resolution model, applied
    before fitting to `display_size`."""
    limits = limits or Limits.from_env()
    check_generator(model)
    if interpolation not in INTERPOLATIONS:
        raise UserError(f"interpolation must be one of {INTERPOLATIONS}")
    seeds = [check_seed(s) for s in seeds]
    if not seeds:
        raise UserError("give at least one seed")
    label_ids = [resolve_label(model, label) for label in labels] if labels else []
    if model.task == "conditional" and not label_ids:  # a class tour: seeds and classes repeat to the longer list
        tour = max(len(seeds), len(model.labels))
        label_ids = [i % len(model.labels) for i in range(tour)]
        seeds = [seeds[i % len(seeds)] for i in range(tour)]
    style_ids = [resolve_style(model, s) for s in styles] if styles else []
    if model.styles and not style_ids:
        style_ids = [seeded_choice(seeds[0], len(model.styles), STYLE_STREAM)]
    k = max(len(seeds), len(label_ids), len(style_ids))
    for name, values in (("seeds", seeds), ("labels", label_ids), ("styles", style_ids)):
        if len(values) not in (0, 1, k):
            raise UserError(f"{name}: give one or {k} (one per keyframe), got {len(values)}")
    if not isinstance(frames_per_transition, (int, np.integer)) or frames_per_transition < 1:
        raise UserError("frames per transition must be a whole number of at least 1")
    cols, rows = grid_size
    if not (1 <= cols <= limits.max_grid and 1 <= rows <= limits.max_grid):
        raise UserError(f"grid must be 1x1 to {limits.max_grid}x{limits.max_grid}")
    if not 16 <= display_size <= limits.max_display:
        raise UserError(f"display size must be 16-{limits.max_display} pixels")
    side = max(cols, rows) * (display_size + 2) + 2 if cols * rows > 1 else display_size  # a grid has 2-px gaps
    if side > limits.max_display:
        raise UserError(
            f"a {cols}x{rows} grid of {display_size}-px walks is {side} px a side; "
            f"the video's limit is {limits.max_display} (GENSTUDIO_MAX_DISPLAY): choose a smaller display size"
        )
    if k == 1 and not loop:
        raise UserError("a walk needs two keyframes, or one with loop on (a still video)")
    total = frame_count(k, frames_per_transition, loop)
    if total > limits.max_frames:
        raise UserError(f"{total} frames requested; the limit is {limits.max_frames} (GENSTUDIO_MAX_FRAMES)")
    if max(seeds) + (cols * rows - 1) * CELL_SEED_STRIDE > MAX_SEED:
        raise UserError("seeds too large for a walk grid of this size")

    lerp = lambda a, b, t: (1 - t) * a + t * b
    interp = slerp if interpolation == "spherical" else lerp

    def condition_path(ids: list[int], size: int) -> torch.Tensor | None:
        """Class or style weights per frame; they mix linearly between keyframes."""
        if not ids:
            return None
        onehot = torch.nn.functional.one_hot(torch.tensor(ids * (k if len(ids) == 1 else 1)), size).float()
        return _path(onehot, frames_per_transition, loop, lerp)

    weights = condition_path(label_ids, len(model.labels or []))
    style_weights = condition_path(style_ids, len(model.styles or []))
    cells = []
    for j in range(cols * rows):
        cell_seeds = [s + j * CELL_SEED_STRIDE for s in (seeds * k if len(seeds) == 1 else seeds)]
        z = _path(
            latents(cell_seeds, model.net.latent_dim, truncation) * temperature, frames_per_transition, loop, interp
        )
        cell = render(model, z, weights, style_weights)
        cells.append(composite(cell, background) if cell.shape[-1] == 4 else cell)
        if progress:
            progress(0.5 * (j + 1) / (cols * rows), "rendering frames")
    return _assemble(cells, cols, display_size, resize, background, progress)


def _assemble(
    cells: list[np.ndarray],
    cols: int,
    display_size: int,
    resize: str | LoadedModel,
    background: int = 255,
    progress: Progress | None = None,
) -> np.ndarray:
    """Walks (each (T, H, W, 3)) -> video frames, each walk enlarged to `display_size` per side
    and the walks side by side in a grid `cols` wide."""
    frames, total = [], len(cells[0])
    for t in range(total):
        tiles = np.stack([_fit(cell[t], display_size, resize) for cell in cells])
        frame = grid(tiles, cols, padding=2, fill=background) if len(cells) > 1 else tiles[0]
        frames.append(_even(frame))
        if progress and t % 30 == 0:
            progress(0.5 + 0.3 * t / total, "resizing frames")
    return np.stack(frames)


def morph_frames(
    model: LoadedModel,
    keyframes: Sequence,
    frames_per_transition: int = 24,
    styles: Sequence | None = None,
    interpolation: str = "linear",
    loop: bool = True,
    display_size: int = 256,
    resize: str | LoadedModel = "smooth",
    background: int = 255,
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """A morph between real emoji through a restyle model's content space -> uint8 frames (T, H, W, 3).

    `keyframes` are emoji names (the model's stored codes) or pictures (encoded); `styles` one
    per keyframe (the style changes along the way) or one for all. Frame i * F is keyframe i
    drawn in its style."""
    from genstudio.tasks.restyle import check_restyler, encode, name_codes, style_weights

    limits = limits or Limits.from_env()
    check_restyler(model)
    if interpolation not in INTERPOLATIONS:
        raise UserError(f"interpolation must be one of {INTERPOLATIONS}")
    if not keyframes:
        raise UserError("give at least one emoji (a name or a picture) as a keyframe")
    names = [k for k in keyframes if isinstance(k, str)]
    pictures = [k for k in keyframes if not isinstance(k, str)]
    by_name = dict(zip(names, name_codes(model, names))) if names else {}
    encoded = iter(encode(model, pictures)) if pictures else iter(())
    codes = torch.stack([by_name[k] if isinstance(k, str) else next(encoded) for k in keyframes])
    style_list = list(styles or [model.styles[0]])
    k = len(codes)
    if len(style_list) not in (1, k) and not (k == 1 and len(style_list) > 1):
        raise UserError(f"styles: give one or {k} (one per keyframe), got {len(style_list)}")
    if k == 1 and len(style_list) > 1:  # one emoji, the style changing
        codes, k = codes.repeat(len(style_list), 1, 1, 1), len(style_list)
    weights = torch.cat([style_weights(model, s) for s in style_list])
    weights = weights.repeat(k, 1) if len(weights) == 1 else weights
    if not isinstance(frames_per_transition, (int, np.integer)) or frames_per_transition < 1:
        raise UserError("frames per transition must be a whole number of at least 1")
    if not 16 <= display_size <= limits.max_display:
        raise UserError(f"display size must be 16-{limits.max_display} pixels")
    if k == 1 and not loop:
        raise UserError("a morph needs two keyframes, or one with loop on (a still video)")
    total = frame_count(k, frames_per_transition, loop)
    if total > limits.max_frames:
        raise UserError(f"{total} frames requested; the limit is {limits.max_frames} (GENSTUDIO_MAX_FRAMES)")
    lerp = lambda a, b, t: (1 - t) * a + t * b
    flat = codes.reshape(k, -1)
    path = _path(flat, frames_per_transition, loop, slerp if interpolation == "spherical" else lerp)
    style_path = _path(weights, frames_per_transition, loop, lerp)
    from genstudio.tasks.restyle import _decode

    if progress:
        progress(0.1, "drawing frames")
    cell = composite(_decode(model, path.reshape(len(path), *codes.shape[1:]), style_path), background)
    return _assemble([cell], 1, display_size, resize, background, progress)


def _fit(image: np.ndarray, side: int, resize: str | LoadedModel) -> np.ndarray:
    if not isinstance(resize, str):
        from genstudio.tasks.upscale import upscale_array

        image = upscale_array(image[..., 0] if image.shape[2] == 1 else image, resize, tile=0)
        resize = "smooth"
    if resize not in ("nearest", "smooth"):
        raise UserError("resize must be 'nearest', 'smooth' or a super-resolution model")
    interpolation = cv2.INTER_NEAREST if resize == "nearest" else cv2.INTER_CUBIC
    h, w = image.shape[:2]
    scale = side / max(h, w)
    out = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interpolation)
    return as_rgb(out)


def _even(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides."""
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") if h % 2 or w % 2 else frame


def encode_video(
    frames: np.ndarray,
    path: str | Path,
    fps: int,
    recipe: dict | None = None,
    gif: bool = False,
    limits: Limits | None = None,
) -> list[Path]:
    """Write H.264 mp4 (yuv420p, plays in every browser) with moviepy; the recipe goes into
    the mp4's comment tag and beside it as JSON. Returns the files written."""
    from moviepy import VideoClip

    limits = limits or Limits.from_env()
    if not isinstance(fps, (int, np.integer)) or not 1 <= fps <= limits.max_fps:
        raise UserError(f"fps must be a whole number 1-{limits.max_fps}")
    path = Path(path)
    params = ["-movflags", "+faststart"]
    if recipe is not None:
        params += ["-metadata", f"comment={json.dumps(recipe, sort_keys=True)}"]
    # Frame i is shown at t = i / fps. Index by rounding and pad the duration by half a
    # frame: moviepy's float timestamps otherwise drop or repeat frames.
    n = len(frames)
    clip = VideoClip(frame_function=lambda t: frames[min(n - 1, int(round(t * fps)))], duration=(n + 0.5) / fps)
    clip.write_videofile(
        str(path),
        fps=fps,
        codec="libx264",
        audio=False,
        preset="veryfast",
        pixel_format="yuv420p",
        ffmpeg_params=params,
        logger=None,
    )
    written = [path]
    if recipe is not None:
        sidecar = path.with_suffix(".json")
        sidecar.write_text(json.dumps(recipe, indent=2, sort_keys=True) + "\n")
        written.append(sidecar)
    if gif:
        gif_path = path.with_suffix(".gif")
        clip.write_gif(str(gif_path), fps=min(fps, 25), logger=None)
        written.append(gif_path)
    clip.close()
    return written


def read_video_recipe(path: str | Path) -> dict | None:
    """The recipe in an mp4 made by GenStudio: the JSON beside it, else the comment tag."""
    path = Path(path)
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        return json.loads(sidecar.read_text())
    import subprocess

    import imageio_ffmpeg

    out = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(path), "-f", "ffmetadata", "-"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    for line in out.stdout.splitlines():
        if line.startswith("comment="):
            try:
                return json.loads(
                    line[len("comment=") :]
                    .replace("\\=", "=")
                    .replace("\\;", ";")
                    .replace("\\#", "#")
                    .replace("\\\\", "\\")
                )
            except json.JSONDecodeError:
                return None
    return None
