"""Models: every checkpoint on the shelf, its card, its picture and its training curves."""
from __future__ import annotations

import json
from types import SimpleNamespace

import gradio as gr

from genstudio import registry
from genstudio.card import earlier_stages
from genstudio.ui import common

HEADLINE = ["category_accuracy", "style_accuracy", "fd_classifier_features", "fd_real_floor", "fd_ratio_to_floor", "copy_rate",
            "class_accuracy", "class_coverage_entropy", "test_accuracy", "test_style_accuracy", "set5_psnr_y_model",
            "set5_ssim_y_model", "unseen 20-40% gain over telea (dB)", "unseen 10-20% gain over telea (dB)",
            "unseen 5-10% gain over telea (dB)", "unseen 20-40% gain over telea with 4 flips (dB)", "set5 20-40% gain over telea (dB)", "unseen outpaint 32px border psnr model",
            "unseen 20-40% hole_detail model",
            "20-40% psnr model", "20-40% psnr telea", "test_recon_bce_per_image"]
QUALITY = ("psnr", "accuracy")  # curves drawn apart from the losses


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
    lines = [f"### {name}", c.get("description", ""), "",
             "| field | value |", "|---|---|",
             f"| task | {c.get('task')} |", f"| architecture | `{info.arch}` |", f"| parameters | {params} |",
             f"| dataset | {c.get('dataset')} |"]
    if c.get("labels"):
        lines.append(f"| labels | {', '.join(c['labels'])} |")
    if c.get("styles"):
        lines.append(f"| styles | {', '.join(c['styles'])} |")
    if c.get("scale"):
        lines.append(f"| scale | x{c['scale']} |")
    if p:
        lines += [f"| trained | {p.get('steps')} steps in {p.get('wall_time_minutes')} min on {p.get('device')}, "
                  f"{p.get('processes')} process(es) x {p.get('torch_threads')} thread(s) |",
                  f"| date | {p.get('date')} |", f"| commit | `{(p.get('git_commit') or 'n/a')[:10]}` |"]
    stages = earlier_stages(c)
    for i, stage in enumerate(stages):
        lines.append(f"| stage {i + 1} | {_stage_line(stage)} |")
    if stages:
        minutes = (p.get("wall_time_minutes") or 0) + sum(stage.get("wall_time_minutes") or 0 for stage in stages)
        lines.append(f"| CPU in all | {minutes:.0f} min over {len(stages) + bool(p.get('steps'))} stages |")
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


def _curve_rows(name: str | None) -> list[dict]:
    info = registry.inspect(name) if name else None
    if not info or info.error:
        return []
    rows = info.card.get("provenance", {}).get("curve") or []
    if not rows and info.card.get("stages"):
        rows = (info.card["stages"][0].get("curve") or [])
    return rows


def model_curves(name: str | None):
    """(losses, quality figures) of the training log in the card, each a long table with its
    own series, so every model draws its own legend and PSNR is not on a loss axis."""
    import pandas as pd

    rows = _curve_rows(name)
    long = [{"step": r["step"], "series": k, "value": v} for r in rows for k, v in r.items()
            if k not in ("step", "minutes") and isinstance(v, (int, float))]
    quality = [r for r in long if any(q in r["series"] for q in QUALITY)]
    losses = [r for r in long if r not in quality]
    def plot(rows, label):
        # the legend is given explicitly: left to itself, the plot keeps the first model's series
        series = list(dict.fromkeys(r["series"] for r in rows))
        return gr.LinePlot(pd.DataFrame(rows or [{"step": 0, "series": "", "value": 0.0}]), x="step", y="value", color="series",
                           colors_in_legend=series, label=label, visible=bool(rows))

    return plot(losses, "Training losses"), plot(quality, "Validation figures")


def model_picture(name: str | None):
    path = common.assets() / "models" / f"{name}.png"
    return str(path) if name and path.exists() else None


def _headline(metrics: dict) -> str:
    """The figures that say how good a model is; a Frechet distance always beside its real-data floor."""
    fd, floor = metrics.get("fd_classifier_features"), metrics.get("fd_real_floor", metrics.get("real_fd_train_vs_test"))
    parts = [f"FD {fd} = {fd / floor:.0f}x the real-data floor {floor}"] if fd is not None and floor else []
    skip = {"fd_classifier_features", "fd_real_floor", "fd_ratio_to_floor"}
    parts += [f"{k}={metrics[k]}" for k in HEADLINE if k in metrics and k not in skip]
    return ", ".join(parts) or "not evaluated"


def models_table() -> list[list]:
    rows = []
    for info in registry.list_models(include_unavailable=True):
        s = info.summary()
        headline = _headline(s["metrics"]) if not info.error else f"UNAVAILABLE: {info.error}"
        rows.append([s["name"], s["task"] or "", s["arch"] or "", s["dataset"] or "", headline])
    return rows


def build(demo: gr.Blocks) -> SimpleNamespace:
    with gr.Tab("Models", id="models"):
        gr.Dataframe(headers=["name", "task", "architecture", "dataset", "headline metrics"], value=models_table,
                     interactive=False, wrap=True, max_height=2000, elem_id="models-table", column_widths=["12%", "9%", "15%", "14%", "50%"])
        names = [m.name for m in registry.list_models(include_unavailable=True)]
        pick = gr.Dropdown(names, value=common.first(names, "emoji-gan"), label="Model card")
        with gr.Row():
            card = gr.Markdown(elem_id="model-card")
            with gr.Column():
                picture = gr.Image(label="Samples / before-after", interactive=False)
                losses = gr.LinePlot(x="step", y="value", color="series", label="Training losses", elem_id="model-losses")
                quality = gr.LinePlot(x="step", y="value", color="series", label="Validation figures", elem_id="model-quality")
    gr.on([demo.load, pick.change], model_card_markdown, pick, card, api_name="model_card").then(
        model_picture, pick, picture, api_visibility="private").then(
        model_curves, pick, [losses, quality], api_visibility="private")
    return SimpleNamespace(pick=pick)
