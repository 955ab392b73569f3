"""What every tab shares: error handling, model lookups, a few widgets, and images that
carry their recipe. Nothing here loads a model at import or knows how one works."""

from __future__ import annotations

import functools
import json
import logging
import random
import threading
import uuid
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from genstudio import paths, registry
from genstudio.errors import UserError
from genstudio.kinds import LATENT_CONTROLS, NEUTRAL, kind_of
from genstudio.tasks import generate, images, io

log = logging.getLogger("genstudio.ui")
MAX_SEED = generate.MAX_SEED
DISPLAY_HELP = "small images are enlarged for display; nearest keeps pixels crisp, smooth uses Lanczos"
BACKGROUNDS = ["transparent", "white", "black", "checkerboard"]
BACKGROUND_HELP = "behind transparent images (emoji); transparent keeps the alpha in the PNG"


def assets() -> Path:
    """The app's pictures (example photos, model sheets)."""
    return paths.assets()


# Buttons that put a photo into the Inpaint editor carry this class: the editor is busy
# loading from their click until it reports the photo is in (see tabs/inpaint.py).
LOADS_INPAINT_EDITOR = "loads-inpaint-editor"
NOT_AN_IMAGE = "this file is not an image we can read (PNG, JPEG, WebP, BMP, TIFF, GIF)"


class ImageInput(gr.Image):
    """gr.Image whose unreadable uploads get our message instead of Gradio's raw
    "Could not preprocess input component" (an Error raised here reaches the user as is)."""

    def get_block_name(self) -> str:
        return "image"  # the browser draws it as gr.Image

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except gr.Error:
            raise
        except Exception:
            raise gr.Error(NOT_AN_IMAGE, print_exception=False) from None


class _Bounded:
    """Gradio checks a number against its control's bounds before any callback runs, and logs a
    traceback for each value out of range; here that is a one-line message naming the control."""

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except gr.Error as exc:
            message = f"{self.label or 'a number'}: {exc.message}"
            log.info("bad input: %s", message)
            raise gr.Error(message, print_exception=False) from None


class Number(_Bounded, gr.Number):
    def get_block_name(self) -> str:
        return "number"  # the browser draws it as gr.Number


class Slider(_Bounded, gr.Slider):
    def get_block_name(self) -> str:
        return "slider"


