"""Models: every checkpoint on the shelf, its card, its picture and its training curves."""

from __future__ import annotations

import json
from types import SimpleNamespace

import gradio as gr

from genstudio import registry
from genstudio.card import earlier_stages
from genstudio.card import headline as card_headline
from genstudio.ui import common

QUALITY = ("psnr", "accuracy", "gain", "detail", "fd")  # validation figures, drawn apart from the losses


def _stage_line(stage: dict) -> str:
    return f"`{stage.get('model')}` ({stage.get('steps')} steps, {stage.get('wall_time_minutes')} min)"


def model_card_markdown(name: str | None) -> str:
    if not name:
        return "Choose a model."
    info = registry.inspect(name)
    if info.error:
        return f"### {name}\n\n**Unavailable:** {info.error}"
    c, p = info.card, info.card.get("provenance", {})
    params = f"{registry.parameter_count(name) / 1e6:.2f} M"
    lines = [
        f"### {name}",
        c.get("description", ""),
        "",
        "| field | value |",
        "|---|---|",
        f"| task | {c.get('task')} |",
        f"| architecture | `{info.arch}` |",
        f"| parameters | {params} |",
        f"| dataset | {c.get('dataset')} |",
    ]
    if c.get("labels"):
        lines.append(f"| labels | {', '.join(c['labels'])} |")
    if c.get("styles"):
        lines.append(f"| styles | {', '.join(c['styles'])} |")
    if c.get("scale"):
        lines.append(f"| scale | x{c['scale']} |")
    stages = earlier_stages(c)
    if p:
        trained = (
            (
                f"{p.get('steps')} steps in {p.get('wall_time_minutes')} min on {p.get('device')}, "
                f"{p.get('processes')} process(es) x {p.get('torch_threads')} thread(s)"
            )
            if p.get("steps")
            else f"assembled from {len(stages)} stages (below), no training of its own"
        )
        lines += [
            f"| trained | {trained} |",
            f"| date | {p.get('date')} |",
            f"| commit | `{(p.get('git_commit') or 'n/a')[:10]}` |",
        ]
    for i, stage in enumerate(stages):
        lines.append(f"| stage {i + 1} | {_stage_line(stage)} |")
    if stages:
        minutes = (p.get("wall_time_minutes") or 0) + sum(stage.get("wall_time_minutes") or 0 for stage in stages)
        lines.append(f"| CPU in all | {minutes:.0f} min over {len(stages) + bool(p.get('steps'))} stages |")
    if c.get("recipe"):
        scale = c["recipe"].get("scale", 1)
        lines.append(
            f"| recipe | `genstudio reproduce {name}`{f' (built at scale {scale})' if scale != 1 else ''}: "
            f"{' → '.join(c['recipe']['stages'])} |"
        )
    if c.get("credits"):
        lines.append(f"| credits | {c['credits']} |")
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


def _curve_rows(card: dict) -> list[dict]:
    """The training log in a card; a model assembled from stages (a cascade) shows its stages'
    logs one after another on a running step count: their stored curves where the records
    hold them, else each stage's last log row."""
    rows = card.get("provenance", {}).get("curve") or []
    if rows:
        return rows
    out, offset = [], 0
    for stage in earlier_stages(card):
        logged = stage.get("curve") or ([stage["last_log"]] if stage.get("last_log") else [])
        out += [{**row, "step": offset + row.get("step", 0)} for row in logged]
        offset += stage.get("steps") or 0
    return out


def model_curves(name: str | None):
    """(losses, validation figures): two pictures of the training log in the card, a panel per
    series, each PNG carrying the model and series it shows; None where there is nothing to draw."""
    from genstudio.ui.charts import curve_panels

    info = registry.inspect(name) if name else None
    rows = _curve_rows(info.card) if info and not info.error else []
    series = list(
        dict.fromkeys(
            k
            for r in rows
            for k, v in r.items()
            if k not in ("step", "minutes") and isinstance(v, (int, float)) and not isinstance(v, bool)
        )
    )
    quality = [k for k in series if any(q in k for q in QUALITY)]
    losses = [k for k in series if k not in quality]

    def picture(keys: list[str], title: str):
        if not keys:
            return gr.update(value=None, visible=False)
        chart = curve_panels(rows, keys, f"{name}: {title}")
        return gr.update(value=common.png(chart, {"task": "curves", "model": name, "series": keys}), visible=True)

    return picture(losses, "training losses"), picture(quality, "validation figures")


TOOLBAR_PX = 40  # the image box's buttons sit over its top edge: a white band keeps the sheet's headers clear of them


def model_picture(name: str | None):
    path = common.assets() / "models" / f"{name}.png"
    if not (name and path.exists()):
        return None
    import numpy as np
    from PIL import Image

    picture = np.asarray(Image.open(path).convert("RGB"))
    return np.concatenate([np.full((TOOLBAR_PX, picture.shape[1], 3), 255, np.uint8), picture])


def models_table() -> list[list]:
    rows = []
    for info in registry.list_models(include_unavailable=True):
        s = info.summary()
        headline = card_headline(info.card) if not info.error else f"UNAVAILABLE: {info.error}"
        rows.append([s["name"], s["task"] or "", s["arch"] or "", s["dataset"] or "", headline])
    return rows


def build(demo: gr.Blocks) -> SimpleNamespace:
    with gr.Tab("Models", id="models"):
        gr.Dataframe(
            headers=["name", "task", "architecture", "dataset", "headline metrics"],
            value=models_table,
            interactive=False,
            wrap=True,
            max_height=2000,
            elem_id="models-table",
            column_widths=["12%", "9%", "15%", "14%", "50%"],
        )
        names = [m.name for m in registry.list_models(include_unavailable=True)]
        pick = gr.Dropdown(names, value=common.first(names, "emoji-gan"), label="Model card")
        with gr.Row():
            card = gr.Markdown(elem_id="model-card")
            with gr.Column():
                picture = gr.Image(label="Samples / before-after", interactive=False, elem_id="model-picture")
                losses = gr.Image(
                    label="Training losses",
                    format="png",
                    type="pil",
                    interactive=False,
                    elem_id="model-losses",
                    buttons=["download", "fullscreen"],
                )
                quality = gr.Image(
                    label="Validation figures",
                    format="png",
                    type="pil",
                    interactive=False,
                    elem_id="model-quality",
                    buttons=["download", "fullscreen"],
                )
    gr.on([demo.load, pick.change], model_card_markdown, pick, card, api_name="model_card").then(
        model_picture, pick, picture, api_visibility="private"
    ).then(model_curves, pick, [losses, quality], api_visibility="private")
    return SimpleNamespace(pick=pick)
