"""Label-conditioned: one class, every class (one named row each), the same seeds in every
style, and blends between two classes or two styles."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from genstudio.kinds import kind_of
from genstudio.tasks import generate, images, io
from genstudio.ui import common, links
from genstudio.ui.common import chosen, load_model, optional_float, png, shown, user_errors, whole

MODES = ["one class", "all classes", "all styles", "blend classes", "blend styles"]
DEFAULT_MODELS = ("emoji-gan", "cgan-fmnist")


@user_errors
def conditional(
    model,
    label=None,
    style=None,
    mode="one class",
    blend_label=None,
    blend_style=None,
    blend_weight=0.5,
    seed=0,
    n=16,
    truncation=None,
    temperature=None,
    background="white",
    display_scale=4,
    smooth=False,
):
    """Returns (displayed grid with recipe, raw grid for other tabs). With no class given,
    'one class' shows every class instead (one row each)."""
    model_name, model, count = model, load_model(model, "conditional"), n
    seed = generate.check_seed(seed)
    label, style = chosen(label), chosen(style) if model.styles else None
    latent = kind_of(model).latent_settings(optional_float(truncation), optional_float(temperature))
    if mode not in MODES:
        raise common.UserError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "one class" and label is None:
        mode = "all classes"
    row_names = None
    if mode == "all classes":
        count = whole(count, "images per class", 1, 32)
        out = generate.sample_all_classes(model, count, seed, style=style, **latent)
        row_names, columns = model.labels, count
    elif mode == "all styles":
        count = whole(count, "images per style", 1, 32)
        out = generate.sample_all_styles(model, count, seed, label=label, **latent)
        row_names, columns = model.styles, count
    else:
        count = whole(count, "number of images", 1, 256)
        blend = (
            dict(blend_label=chosen(blend_label), blend_weight=float(blend_weight)) if mode == "blend classes" else {}
        )
        if mode == "blend styles":
            blend = dict(blend_style=chosen(blend_style), style_weight=float(blend_weight))
        out = generate.sample(model, count, seed, label=label, style=style, **latent, **blend)
        columns = None
    raw = images.grid(out, columns, fill=0 if out.shape[-1] == 4 else 255)
    recipe = io.make_recipe(
        "conditional",
        model=model_name,
        seed=seed,
        n=count,
        label=label,
        style=style,
        mode=mode,
        blend_label=chosen(blend_label) if mode == "blend classes" else None,
        blend_style=chosen(blend_style) if mode == "blend styles" else None,
        blend_weight=float(blend_weight) if mode.startswith("blend") else None,
        **latent,
        background=background,
        display_scale=display_scale,
        smooth=bool(smooth),
    )
    picture = shown(raw, background, display_scale, smooth)
    if row_names:
        picture = images.label_rows(picture, list(row_names), background=0 if picture.shape[-1] == 4 else 255)
    return png(picture, recipe), raw


def build(conditionals: list[str]) -> SimpleNamespace:
    with gr.Tab("Label-conditioned", id="conditional"):
        with gr.Row():
            with gr.Column(scale=1):
                model = gr.Dropdown(
                    conditionals,
                    value=common.first(conditionals, *DEFAULT_MODELS),
                    label="Model",
                    info="a model that takes a class (and, for emoji, a style)",
                )
                with gr.Row():
                    label = gr.Dropdown([], label="Category / class", allow_custom_value=True, info="what to draw")
                    style = gr.Dropdown(
                        [],
                        label="Style",
                        info="fixed, or drawn per image from its seed",
                        visible=False,
                        allow_custom_value=True,
                    )
                mode = gr.Radio(
                    MODES,
                    value="one class",
                    label="Mode",
                    info="all classes: one row per class; all styles: the same seeds in every style",
                )
                with gr.Row():
                    blend_label = gr.Dropdown(
                        [],
                        label="Blend towards class",
                        allow_custom_value=True,
                        info="mixed in by the weight",
                        visible=False,
                    )
                    blend_style = gr.Dropdown(
                        [],
                        label="Blend towards style",
                        allow_custom_value=True,
                        visible=False,
                        info="mixed in by the weight",
                    )
                weight = common.Slider(
                    0,
                    1,
                    value=0.5,
                    step=0.05,
                    label="Blend weight",
                    info="0 = the first, 1 = the second",
                    visible=False,
                )
                seed = common.seed_input()
                count = common.Slider(
                    1, 64, value=16, step=1, label="Images (per row in 'all classes' / 'all styles', up to 32)"
                )
                truncation = common.latent_slider("truncation", model)
                temperature = common.latent_slider("temperature", model, visible=False)
                background = common.background_input()
                scale, smooth = common.display_inputs()
                go = gr.Button("Generate", variant="primary", elem_id="conditional-go")
            with gr.Column(scale=2):
                out = gr.Image(
                    label="Samples",
                    format="png",
                    type="pil",
                    buttons=["download", "fullscreen"],
                    elem_id="conditional-output",
                    interactive=False,
                )
                link = links.link_box("conditional-link")
                with gr.Row():
                    to_inpaint = gr.Button("Send to inpaint", elem_classes=[common.LOADS_INPAINT_EDITOR])
                    to_upscale = gr.Button("Send to upscale")
                    to_restyle = gr.Button("Send to restyle")
        raw = gr.State(None)  # this tab's grid at 1:1, for its send-to buttons
        if conditionals:  # an example fills the inputs and shows its result
            from genstudio import registry

            ordered = sorted(conditionals, key=lambda m: m not in DEFAULT_MODELS)[:3]
            examples = [[m, "all classes", 6] for m in ordered]
            examples += [[m, "all styles", 6] for m in ordered if registry.inspect(m).styles]
            gr.Examples(
                examples,
                inputs=[model, mode, count],
                outputs=[out, raw],
                label="Try",
                fn=lambda m, mode_, n: conditional(
                    m, None, None, mode_, None, None, 0.5, 0, n, None, None, "white", 4, False
                ),
                run_on_click=True,
                cache_examples=False,
            )

    def pickers(name, label_value, style_value, blend_label_value, blend_style_value):
        first = common.control_updates(name, label_value, style_value, label_all=True)
        second = common.control_updates(name, blend_label_value, blend_style_value, label_all=True)
        blends = [{k: v for k, v in update.items() if k != "visible"} for update in second[:2]]  # the mode shows them
        return (*first, *blends)

    def mode_controls(name, mode_value):
        """The modes a model offers (all styles and style blends need styles), the per-row limit of
        the row modes, and the blend pickers only in their blend mode."""
        from genstudio import registry

        has_styles = bool(name) and bool(registry.inspect(name).styles)
        modes = [m for m in MODES if has_styles or "styles" not in m]
        mode_value = mode_value if mode_value in modes else "one class"
        rows_mode = mode_value in ("all classes", "all styles")
        return (
            gr.update(choices=modes, value=mode_value),
            gr.update(maximum=32 if rows_mode else 64),
            gr.update(visible=mode_value == "blend classes"),
            gr.update(visible=mode_value == "blend styles"),
            gr.update(visible=mode_value.startswith("blend")),
        )

    controls = [label, style, truncation, temperature, blend_label, blend_style]
    model.change(pickers, [model, label, style, blend_label, blend_style], controls, api_visibility="private")
    mode_outputs = [mode, count, blend_label, blend_style, weight]
    for event in (model.change, mode.change):
        event(mode_controls, [model, mode], mode_outputs, api_visibility="private", queue=False)
    inputs = [
        model,
        label,
        style,
        mode,
        blend_label,
        blend_style,
        weight,
        seed,
        count,
        truncation,
        temperature,
        background,
        scale,
        smooth,
    ]
    common.cleared_first(go, [out]).then(conditional, inputs, [out, raw], api_name="conditional", concurrency_id="gpu")
    result_changed = links.keep_link(out, link)

    def opening():
        """The tab opens on every class, a few of each, and shows the mode that made them."""
        settings = {**{c: c.value for c in inputs}, mode: "all classes", count: 6}
        return ("all classes", 6, *conditional(*(settings[c] for c in inputs)))

    return SimpleNamespace(
        result_changed=result_changed,
        opening=(opening, [mode, count, out, raw]),
        run=(conditional, inputs, [out, raw]),
        model=model,
        label=label,
        style=style,
        mode=mode,
        raw=raw,
        out=out,
        to_inpaint=to_inpaint,
        to_upscale=to_upscale,
        to_restyle=to_restyle,
        controls=controls,
        pickers=pickers,
        mode_controls=mode_controls,
        mode_outputs=mode_outputs,
        restore_outputs=[*inputs, out],  # every setting, then the result (cleared on a restore)
    )


def restore(recipe: dict) -> list:
    """A Label-conditioned recipe's settings for `restore_outputs` (the old image is cleared)."""
    return [
        recipe.get("model"),
        recipe.get("label"),
        recipe.get("style") or common.DRAWN,
        recipe.get("mode", "one class"),
        recipe.get("blend_label"),
        recipe.get("blend_style"),
        recipe.get("blend_weight") or 0.5,
        recipe.get("seed", 0),
        recipe.get("n", 16),
        common.recipe_latent(recipe, "truncation"),
        common.recipe_latent(recipe, "temperature"),
        recipe.get("background") or "white",
        recipe.get("display_scale", 4),
        bool(recipe.get("smooth", False)),
        None,
    ]
