"""Restyle: an emoji, icon or drawing (uploaded, named, or sent from another tab) redrawn in
Noto, Twemoji and Fluent style side by side, with the classical baselines beside it on request."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np

from genstudio.tasks import images, io
from genstudio.tasks import restyle as restyling
from genstudio.ui import common, links
from genstudio.ui.common import UserError, load_model, png, user_errors

ALL_STYLES = "all three"
OPENING_NAMES = ("cat face", "slice of pizza", "rocket", "grinning face with smiling eyes")
EXAMPLE_NAMES = ("dog face", "red apple", "soccer ball", "sunflower", "hot beverage", "guitar")
CELL_SCALE = 2  # 64-px emoji shown at 128 px
HEADER_PX = 56


def _sheet(rows: list[list[np.ndarray]], row_names: list[str], titles: list[str], background: str) -> np.ndarray:
    """Rows of 64-px straight RGBA tiles -> one picture: named rows, titled columns, on the background."""
    from PIL import Image, ImageDraw, ImageFont

    tiles = np.stack([tile for row in rows for tile in row])
    sheet = images.resize(images.grid(tiles, len(titles), padding=4, fill=0), CELL_SCALE)
    sheet = images.on_background(sheet, background)
    fill = 0 if sheet.shape[2] == 4 else 255
    width = sheet.shape[1]
    sheet = images.label_rows(sheet, row_names, background=fill, font_size=20)
    margin = sheet.shape[1] - width
    # the titles sit low in a taller band: the image box's buttons cover its top right corner
    header = Image.new("RGBA" if sheet.shape[2] == 4 else "RGB", (sheet.shape[1], HEADER_PX), (fill,) * sheet.shape[2])
    draw, font = ImageDraw.Draw(header), ImageFont.load_default(size=18)
    cell = width / len(titles)
    ink = (40, 40, 40) + ((255,) if sheet.shape[2] == 4 else ())
    for c, title in enumerate(titles):
        draw.text((margin + cell * (c + 0.5), HEADER_PX - 15), title, fill=ink, font=font, anchor="mm")
    return np.concatenate([np.asarray(header), sheet])


@user_errors
def restyle(
    model: str,
    picture=None,
    emoji: str | None = None,
    style: str = ALL_STYLES,
    baselines: bool = False,
    background: str = "white",
    sent=None,
):
    """Returns (the sheet as a PNG with its recipe, the first input's restyle in the first style as an
    RGBA PNG, a note). Input: `sent` pictures (from another tab), else the uploaded `picture`, else
    `emoji` names (comma-separated). The parameters are the recipe's names: the API takes them as keywords."""
    restyler = load_model(model, "restyle")
    if sent:
        pictures = [io.read_image(p) for p in sent][: restyling.MAX_ROWS]
        row_names, given = [f"sent #{i + 1}" for i in range(len(pictures))], {"input": "sent pictures"}
    elif picture is not None:
        pictures, row_names, given = [io.read_image(picture)], ["your picture"], {"input": "uploaded picture"}
    elif emoji and emoji.strip():
        wanted = [n.strip() for n in emoji.split(",") if n.strip()][: restyling.MAX_ROWS]
        pictures, row_names, given = None, wanted, {"emoji": ", ".join(wanted)}
    else:
        raise UserError("upload a picture, pick an emoji by name, or send one from another tab")
    styles = list(restyler.styles) if style == ALL_STYLES else [style]
    made = {
        s: restyling.restyle(restyler, images=pictures, names=None if pictures else row_names, style=s) for s in styles
    }
    # a picture is shown beside its restyles; a named emoji has no picture, its row name says what it is
    inputs = [[restyling.fit(p)] for p in pictures] if pictures else [[] for _ in row_names]
    rows, names = [], []
    for i, name in enumerate(row_names):
        rows.append(inputs[i] + [made[s][i] for s in styles])
        names.append(name)
    notes = []
    if baselines and pictures is None:
        notes.append("the baselines redraw a picture: upload one (or send one) to see them")
    elif baselines:
        colours = restyler.card.get("style_colours") or {}
        for i, name in enumerate(row_names):
            rows.append(inputs[i] + [restyling.colour_transfer(pictures[i], colours[s]) for s in styles])
            names.append(f"{name}: colour transfer")
        try:
            found = {s: restyling.lookup_in_training_set(restyler, pictures, s) for s in styles}
            for i, name in enumerate(row_names):
                rows.append(inputs[i] + [found[s][i] for s in styles])
                names.append(f"{name}: lookup")
        except UserError as exc:
            notes.append(f"lookup unavailable ({exc})")
    recipe = io.make_recipe(
        "restyle", model=model, style=style, baselines=bool(baselines), background=background, **given
    )
    sheet = _sheet(rows, names, (["input"] if pictures else []) + styles, background)
    note = "; ".join(notes)
    return png(sheet, recipe), png(made[styles[0]][0], {**recipe, "style": styles[0]}), note


