"""Recipe: drop a PNG or MP4 the app made; its settings come back in the tab that made it."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from genstudio.tasks import io, walk
from genstudio.ui.common import UserError, user_errors


def recipe_in(file_path) -> dict | None:
    """The recipe a PNG, MP4 or JSON made by the app carries, or None."""
    path = Path(file_path)
    recipe = walk.read_video_recipe(path) if path.suffix.lower() in (".mp4", ".json") else None
    if recipe is None and path.suffix.lower() not in (".mp4",):
        try:
            recipe = io.read_recipe(path)
        except (OSError, SyntaxError) as exc:
            raise UserError(f"{path.name} is not an image or video made by GenStudio") from exc
    return recipe


@user_errors
def read_recipe(file_path):
    """A PNG, MP4 or JSON made by the app -> its recipe."""
    if not file_path:
        raise UserError("drop a PNG or MP4 made by GenStudio")
    path = Path(file_path)
    recipe = recipe_in(path)
    if not recipe:
        raise UserError(f"{path.name} carries no GenStudio recipe")
    return recipe


TAB_OF = {"outpaint": "inpaint"}  # recipe tasks made in another task's tab


def tab_of(recipe: dict | None) -> str | None:
    task = (recipe or {}).get("task")
    return TAB_OF.get(task, task)


def restorer(targets: dict[str, tuple[list, callable]]):
    """targets: recipe task -> (that tab's restore_outputs, its restore(recipe)). Returns the
    callback filling [tabs, *every tab's outputs]: the recipe's own tab gets every setting
    it records (and its stale output cleared); the other tabs are left alone."""

    def restore(recipe: dict | None):
        task = tab_of(recipe)
        updates = [gr.Tabs(selected=task) if task in targets else gr.skip()]
        for name, (outputs, fill) in targets.items():
            updates += fill(recipe) if name == task else [gr.skip()] * len(outputs)
        return updates

    return restore


def build(tabs: gr.Tabs, targets: dict[str, tuple[list, callable]]) -> None:
    with gr.Tab("Recipe", id="recipe"):
        gr.Markdown(
            "Drop a PNG or MP4 made by GenStudio: its recipe is read back and the settings are restored "
            "in the tab that made it."
        )
        file = gr.File(label="PNG or MP4 from GenStudio", file_types=[".png", ".mp4", ".json"], elem_id="recipe-file")
        shown = gr.JSON(label="Recipe")
    outputs = [tabs] + [c for outs, _ in targets.values() for c in outs]
    file.upload(read_recipe, file, shown, api_name="recipe").then(
        restorer(targets), shown, outputs, api_visibility="private"
    )
