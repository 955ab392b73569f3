"""The History's bookkeeping: what goes in, what stays out, how much is kept, what the zip holds."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from genstudio.tasks import io
from genstudio.ui.common import png
from genstudio.ui.tabs import history


def _kept(new, old):
    """A callback's output, or the old value where it returned gr.skip() (no change)."""
    return old if isinstance(new, dict) and new.get("__type__") == "update" else new


def _result(seed: int):
    image = np.full((8, 8, 3), seed % 256, np.uint8)
    return png(image, io.make_recipe("sample", model="emoji-gan", seed=seed, n=1))


def test_history_keeps_new_results_newest_first_and_leaves_out_the_opening():
    opening = _result(0)
    entries, files = history.record(opening, [], {}, history.result_key(opening))
    assert _kept(entries, "unchanged") == "unchanged"  # the opening is not recorded
    entries, files = [], {}
    for seed in (1, 2, 1):  # the same settings again: one entry (a new request id does not make it new)
        new_entries, new_files = history.record(_result(seed), entries, files, None)
        entries, files = _kept(new_entries, entries), _kept(new_files, files)
    assert [e["recipe"]["seed"] for e in entries] == [2, 1]
    assert all(e["thumb"].startswith("data:image/webp;base64,") and len(e["thumb"]) < 4000 for e in entries)
    archive = zipfile.ZipFile(history.download_all(entries, files))
    assert sorted(archive.namelist()) == ["01-sample.json", "01-sample.png", "02-sample.json", "02-sample.png"]
    assert json.loads(archive.read("02-sample.json"))["seed"] == 1
    history.forget_files(files)
    assert not any(Path(p).exists() for k, p in files.items() if k != "_session")


def test_history_is_bounded():
    entries, files = [], {}
    for seed in range(history.LIMIT + 3):
        entries, files = history.record(_result(seed), entries, files, None)
    assert len(entries) == history.LIMIT and entries[0]["recipe"]["seed"] == history.LIMIT + 2
    assert len([k for k in files if k != "_session"]) == history.LIMIT
    history.forget_files(files)


def test_each_result_image_has_one_change_listener_and_the_history_follows_its_link():
    """A result image's link and its History entry follow one change event, in sequence: two
    listeners on one image raced in the browser, each re-firing its change (up to ten requests
    a few seconds after the Label-conditioned tab was first shown)."""
    from genstudio.ui.app import build_demo

    config = build_demo().get_config_file()
    ids = {c["props"].get("elem_id"): c["id"] for c in config["components"]}
    by_id = {d["id"]: d for d in config["dependencies"]}
    for elem_id in ("sample-output", "conditional-output"):
        listeners = [d for d in config["dependencies"] if (ids[elem_id], "change") in map(tuple, d["targets"])]
        assert len(listeners) == 1, elem_id
        followers, chain = [], listeners[0]
        while (chain := next((d for d in by_id.values() if d["trigger_after"] == chain["id"]), None)) is not None:
            followers.append(chain)
        assert any(d["backend_fn"] and ids[elem_id] in d["inputs"] and len(d["outputs"]) == 2 for d in followers), (
            "the History's record follows the link"
        )


def test_a_photo_result_with_the_settings_of_the_tabs_opening_is_recorded():
    """An inpaint or upscale made with the settings the tab opens with, on another photo, is a new result."""
    settings = io.make_recipe("upscale", model="sr-x4", tile=256, evaluate=True)
    opening = png(np.zeros((8, 8, 3), np.uint8), settings)
    mine = png(np.full((8, 8, 3), 90, np.uint8), io.make_recipe("upscale", model="sr-x4", tile=256, evaluate=True))
    entries, _ = history.record(mine, [], {}, history.result_key(opening))
    assert [e["recipe"]["model"] for e in entries] == ["sr-x4"]
    assert _kept(history.record(opening, [], {}, history.result_key(opening))[0], "unchanged") == "unchanged"
