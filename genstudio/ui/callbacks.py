"""Thin callbacks: parse widget values, call one task, convert the result.

Task errors (ValueError, unknown or unavailable models) become `gr.Error` with the
task's own message, so the user reads what was wrong and what is allowed, never a
stack trace. Nothing here knows how a model works.
"""
from __future__ import annotations

import functools
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from genstudio import registry
from genstudio.kinds import kind_of
from genstudio.tasks import generate, images, inpaint, io, upscale, walk

MAX_SEED = generate.MAX_SEED


def user_errors(fn):
    """Turn the errors a user can cause into readable `gr.Error`s."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ValueError, KeyError, RuntimeError, FileNotFoundError, OSError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise gr.Error(str(message), print_exception=False) from None

    return wrapper


def _model(name: str | None, *tasks: str) -> registry.LoadedModel:
    if not name:
        raise ValueError("choose a model first")
    model = registry.load(name)
    if tasks and model.task not in tasks:
        raise ValueError(f"{name} is a {model.task!r} model; this tab needs a {' or '.join(tasks)} model")
    return model


def _int(value, what: str, low: int, high: int) -> int:
    try:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        value = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a whole number from {low} to {high}, got {value!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{what} must be from {low} to {high}, got {value}")
    return value


def _optional_float(value) -> float | None:
    """Slider value where 0 means off."""
    return float(value) if value else None


def _png(image: np.ndarray, recipe: dict[str, Any]) -> Image.Image:
    """A PIL image carrying its recipe; Gradio keeps text chunks when it saves PNGs."""
    pil = io.to_pil(image)
    pil.info[io.RECIPE_KEY] = json.dumps(recipe, sort_keys=True)
    return pil


def send_image(image, tab: str):
    """Pass an output to another tab's input (gray grids become RGB for the editor) and open it."""
    if image is None:
        raise gr.Error("Generate something first.", print_exception=False)
    array = images.as_rgb(io.normalize_array(np.asarray(image)))
    return array, gr.Tabs(selected=tab)


def random_seed() -> int:
    return random.randint(0, 2**31 - 1)


def model_choices(*tasks: str) -> list[str]:
    return [m.name for m in registry.list_models(tasks)]


def label_choices(name: str | None):
    """Labels of the chosen model, shown only for conditional models."""
    info = registry.inspect(name) if name else None
    labels = info.labels if info and not info.error and info.task == "conditional" else None
    return gr.update(choices=labels or [], value=labels[0] if labels else None, visible=bool(labels))


# ---------------------------------------------------------------- Sample and Label-conditioned


@user_errors
def sample(model_name, seed, count, label, truncation, temperature, display_scale, smooth):
    """Returns (enlarged grid with recipe, raw grid for other tabs, seeds text)."""
    model = _model(model_name, "sample", "conditional")
    count = _int(count, "number of images", 1, 256)
    seed = generate.check_seed(seed)
    latent = kind_of(model).latent_settings(_optional_float(truncation), temperature)
    out = generate.sample(model, count, seed, label=label if model.task == "conditional" else None, **latent)
    raw = images.grid(out)
    recipe = io.make_recipe("sample", model=model_name, seed=seed, n=count, label=label if model.task == "conditional" else None,
                            **latent, display_scale=display_scale, smooth=bool(smooth))
    shown = images.resize(raw, float(display_scale), smooth=bool(smooth))
    return _png(shown, recipe), raw, f"{seed}-{seed + count - 1}" if count > 1 else str(seed)


@user_errors
def conditional(model_name, label, seed, count, mode, blend_label, blend_weight, truncation, display_scale, smooth):
    model = _model(model_name, "conditional")
    seed = generate.check_seed(seed)
    truncation = _optional_float(truncation)
    if mode == "all classes":
        per_class = _int(count, "images per class", 1, 32)
        out = generate.sample_all_classes(model, per_class, seed, truncation)
        raw = images.grid(out, per_class)
    else:
        count = _int(count, "number of images", 1, 256)
        blend = blend_label if mode == "blend" else None
        out = generate.sample(model, count, seed, label=label, truncation=truncation, blend_label=blend,
                              blend_weight=float(blend_weight) if blend else 0.0)
        raw = images.grid(out)
    recipe = io.make_recipe("conditional", model=model_name, seed=seed, n=count, label=label, mode=mode,
                     blend_label=blend_label if mode == "blend" else None,
                     blend_weight=float(blend_weight) if mode == "blend" else None, truncation=truncation)
    return _png(images.resize(raw, float(display_scale), smooth=bool(smooth)), recipe), raw


