"""A checkpoint's card: what a model is, typed and versioned, checked on every read and write.

Version 1 cards (before styles, credits and stages existed) read as version 2 with those
fields empty. An unknown field or a wrong type is refused with the field's name, so a
card can only say what this schema knows how to show.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from genstudio.errors import UserError

CARD_VERSION = 2
TASKS = ("sample", "conditional", "inpaint", "upscale", "classify", "restyle")


@dataclass
class Card:
    task: str  # one of TASKS
    dataset: str | None = None
    labels: list[str] | None = None  # class names, for conditional models and classifiers
    styles: list[str] | None = None  # a second label group (emoji vendor styles)
    names: list[str] | None = None  # restyle: the emoji it can draw by name (a content code each)
    style_colours: dict[str, list[float]] | None = None  # restyle: each style's Lab mean and spread (colour transfer)
    image_size: int | None = None  # side of generated / expected images; None = any size
    channels: int | None = None  # 4 = premultiplied RGBA inside the model, straight RGBA out
    scale: int | None = None  # super-resolution factor
    prefill: str | None = None  # inpainting: the classical fill the net refines
    description: str = ""
    credits: str | None = None  # required attribution of the training data
    split: str | None = None  # which part of the data it was trained on, when not all
    metrics: dict[str, Any] = field(default_factory=dict)  # written by eval / promote
    provenance: dict[str, Any] = field(default_factory=dict)  # config, steps, time, commit, curve
    stages: list[dict[str, Any]] = field(default_factory=list)  # earlier stages this model was made from
    sampling: dict[str, Any] = field(default_factory=dict)  # default latent settings (GAN truncation, VAE temperature)
    recipe: dict[str, Any] | None = None  # the recipe (configs/MODEL.toml) it was built by: its stages, at what scale
    version: int = CARD_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _fits(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is Any:
        return True
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def check_card(raw: dict[str, Any]) -> dict[str, Any]:
    """A card as stored (any known version) -> a complete version-2 card dict, or UserError."""
    if not isinstance(raw, dict):
        raise UserError("card must be a JSON object")
    version = raw.get("version", 1)
    if version not in (1, CARD_VERSION):
        raise UserError(f"card version {version!r} is not supported (this GenStudio reads 1-{CARD_VERSION})")
    hints = typing.get_type_hints(Card)
    for key, value in raw.items():
        if key not in hints:
            raise UserError(f"card has an unknown field {key!r}")
        if not _fits(value, hints[key]):
            raise UserError(f"card field {key!r} must be {hints[key]}, got {value!r}")
    if raw.get("task") not in TASKS:
        raise UserError(f"card task must be one of {TASKS}, got {raw.get('task')!r}")
    return Card(**{**raw, "version": CARD_VERSION}).to_dict()


def earlier_stages(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stage a model was made from, earliest first, each once: its `stages` and the
    stage it started from, and theirs in turn (a blend of two models that share a chain
    lists the shared stages once, so its cost is not counted twice)."""
    seen, out = set(), []

    def visit(record: dict[str, Any]) -> None:
        for earlier in record.get("stages") or []:
            visit(earlier)
            add(earlier)
        if record.get("init_from"):
            visit(record["init_from"])
            add(record["init_from"])

    def add(stage: dict[str, Any]) -> None:
        key = (stage.get("model"), stage.get("git_commit"), stage.get("steps"), stage.get("wall_time_minutes"))
        if key not in seen:
            seen.add(key)
            out.append(stage)

    visit({"stages": card.get("stages"), "init_from": card.get("provenance", {}).get("init_from")})
    return out


BANDS = ("5-10%", "10-20%", "20-40%")


def headline(card: dict) -> str:
    """The one figure that says how good a model is, beside its baseline or real-data floor."""
    m, task = card.get("metrics", {}), card["task"]
    if not m:
        return "not evaluated"
    if task == "restyle":
        styles = card.get("styles") or []
        gains = " / ".join(f"{m.get(f'{s} gain over lookup (dB)', float('nan')):+.2f}" for s in styles)
        return f"PSNR on white {gains} dB over the lookup baseline ({' / '.join(styles)}), held-out emoji"
    if task in ("sample", "conditional"):
        ratio = m.get("fd_ratio_to_floor") or (
            m["fd_classifier_features"] / m["real_fd_train_vs_test"] if m.get("real_fd_train_vs_test") else None
        )
        parts = [f"FD {ratio:.1f}x the real-data floor" if ratio else ""]
        if "recall" in m:
            parts.append(
                f"precision {m['precision']} / recall {m['recall']} (real: {m.get('real_precision')} / "
                f"{m.get('real_recall')})"
            )
        if "category_accuracy" in m:
            parts.append(f"category / style accuracy {m['category_accuracy']} / {m['style_accuracy']}")
        elif "class_accuracy" in m:
            parts.append(f"class accuracy {m['class_accuracy']} (real {m.get('real_test_accuracy')})")
        return "; ".join(p for p in parts if p)
    if task == "upscale":
        set5 = f"Set5 Y PSNR {m.get('set5_psnr_y_model')} dB (bicubic {m.get('set5_psnr_y_bicubic')})"
        if "unseen_psnr_y_model" in m:
            return f"unseen photos Y PSNR {m['unseen_psnr_y_model']} dB (bicubic {m['unseen_psnr_y_bicubic']}); {set5}"
        return set5
    if task == "inpaint" and "unseen 20-40% gain over telea (dB)" in m:
        gains = " / ".join(f"{m[f'unseen {b} gain over telea (dB)']:+.2f}" for b in BANDS)
        return f"{gains} dB over OpenCV Telea (holes of 5-10 / 10-20 / 20-40 %, unseen photos)"
    if task == "inpaint":
        return f"20-40 % holes: PSNR {m.get('20-40% psnr model')} vs Telea {m.get('20-40% psnr telea')} dB"
    if task == "classify":
        style = f", style {m['test_style_accuracy']}" if "test_style_accuracy" in m else ""
        return f"held-out accuracy {m.get('test_accuracy')}{style}"
    return ""
