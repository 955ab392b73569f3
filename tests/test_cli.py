"""The `genstudio` command, end to end on tiny models (a subprocess each, as a user runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from genstudio.tasks.io import read_recipe


@pytest.fixture
def run(tiny_dir, tmp_path):
    env = {**os.environ, "GENSTUDIO_CHECKPOINTS": str(tiny_dir), "GENSTUDIO_DEVICE": "cpu"}

    def _run(*args, ok=True):
        out = subprocess.run(
            [sys.executable, "-m", "genstudio", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
        assert (out.returncode == 0) == ok, out.stderr[-2000:]
        return out

    return _run


def test_models_json(run):
    entries = json.loads(run("models", "--json").stdout)
    by_name = {e["name"]: e for e in entries}
    assert {"name", "task", "arch", "dataset", "labels", "image_size", "channels", "scale", "metrics"} <= set(
        entries[0]
    )
    assert by_name["tiny-cgan"]["labels"][7] == "Sneaker" and by_name["tiny-sr4"]["scale"] == 4
    assert by_name["tiny-gan"]["labels"] is None and by_name["tiny-gan"]["scale"] is None
    assert "tiny-gan" in run("models").stdout


def test_sample_png_and_npz(run, tmp_path):
    run("sample", "--model", "tiny-cgan", "--n", 5, "--seed", 3, "--label", "Sneaker", "--output", "s.png")
    assert read_recipe(tmp_path / "s.png")["label"] == "Sneaker"
    run("sample", "--model", "tiny-cgan", "--n", 5, "--seed", 3, "--label", 7, "--output", "s.npz")
    data = np.load(tmp_path / "s.npz")
    assert data["images"].shape == (5, 28, 28, 1) and data["images"].dtype == np.uint8
    assert data["labels"].tolist() == [7] * 5
    run("sample", "--model", "tiny-gan", "--n", 2, "--seed", 3, "--truncation", 0.7, "--output", "g.npz")
    bad = run("sample", "--model", "tiny-cgan", "--n", 2, "--seed", 0, "--label", 12, "--output", "x.png", ok=False)
    assert "out of range" in bad.stderr and "Traceback" not in bad.stderr


def test_upscale_file_and_folder(run, tmp_path, photo):
    Image.fromarray(photo[:40, :50]).save(tmp_path / "a.png")
    run("upscale", "--model", "tiny-sr2", "--input", "a.png", "--output", "a2.png")
    assert Image.open(tmp_path / "a2.png").size == (100, 80)
    (tmp_path / "in").mkdir()
    for i in range(3):
        Image.fromarray(photo[: 20 + i, :30]).save(tmp_path / "in" / f"{i}.png")
    run("upscale", "--model", "tiny-sr4", "--input", "in", "--output", "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "1.png", "2.png"]


def test_inpaint_file_and_folder(run, tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "p.png")
    mask = np.zeros((32, 32), np.uint8)
    mask[10:20, 10:20] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")  # another size: refused unless asked to resize
    bad = run(
        "inpaint", "--model", "tiny-inpaint", "--input", "p.png", "--mask", "m.png", "--output", "o.png", ok=False
    )
    assert "mask m.png is 32x32 but p.png is 128x128" in bad.stderr and "--resize-mask" in bad.stderr
    assert not (tmp_path / "o.png").exists()
    run(
        "inpaint",
        "--model",
        "tiny-inpaint",
        "--input",
        "p.png",
        "--mask",
        "m.png",
        "--resize-mask",
        "--output",
        "o.png",
    )
    out = np.asarray(Image.open(tmp_path / "o.png"))
    assert out.shape == photo.shape and np.array_equal(out[:30], photo[:30])
    for d in ("imgs", "masks"):
        (tmp_path / d).mkdir()
    Image.fromarray(photo).save(tmp_path / "imgs" / "x.png")
    Image.fromarray(np.kron(mask, np.ones((4, 4), np.uint8))).save(tmp_path / "masks" / "x.png")  # 128 x 128
    run("inpaint", "--model", "telea", "--input", "imgs", "--mask", "masks", "--output", "filled")
    assert (tmp_path / "filled" / "x.png").exists()


def test_outpaint_file_and_bad_extensions(run, tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "p.png")
    run("outpaint", "--model", "tiny-inpaint", "--input", "p.png", "--extend", "16,0,8,4", "--output", "wide.png")
    out = np.asarray(Image.open(tmp_path / "wide.png"))
    assert out.shape == (photo.shape[0] + 4, photo.shape[1] + 24, 3)
    assert np.array_equal(out[: photo.shape[0], 16 : 16 + photo.shape[1]], photo)
    assert read_recipe(tmp_path / "wide.png")["extend"] == [16, 0, 8, 4]
    bad = run("outpaint", "--model", "telea", "--input", "p.png", "--extend=-3,0,0,0", "--output", "x.png", ok=False)
    assert "0 or more" in bad.stderr and not (tmp_path / "x.png").exists()
    bad = run("outpaint", "--model", "telea", "--input", "p.png", "--extend", "1,2", "--output", "x.png", ok=False)
    assert "LEFT,TOP,RIGHT,BOTTOM" in bad.stderr


def test_walk(run, tmp_path):
    run(
        "walk",
        "--model",
        "tiny-gan",
        "--seeds",
        "1,5,9-10",
        "--frames-per-transition",
        4,
        "--fps",
        8,
        "--loop",
        "--size",
        64,
        "--output",
        "w.mp4",
    )
    assert (tmp_path / "w.mp4").stat().st_size > 0
    assert json.loads((tmp_path / "w.json").read_text())["seeds"] == "1,5,9-10"
    run(
        "walk",
        "--model",
        "tiny-cgan",
        "--seeds",
        "2",
        "--labels",
        "Sneaker,Bag",
        "--frames-per-transition",
        3,
        "--fps",
        8,
        "--loop",
        "--size",
        64,
        "--output",
        "c.mp4",
    )
    bad = run(
        "walk",
        "--model",
        "tiny-gan",
        "--seeds",
        "1,2",
        "--frames-per-transition",
        5000,
        "--fps",
        8,
        "--output",
        "x.mp4",
        ok=False,
    )
    assert "limit" in bad.stderr


def test_emoji_sample_with_style_keeps_alpha(run, tmp_path):
    run(
        "sample",
        "--model",
        "tiny-emoji",
        "--label",
        "Food & Drink",
        "--style",
        "twemoji",
        "--n",
        4,
        "--seed",
        0,
        "--output",
        "e.png",
    )
    png = Image.open(tmp_path / "e.png")
    assert png.mode == "RGBA" and read_recipe(tmp_path / "e.png")["style"] == "twemoji"
    run("sample", "--model", "tiny-emoji", "--label", 3, "--style", 1, "--n", 4, "--seed", 0, "--output", "e.npz")
    data = np.load(tmp_path / "e.npz")
    assert (
        data["images"].shape == (4, 8, 8, 4)
        and data["labels"].tolist() == [3] * 4
        and data["styles"].tolist() == [1] * 4
    )
    bad = run("sample", "--model", "tiny-cgan", "--label", 1, "--style", "noto", "--output", "x.png", ok=False)
    assert "has no styles" in bad.stderr and "Traceback" not in bad.stderr
    entry = {e["name"]: e for e in json.loads(run("models", "--json").stdout)}["tiny-emoji"]
    assert (
        entry["styles"] == ["noto", "twemoji", "fluent"] and "emoji" in entry["dataset"] and len(entry["labels"]) == 9
    )


def test_walks_of_conditional_models_need_no_labels(run, tmp_path):
    run(
        "walk",
        "--model",
        "tiny-cgan",
        "--seeds",
        "1,2",
        "--frames-per-transition",
        2,
        "--fps",
        8,
        "--loop",
        "--size",
        32,
        "--output",
        "tour.mp4",
    )
    assert (tmp_path / "tour.mp4").stat().st_size > 0
    run(
        "walk",
        "--model",
        "tiny-emoji",
        "--seeds",
        "3",
        "--labels",
        "Flags",
        "--styles",
        "noto,twemoji,fluent",
        "--frames-per-transition",
        2,
        "--fps",
        8,
        "--loop",
        "--size",
        32,
        "--background",
        "black",
        "--output",
        "morph.mp4",
    )
    recipe = json.loads((tmp_path / "morph.json").read_text())
    assert recipe["styles"] == ["noto", "twemoji", "fluent"] and recipe["background"] == "black"


def test_a_models_own_truncation_is_the_default_and_0_turns_it_off(tmp_path, monkeypatch):
    from conftest import write_tiny_models

    from genstudio import registry

    shelf = write_tiny_models(tmp_path / "shelf")
    monkeypatch.setenv("GENSTUDIO_CHECKPOINTS", str(shelf))
    registry.update_card("tiny-emoji", sampling={"truncation": 0.5})
    registry.clear_cache()
    base = ["sample", "--model", "tiny-emoji", "--n", 6, "--seed", 2, "--label", "Flags", "--style", "noto"]
    # made before it had its own
    old_link = "http://127.0.0.1:7860/?task=sample&model=tiny-emoji&seed=2&n=6&label=Flags&style=noto"
    for name, extra in (
        ("own", []),
        ("explicit", ["--truncation", 0.5]),
        ("off", ["--truncation", 0]),
        ("linked", ["--recipe", old_link]),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "genstudio", *map(str, base + extra), "--output", f"{name}.npz"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "GENSTUDIO_DEVICE": "cpu"},
        )
        assert out.returncode == 0, out.stderr[-2000:]
    own, explicit, off, linked = (np.load(tmp_path / f"{n}.npz") for n in ("own", "explicit", "off", "linked"))
    assert np.array_equal(own["images"], explicit["images"]) and not np.array_equal(own["images"], off["images"])
    assert np.array_equal(linked["images"], off["images"])  # a recipe remakes what it was made with
    assert json.loads(str(own["recipe"]))["truncation"] == 0.5 and json.loads(str(off["recipe"]))["truncation"] == 0.0


def test_errors_are_one_line(run):
    for args in (
        ["sample", "--model", "../../etc/passwd", "--output", "x.png"],
        ["upscale", "--model", "nope", "--input", "a", "--output", "b"],
        ["eval", "missing-model"],
    ):
        out = run(*args, ok=False)
        assert out.stderr.startswith("genstudio ") and "Traceback" not in out.stderr


def test_sample_remakes_a_recipe_from_a_png_or_a_link(run, tmp_path):
    run(
        "sample",
        "--model",
        "tiny-emoji",
        "--n",
        6,
        "--seed",
        41,
        "--label",
        "Flags",
        "--style",
        "twemoji",
        "--truncation",
        1.5,
        "--output",
        "first.npz",
    )
    run(
        "sample",
        "--model",
        "tiny-emoji",
        "--n",
        6,
        "--seed",
        41,
        "--label",
        "Flags",
        "--style",
        "twemoji",
        "--truncation",
        1.5,
        "--output",
        "first.png",
    )
    first = np.load(tmp_path / "first.npz")["images"]
    run("sample", "--recipe", "first.png", "--output", "again.npz")  # the PNG's own recipe
    assert np.array_equal(np.load(tmp_path / "again.npz")["images"], first)
    link = "http://127.0.0.1:7860/?task=sample&model=tiny-emoji&seed=41&n=6&label=Flags&style=twemoji&truncation=1.5"
    run("sample", "--recipe", link, "--output", "linked.npz")  # a link the app gave
    assert np.array_equal(np.load(tmp_path / "linked.npz")["images"], first)
    run("sample", "--recipe", link, "--seed", 42, "--output", "other.npz")  # options override the recipe
    assert np.array_equal(np.load(tmp_path / "other.npz")["images"][:5], first[1:])
    out = run(
        "sample",
        "--recipe",
        "http://x/?task=conditional&model=tiny-emoji&mode=all%20classes",
        "--output",
        "x.png",
        ok=False,
    )
    assert "one-class grids" in out.stderr and "Traceback" not in out.stderr