def build(restylers: list[str]) -> SimpleNamespace:
    from genstudio import registry

    names = list(registry.inspect(restylers[0]).card.get("names") or []) if restylers else []
    styles = list(registry.inspect(restylers[0]).styles or []) if restylers else []
    with gr.Tab("Restyle", id="restyle"):
        with gr.Row():
            with gr.Column(scale=1):
                model = gr.Dropdown(
                    restylers,
                    value=common.first(restylers, "emoji-restyle"),
                    label="Model",
                    info="redraws any emoji, icon or drawing in a vendor's style",
                )
                picture = common.ImageInput(
                    label="Picture to restyle",
                    type="numpy",
                    image_mode="RGBA",
                    format="png",
                    sources=["upload", "clipboard"],
                    elem_id="restyle-input",
                )
                emoji = gr.Dropdown(
                    names,
                    value=None,
                    label="…or emoji by name",
                    filterable=True,
                    allow_custom_value=True,
                    elem_id="restyle-name",
                    info=f"type to search the {len(names):,} names (several: comma-separated); "
                    "the model draws them from its own memory, no data needed",
                )
                style = gr.Radio([ALL_STYLES] + styles, value=ALL_STYLES, label="Style")
                baselines = gr.Checkbox(
                    False,
                    label="Show the baselines",
                    info="colour transfer (Reinhard) and the nearest training emoji (lookup)",
                )
                background = common.background_input()
                go = gr.Button("Restyle", variant="primary", elem_id="restyle-go")
                gr.Examples([[n] for n in EXAMPLE_NAMES], inputs=[emoji], label="Try a name")
            with gr.Column(scale=2):
                out = gr.Image(
                    label="Input and its restyles (PNG carries its recipe)",
                    format="png",
                    type="pil",
                    buttons=["download", "fullscreen"],
                    elem_id="restyle-output",
                    interactive=False,
                )
                note = gr.Markdown(elem_id="restyle-note")
                single = gr.Image(
                    label="The first result alone (RGBA PNG)",
                    format="png",
                    type="pil",
                    buttons=["download"],
                    interactive=False,
                    height=160,
                )
                link = links.link_box("restyle-link")
        sent = gr.State(None)  # pictures sent from another tab, until the user gives another input
    # one input at a time: a new one replaces what was there
    picture.upload(lambda: (None, None), None, [emoji, sent], api_visibility="private", queue=False)
    emoji.input(lambda: (None, None), None, [picture, sent], api_visibility="private", queue=False)
    inputs = [model, picture, emoji, style, baselines, background, sent]
    common.cleared_first(go, [out, single, note]).then(
        restyle, inputs, [out, single, note], api_name="restyle", concurrency_id="gpu"
    )
    result_changed = links.keep_link(out, link)

    def opening():
        """The tab opens on named emoji in every style: what a visitor sees first."""
        names_shown = ", ".join(OPENING_NAMES)
        return (names_shown, *restyle(model.value, None, names_shown, ALL_STYLES, False, "white"))

    return SimpleNamespace(
        opening=(opening, [emoji, out, single, note]),
        run=(restyle, inputs, [out, single, note]),
        result_changed=result_changed,
        out=out,
        picture=picture,
        emoji=emoji,
        sent=sent,
        model=model,
        restore_outputs=[model, emoji, style, baselines, background, out],
    )


def restore(recipe: dict) -> list:
    """A Restyle recipe's settings for `restore_outputs` (an uploaded picture is not in it; the old
    result is cleared)."""
    return [
        recipe.get("model"),
        recipe.get("emoji"),
        recipe.get("style", ALL_STYLES),
        bool(recipe.get("baselines", False)),
        recipe.get("background") or "white",
        None,
    ]
