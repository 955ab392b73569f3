"""The Gradio Blocks app: one module per tab in `tabs/`, joined here; nothing loads a model here.

Models are read lazily: building the demo reads only checkpoint headers, so the app
serves within seconds and a model loads on its first use.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr

from genstudio.data import EMOJI_CREDITS
from genstudio.tasks import io
from genstudio.ui import common, links


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
    from genstudio.ui.tabs import conditional, history, inpaint, models, recipe, restyle, sample, upscale, walk

    make_gradio_image_cache_atomic()
    restylers = common.model_choices("restyle")
    generators = common.model_choices("sample", "conditional")
    conditionals = common.model_choices("conditional")
    upscalers = common.model_choices("upscale")
    inpainters = common.model_choices("inpaint") + ["telea", "navier-stokes"]

    with gr.Blocks(title="GenStudio", delete_cache=(900, 3600)) as demo:
        gr.Markdown(
            "# GenStudio\nSee what generative models do: redraw any emoji in another vendor's style, sample "
            "colour emoji by category and style, inpaint, upscale and walk through latent space. "
            "Every model here was trained on a 2-core CPU by this "
            "project's own pipeline; the **Models** tab shows how good each one is and how it was made. "
            "Emoji: " + EMOJI_CREDITS + "."
        )
        link_note = gr.Markdown(visible=False, elem_id="link-note")
        with gr.Tabs() as tabs:
            r = restyle.build(restylers)
            s = sample.build(generators)
            c = conditional.build(conditionals)
            i = inpaint.build(inpainters)
            u = upscale.build(upscalers)
            w = walk.build(
                generators, [m for m in upscalers if common.registry.inspect(m).card.get("channels") != 4], restylers
            )
            models.build(demo)
            restorable = {
                "restyle": (r.restore_outputs, restyle.restore),
                "sample": (s.restore_outputs, sample.restore),
                "conditional": (c.restore_outputs, conditional.restore),
                "inpaint": (i.restore_outputs, inpaint.restore),
                "upscale": (u.restore_outputs, upscale.restore),
                "walk": (w.restore_outputs, walk.restore),
            }
            recipe.build(tabs, restorable)
            h = history.build()

        demo.load(None, js=i.watch_js)
        demo.load(
            history.gallery_items, h.entries, h.gallery, api_visibility="private"
        )  # the History kept in the browser
        # every result goes into the History, except each tab's opening (shown to everyone, made by no one)
        results = {
            "restyle": r.out,
            "sample": s.out,
            "conditional": c.out,
            "inpaint": i.out,
            "upscale": u.out,
            "walk": w.video,
        }
        tab_of = {"restyle": r, "sample": s, "conditional": c, "inpaint": i, "upscale": u, "walk": w}
        opening_keys = {name: gr.State(None) for name in results}  # the settings key of the tab's opening
        for name, output in results.items():
            # after the link where the tab has one, on the same change: two listeners on one image raced in the
            # browser, each re-firing its change event, over and over
            changed = getattr(tab_of[name], "result_changed", None)
            (changed.then if changed else output.change)(
                history.record,
                [output, h.entries, h.files, opening_keys[name]],
                [h.entries, h.files],
                api_visibility="private",
            )
        # every tab opens on a result: computed once in the background, shared by every visitor
        openings = []
        for name, tab in tab_of.items():
            compute, outputs = tab.opening
            openings.append(common.once(compute))
            demo.load(
                _opened(name, openings[-1], outputs.index(results[name]), len(outputs)),
                None,
                [*outputs, opening_keys[name]],
                api_visibility="private",
            )
        # a link or a History entry: its settings restored in its tab, and a seeded result remade there
        linked_task = gr.State(None)
        restore = recipe.restorer(restorable)
        restored = [tabs] + [component for outputs, _ in restorable.values() for component in outputs]

        def open_link(request: gr.Request):
            query = str(request.query_params) if request is not None and request.query_params else ""
            clean, notes = links.checked(io.recipe_from_query(query)) if query else (None, [])
            note = gr.Markdown("**From the link:** " + "; ".join(notes), visible=True) if notes else gr.skip()
            return [clean and clean["task"], note, *(restore(clean) if clean else [gr.skip()] * len(restored))]

        def open_entry(entries, files, event: gr.SelectData):
            """A History entry back in its tab: its settings, and its result as this session holds it
            (else remade from the seed; a photo's result without its photo stays cleared)."""
            entry = (entries or [])[event.index]
            entry_recipe, held = entry["recipe"], (files or {}).get(entry["key"])
            updates = restore(entry_recipe)
            if held:
                updates[restored.index(restorable[recipe.tab_of(entry_recipe)][0][-1])] = held
            remake = entry_recipe["task"] if not held and entry_recipe["task"] in history.REMADE else None
            return [remake, *updates]

        remakes = [
            demo.load(open_link, None, [linked_task, link_note, *restored], api_visibility="private"),
            h.gallery.select(open_entry, [h.entries, h.files], [linked_task, *restored], api_visibility="private"),
        ]
        for event in remakes:
            for name, tab in (("restyle", r), ("sample", s), ("conditional", c), ("walk", w)):
                fn, inputs, outputs = tab.run
                event = event.then(
                    _run_if_linked(name, fn, len(outputs)), [linked_task, *inputs], outputs, api_visibility="private"
                )

        # started once the server listens (see `launch`), so it does not delay serving
        def compute_openings():
            started = time.time()
            for compute in openings:
                compute()
            print(f"GenStudio: every tab's opening result is ready ({time.time() - started:.0f} s)", flush=True)

        demo.warm_openings = lambda: threading.Thread(target=compute_openings, daemon=True, name="openings").start()
        # start-up: each model picker shows the controls its model takes
        demo.load(common.control_updates, [s.model, s.label, s.style], s.controls, api_visibility="private").then(
            c.pickers, [c.model, c.label, c.style, c.controls[4], c.controls[5]], c.controls, api_visibility="private"
        )

        # flow between tabs: outputs become inputs without a download, losslessly (PNG)
        # a sent image replaces the tab's input; the last result (made from another input) is cleared with it
        cleared = lambda outputs: [None if not isinstance(o, gr.Markdown) else "" for o in outputs]
        to_inpaint = lambda image: (common.as_rgb_png(image), *cleared(i.results), gr.Tabs(selected="inpaint"))
        for button, source in ((s.to_inpaint, s.raw), (c.to_inpaint, c.raw)):
            button.click(to_inpaint, source, [i.incoming, *i.results, tabs], api_visibility="private").then(
                None, i.incoming, None, js=i.load_incoming_js, api_visibility="private"
            )
        # a sent image is to be upscaled, not scored: Evaluate (ticked by the tab's opening) is unticked
        to_upscale = lambda image: (gr.Tabs(selected="upscale"), common.as_rgb_png(image), False, *cleared(u.results))
        for button, source in ((s.to_upscale, s.raw), (c.to_upscale, c.raw), (i.to_upscale, i.out)):
            button.click(to_upscale, source, [tabs, u.image, u.evaluate, *u.results], api_visibility="private")
        for button, source, model in ((s.to_restyle, s.raw, s.model), (c.to_restyle, c.raw, c.model)):
            button.click(send_to_restyle, [source, model], [r.sent, r.picture, r.emoji, tabs], api_visibility="private")
        s.to_walk.click(
            walk_from_seeds,
            [s.model, s.seeds, s.label, s.style, s.truncation, s.temperature],
            [w.model, w.seeds, w.labels, w.styles, w.truncation, w.temperature, tabs],
            api_visibility="private",
        )
    return demo


def _opened(name: str, compute, result_index: int, count: int):
    """A tab's opening and its settings key (so the History leaves it out), unless the page's
    link opens that tab with a result of its own."""
    from genstudio.ui.tabs.history import result_key

    def load(request: gr.Request):
        values = None if links.query_task(request) == name else compute()
        if values is None:
            return tuple(gr.skip() for _ in range(count + 1))
        return (*values, result_key(values[result_index]))

    return load


def _run_if_linked(name: str, run, count: int):
    def remake(task, *inputs):
        return run(*inputs) if task == name else tuple(gr.skip() for _ in range(count))

    return remake


@common.user_errors
def send_to_restyle(grid, model):
    """A grid's emoji, each on its own, to the Restyle tab (which shows the grid as its input)."""
    if grid is None:
        raise common.UserError("make a grid first")
    from genstudio.tasks.images import cells

    size = common.registry.inspect(model).card.get("image_size") or grid.shape[0]
    return cells(grid, size)[:16], grid, None, gr.Tabs(selected="restyle")


@common.user_errors
def walk_from_seeds(model, seeds, label, style, truncation, temperature):
    """A walk through exactly the Sample grid's images: its seeds, each with the class and
    style it was drawn with, and the same latent settings."""
    from genstudio.tasks.generate import keyframe_conditions, parse_seeds

    labels, styles = keyframe_conditions(
        common.registry.inspect(model), parse_seeds(seeds or ""), common.chosen(label), common.chosen(style)
    )
    return model, seeds, ", ".join(labels), ", ".join(styles), truncation, temperature, gr.Tabs(selected="walk")


# a card's field names never break mid-word
CSS = """
#model-card td:first-child { white-space: nowrap; }
/* a result's label and its buttons sit in a band above the picture, not over its first row's names or its edge */
#sample-output .image-frame, #conditional-output .image-frame { padding-top: 2.25rem; }
/* a dropdown's text stops before its arrow */
.secondary-wrap input[role=combobox] { padding-right: 1.5rem; text-overflow: ellipsis; }
"""


def queued(demo: gr.Blocks) -> gr.Blocks:
    """A bounded queue: model work runs two at a time (this is a 2-core machine), videos one at a time."""
    max_size = int(os.environ.get("GENSTUDIO_MAX_QUEUE", 64))
    return demo.queue(max_size=max_size, default_concurrency_limit=int(os.environ.get("GENSTUDIO_CONCURRENCY", 2)))


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, **kwargs) -> None:
    demo = queued(build_demo())
    demo.launch(
        server_name=host, server_port=port, share=share, show_error=True, prevent_thread_lock=True, css=CSS, **kwargs
    )
    print(
        f"GenStudio is serving at http://{host}:{port}/ ; computing each tab's opening result in the background",
        flush=True,
    )
    demo.warm_openings()
    demo.block_thread()
