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
    entries, files = history.record(opening, [], {}, history.settings_key(io.read_recipe(opening)))
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
