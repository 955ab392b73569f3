"""Links: a result's recipe as a URL query string, and a link opened back into its tab.

A link holds the settings only (no uploaded images), so it is for the tabs whose result the
seed makes exact: Sample, Label-conditioned and Latent walk. A value a link gets wrong is
dropped with a note (the tab's default stands), never an error page.
"""

from __future__ import annotations

from typing import Any, Callable

import gradio as gr
from PIL import Image

from genstudio import registry
from genstudio.tasks import generate, io
from genstudio.ui import common
from genstudio.ui.tabs.recipe import recipe_in

LINKED_TASKS = {
    "sample": ("sample", "conditional"),
    "conditional": ("conditional",),
    "walk": ("sample", "conditional", "restyle"),
    "restyle": ("restyle",),
}
# the query string made absolute in the browser, which alone knows the address it was served at
ABSOLUTE_JS = "(query) => query && query.startsWith('?') ? location.origin + location.pathname + query : query"


def _whole(low: int, high: int) -> Callable[[Any, registry.ModelInfo], int]:
    def check(value, info):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return value

    return check


def _number(low: float, high: float) -> Callable[[Any, registry.ModelInfo], float]:
    def check(value, info):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ValueError(f"a number from {low} to {high}")
        return float(value)

    return check


def _one_of(*choices) -> Callable[[Any, registry.ModelInfo], Any]:
    def check(value, info):
        if value not in choices:
            raise ValueError("one of " + ", ".join(map(str, choices)))
        return value

    return check


def _name_in(field: str) -> Callable[[Any, registry.ModelInfo], str]:
    """A label or style of the model, by name or index."""

    def check(value, info):
        names = info.card.get(field) or []
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            return names[value]
        if value not in names:
            raise ValueError(f"one of this model's {field}")
        return value

    return check


def _names_in(field: str) -> Callable[[Any, registry.ModelInfo], list[str]]:
    one = _name_in(field)

    def check(value, info):
        if not isinstance(value, list):
            raise ValueError("a list")
        return [one(v, info) for v in value]

    return check


def _seeds(value, info) -> str:
    generate.parse_seeds(str(value), limit=64)  # raises UserError with the reason
    return str(value)


def _flag(value, info) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _grid(value, info) -> list[int]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and 1 <= v <= 4 for v in value)):
        raise ValueError("[columns, rows], each 1 to 4")
    return value


def _resize(value, info) -> str:
    if value in ("nearest", "smooth") or value in common.model_choices("upscale"):
        return value
    raise ValueError("nearest, smooth or an upscaler")


def _mode(value, info) -> str:
    from genstudio.ui.tabs.conditional import MODES

    return _one_of(*MODES)(value, info)


CHECKS: dict[str, dict[str, Callable[[Any, registry.ModelInfo], Any]]] = {
    "sample": {
        "seed": _whole(0, common.MAX_SEED),
        "n": _whole(1, 64),
        "label": _name_in("labels"),
        "style": _name_in("styles"),
        "truncation": _number(0, 3),
        "temperature": _number(0.1, 2),
        "background": _one_of(*common.BACKGROUNDS),
        "display_scale": _whole(1, 12),
        "smooth": _flag,
    },
    "conditional": {
        "seed": _whole(0, common.MAX_SEED),
        "n": _whole(1, 64),
        "label": _name_in("labels"),
        "style": _name_in("styles"),
        "mode": _mode,
        "blend_label": _name_in("labels"),
        "blend_style": _name_in("styles"),
        "blend_weight": _number(0, 1),
        "truncation": _number(0, 3),
        "temperature": _number(0.1, 2),
        "background": _one_of(*common.BACKGROUNDS),
        "display_scale": _whole(1, 12),
        "smooth": _flag,
    },
    "walk": {
        "seeds": _seeds,
        "labels": _names_in("labels"),
        "styles": _names_in("styles"),
        "frames_per_transition": _whole(1, 120),
        "fps": _whole(1, 60),
        "loop": _flag,
        "interpolation": _one_of("spherical", "linear"),
        "grid": _grid,
        "size": _whole(64, 1024),
        "resize": _resize,
        "truncation": _number(0, 3),
        "temperature": _number(0.1, 2),
        "background": _one_of("white", "black"),
    },  # a video has no alpha
}


