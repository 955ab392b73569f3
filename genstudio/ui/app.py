"""The Gradio Blocks layout. Callbacks live in `callbacks.py`; nothing loads a model here.

Models are read lazily: building the demo reads only checkpoint headers, so the app
serves within seconds and a model loads on its first use.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import gradio as gr

from genstudio.ui import callbacks as cb

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
DISPLAY_HELP = "28 px images are enlarged for display; nearest keeps pixels crisp, smooth uses Lanczos."


def _examples(folder: str) -> list[str]:
    return sorted(str(p) for p in (ASSETS / folder).glob("*.png"))


def _first(choices: list[str], prefer: str | None = None):
    return prefer if prefer in choices else (choices[0] if choices else None)


def _seed_input() -> gr.Number:
    """A seed box with a button beside it that rolls a random seed."""
    with gr.Row():
        seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=cb.MAX_SEED)
        dice = gr.Button("🎲 Random", scale=0, min_width=90)
    dice.click(cb.random_seed, None, seed, api_visibility="private", queue=False)
    return seed


def _display_inputs() -> tuple[gr.Slider, gr.Checkbox]:
    scale = gr.Slider(1, 12, value=6, step=1, label="Display scale", info=DISPLAY_HELP)
    smooth = gr.Checkbox(False, label="Smooth enlargement")
    return scale, smooth


def make_gradio_image_cache_atomic() -> None:
    """Gradio caches every image it encodes (inputs it re-saves, outputs it returns) at a
    path named by the content's hash, and rewrites that file in place each time. When two
    requests carry identical bytes at once, one reads or serves the file while the other
    has just truncated it: the empty downloads and unreadable uploads ("peer closed
    connection without sending complete message body") seen under 16 concurrent users.
    A content-addressed file never needs rewriting, so write it once, atomically."""
    from gradio import processing_utils

    if getattr(processing_utils.save_pil_to_cache, "atomic", False):
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = processing_utils.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        path = (folder / f"{name}.{format}").resolve()
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        return str(path)

    save_pil_to_cache.atomic = True
    processing_utils.save_pil_to_cache = save_pil_to_cache


def build_demo() -> gr.Blocks:
    make_gradio_image_cache_atomic()
    generators = cb.model_choices("sample", "conditional")
    conditionals = cb.model_choices("conditional")
    upscalers = cb.model_choices("upscale")
    inpainters = cb.model_choices("inpaint") + ["telea", "navier-stokes"]

    with gr.Blocks(title="GenStudio", delete_cache=(900, 3600)) as demo:
        gr.Markdown("# GenStudio\nSee what generative models do: sample, condition, inpaint, upscale and walk through latent space. "
                    "Every model here was trained on a 2-core CPU by this project's own pipeline; the **Models** tab shows how good each one is and how it was made.")
        raw_grid = gr.State(None)  # last generated grid at 1:1, for send-to buttons

        with gr.Tabs() as tabs:
            # ------------------------------------------------------------ Sample
            with gr.Tab("Sample", id="sample"):
                with gr.Row():
                    with gr.Column(scale=1):
                        s_model = gr.Dropdown(generators, value=_first(generators, "gan-fmnist"), label="Model")
                        s_label = gr.Dropdown([], label="Label (conditional models)", visible=False, allow_custom_value=True)
                        s_seed = _seed_input()
                        s_count = gr.Slider(1, 64, value=16, step=1, label="Number of images")
                        s_trunc = gr.Slider(0, 3, value=0, step=0.05, label="Truncation (GAN; 0 = off, lower = cleaner but less varied)")
                        s_temp = gr.Slider(0.1, 2, value=1, step=0.05, label="Temperature (VAE prior scale)")
                        s_scale, s_smooth = _display_inputs()
                        s_go = gr.Button("Generate", variant="primary", elem_id="sample-go")
                        if generators:
                            gr.Examples([[m, seed, 16, trunc] for m in generators for seed, trunc in ((0, 0), (1000, 0.7))],
                                        inputs=[s_model, s_seed, s_count, s_trunc], label="Try")
                    with gr.Column(scale=2):
                        s_out = gr.Image(label="Samples (PNG carries its recipe)", format="png", type="pil", buttons=["download", "fullscreen"], elem_id="sample-output", interactive=False)
                        s_seeds = gr.Textbox(label="Seeds of these images", interactive=False)
                        with gr.Row():
                            s_to_inpaint = gr.Button("Send to inpaint")
                            s_to_upscale = gr.Button("Send to upscale")
                            s_to_walk = gr.Button("Walk from these seeds")

            # ------------------------------------------------------------ Label-conditioned
            with gr.Tab("Label-conditioned", id="conditional"):
                with gr.Row():
                    with gr.Column(scale=1):
                        c_model = gr.Dropdown(conditionals, value=_first(conditionals, "cgan-fmnist"), label="Model")
                        c_label = gr.Dropdown([], label="Class", allow_custom_value=True)
                        c_mode = gr.Radio(["one class", "all classes", "blend"], value="one class", label="Mode")
                        c_blend = gr.Dropdown([], label="Blend towards (blend mode)", allow_custom_value=True)
                        c_weight = gr.Slider(0, 1, value=0.5, step=0.05, label="Blend weight")
                        c_seed = _seed_input()
                        c_count = gr.Slider(1, 64, value=16, step=1, label="Images (per class in 'all classes')")
                        c_trunc = gr.Slider(0, 3, value=0, step=0.05, label="Truncation (0 = off)")
                        c_scale, c_smooth = _display_inputs()
                        c_go = gr.Button("Generate", variant="primary", elem_id="conditional-go")
                        if conditionals:
                            gr.Examples([[m, mode, n] for m in conditionals for mode, n in (("all classes", 8), ("blend", 16))],
                                        inputs=[c_model, c_mode, c_count], label="Try")
                    with gr.Column(scale=2):
                        c_out = gr.Image(label="Samples", format="png", type="pil", buttons=["download", "fullscreen"], elem_id="conditional-output", interactive=False)
                        with gr.Row():
                            c_to_inpaint = gr.Button("Send to inpaint")
                            c_to_upscale = gr.Button("Send to upscale")

            # ------------------------------------------------------------ Inpaint
            with gr.Tab("Inpaint", id="inpaint"):
                with gr.Row():
                    with gr.Column(scale=1):
                        i_editor = gr.ImageEditor(label="Paint over what to replace", type="numpy", image_mode="RGB",
                                                  brush=gr.Brush(default_size=24, colors=["#ff00ff"], color_mode="fixed"),
                                                  eraser=gr.Eraser(default_size=24), transforms=(), layers=False,
                                                  sources=("upload", "clipboard"), height=520, elem_id="inpaint-editor")
                        i_method = gr.Dropdown(inpainters, value=_first(inpainters, "inpaint-photo"), label="Model or method")
                        i_strategy = gr.Radio(["crop", "whole"], value="crop", label="Large images",
                                              info="crop: work around the painted area at full resolution; whole: the whole image, reduced")
                        with gr.Row():
                            i_dilate = gr.Slider(0, 32, value=0, step=1, label="Dilate mask (px)")
                            i_feather = gr.Slider(0, 32, value=0, step=1, label="Feather edge (px)")
                        i_go = gr.Button("Inpaint", variant="primary", elem_id="inpaint-go")
                        gr.Examples(_examples("photos"), inputs=i_editor, label="Example photos")
                    with gr.Column(scale=1):
                        i_out = gr.Image(label="Result", format="png", type="pil", buttons=["download", "fullscreen"], elem_id="inpaint-output", interactive=False)
                        i_mask = gr.Image(label="Mask used (white = filled)", format="png", type="pil", height=200, interactive=False)
                        i_note = gr.Markdown()
                        i_to_upscale = gr.Button("Send result to upscale")
                with gr.Row(visible=False):  # the API form: an image file and a mask file (white = fill)
                    i_api_image = gr.Image(type="filepath", label="image")
                    i_api_mask = gr.Image(type="filepath", label="mask")
                    i_api_go = gr.Button("inpaint (API)")

            # ------------------------------------------------------------ Upscale
            with gr.Tab("Upscale", id="upscale"):
                with gr.Row():
                    with gr.Column(scale=1):
                        u_in = gr.Image(label="Image", type="filepath", sources=["upload", "clipboard"], elem_id="upscale-input")
                        u_model = gr.Dropdown(upscalers, value=_first(upscalers, "sr-x4"), label="Model (scale)")
                        u_eval = gr.Checkbox(False, label="Evaluate: treat the input as ground truth, downscale it, upscale it back and score")
                        u_tile = gr.Slider(0, 1024, value=256, step=32, label="Tile (input px; 0 = whole image)")
                        u_go = gr.Button("Upscale", variant="primary", elem_id="upscale-go")
                        gr.Examples(_examples("photos"), inputs=u_in, label="Example photos")
                    with gr.Column(scale=2):
                        u_slider = gr.ImageSlider(label="Bicubic | model", type="pil", format="png", interactive=False)
                        u_out = gr.Image(label="Model output (download)", format="png", type="pil", buttons=["download"], elem_id="upscale-output", interactive=False)
                        u_report = gr.Markdown()

            # ------------------------------------------------------------ Latent walk
            with gr.Tab("Latent walk", id="walk"):
                with gr.Row():
                    with gr.Column(scale=1):
                        w_model = gr.Dropdown(generators, value=_first(generators, "gan-fmnist"), label="Model")
                        w_seeds = gr.Textbox("1,5,9-12", label="Seeds (keyframes)", info="a list or ranges; one seed holds the latent still", elem_id="walk-seeds")
                        w_labels = gr.Textbox("", label="Labels (conditional models)", info="names or indices per keyframe, e.g. 'Sneaker, Bag, Ankle boot'")
                        with gr.Row():
                            w_fpt = gr.Slider(1, 120, value=30, step=1, label="Frames per transition")
                            w_fps = gr.Slider(1, 60, value=30, step=1, label="fps")
                        with gr.Row():
                            w_interp = gr.Radio(["spherical", "linear"], value="spherical", label="Interpolation")
                            w_loop = gr.Checkbox(True, label="Loop")
                        with gr.Row():
                            w_cols = gr.Slider(1, 4, value=1, step=1, label="Grid columns")
                            w_rows = gr.Slider(1, 4, value=1, step=1, label="Grid rows")
                        with gr.Row():
                            w_size = gr.Slider(64, 1024, value=256, step=32, label="Display size (px)")
                            w_resize = gr.Dropdown(["nearest", "smooth"] + upscalers, value="nearest", label="Enlarge with")
                        w_trunc = gr.Slider(0, 3, value=0, step=0.05, label="Truncation (GAN; 0 = off)")
                        w_go = gr.Button("Generate video", variant="primary", elem_id="walk-go")
                        gr.Examples([[m, "1,5,9-12", "", 1, 1] for m in generators if m not in conditionals][:2]
                                    + [[m, "3", ", ".join(cb.registry.inspect(m).labels[:4]), 1, 1] for m in conditionals][:2]
                                    + [[m, "0-3", "", 3, 3] for m in generators][:1],
                                    inputs=[w_model, w_seeds, w_labels, w_cols, w_rows], label="Try")
                    with gr.Column(scale=2):
                        w_video = gr.Video(label="Walk (H.264 mp4, loops)", interactive=False, autoplay=True, loop=True, buttons=["download"], elem_id="walk-video")
                        w_recipe = gr.File(label="Recipe (JSON)", interactive=False)

            # ------------------------------------------------------------ Models
            with gr.Tab("Models", id="models"):
                gr.Dataframe(headers=["name", "task", "architecture", "dataset", "headline metrics"],
                                       value=cb.models_table, interactive=False, wrap=True)
                all_models = [m.name for m in cb.registry.list_models(include_unavailable=True)]
                m_pick = gr.Dropdown(all_models, value=_first(all_models), label="Model card")
                with gr.Row():
                    m_card = gr.Markdown(elem_id="model-card")
                    with gr.Column():
                        m_picture = gr.Image(label="Samples / before-after", interactive=False)
                        m_curve = gr.LinePlot(x="step", y="value", color="series", label="Training curves (from the log in the checkpoint)")

            # ------------------------------------------------------------ Recipe
            with gr.Tab("Recipe", id="recipe"):
                gr.Markdown("Drop a PNG or MP4 made by GenStudio: its recipe is read back and the settings are restored in their tab.")
                r_file = gr.File(label="PNG or MP4 from GenStudio", file_types=[".png", ".mp4", ".json"], elem_id="recipe-file")
                r_json = gr.JSON(label="Recipe")

        # ---------------------------------------------------------------- wiring
        s_model.change(cb.label_choices, s_model, s_label, api_visibility="private")
        c_model.change(cb.label_choices, c_model, c_label, api_visibility="private").then(
            cb.label_choices, c_model, c_blend, api_visibility="private")
        demo.load(cb.label_choices, s_model, s_label, api_visibility="private").then(
            cb.label_choices, c_model, c_label, api_visibility="private").then(
            cb.label_choices, c_model, c_blend, api_visibility="private")

        s_go.click(cb.sample, [s_model, s_seed, s_count, s_label, s_trunc, s_temp, s_scale, s_smooth],
                   [s_out, raw_grid, s_seeds], api_name="sample", concurrency_id="gpu")
        c_go.click(cb.conditional, [c_model, c_label, c_seed, c_count, c_mode, c_blend, c_weight, c_trunc, c_scale, c_smooth],
                   [c_out, raw_grid], api_name="conditional", concurrency_id="gpu")
        i_go.click(cb.inpaint_editor, [i_editor, i_method, i_strategy, i_dilate, i_feather], [i_out, i_mask, i_note],
                   api_name="inpaint_editor", concurrency_id="gpu")
        u_go.click(cb.upscale_image, [u_in, u_model, u_eval, u_tile], [u_slider, u_out, u_report],
                   api_name="upscale", concurrency_id="gpu")
        w_go.click(cb.latent_walk, [w_model, w_seeds, w_labels, w_fpt, w_fps, w_interp, w_loop, w_cols, w_rows, w_size,
                                    w_resize, w_trunc], [w_video, w_recipe], api_name="walk", concurrency_id="video",
                   concurrency_limit=1)
        gr.on([demo.load, m_pick.change], cb.model_card_markdown, m_pick, m_card, api_name="model_card").then(
            cb.model_picture, m_pick, m_picture, api_visibility="private").then(
            cb.model_curve, m_pick, m_curve, api_visibility="private")
        i_api_go.click(cb.inpaint_files, [i_api_image, i_api_mask, i_method, i_strategy, i_dilate, i_feather],
                       [i_out, i_mask, i_note], api_name="inpaint", concurrency_id="gpu")
        r_file.upload(cb.read_recipe, r_file, r_json, api_name="recipe").then(
            cb.restore_targets, r_json, [tabs, s_model, s_seed, s_count, s_trunc, s_temp, s_label,
                                         w_model, w_seeds, w_labels, w_fpt, w_fps, w_interp, w_loop], api_visibility="private")

        # flow between tabs: outputs become inputs without a download
        for button in (s_to_inpaint, c_to_inpaint):
            button.click(lambda g: cb.send_image(g, "inpaint"), raw_grid, [i_editor, tabs], api_visibility="private")
        for button, source in ((s_to_upscale, raw_grid), (c_to_upscale, raw_grid), (i_to_upscale, i_out)):
            button.click(lambda g: cb.send_image(g, "upscale"), source, [u_in, tabs], api_visibility="private")
        s_to_walk.click(lambda m, s: (m, s, gr.Tabs(selected="walk")), [s_model, s_seeds], [w_model, w_seeds, tabs],
                        api_visibility="private")
    return demo


def queued(demo: gr.Blocks) -> gr.Blocks:
    """A bounded queue: model work runs two at a time (this is a 2-core machine), videos one at a time."""
    max_size = int(os.environ.get("GENSTUDIO_MAX_QUEUE", 64))
    return demo.queue(max_size=max_size, default_concurrency_limit=int(os.environ.get("GENSTUDIO_CONCURRENCY", 2)))


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, **kwargs) -> None:
    queued(build_demo()).launch(server_name=host, server_port=port, share=share, show_error=True, **kwargs)