def user_errors(fn):
    """Bad input (UserError) becomes a `gr.Error` with its own message. Anything else is a
    bug: its traceback goes to the log under an id, and the user sees that id."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except UserError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception:
            error_id = uuid.uuid4().hex[:8]
            log.exception("internal error %s in %s", error_id, fn.__name__)
            raise gr.Error(
                f"internal error (id {error_id}): this is a bug, not your input; the server log has the details",
                print_exception=False,
            ) from None

    return wrapper


def once(compute):
    """A computation done once per process and shared by every visitor (what a tab opens
    with); a failure is logged once and then shows nothing rather than an error."""
    lock, done = threading.Lock(), {}

    @functools.wraps(compute)
    def wrapper():
        with lock:
            if "value" not in done:
                try:
                    done["value"] = compute()
                except Exception:  # gr.Error included: a tab without its opening still works
                    log.exception("opening %s failed", getattr(compute, "__qualname__", compute))
                    done["value"] = None
        return done["value"]

    return wrapper


def load_model(name: str | None, *tasks: str) -> registry.LoadedModel:
    if not name:
        raise UserError("choose a model first")
    model = registry.load(name)
    if tasks and model.task not in tasks:
        raise UserError(f"{name} is a {model.task!r} model; this tab needs a {' or '.join(tasks)} model")
    return model


def whole(value, what: str, low: int, high: int) -> int:
    try:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        value = int(value)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be a whole number from {low} to {high}, got {value!r}") from None
    if not low <= value <= high:
        raise UserError(f"{what} must be from {low} to {high}, got {value}")
    return value


def optional_float(value) -> float | None:
    """A latent slider's value: 0 is off; None or "" (an API call that leaves it out) is the model's default."""
    return None if value is None or value == "" else float(value)


def png(image: np.ndarray, recipe: dict[str, Any]) -> Image.Image:
    """A PIL image carrying its recipe; Gradio keeps text chunks when it saves PNGs."""
    pil = io.to_pil(image)
    pil.info[io.RECIPE_KEY] = json.dumps(recipe, sort_keys=True)
    return pil


def shown(grid: np.ndarray, background: str, display_scale: float, smooth: bool) -> np.ndarray:
    """A grid as displayed: RGBA on the chosen background (or kept transparent), enlarged."""
    return images.resize(images.on_background(grid, background), float(display_scale), smooth=bool(smooth))


def random_seed() -> int:
    return random.randint(0, 2**31 - 1)


def model_choices(*tasks: str) -> list[str]:
    return [m.name for m in registry.list_models(tasks)]


def first(choices: list[str], *prefer: str):
    return next((p for p in prefer if p in choices), choices[0] if choices else None)


def seed_input() -> gr.Number:
    """A seed box with a button beside it that rolls a random seed."""
    with gr.Row():
        seed = Number(
            0,
            label="Seed",
            precision=0,
            minimum=0,
            maximum=MAX_SEED,
            info="names the first image; image i uses seed + i",
        )
        dice = gr.Button("🎲 Random", scale=0, min_width=90)
    dice.click(random_seed, None, seed, api_visibility="private", queue=False)
    return seed


def display_inputs() -> tuple[gr.Slider, gr.Checkbox]:
    scale = Slider(1, 12, value=4, step=1, label="Display scale", info=DISPLAY_HELP)
    smooth = gr.Checkbox(False, label="Smooth enlargement", info="Lanczos instead of crisp pixels")
    return scale, smooth


def background_input(choices: list[str] | None = None, value: str = "white") -> gr.Radio:
    return gr.Radio(choices or BACKGROUNDS, value=value, label="Background", info=BACKGROUND_HELP)


def control_updates(
    name: str | None, label: str | None = None, style: str | None = None, label_all: bool = False
) -> tuple:
    """Visibility and choices of (label, style, truncation, temperature) for a model: only
    the controls its kind takes are shown. A current label/style the new model also has is
    kept (so a restored recipe survives the model change it causes). Without `label_all`,
    the label list starts with '(drawn from the seed)'."""
    info = registry.inspect(name) if name else None
    controls = kind_of(info).controls if info and not info.error else ()
    labels = (info.labels or []) if "label" in controls else []
    styles = (info.styles or []) if "style" in controls else []
    label_choices = ([] if label_all else [DRAWN]) + labels
    style_choices = [DRAWN] + styles
    keep = lambda value, options: value if value in options else options[0]
    return (
        gr.update(choices=label_choices, value=keep(label, label_choices) if labels else None, visible=bool(labels)),
        gr.update(choices=style_choices, value=keep(style, style_choices) if styles else None, visible=bool(styles)),
        gr.update(visible="truncation" in controls, info=LATENT_CONTROLS["truncation"]),
        gr.update(visible="temperature" in controls, info=LATENT_CONTROLS["temperature"]),
    )


def latent_default(name: str | None, control: str) -> float:
    """A model's own setting of a latent control (truncation, temperature), for its slider."""
    info = registry.inspect(name) if name else None
    return kind_of(info).default(control) if info and not info.error else NEUTRAL[control]


def cleared_first(button: gr.Button, outputs: list):
    """A click that first clears the tab's last result (and so its link): an error then leaves no
    stale result beside it. Returns the click event, for the run to follow with `.then`."""
    blanks = tuple(None if not isinstance(o, (gr.Markdown, gr.Textbox)) else "" for o in outputs)
    blank = lambda: blanks if len(blanks) > 1 else blanks[0]  # one output takes its value, not a 1-tuple
    return button.click(blank, None, outputs, api_visibility="private", queue=False, show_progress="hidden")


def recipe_latent(recipe: dict, control: str) -> float:
    """A restored recipe's truncation or temperature; a recipe without one (or a link whose value
    was dropped) gets its model's own setting, not the slider's floor."""
    value = recipe.get(control)
    return float(value) if value is not None else latent_default(recipe.get("model"), control)


def latent_slider(control: str, model: gr.Dropdown, **kwargs) -> gr.Slider:
    """A truncation or temperature slider that starts at the chosen model's own setting and
    moves to a new model's when the user picks one (`.input`, so a restored recipe, which
    sets the model and the slider together, keeps its own value)."""
    low, high = LATENT_RANGES[control]
    slider = Slider(
        low,
        high,
        value=latent_default(model.value, control),
        step=0.05,
        label=control.capitalize(),
        info=LATENT_CONTROLS[control],
        **kwargs,
    )
    model.input(lambda name: latent_default(name, control), model, slider, api_visibility="private", queue=False)
    return slider


LATENT_RANGES = {"truncation": (0, 3), "temperature": (0.1, 2)}
DRAWN = "(drawn from the seed)"


def chosen(value: str | None) -> str | None:
    """A label/style dropdown value; the DRAWN entry means none fixed."""
    return None if value in (None, "", DRAWN) else value


def as_rgb_png(image) -> np.ndarray:
    """An image handed to another tab: RGB uint8, passed on losslessly (the inputs it lands in are PNG)."""
    if image is None:
        raise gr.Error("Generate something first.", print_exception=False)
    array = io.normalize_array(np.asarray(image))
    if array.ndim == 3 and array.shape[2] == 4:
        array = images.on_background(array, "white")
    return images.as_rgb(array)
