"""Latent walk: looping videos through a generator's latent, class and style space."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from genstudio.kinds import kind_of
from genstudio.limits import Limits
from genstudio.tasks import generate, io, walk
from genstudio.ui import common, links
from genstudio.ui.common import load_model, optional_float, user_errors, whole

DEFAULT_MODELS = ("emoji-gan", "gan-fmnist")
VIDEO_BACKGROUNDS = {"white": 255, "black": 0}  # a video has no alpha
DEFAULT_SEEDS = "1,5,9-12"


def walk_dir() -> Path:
    """Videos live in one temp folder; files older than an hour are pruned on each request."""
    folder = Path(tempfile.gettempdir()) / "genstudio-walks"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        if time.time() - old.stat().st_mtime > 3600:
            old.unlink(missing_ok=True)
    return folder


def _names(text: str | None) -> list[str] | None:
    return [x.strip() for x in (text or "").split(",") if x.strip()] or None


def _morph(
    model,
    emoji,
    keyframe_files,
    styles,
    fpt,
    fps,
    interpolation,
    loop,
    display_size,
    resize,
    background,
    limits,
    progress,
):
    """A restyle model's walk: a morph between real emoji (names, then uploaded pictures, in order)."""
    names = [n for n in (emoji or []) if n]
    pictures = [io.read_image(f) for f in (keyframe_files or [])]
    progress(0, desc="drawing frames")
    frames = walk.morph_frames(
        model,
        names + pictures,
        fpt,
        styles=styles,
        interpolation=interpolation,
        loop=bool(loop),
        display_size=whole(display_size, "display size", 16, limits.max_display),
        resize=resize,
        background=VIDEO_BACKGROUNDS[background],
        limits=limits,
        progress=lambda f, d: progress(f, desc=d),
    )
    recipe = io.make_recipe(
        "walk",
        model=model.name,
        emoji=names,
        uploads=len(pictures) or None,
        styles=styles,
        frames_per_transition=fpt,
        fps=int(fps),
        loop=bool(loop),
        interpolation=interpolation,
        size=int(display_size),
        resize=resize,
        background=background,
    )
    return frames, recipe


@user_errors
def latent_walk(
    model,
    seeds="1,5,9-12",
    labels="",
    styles="",
    frames_per_transition=24,
    fps=24,
    interpolation="spherical",
    loop=True,
    grid_cols=1,
    grid_rows=1,
    size=256,
    resize="smooth",
    truncation=None,
    temperature=None,
    background="white",
    emoji=None,
    keyframes=None,
    progress=gr.Progress(),
):
    """Returns (mp4 path, recipe JSON path)."""
    limits = Limits.from_env()
    model_name, model = model, load_model(model, "sample", "conditional", "restyle")
    seeds_text, labels_text, styles_text, display_size, keyframe_files = seeds, labels, styles, size, keyframes
    if background not in VIDEO_BACKGROUNDS:
        raise common.UserError(f"a video's background is white or black, got {background!r}")
    fpt = whole(frames_per_transition, "frames per transition", 1, limits.max_frames)
    if model.task == "restyle":
        if resize not in ("nearest", "smooth"):
            resize = "smooth"  # the photo upscalers are for photos; an emoji morph is enlarged smoothly
        frames, recipe = _morph(
            model,
            emoji,
            keyframe_files,
            _names(styles_text),
            fpt,
            fps,
            interpolation,
            loop,
            display_size,
            resize,
            background,
            limits,
            progress,
        )
        return _encoded(frames, recipe, model_name, fps, limits, progress)
    seeds = generate.parse_seeds(seeds_text or "", limit=64)
    labels, styles = _names(labels_text), _names(styles_text)
    resize_with = resize if resize in ("nearest", "smooth") else load_model(resize, "upscale")
    latent = kind_of(model).latent_settings(optional_float(truncation), optional_float(temperature))
    progress(0, desc="rendering frames")
    grid_size = (
        whole(grid_cols, "grid columns", 1, limits.max_grid),
        whole(grid_rows, "grid rows", 1, limits.max_grid),
    )
    frames = walk.walk_frames(
        model,
        seeds,
        fpt,
        labels=labels,
        styles=styles,
        interpolation=interpolation,
        loop=bool(loop),
        **latent,
        grid_size=grid_size,
        display_size=whole(display_size, "display size", 16, limits.max_display),
        resize=resize_with,
        limits=limits,
        progress=lambda f, d: progress(f, desc=d),
        background=VIDEO_BACKGROUNDS[background],
    )
    recipe = io.make_recipe(
        "walk",
        model=model_name,
        seeds=seeds_text,
        labels=labels,
        styles=styles,
        frames_per_transition=fpt,
        fps=int(fps),
        loop=bool(loop),
        interpolation=interpolation,
        grid=list(grid_size),
        size=int(display_size),
        resize=resize,
        **latent,
        background=background,
    )
    return _encoded(frames, recipe, model_name, fps, limits, progress)