def _emoji_names(value, info) -> str:
    names = [n.strip() for n in str(value).split(",") if n.strip()]
    if not names or any(n not in (info.card.get("names") or []) for n in names):
        raise ValueError("emoji names this model knows, comma-separated")
    return ", ".join(names)


def _restyle_style(value, info) -> str:
    from genstudio.ui.tabs.restyle import ALL_STYLES

    return _one_of(ALL_STYLES, *(info.styles or []))(value, info)


CHECKS["walk"]["emoji"] = lambda value, info: (
    [_emoji_names(v, info) for v in value] if isinstance(value, list) else _names_in("names")(value, info)
)
CHECKS["restyle"] = {
    "emoji": _emoji_names,
    "style": _restyle_style,
    "baselines": _flag,
    "background": _one_of(*common.BACKGROUNDS),
}


def checked(recipe: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """(the recipe with only the values this app can use, a note for each one dropped);
    (None, notes) when the link names no tab or model to open."""
    task, name = recipe.get("task"), recipe.get("model")
    if task is None:
        others = ", ".join(repr(k) for k in recipe if k not in io.PROVENANCE) or "nothing readable"
        return None, [
            f"the link names no tab (it needs task=, e.g. task=sample; it had {others}); showing the start page"
        ]
    if task not in CHECKS:
        return None, [f"a link cannot open the tab {task!r} (it opens {', '.join(CHECKS)}); showing the start page"]
    info = registry.inspect(name) if isinstance(name, str) and name else None
    if info is None or info.error or info.card.get("task") not in LINKED_TASKS[task]:
        return None, [f"the link's model {name!r} is not one this app has for that tab; showing the start page"]
    clean, notes = {"task": task, "model": name}, []
    for key, value in recipe.items():
        if key in ("task", "model") or key in io.PROVENANCE:
            continue
        check = CHECKS[task].get(key)
        if check is None:
            notes.append(f"ignored the unknown setting {key!r}")
            continue
        try:
            clean[key] = check(value, info)
        except (ValueError, common.UserError) as exc:
            notes.append(f"ignored {key}={value!r}: it must be {exc}")
    return clean, notes


def query_of(output) -> str:
    """The link query of an output the app made (a PNG with its recipe, or a walk's recipe file)."""
    if output is None:
        return ""
    recipe = io.read_recipe(output) if isinstance(output, Image.Image) else recipe_in(output)
    if (
        not recipe or recipe.get("input") or recipe.get("uploads")
    ):  # made from uploaded pictures, which a link cannot hold
        return ""
    return "?" + io.recipe_to_query(recipe)


def link_box(elem_id: str) -> gr.Textbox:
    return gr.Textbox(
        label="Link to this result",
        info="opens this tab with these settings and remakes this result",
        buttons=["copy"],
        interactive=False,
        elem_id=elem_id,
    )


def keep_link(output, box: gr.Textbox):
    """Whatever puts a result into `output` (a click, an example, the opening, a link), its
    link follows into `box`. Returns the event, for more to follow the same change."""
    return output.change(query_of, output, box, api_visibility="private", show_progress="hidden").then(
        None, box, box, js=ABSOLUTE_JS, show_progress="hidden"
    )


def query_task(request: gr.Request | None) -> str | None:
    """The tab a page's link opens with a result of its own: None when the page came without a
    link, or with one that opens nothing (the start page then shows its own results)."""
    query = str(request.query_params) if request is not None and request.query_params else ""
    clean, _ = checked(io.recipe_from_query(query)) if query else (None, [])
    return clean["task"] if clean else None