# ---------------------------------------------------------------- Inpaint


def editor_to_image_and_mask(editor: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """An ImageEditor value -> (background image, mask from every painted layer)."""
    if not editor or editor.get("background") is None:
        raise ValueError("upload an image (or send one from another tab), then paint over what to replace")
    background = io.normalize_array(np.asarray(editor["background"]))
    if background.ndim == 3 and background.shape[2] == 4 and (background[..., 3] == 255).all():
        background = background[..., :3]  # the editor adds an opaque alpha channel
    mask = np.zeros(background.shape[:2], np.uint8)
    for layer in editor.get("layers") or []:
        layer = np.asarray(layer)
        if layer.ndim == 3 and layer.shape[2] == 4:
            painted = layer[..., 3] > 0
        else:
            painted = (layer.max(axis=2) if layer.ndim == 3 else layer) > 0
        mask |= inpaint.mask_from_array(painted, background.shape[:2])
    return background, mask


def _inpaint_method(name: str | None):
    if not name:
        raise ValueError("choose a model or method")
    return name if name in inpaint.BASELINES else _model(name, "inpaint")


@user_errors
def inpaint_editor(editor, method_name, strategy, dilate, feather):
    """The Inpaint tab: (result with recipe, mask shown, notice)."""
    image, mask = editor_to_image_and_mask(editor)
    return _inpaint(image, mask, method_name, strategy, dilate, feather)


@user_errors
def inpaint_files(image, mask, method_name, strategy="crop", dilate=0, feather=0):
    """API form of the Inpaint tab: an image file and a mask file (white = fill), any sizes."""
    if image is None or mask is None:
        raise ValueError("give both an image and a mask (white = fill)")
    return _inpaint(io.read_image(image), io.read_image(mask), method_name, strategy, dilate, feather)


def _inpaint(image, mask, method_name, strategy, dilate, feather):
    result = inpaint.inpaint(image, mask, _inpaint_method(method_name), strategy=strategy,
                             dilate=_int(dilate, "dilate", 0, 64), feather=_int(feather, "feather", 0, 64))
    if result.notice:
        gr.Info(result.notice)
    recipe = io.make_recipe("inpaint", model=method_name, strategy=strategy, dilate=int(dilate), feather=int(feather))
    return _png(result.image, recipe), _png(result.mask, recipe), result.notice or "Done: only the painted area changed."


# ---------------------------------------------------------------- Upscale


@user_errors
def upscale_image(image, model_name, evaluate, tile, progress=gr.Progress()):
    """Returns ((bicubic, model) for the slider, model output with recipe, metrics text)."""
    model = _model(model_name, "upscale")
    if image is None:
        raise ValueError("upload an image, pick an example, or send one from another tab")
    image = io.read_image(image)  # a file path from the UI: every mode and EXIF rotation handled
    scale = int(model.card["scale"])
    tile = _int(tile, "tile", 0, 4096)
    report = ""
    if evaluate:
        from genstudio.eval.metrics import sr_scores
        from genstudio.tasks.upscale import bicubic_downscale

        truth = images.as_rgb(image if image.ndim == 2 else image[..., :3] if image.shape[2] >= 3 else image[..., 0])
        truth = truth[: truth.shape[0] - truth.shape[0] % scale, : truth.shape[1] - truth.shape[1] % scale]
        if min(truth.shape[:2]) < 2 * scale:
            raise ValueError(f"evaluate needs an image at least {2 * scale} pixels on each side")
        image = bicubic_downscale(truth, scale)
        out = upscale.upscale_array(image, model, tile=tile, progress=lambda f, d: progress(f, desc=d))
        base = upscale.bicubic_upscale(image, scale)
        m, b = sr_scores(out, truth, scale), sr_scores(base, truth, scale)
        report = (f"Input treated as ground truth, downscaled x{scale} with bicubic and upscaled back.\n\n"
                  f"| | PSNR (Y) | SSIM (Y) |\n|---|---|---|\n| {model_name} | {m[0]:.2f} dB | {m[1]:.4f} |\n"
                  f"| bicubic | {b[0]:.2f} dB | {b[1]:.4f} |")
    else:
        out = upscale.upscale_array(image, model, tile=tile, progress=lambda f, d: progress(f, desc=d))
        base = upscale.bicubic_upscale(image, scale)
        report = f"{image.shape[1]}x{image.shape[0]} -> {out.shape[1]}x{out.shape[0]} with {model_name}."
    recipe = io.make_recipe("upscale", model=model_name, tile=tile, evaluate=bool(evaluate))
    return (_png(base, {**recipe, "model": "bicubic"}), _png(out, recipe)), _png(out, recipe), report


# ---------------------------------------------------------------- Latent walk


def _walk_dir() -> Path:
    """Videos live in one temp folder; files older than an hour are pruned on each request."""
    folder = Path(tempfile.gettempdir()) / "genstudio-walks"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        if time.time() - old.stat().st_mtime > 3600:
            old.unlink(missing_ok=True)
    return folder


@user_errors
def latent_walk(model_name, seeds_text, labels_text, frames_per_transition, fps, interpolation, loop, grid_cols, grid_rows,
                display_size, resize, truncation, progress=gr.Progress()):
    """Returns (mp4 path, recipe JSON path)."""
    from genstudio.limits import Limits

    limits = Limits.from_env()
    model = _model(model_name, "sample", "conditional")
    seeds = generate.parse_seeds(seeds_text or "", limit=64)
    labels = [l.strip() for l in (labels_text or "").split(",") if l.strip()] or None
    resize_with = resize if resize in ("nearest", "smooth") else _model(resize, "upscale")
    fpt = _int(frames_per_transition, "frames per transition", 1, limits.max_frames)
    truncation = _optional_float(truncation)
    progress(0, desc="rendering frames")
    frames = walk.walk_frames(model, seeds, fpt, labels=labels, interpolation=interpolation, loop=bool(loop),
                              truncation=truncation, grid_size=(_int(grid_cols, "grid columns", 1, limits.max_grid),
                                                               _int(grid_rows, "grid rows", 1, limits.max_grid)),
                              display_size=_int(display_size, "display size", 16, limits.max_display), resize=resize_with,
                              limits=limits, progress=lambda f, d: progress(f, desc=d))
    progress(0.85, desc="encoding H.264")
    recipe = io.make_recipe("walk", model=model_name, seeds=seeds_text, labels=labels, frames_per_transition=fpt,
                     fps=int(fps), loop=bool(loop), interpolation=interpolation, grid=[int(grid_cols), int(grid_rows)],
                     size=int(display_size), resize=resize, truncation=truncation)
    path = _walk_dir() / f"walk-{model_name}-{time.time_ns()}.mp4"
    written = walk.encode_video(frames, path, _int(fps, "fps", 1, limits.max_fps), recipe, limits=limits)
    progress(1.0, desc="done")
    return str(written[0]), str(written[1])


# ---------------------------------------------------------------- Models and recipes


def model_card_markdown(name: str | None) -> str:
    if not name:
        return "Choose a model."
    info = registry.inspect(name)
    if info.error:
        return f"### {name}\n\n**Unavailable:** {info.error}"
    c, p = info.card, info.card.get("provenance", {})
    params = f"{registry.parameter_count(name) / 1e6:.2f} M"
    lines = [f"### {name}", c.get("description", ""), "",
             "| field | value |", "|---|---|",
             f"| task | {c.get('task')} |", f"| architecture | `{info.arch}` |", f"| parameters | {params} |",
             f"| dataset | {c.get('dataset')} |"]
    if c.get("labels"):
        lines.append(f"| labels | {', '.join(c['labels'])} |")
    if c.get("scale"):
        lines.append(f"| scale | x{c['scale']} |")
    lines += [f"| trained | {p.get('steps')} steps in {p.get('wall_time_minutes')} min on {p.get('device')}, "
              f"{p.get('processes')} process(es) x {p.get('torch_threads')} thread(s) |",
              f"| date | {p.get('date')} |", f"| commit | `{(p.get('git_commit') or 'n/a')[:10]}` |"]
    if p.get("init_from"):
        before = p["init_from"]
        lines.append(f"| started from | `{before['model']}` ({before.get('steps')} steps, {before.get('wall_time_minutes')} min) |")
    metrics = c.get("metrics") or {}
    if metrics:
        lines += ["", "**Metrics** (`genstudio eval " + name + "`)", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in metrics.items()]
    else:
        lines += ["", "_Not evaluated yet: run `genstudio eval " + name + "`._"]
    config = p.get("config")
    if config:
        lines += ["", "**Training config** (resolved)", "", "```json", json.dumps(config, indent=1), "```"]
    return "\n".join(lines)


def model_curve(name: str | None):
    """The training log in the card as a long table for gr.LinePlot."""
    import pandas as pd

    info = registry.inspect(name) if name else None
    rows = (info.card.get("provenance", {}).get("curve") or []) if info and not info.error else []
    long = [{"step": r["step"], "series": k, "value": v} for r in rows for k, v in r.items()
            if k not in ("step", "minutes") and isinstance(v, (int, float))]
    return pd.DataFrame(long or [{"step": 0, "series": "no log", "value": 0.0}])


def model_picture(name: str | None):
    path = Path(__file__).resolve().parent.parent.parent / "assets" / "models" / f"{name}.png"
    return str(path) if name and path.exists() else None


def models_table() -> list[list]:
    rows = []
    for info in registry.list_models(include_unavailable=True):
        s = info.summary()
        headline = _headline(s["metrics"]) if not info.error else f"UNAVAILABLE: {info.error}"
        rows.append([s["name"], s["task"] or "", s["arch"] or "", s["dataset"] or "", headline])
    return rows


def _headline(metrics: dict) -> str:
    keys = ["class_accuracy", "fd_classifier_features", "class_coverage_entropy", "test_accuracy", "set5_psnr_y_model",
            "set5_ssim_y_model", "20-40% psnr model", "20-40% psnr telea", "test_recon_bce_per_image"]
    return ", ".join(f"{k}={metrics[k]}" for k in keys if k in metrics) or "not evaluated"


@user_errors
def read_recipe(file_path):
    """A PNG or MP4 made by the app -> its recipe (JSON text) and the tab it belongs to."""
    if not file_path:
        raise ValueError("drop a PNG or MP4 made by GenStudio")
    path = Path(file_path)
    recipe = walk.read_video_recipe(path) if path.suffix.lower() in (".mp4", ".json") else None
    if recipe is None and path.suffix.lower() not in (".mp4",):
        try:
            recipe = io.read_recipe(path)
        except (OSError, SyntaxError) as exc:
            raise ValueError(f"{path.name} is not an image or video made by GenStudio") from exc
    if not recipe:
        raise ValueError(f"{path.name} carries no GenStudio recipe")
    return recipe


def restore_targets(recipe: dict | None):
    """Settings of a recipe -> updates for [tabs, sample model/seed/n/truncation/temperature/label,
    walk model/seeds/labels/frames/fps/interpolation/loop]; other tabs' recipes are shown only."""
    keep = gr.skip()
    sample_fields, walk_fields = [keep] * 6, [keep] * 7
    tab = keep
    if recipe and recipe.get("task") in ("sample", "conditional"):
        tab = gr.Tabs(selected="sample")
        sample_fields = [recipe.get("model"), recipe.get("seed", 0), recipe.get("n", 16), recipe.get("truncation") or 0,
                         recipe.get("temperature", 1.0), recipe.get("label")]
    elif recipe and recipe.get("task") == "walk":
        tab = gr.Tabs(selected="walk")
        labels = recipe.get("labels")
        walk_fields = [recipe.get("model"), recipe.get("seeds"), ", ".join(map(str, labels)) if labels else "",
                       recipe.get("frames_per_transition", 30), recipe.get("fps", 30), recipe.get("interpolation", "spherical"),
                       recipe.get("loop", True)]
    return [tab, *sample_fields, *walk_fields]