def _encoded(frames, recipe, model_name, fps, limits, progress):
    progress(0.85, desc="encoding H.264")
    path = walk_dir() / f"walk-{model_name}-{time.time_ns()}.mp4"
    written = walk.encode_video(frames, path, whole(fps, "fps", 1, limits.max_fps), recipe, limits=limits)
    progress(1.0, desc="done")
    return str(written[0]), str(written[1])


def build(generators: list[str], upscalers: list[str], restylers: list[str] = ()) -> SimpleNamespace:
    from genstudio import registry

    names = list(registry.inspect(restylers[0]).card.get("names") or []) if restylers else []

    with gr.Tab("Latent walk", id="walk"):
        with gr.Row():
            with gr.Column(scale=1):
                model = gr.Dropdown(
                    generators + list(restylers),
                    value=common.first(generators, *DEFAULT_MODELS),
                    label="Model",
                    info="a generator to walk through, or a restyle model to morph between real emoji",
                )
                emoji = gr.Dropdown(
                    names,
                    value=["grinning face", "cat face", "slice of pizza"] if names else None,
                    multiselect=True,
                    filterable=True,
                    label="Emoji (keyframes, in order)",
                    visible=False,
                    info="type to search the names",
                    elem_id="walk-emoji",
                )
                keyframe_files = gr.File(
                    file_count="multiple",
                    file_types=["image"],
                    label="…and/or pictures as keyframes",
                    visible=False,
                    elem_id="walk-keyframes",
                )
                seeds = gr.Textbox(
                    DEFAULT_SEEDS,
                    label="Seeds (keyframes)",
                    info="a list or ranges; one seed holds the latent still",
                    elem_id="walk-seeds",
                )
                labels = gr.Textbox(
                    "",
                    label="Classes (conditional models)",
                    info="names or indices per keyframe, e.g. 'Food & Drink, Animals & Nature'; "
                    "empty: a tour of every class",
                )
                styles = gr.Textbox(
                    "",
                    label="Styles (style models)",
                    info="e.g. 'noto, twemoji, fluent' morphs one emoji between styles; one holds it; "
                    "empty: the first seed's",
                )
                with gr.Row():
                    fpt = common.Slider(
                        1, 120, value=24, step=1, label="Frames per transition", info="between two keyframes"
                    )
                    fps = common.Slider(1, 60, value=24, step=1, label="fps", info="frames per second")
                with gr.Row():
                    interpolation = gr.Radio(
                        ["spherical", "linear"],
                        value="spherical",
                        label="Interpolation",
                        info="spherical keeps latents at a typical length",
                    )
                    loop = gr.Checkbox(True, label="Loop", info="end where it starts")
                with gr.Row():
                    cols = common.Slider(1, 4, value=1, step=1, label="Grid columns", info="several walks in one video")
                    rows = common.Slider(1, 4, value=1, step=1, label="Grid rows", info="several walks in one video")
                with gr.Row():
                    size = common.Slider(
                        64, 1024, value=256, step=32, label="Display size (px)", info="side of each walk in the video"
                    )
                    resize = gr.Dropdown(
                        ["nearest", "smooth"] + upscalers,
                        value="smooth",
                        label="Enlarge with",
                        info="nearest keeps pixels crisp; smooth or a model blends",
                    )
                truncation = common.latent_slider("truncation", model)
                temperature = common.latent_slider("temperature", model, visible=False)
                background = gr.Radio(
                    list(VIDEO_BACKGROUNDS),
                    value="white",
                    label="Background",
                    info="behind transparent images; a video has no alpha",
                )
                go = gr.Button("Generate video", variant="primary", elem_id="walk-go")
            with gr.Column(scale=2):
                video = gr.Video(
                    label="Walk (H.264 mp4, loops)",
                    interactive=False,
                    autoplay=True,
                    loop=True,
                    buttons=["download"],
                    elem_id="walk-video",
                )
                recipe = gr.File(label="Recipe (JSON)", interactive=False)
                link = links.link_box("walk-link")
        styled = [m for m in generators if registry.inspect(m).styles]
        examples = (
            [[m, "3", "Food & Drink", "noto, twemoji, fluent", 1, 1] for m in styled][:1]
            + [[m, "1,2", "", "", 1, 1] for m in generators if registry.inspect(m).task == "conditional"][:1]
            + [[m, "1,5,9-12", "", "", 1, 1] for m in generators if registry.inspect(m).task == "sample"][:1]
            + [[m, "0-3", "", "", 3, 3] for m in generators][:1]
        )
        if examples:
            gr.Examples(examples, inputs=[model, seeds, labels, styles, cols, rows], label="Try")

    inputs = [
        model,
        seeds,
        labels,
        styles,
        fpt,
        fps,
        interpolation,
        loop,
        cols,
        rows,
        size,
        resize,
        truncation,
        temperature,
        background,
        emoji,
        keyframe_files,
    ]

    def shown_controls(name):
        """A generator shows seeds, classes and its latent control; a restyle model shows emoji keyframes."""
        morph = bool(name) and registry.inspect(name).task == "restyle"
        latent = common.control_updates(name)[2:] if not morph else (gr.update(visible=False),) * 2
        return (
            *latent,
            *(gr.update(visible=not morph) for _ in range(4)),
            *(gr.update(visible=morph) for _ in range(2)),
        )

    # only the controls the model takes are shown; a model the user picks starts without the previous one's classes
    model.change(
        shown_controls,
        model,
        [truncation, temperature, seeds, labels, cols, rows, emoji, keyframe_files],
        api_visibility="private",
    )
    model.input(lambda name: ("", ""), model, [labels, styles], api_visibility="private", queue=False)
    go.click(latent_walk, inputs, [video, recipe], api_name="walk", concurrency_id="video", concurrency_limit=1)
    links.keep_link(recipe, link)

    def opening():
        """The tab opens on the default walk, kept apart from the hourly-pruned videos."""
        folder = Path(tempfile.gettempdir()) / "genstudio-openings"
        folder.mkdir(exist_ok=True)
        return tuple(shutil.copy(path, folder) for path in latent_walk(*(c.value for c in inputs)))

    return SimpleNamespace(
        opening=(opening, [video, recipe]),
        run=(latent_walk, inputs, [video, recipe]),
        video=video,
        model=model,
        seeds=seeds,
        labels=labels,
        styles=styles,
        truncation=truncation,
        temperature=temperature,
        restore_outputs=[*inputs[:-1], video],  # every setting but the uploads (a recipe holds none), then the video
    )


def restore(recipe: dict) -> list:
    """A walk recipe's settings for `restore_outputs`: every setting it records; the old video is cleared."""
    join = lambda values: ", ".join(map(str, values)) if values else ""
    grid = recipe.get("grid") or [1, 1]
    return [
        recipe.get("model"),
        recipe.get("seeds") or DEFAULT_SEEDS,
        join(recipe.get("labels")),
        join(recipe.get("styles")),
        recipe.get("frames_per_transition", 24),
        recipe.get("fps", 24),
        recipe.get("interpolation", "spherical"),
        recipe.get("loop", True),
        grid[0],
        grid[1],
        recipe.get("size", 256),
        recipe.get("resize", "smooth"),
        common.recipe_latent(recipe, "truncation"),
        common.recipe_latent(recipe, "temperature"),
        recipe.get("background") or "white",
        recipe.get("emoji") or None,
        None,
    ]
