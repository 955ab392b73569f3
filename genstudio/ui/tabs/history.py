"""History: every result of this browser session, newest first, with its recipe. A click
restores it in its tab; one button downloads them all as a zip.

The list (recipes and small thumbnails, the last 50) lives in the browser's storage, so it
survives a reload. The full files live on the server only while the session lasts (a
session-scoped state whose deletion removes them); after a reload the seeded results (Sample,
Label-conditioned, Latent walk) are remade from their recipes, exactly, and the photo results
keep their recipe and thumbnail.
"""

from __future__ import annotations

import base64
import hashlib
import io as bytes_io
import json
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
from PIL import Image

from genstudio.tasks import io
from genstudio.ui.common import user_errors
from genstudio.ui.tabs.recipe import recipe_in

LIMIT = 50  # entries kept; the oldest drop off
THUMB_SIZE = 160
STORAGE_KEY = "genstudio-history"
REMADE = ("sample", "conditional", "walk")  # results the seed makes exact: remade from the recipe
EXTENSIONS = {"walk": ".mp4"}


def result_key(output) -> str | None:
    """What makes a result itself: its settings where the seed makes it (the id differs per
    request), and for a photo result also its pixels (the same settings on another photo are
    another result, not the tab's opening)."""
    recipe = recipe_of(output)
    if not recipe:
        return None
    settings = {k: v for k, v in recipe.items() if k not in io.PROVENANCE}
    if recipe.get("task") not in REMADE:
        settings["pixels"] = hashlib.sha256(np.asarray(output).tobytes()).hexdigest()[:16]
    return json.dumps(settings, sort_keys=True)


def thumbnail(image: np.ndarray) -> str:
    """A small WebP data URL (a few KB): 50 of them fit the browser's storage."""
    pil = io.to_pil(image)
    pil.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    buffer = bytes_io.BytesIO()
    pil.save(buffer, "WEBP", quality=80)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode()


def _thumbnail_image(data_url: str) -> Image.Image:
    return Image.open(bytes_io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


def _first_frame(video_path: str) -> np.ndarray:
    import cv2

    capture = cv2.VideoCapture(video_path)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise ValueError(f"cannot read a frame of {video_path}")
    return frame[..., ::-1].copy()


def _session_folder(files: dict) -> Path:
    folder = Path(tempfile.gettempdir()) / "genstudio-history" / files.setdefault("_session", uuid.uuid4().hex)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def forget_files(files: dict | None) -> None:
    """A session's files go when the session does (Gradio calls this when it drops the state)."""
    if files and files.get("_session"):
        shutil.rmtree(Path(tempfile.gettempdir()) / "genstudio-history" / files["_session"], ignore_errors=True)


def recipe_of(output) -> dict | None:
    """The recipe of a tab's output: a PNG carrying it, or a walk's mp4."""
    if output is None:
        return None
    return io.read_recipe(output) if isinstance(output, Image.Image) else recipe_in(output)


def record(output, entries: list | None, files: dict | None, opening: str | None):
    """A tab's new output (a PNG carrying its recipe, or a walk's mp4) into the history.
    `opening` is the settings key of the tab's opening, which every visitor sees and nobody
    made: left out (Gradio reports it again when a tab is first shown). Returns (entries, files)."""
    recipe, key = recipe_of(output), result_key(output)
    if not recipe:
        return gr.skip(), gr.skip()
    known = any(e["key"] == key for e in entries or [])
    if key == opening or (known and key in (files or {})):
        return gr.skip(), gr.skip()
    files = dict(files or {})
    path = _session_folder(files) / f"{uuid.uuid4().hex}{EXTENSIONS.get(recipe['task'], '.png')}"
    if isinstance(output, Image.Image):
        picture = np.asarray(output)
        io.save_png(picture, path, recipe)
    else:
        shutil.copy(output, path)
        picture = _first_frame(str(path))
    files[key] = str(path)
    if known:  # an entry from before a reload, remade: this session holds its file again
        return gr.skip(), files
    entries = [{"key": key, "recipe": recipe, "thumb": thumbnail(picture)}] + list(entries or [])
    for dropped in entries[LIMIT:]:
        Path(files.pop(dropped["key"], "") or "/nonexistent").unlink(missing_ok=True)
    return entries[:LIMIT], files


def caption(recipe: dict) -> str:
    parts = [recipe.get("task", "?"), recipe.get("model", "")]
    for key in ("label", "style", "mode"):
        if recipe.get(key):
            parts.append(str(recipe[key]))
    if "seed" in recipe or "seeds" in recipe:
        parts.append(f"seed {recipe.get('seed', recipe.get('seeds'))}")
    return " · ".join(p for p in parts if p)


def gallery_items(entries: list | None) -> list:
    return [(_thumbnail_image(e["thumb"]), caption(e["recipe"])) for e in entries or []]


@user_errors
def download_all(entries: list | None, files: dict | None) -> str:
    """A zip of every result this session still holds, each beside its recipe (JSON), newest first."""
    if not entries:
        raise gr.Error("nothing in the history yet: make a result in any tab first", print_exception=False)
    files = dict(files or {})
    path = _session_folder(files).parent / f"genstudio-history-{uuid.uuid4().hex[:8]}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for number, entry in enumerate(entries, 1):
            recipe, stem = entry["recipe"], f"{number:02d}-{entry['recipe'].get('task', 'result')}"
            archive.writestr(f"{stem}.json", json.dumps(recipe, indent=2, sort_keys=True))
            held = files.get(entry["key"])
            if held and Path(held).exists():
                archive.write(held, stem + Path(held).suffix)
            else:
                archive.writestr(f"{stem}-thumbnail.webp", base64.b64decode(entry["thumb"].split(",", 1)[1]))
    return str(path)


def build() -> SimpleNamespace:
    with gr.Tab("History", id="history"):
        entries = gr.BrowserState([], storage_key=STORAGE_KEY)
        files = gr.State({}, delete_callback=forget_files)  # this session's full-size results
        gr.Markdown(
            f"Every result you make in this browser, newest first (the last {LIMIT}). Click one to get its "
            "settings back in its tab; a link or a seed remakes it exactly. Kept in your browser, "
            "not on the server."
        )
        gallery = gr.Gallery(
            label="History", columns=6, height="auto", allow_preview=False, elem_id="history-gallery", interactive=False
        )
        with gr.Row():
            zip_button = gr.Button("Download all (zip)", elem_id="history-download")
            clear = gr.Button("Clear history")
        archive = gr.File(
            label="All results with their recipes", interactive=False, visible=False, elem_id="history-zip"
        )
    entries.change(gallery_items, entries, gallery, api_visibility="private")
    zip_button.click(
        lambda *a: gr.File(download_all(*a), visible=True), [entries, files], archive, api_visibility="private"
    )
    clear.click(lambda: ([], gr.File(None, visible=False)), None, [entries, archive], api_visibility="private")
    return SimpleNamespace(entries=entries, files=files, gallery=gallery)
