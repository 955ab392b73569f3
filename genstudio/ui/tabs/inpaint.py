"""Inpaint: paint over what to replace; a learned model or a classical method fills it."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np

from genstudio.limits import Limits
from genstudio.masks import random_mask
from genstudio.tasks import inpaint, io
from genstudio.ui import common
from genstudio.ui.common import UserError, load_model, png, user_errors, whole


def editor_to_image_and_mask(editor: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """An ImageEditor value -> (background image, mask from every painted layer)."""
    if not editor or editor.get("background") is None:
        raise UserError("upload an image (or send one from another tab), then paint over what to replace")
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


# Photos reach the editor the way a user's own file does: through its file input. (Given as a
# value from the server, the editor loads the photo's URL through PixiJS's worker loader; in CI's
# headless Chromium such a load now and then never finished, the old photo stayed, and every later
# one hung too. A user's file is decoded on the page instead, and never failed.)
# The editor reads its value from its canvas when an event asks for it, so Inpaint pressed while a
# new photo was still on its way inpainted the photo before (seen in CI, where loading is slow;
# waiting for the editor's own upload/input events and a quiet second was not enough: they also
# fire for other changes, e.g. a relayout). So a photo given to the editor (its file input, or
# dropped on it) becomes the expected one (its shape and a thumbnail), and Inpaint first waits
# until the editor's canvas shows it (it says so if that never comes). Then it reads the photo and
# the strokes off that canvas and sends them with the press: the editor's own value can still be
# the photo before (it sends the value it was last given until a stroke marks it edited; seen
# once in CI). The editor drops a file it cannot show without a word: a non-image prompts the
# hidden "not an image" button, whose callback says so.
EDITOR_WATCH_JS = f"""() => {{
  const state = window.genstudioEditor = {{ expected: null }};
  const look = async (file) => {{  // a photo's shape and an 8 x 8 thumbnail: enough to tell two photos apart
    const bitmap = await createImageBitmap(file), canvas = new OffscreenCanvas(8, 8), context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0, 8, 8);
    const seen = {{ aspect: bitmap.width / bitmap.height, thumbnail: context.getImageData(0, 0, 8, 8).data }};
    bitmap.close();
    return seen;
  }};
  const same = (a, b) => Math.abs(a.aspect - b.aspect) < 0.02
    && a.thumbnail.reduce((sum, v, i) => sum + Math.abs(v - b.thumbnail[i]), 0) / a.thumbnail.length < 12;
  // Gradio's ImageEditor puts itself at window.editor; its layer manager comes with the canvas
  const canvasReady = () => Boolean(window.editor && window.editor.layer_manager);
  // the expected photo is the background of the editor's canvas, as an event would read it
  const canvasShows = async (seen) => {{
    if (!canvasReady()) return false;
    const blobs = await window.editor.get_blobs();
    return Boolean(blobs.background) && same(await look(blobs.background), seen);
  }};
  const dataUrl = (blob) => new Promise((resolve, reject) => {{
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = reject;
    reader.readAsDataURL(blob);
  }});
  window.genstudioCanvas = async () => {{  // what the canvas shows, as JSON of PNG data URLs ("{{}}": nothing)
    if (!canvasReady()) return "{{}}";
    const blobs = await window.editor.get_blobs();
    if (!blobs.background) return "{{}}";
    const layers = await Promise.all(blobs.layers.filter(Boolean).map(dataUrl));
    return JSON.stringify({{ background: await dataUrl(blobs.background), layers }});
  }};
  window.genstudioEditorSettled = async () => {{
    const expected = state.expected;
    if (window.genstudioEditorBusy) return false;
    return !expected || expected.shown || Boolean(expected.seen && (expected.shown = await canvasShows(expected.seen)));
  }};
  window.genstudioLoadEditor = async (url, name) => {{
    window.genstudioEditorBusy = true;
    const response = await fetch(url);
    if (!response.ok) {{
      window.genstudioEditorBusy = false;
      throw new Error(`could not fetch ${{url}}: ${{response.status}}`);
    }}
    const blob = await response.blob();
    // the editor exists once its tab is shown, and drops a file given before its canvas is set up
    let input = null;
    const fileInput = () => document.querySelector("#inpaint-editor input[type=file]");
    for (let i = 0; i < 200 && !((input = fileInput()) && canvasReady()); i++)
      await new Promise((r) => setTimeout(r, 50));
    const files = new DataTransfer();
    files.items.add(new File([blob], name || "photo.png", {{ type: blob.type || "image/png" }}));
    input.files = files.files;
    input.dispatchEvent(new Event("change", {{ bubbles: true }}));
  }};
  document.addEventListener("click", (event) => {{
    if (event.target.closest(".{common.LOADS_INPAINT_EDITOR}")) window.genstudioEditorBusy = true;
    const example = event.target.closest("#inpaint-examples .gallery-item");
    const image = example && example.querySelector("img");
    if (image) window.genstudioLoadEditor(image.src, image.src.split("/").pop());
  }}, true);
  const expect = (file, event) => {{  // a file given to the editor by its file input or dropped on it
    window.genstudioEditorBusy = false;  // it has reached the editor: now wait for the canvas to show it
    if (!file.type.startsWith("image/")) {{  // kept from the editor, which would clear its photo and strokes
      event.stopImmediatePropagation();
      event.preventDefault();
      if (event.target.type === "file") event.target.value = "";
      document.querySelector("#inpaint-not-an-image").click();
      return;
    }}
    const expected = state.expected = {{ seen: null }};
    look(file).then((seen) => {{ expected.seen = seen; }},
                    () => {{ if (state.expected === expected) state.expected = null; }});
  }};
  document.addEventListener("input", (event) => {{  // a file input says "input" before "change"
    const input = event.target;
    if (input.type === "file" && input.closest("#inpaint-editor") && input.files.length
        && !input.files[0].type.startsWith("image/")) event.stopImmediatePropagation();
  }}, true);
  document.addEventListener("change", (event) => {{
    const input = event.target;
    if (input.type === "file" && input.closest("#inpaint-editor") && input.files.length) expect(input.files[0], event);
  }}, true);
  document.addEventListener("drop", (event) => {{
    const files = event.dataTransfer && event.dataTransfer.files;
    if (event.target.closest && event.target.closest("#inpaint-editor") && files && files.length) {{
      expect(files[0], event);
    }}
  }}, true);
}}"""
LOAD_INCOMING_JS = "(image) => { if (image && image.url) window.genstudioLoadEditor(image.url, 'sent.png'); }"
WAIT_JS = """async () => {
  const start = Date.now();
  let ready = false;
  while (!(ready = await window.genstudioEditorSettled()) && Date.now() - start < 20000)
    await new Promise((r) => setTimeout(r, 200));
  window.genstudioEditorBusy = false;  // said once; the next press goes on with what the editor holds
  window.genstudioEditor.expected = null;
  return [ready ? await window.genstudioCanvas() : "", ""];
}"""
STILL_LOADING = "the photo is still loading into the editor: press Inpaint again in a moment"


def not_an_image() -> str:
    gr.Warning(common.NOT_AN_IMAGE)
    return common.NOT_AN_IMAGE


def _method(name: str | None):
    if not name:
        raise UserError("choose a model or method")
    return name if name in inpaint.BASELINES else load_model(name, "inpaint")


@user_errors
def inpaint_editor(
    editor,
    method_name,
    strategy,
    dilate,
    feather,
    mask_file=None,
    invert=False,
    overlay=False,
    canvas=None,
    best=False,
):
    """The Inpaint tab: (result with recipe, mask shown, notice). A mask file, when given,
    replaces the painted strokes (white = fill, the photo's size). `canvas`: the page's reading
    of the editor's canvas (see EDITOR_WATCH_JS); None takes the editor value as given."""
    image, mask = editor_to_image_and_mask(_as_shown(editor, canvas))
    if mask_file is not None:
        mask = _mask_file(mask_file, image.shape[:2])
    return _inpaint(image, mask, method_name, strategy, dilate, feather, invert, overlay, best)


def _as_shown(editor, canvas: str | None):
    """The editor value the page read off its canvas (JSON of PNG data URLs), else `editor`;
    "" means the photo never reached the canvas."""
    if canvas is None:
        return editor
    if canvas == "":
        raise UserError(STILL_LOADING)
    import base64
    import io as bytes_io
    import json

    from PIL import Image

    try:
        shown = json.loads(canvas)
        decode = lambda url: np.asarray(Image.open(bytes_io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
        if not shown.get("background"):
            return editor
        return {"background": decode(shown["background"]), "layers": [decode(layer) for layer in shown["layers"]]}
    except (ValueError, KeyError, IndexError, TypeError, OSError):
        raise UserError("the editor's canvas could not be read: press Inpaint again") from None


def _mask_file(path, shape) -> np.ndarray:
    mask = io.read_image(path)
    if mask.shape[:2] != tuple(shape):
        raise UserError(
            f"the mask file is {mask.shape[1]}x{mask.shape[0]} but the photo is {shape[1]}x{shape[0]}: "
            "give a mask of the same size (white = fill)"
        )
    return mask


@user_errors
def inpaint_files(image, mask, model, strategy="crop", dilate=0, feather=0, invert=False, best=False):
    """API form of the Inpaint tab: an image file and a mask file (white = fill), any sizes;
    `best` averages four mirrored passes of a learned model (slower, a little closer)."""
    if image is None or mask is None:
        raise UserError("give both an image and a mask (white = fill)")
    return _inpaint(io.read_image(image), io.read_image(mask), model, strategy, dilate, feather, invert, best=best)


def _inpaint(image, mask, method_name, strategy, dilate, feather, invert=False, overlay=False, best=False):
    flips = 4 if best else 1
    result = inpaint.inpaint(
        image,
        mask,
        _method(method_name),
        strategy=strategy,
        dilate=whole(dilate, "grow", 0, 64),
        feather=whole(feather, "feather", 0, 64),
        invert=bool(invert),
        flips=flips,
    )
    if result.notice:
        gr.Info(result.notice)
    recipe = io.make_recipe(
        "inpaint",
        model=method_name,
        strategy=strategy,
        dilate=int(dilate),
        feather=int(feather),
        invert=bool(invert) or None,
        flips=flips if best else None,
    )
    shown_mask = inpaint.mask_overlay(result.image, result.mask) if overlay else result.mask
    changed = "unpainted" if invert else "painted"
    return (
        png(result.image, recipe),
        png(shown_mask, recipe),
        result.notice or f"Done: only the {changed} area changed.",
    )


@user_errors
def extend_image(image, model, left=0, top=0, right=0, bottom=0, overlay=False, canvas=None):
    """Outpainting: the photo extended by the given pixels on each side, the border filled by
    the model (the original pixels unchanged). `image`: an editor value or an image file;
    `canvas` as for inpaint_editor."""
    if isinstance(image, dict) or canvas is not None:
        image, _ = editor_to_image_and_mask(_as_shown(image, canvas))
    elif image is None:
        raise UserError("upload an image to extend")
    else:
        image = io.read_image(image)
    sides = tuple(
        whole(v, f"{name} extension", 0, 4096)
        for v, name in ((left, "left"), (top, "top"), (right, "right"), (bottom, "bottom"))
    )
    result = inpaint.outpaint(image, sides, _method(model), max_pixels=Limits.from_env().max_pixels)
    if result.notice:
        gr.Info(result.notice)
    recipe = io.make_recipe("outpaint", model=model, extend=list(sides))
    shown_mask = inpaint.mask_overlay(result.image, result.mask)  # a bare white border would vanish on a white panel
    note = (
        result.notice
        or f"Extended {image.shape[1]}x{image.shape[0]} to {result.image.shape[1]}x{result.image.shape[0]}: "
        "the original pixels are unchanged."
    )
    return png(result.image, recipe), png(shown_mask, recipe), note


def build(inpainters: list[str]) -> SimpleNamespace:
    with gr.Tab("Inpaint", id="inpaint"):
        with gr.Row():
            with gr.Column(scale=1):
                editor = gr.ImageEditor(
                    label="Paint over what to replace",
                    type="numpy",
                    image_mode="RGB",
                    format="png",
                    brush=gr.Brush(default_size=24, colors=["#ff00ff"], color_mode="fixed"),
                    eraser=gr.Eraser(default_size=24),
                    transforms=(),
                    layers=False,
                    sources=("upload", "clipboard"),
                    height=520,
                    elem_id="inpaint-editor",
                )
                method = gr.Dropdown(
                    inpainters,
                    value=common.first(inpainters, "inpaint-photo"),
                    label="Model or method",
                    info="the learned model, or OpenCV's fills to compare",
                )
                strategy = gr.Radio(
                    ["crop", "whole"],
                    value="crop",
                    label="Large images",
                    info="crop: work around the painted area at full resolution; whole: the whole image, reduced",
                )
                best = gr.Checkbox(
                    False,
                    label="Best quality (about 4x slower)",
                    elem_id="inpaint-best",
                    info="average the model's fills of four mirrored copies: +0.07 to +0.15 dB on unseen photos",
                )
                with gr.Row():
                    dilate = common.Slider(
                        0, 32, value=0, step=1, label="Grow mask (px)", info="widen the painted area"
                    )
                    feather = common.Slider(
                        0, 32, value=0, step=1, label="Feather edge (px)", info="blend the fill's edge"
                    )
                with gr.Accordion("Mask tools", open=False):
                    mask_file = common.ImageInput(
                        label="Mask file (white = fill, the photo's size; replaces the strokes)",
                        type="filepath",
                        format="png",
                        sources=["upload", "clipboard"],
                        height=160,
                        elem_id="inpaint-mask-file",
                    )
                    with gr.Row():
                        invert = gr.Checkbox(
                            False,
                            label="Invert mask",
                            info="keep what is painted, fill the rest",
                            elem_id="inpaint-invert",
                        )
                        overlay = gr.Checkbox(False, label="Show the mask over the result", elem_id="inpaint-overlay")
                go = gr.Button("Inpaint", variant="primary", elem_id="inpaint-go")
                with gr.Accordion("Extend (outpaint)", open=False):
                    gr.Markdown("Add pixels beyond the photo's border; the model fills them, the photo stays exact.")
                    with gr.Row():
                        left, top, right, bottom = (
                            common.Number(
                                value,
                                label=f"{side} (px)",
                                precision=0,
                                minimum=0,
                                maximum=4096,
                                min_width=80,
                                elem_id=f"extend-{side.lower()}",
                            )
                            for side, value in (("Left", 32), ("Top", 0), ("Right", 32), ("Bottom", 0))
                        )
                    extend = gr.Button("Extend", elem_id="extend-go")
                # loaded into the editor by EDITOR_WATCH_JS's click listener, not by the server
                gr.Dataset(
                    components=["image"],
                    samples=[[str(p)] for p in sorted((common.assets() / "photos").glob("*.png"))],
                    label="Example photos",
                    elem_id="inpaint-examples",
                )
            with gr.Column(scale=1):
                out = gr.Image(
                    label="Result",
                    format="png",
                    type="pil",
                    buttons=["download", "fullscreen"],
                    elem_id="inpaint-output",
                    interactive=False,
                )
                mask_shown = gr.Image(
                    label="Mask used (white = filled; download it to reuse)",
                    format="png",
                    type="pil",
                    height=200,
                    interactive=False,
                    buttons=["download"],
                    elem_id="inpaint-mask-used",
                )
                note = gr.Markdown()
                to_upscale = gr.Button("Send result to upscale")
        with gr.Row(visible=False):  # the API form: an image file and a mask file (white = fill)
            api_image = common.ImageInput(type="filepath", label="image")
            api_mask = common.ImageInput(type="filepath", label="mask")
            api_go = gr.Button("inpaint (API)")
            api_extend = gr.Button("outpaint (API)")
            canvas = gr.Textbox(label="the editor's canvas, read on the page")
            incoming = gr.Image(
                type="numpy", format="png", label="sent from another tab"
            )  # then loaded by LOAD_INCOMING_JS
        not_an_image_button = gr.Button("not an image", visible="hidden", elem_id="inpaint-not-an-image")

    not_an_image_button.click(not_an_image, None, note, api_visibility="private")
    # first wait for the editor (and clear the last result's note), then inpaint what it shows
    go.click(None, None, [canvas, note], js=WAIT_JS, api_visibility="private").then(
        inpaint_editor,
        [editor, method, strategy, dilate, feather, mask_file, invert, overlay, canvas, best],
        [out, mask_shown, note],
        api_name="inpaint_editor",
        concurrency_id="gpu",
    )
    extend.click(None, None, [canvas, note], js=WAIT_JS, api_visibility="private").then(
        extend_image,
        [editor, method, left, top, right, bottom, overlay, canvas],
        [out, mask_shown, note],
        api_visibility="private",
        concurrency_id="gpu",
    )
    api_go.click(
        inpaint_files,
        [api_image, api_mask, method, strategy, dilate, feather, invert, best],
        [out, mask_shown, note],
        api_name="inpaint",
        concurrency_id="gpu",
    )
    api_extend.click(
        extend_image,
        [api_image, method, left, top, right, bottom],
        [out, mask_shown, note],
        api_name="outpaint",
        concurrency_id="gpu",
    )

    def opening():
        """The tab opens on an example photo's fill of seeded brush strokes, with the strokes shown
        as the mask. (The editor stays empty: it exists only once its tab is shown, and a photo
        given to it then would race the user's own.)"""
        photo = io.read_image(common.assets() / "photos" / "chelsea.png")
        strokes = random_mask(*photo.shape[:2], np.random.default_rng(5), coverage=(0.06, 0.10))
        return _inpaint(photo, strokes, method.value, strategy.value, dilate.value, feather.value)

    return SimpleNamespace(
        editor=editor,
        incoming=incoming,
        load_incoming_js=LOAD_INCOMING_JS,
        out=out,
        to_upscale=to_upscale,
        watch_js=EDITOR_WATCH_JS,
        results=[out, mask_shown, note],
        opening=(opening, [out, mask_shown, note]),
        restore_outputs=[
            method,
            strategy,
            dilate,
            feather,
            invert,
            best,
            left,
            top,
            right,
            bottom,
            mask_shown,
            note,
            out,
        ],
    )


def restore(recipe: dict) -> list:
    """An Inpaint or Extend recipe's settings for `restore_outputs` (a recipe holds no photo:
    results are cleared)."""
    sides = recipe.get("extend") or [gr.skip()] * 4
    return [
        recipe.get("model"),
        recipe.get("strategy", "crop"),
        recipe.get("dilate", 0),
        recipe.get("feather", 0),
        bool(recipe.get("invert", False)),
        recipe.get("flips", 1) > 1,
        *sides,
        None,
        "",
        None,
    ]
