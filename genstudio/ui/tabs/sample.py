"""Sample: grids from unconditional and conditional generators (a conditional model draws a
category and a style per image from the seed unless the user fixes them)."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from genstudio.kinds import kind_of
from genstudio.tasks import generate, images, io
from genstudio.ui import common, links
from genstudio.ui.common import chosen, load_model, optional_float, png, shown, user_errors, whole

DEFAULT_MODELS = ("emoji-gan", "gan-fmnist")


@user_errors
def sample(
    model,
    seed=0,
    n=16,
    label=None,
    style=None,
    truncation=None,
    temperature=None,
    background="white",
    display_scale=4,
    smooth=False,
):
    """Returns (displayed grid with recipe, raw grid for other tabs, seeds text). The parameters
    are the recipe's names: the API takes them as keywords."""
    model_name, model = model, load_model(model, "sample", "conditional")
    count = whole(n, "number of images", 1, 256)
    seed = generate.check_seed(seed)
    latent = kind_of(model).latent_settings(optional_float(truncation), temperature)
    label = chosen(label) if model.task == "conditional" else None
    style = chosen(style) if model.styles else None
    out = generate.sample(model, count, seed, label=label, style=style, **latent)
    raw = images.grid(out, fill=0 if out.shape[-1] == 4 else 255)
    recipe = io.make_recipe(
        "sample",
        model=model_name,
        seed=seed,
        n=count,
        label=label,
        style=style,
        **latent,
        background=background,
        display_scale=display_scale,
        smooth=bool(smooth),
    )
    return (
        png(shown(raw, background, display_scale, smooth), recipe),
        raw,
        f"{seed}-{seed + count - 1}" if count > 1 else str(seed),
    )


def build(generators: list[str]) -> SimpleNamespace:
    with gr.Tab("Sample", id="sample"):
        with gr.Row():
            with gr.Column(scale=1):
                model = gr.Dropdown(
                    generators,
                    value=common.first(generators, *DEFAULT_MODELS),
                    label="Model",
                    info="the generator to draw from; the Models tab says how each was made",
                )
                # built with the first model's choices (as its examples are): the Examples replay a
                # control's construction, so empty, hidden pickers hid themselves on an example's click
                label_start, style_start, *_ = (
                    {k: v for k, v in update.items() if k != "__type__"}
                    for update in common.control_updates(model.value)
                )
                label = gr.Dropdown(
                    label="Category / class",
                    info="fix it, or let each image's seed draw one",
                    allow_custom_value=True,
                    **label_start,
                )
                style = gr.Dropdown(
                    label="Style", info="the emoji vendor's drawing style", allow_custom_value=True, **style_start
                )
                seed = common.seed_input()
                count = common.Slider(
                    1, 64, value=16, step=1, label="Number of images", info="image i is the image of seed + i"
                )
                truncation = common.latent_slider("truncation", model)
                temperature = common.latent_slider("temperature", model, visible=False)
                background = common.background_input()
                scale, smooth = common.display_inputs()
                go = gr.Button("Generate", variant="primary", elem_id="sample-go")
            with gr.Column(scale=2):
                out = gr.Image(
                    label="Samples (PNG carries its recipe)",
                    format="png",
                    type="pil",
                    buttons=["download", "fullscreen"],
                    elem_id="sample-output",
                    interactive=False,
                )
                seeds = gr.Textbox(label="Seeds of these images", interactive=False)
                link = links.link_box("sample-link")
                with gr.Row():
                    to_inpaint = gr.Button("Send to inpaint", elem_classes=[common.LOADS_INPAINT_EDITOR])
                    to_upscale = gr.Button("Send to upscale")
                    to_restyle = gr.Button("Send to restyle")
                    to_walk = gr.Button("Walk from these seeds")
        raw = gr.State(None)  # this tab's grid at 1:1, for its send-to buttons
        if generators:  # an example fills the inputs and shows its result; truncation only for GANs
            from genstudio import registry

            ordered = sorted(generators, key=lambda m: m not in DEFAULT_MODELS)[:3]
            gans = [m for m in ordered if "truncation" in kind_of(registry.inspect(m)).controls]
            drawn = [
                common.DRAWN,
                common.DRAWN,
                "white",
            ]  # an example sets every control it uses, so the result matches them
            examples = [[m, 0, 16, common.latent_default(m, "truncation"), *drawn] for m in ordered] + [
                [m, 1000, 16, 0.7, *drawn] for m in gans
            ]
            gr.Examples(
                examples,
                inputs=[model, seed, count, truncation, label, style, background],
                outputs=[out, raw, seeds],
                label="Try",
                elem_id="sample-examples",
                fn=lambda m, s, n, t, lab, sty, bg: sample(m, s, n, lab, sty, t, None, bg, 4, False),
                run_on_click=True,
                cache_examples=False,
            )

    controls = [label, style, truncation, temperature]
    model.change(common.control_updates, [model, label, style], controls, api_visibility="private")
    inputs = [model, seed, count, label, style, truncation, temperature, background, scale, smooth]
    common.cleared_first(go, [out, seeds]).then(
        sample, inputs, [out, raw, seeds], api_name="sample", concurrency_id="gpu"
    )
    result_changed = links.keep_link(out, link)
    defaults = [c.value for c in inputs]
    opening = lambda: sample(*defaults)  # the tab opens on its default grid
    return SimpleNamespace(
        result_changed=result_changed,
        opening=(opening, [out, raw, seeds]),
        run=(sample, inputs, [out, raw, seeds]),
        model=model,
        label=label,
        style=style,
        seed=seed,
        count=count,
        truncation=truncation,
        temperature=temperature,
        background=background,
        controls=controls,
        raw=raw,
        seeds=seeds,
        out=out,
        to_inpaint=to_inpaint,
        to_upscale=to_upscale,
        to_restyle=to_restyle,
        to_walk=to_walk,
        restore_outputs=[model, seed, count, label, style, truncation, temperature, background, scale, smooth, out],
    )


def restore(recipe: dict) -> list:
    """A Sample recipe's settings for `restore_outputs` (the old image is cleared)."""
    return [
        recipe.get("model"),
        recipe.get("seed", 0),
        recipe.get("n", 16),
        recipe.get("label") or common.DRAWN,
        recipe.get("style") or common.DRAWN,
        common.recipe_latent(recipe, "truncation"),
        common.recipe_latent(recipe, "temperature"),
        recipe.get("background") or "white",
        recipe.get("display_scale", 4),
        bool(recipe.get("smooth", False)),
        None,
    ]
