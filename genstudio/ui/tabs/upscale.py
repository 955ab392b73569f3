"""Upscale: x2 / x4 super-resolution, compared with bicubic, optionally scored."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from genstudio.tasks import images, io, upscale
from genstudio.ui import common
from genstudio.ui.common import UserError, load_model, png, user_errors, whole


@user_errors
def upscale_image(image, model, evaluate=False, tile=256, progress=gr.Progress()):
    """Returns ((bicubic, model) for the slider, model output with recipe, metrics text)."""
    model_name, model = model, load_model(model, "upscale")
    if image is None:
        raise UserError("upload an image, pick an example, or send one from another tab")
    image = io.read_image(image)  # a file path from the UI: every mode and EXIF rotation handled
    scale = int(model.card["scale"])
    tile = whole(tile, "tile", 0, 4096)
    if evaluate:
        from genstudio.eval.metrics import sr_scores
        from genstudio.tasks.upscale import bicubic_downscale

        truth = images.as_rgb(image if image.ndim == 2 else image[..., :3] if image.shape[2] >= 3 else image[..., 0])
        truth = truth[: truth.shape[0] - truth.shape[0] % scale, : truth.shape[1] - truth.shape[1] % scale]
        if min(truth.shape[:2]) < 2 * scale:
            raise UserError(f"evaluate needs an image at least {2 * scale} pixels on each side")
        image = bicubic_downscale(truth, scale)
        out = upscale.upscale_array(image, model, tile=tile, progress=lambda f, d: progress(f, desc=d))
        base = upscale.bicubic_upscale(image, scale)
        m, b = sr_scores(out, truth, scale), sr_scores(base, truth, scale)
        report = (
            f"Input treated as ground truth, downscaled x{scale} with bicubic and upscaled back.\n\n"
            f"| | PSNR (Y) | SSIM (Y) |\n|---|---|---|\n| {model_name} | {m[0]:.2f} dB | {m[1]:.4f} |\n"
            f"| bicubic | {b[0]:.2f} dB | {b[1]:.4f} |"
        )
    else:
        out = upscale.upscale_array(image, model, tile=tile, progress=lambda f, d: progress(f, desc=d))
        base = upscale.bicubic_upscale(image, scale)
        report = f"{image.shape[1]}x{image.shape[0]} -> {out.shape[1]}x{out.shape[0]} with {model_name}."
    recipe = io.make_recipe("upscale", model=model_name, tile=tile, evaluate=bool(evaluate))
    return (png(base, {**recipe, "model": "bicubic"}), png(out, recipe)), png(out, recipe), report


def build(upscalers: list[str]) -> SimpleNamespace:
    with gr.Tab("Upscale", id="upscale"):
        with gr.Row():
            with gr.Column(scale=1):
                image = common.ImageInput(
                    label="Image",
                    type="filepath",
                    format="png",
                    sources=["upload", "clipboard"],
                    elem_id="upscale-input",
                )
                model = gr.Dropdown(
                    upscalers, value=common.first(upscalers, "sr-x4"), label="Model (scale)", info="x2 or x4"
                )
                evaluate = gr.Checkbox(
                    False, label="Evaluate: treat the input as ground truth, downscale it, upscale it back and score"
                )
                tile = common.Slider(
                    0,
                    1024,
                    value=256,
                    step=32,
                    label="Tile (input px; 0 = whole image)",
                    info="large images go through in tiles, to bound memory",
                )
                go = gr.Button("Upscale", variant="primary", elem_id="upscale-go")
                gr.Examples(
                    sorted(str(p) for p in (common.assets() / "photos").glob("*.png")),
                    inputs=image,
                    label="Example photos",
                )
            with gr.Column(scale=2):
                slider = gr.ImageSlider(label="Bicubic | model", type="pil", format="png", interactive=False)
                out = gr.Image(
                    label="Model output (download)",
                    format="png",
                    type="pil",
                    buttons=["download"],
                    elem_id="upscale-output",
                    interactive=False,
                )
                report = gr.Markdown(elem_id="upscale-report")
    # a photo of one's own is to be upscaled: Evaluate (ticked by the opening, to show a score) is unticked
    image.upload(lambda: False, None, evaluate, api_visibility="private")
    common.cleared_first(go, [out, report]).then(
        upscale_image, [image, model, evaluate, tile], [slider, out, report], api_name="upscale", concurrency_id="gpu"
    )

    def opening():
        """The tab opens on an example photo in Evaluate mode: model and bicubic side by side, scored."""
        photo = str(common.assets() / "photos" / "coffee.png")
        return (photo, True, *upscale_image(photo, model.value, True, tile.value))

    return SimpleNamespace(
        image=image,
        out=out,
        evaluate=evaluate,
        # the slider is left as it is: cleared, the browser fails to decode its empty images and drops later updates
        results=[out, report],
        opening=(opening, [image, evaluate, slider, out, report]),
        restore_outputs=[model, evaluate, tile, slider, report, out],
    )


def restore(recipe: dict) -> list:
    """An Upscale recipe's settings for `restore_outputs` (a recipe holds no photo: results are cleared)."""
    return [recipe.get("model"), bool(recipe.get("evaluate", False)), recipe.get("tile", 256), None, "", None]
