"""Bad input gets a clear message: every endpoint function, with the inputs people send.

Each case calls the same function the UI and the API call, and checks that a
`gr.Error` (never another exception) names what was wrong and what is allowed.
"""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from genstudio.tasks import generate, inpaint, upscale
from genstudio.tasks.io import read_image
from genstudio.ui.tabs import conditional as conditional_tab
from genstudio.ui.tabs import inpaint as inpaint_tab
from genstudio.ui.tabs import recipe as recipe_tab
from genstudio.ui.tabs import sample as sample_tab
from genstudio.ui.tabs import upscale as upscale_tab
from genstudio.ui.tabs import walk as walk_tab

NOOP = lambda *a, **k: None  # stands in for gr.Progress outside a request


@pytest.fixture
def files(tmp_path, photo):
    """Problem files of every kind a user uploads."""
    f = {}
    Image.fromarray(photo).save(tmp_path / "good.png")
    f["good"] = tmp_path / "good.png"
    data = (tmp_path / "good.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 3])
    f["truncated"] = tmp_path / "truncated.png"
    (tmp_path / "text.png").write_text("this is not an image")
    f["not_image"] = tmp_path / "text.png"
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    f["corrupt"] = tmp_path / "corrupt.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tmp_path / "one.png")
    f["1x1"] = tmp_path / "one.png"
    Image.fromarray((np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20)).save(tmp_path / "sixteen.png")
    f["16bit"] = tmp_path / "sixteen.png"
    Image.fromarray(photo).convert("CMYK").save(tmp_path / "cmyk.jpg")
    f["cmyk"] = tmp_path / "cmyk.jpg"
    Image.fromarray(photo).convert("P").save(tmp_path / "palette.png")
    f["palette"] = tmp_path / "palette.png"
    Image.fromarray(photo).convert("LA").save(tmp_path / "la.png")
    f["la"] = tmp_path / "la.png"
    Image.fromarray(photo).convert("RGBA").save(tmp_path / "rgba.png")
    f["rgba"] = tmp_path / "rgba.png"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(photo[:, :100]).save(tmp_path / "exif.jpg", exif=exif.tobytes())
    f["exif"] = tmp_path / "exif.jpg"
    return f


def _error(fn, *args, match: str, **kwargs):
    with pytest.raises(gr.Error) as info:
        fn(*args, **kwargs)
    assert any(m in str(info.value.message).lower() for m in match.split("|")), info.value.message
    assert "Traceback" not in str(info.value.message)


# ------------------------------------------------------------------ images in


@pytest.mark.parametrize("kind", ["truncated", "not_image", "corrupt"])
def test_unreadable_files(tiny, files, kind):
    _error(upscale_tab.upscale_image, str(files[kind]), "tiny-sr2", False, 256, match="not a readable image")
    _error(inpaint_tab.inpaint_files, str(files[kind]), str(files["good"]), "telea", match="not a readable image")


def test_no_image(tiny):
    _error(upscale_tab.upscale_image, None, "tiny-sr2", False, 256, match="upload an image")
    _error(inpaint_tab.inpaint_files, None, None, "telea", match="give both an image and a mask")
    _error(inpaint_tab.inpaint_editor, None, "telea", "crop", 0, 0, match="upload an image")
    _error(
        inpaint_tab.inpaint_editor,
        {"background": None, "layers": [], "composite": None},
        "telea",
        "crop",
        0,
        0,
        match="upload an image",
    )


@pytest.mark.parametrize(
    "kind,shape",
    [
        ("1x1", (2, 2, 3)),
        ("16bit", (96, 128)),
        ("cmyk", (256, 256, 3)),
        ("palette", (256, 256, 3)),
        ("la", (256, 256, 2)),
        ("rgba", (256, 256, 4)),
        ("exif", (200, 256, 3)),
    ],
)
def test_odd_modes_work(tiny, files, kind, shape):
    (slider, out, report) = upscale_tab.upscale_image(str(files[kind]), "tiny-sr2", False, 256)
    assert np.asarray(out).shape == shape  # gray stays gray, alpha kept, EXIF rotation applied (128x200 -> 200x128, x2)


def test_exif_rotation_applied(files):
    assert read_image(files["exif"]).shape == (100, 128, 3)  # stored 128 x 100, displayed rotated


def test_huge_image_rejected_without_decoding(tiny, tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    Image.new("L", (10_000, 10_000)).save(big, optimize=False)
    _error(upscale_tab.upscale_image, str(big), "tiny-sr2", False, 256, match="the limit is")
    with pytest.raises(ValueError, match="10000x10000; the limit is"):
        read_image(big)
    monkeypatch.setenv("GENSTUDIO_MAX_PIXELS", "100")
    with pytest.raises(ValueError, match="limit is 100 pixels"):
        read_image(np.zeros((20, 20, 3), np.uint8))


# ------------------------------------------------------------------ masks


def test_masks(tiny, files, tmp_path, photo):
    other = np.zeros((10, 17), np.uint8)
    other[3:6, 4:9] = 255
    Image.fromarray(other).save(tmp_path / "m.png")
    img, mask, note = inpaint_tab.inpaint_files(str(files["good"]), str(tmp_path / "m.png"), "telea")
    assert np.asarray(mask).shape == photo.shape[:2] and "changed" in note  # resized to the image
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "empty.png")
    img, mask, note = inpaint_tab.inpaint_files(str(files["good"]), str(tmp_path / "empty.png"), "telea")
    assert "empty" in note and np.array_equal(np.asarray(img), photo)
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "full.png")
    _error(inpaint_tab.inpaint_files, str(files["good"]), str(tmp_path / "full.png"), "telea", match="whole image")


# ------------------------------------------------------------------ numbers, names, labels


@pytest.mark.parametrize("seed", [-1, 2**32, 2**40, 1.5, None])
def test_bad_seeds(tiny, seed):
    _error(
        sample_tab.sample, "tiny-gan", seed, 4, None, None, 0, 1, "white", 2, False, match="seed must be a whole number"
    )
    _error(
        conditional_tab.conditional,
        "tiny-cgan",
        "Bag",
        seed=seed,
        n=4,
        truncation=0,
        display_scale=2,
        match="seed must be a whole number",
    )


@pytest.mark.parametrize(
    "name,match",
    [
        ("no-such", "unknown model"),
        ("../../etc/passwd", "invalid model name"),
        (None, "choose a model"),
        ("tiny-sr2", "this tab needs"),
    ],
)
def test_bad_model_names_and_wrong_task(tiny, name, match):
    _error(sample_tab.sample, name, 0, 4, None, None, 0, 1, "white", 2, False, match=match)


def test_wrong_task_per_tab(tiny, photo):
    _error(upscale_tab.upscale_image, photo, "tiny-gan", False, 256, match="this tab needs")
    _error(inpaint_tab.inpaint_files, photo, photo, "tiny-sr2", match="this tab needs")
    _error(
        walk_tab.latent_walk,
        "tiny-inpaint",
        "1,2",
        "",
        "",
        4,
        10,
        "spherical",
        True,
        1,
        1,
        64,
        "nearest",
        0,
        "white",
        progress=NOOP,
        match="this tab needs",
    )
    _error(
        conditional_tab.conditional,
        "tiny-gan",
        "Bag",
        None,
        "one class",
        None,
        None,
        0.5,
        0,
        4,
        0,
        "white",
        2,
        False,
        match="this tab needs",
    )


@pytest.mark.parametrize("label,match", [(10, "out of range"), (-1, "out of range"), ("Sneakers", "unknown label")])
def test_bad_labels(tiny, label, match):
    _error(sample_tab.sample, "tiny-cgan", 0, 4, label, None, 0, 1, "white", 2, False, match=match)


@pytest.mark.parametrize("count", [0, -3, 10_000, 2.5])
def test_bad_counts(tiny, count):
    _error(sample_tab.sample, "tiny-gan", 0, count, None, None, 0, 1, "white", 2, False, match="number of images")


@pytest.mark.parametrize(
    "args,match",
    [
        (dict(frames=0), "frames per transition"),
        (dict(frames=100_000), "frames per transition|limit"),
        (dict(fps=0), "fps"),
        (dict(fps=1000), "fps"),
        (dict(cols=9), "grid columns"),
        (dict(rows=0), "grid rows"),
        (dict(size=5), "display size"),
        (dict(size=100_000), "display size"),
        (dict(seeds="x"), "bad seed"),
        (dict(seeds="-4"), "bad seed"),
        (dict(seeds="99999999999"), "seed must be"),
        (dict(seeds=""), "at least one seed"),
    ],
)
def test_bad_walk_settings(tiny, args, match):
    v = dict(seeds="1,2", frames=4, fps=10, cols=1, rows=1, size=64)
    v.update(args)
    _error(
        walk_tab.latent_walk,
        "tiny-gan",
        seeds=v["seeds"],
        frames_per_transition=v["frames"],
        fps=v["fps"],
        grid_cols=v["cols"],
        grid_rows=v["rows"],
        size=v["size"],
        resize="nearest",
        truncation=0,
        progress=NOOP,
        match=match,
    )


def test_walk_frame_limit_from_env(tiny, monkeypatch):
    monkeypatch.setenv("GENSTUDIO_MAX_FRAMES", "10")
    _error(
        walk_tab.latent_walk,
        "tiny-gan",
        seeds="1,2,3",
        frames_per_transition=8,
        fps=10,
        size=64,
        resize="nearest",
        truncation=0,
        progress=NOOP,
        match="limit is 10",
    )


def test_bad_recipe_files(tmp_path, files):
    _error(recipe_tab.read_recipe, None, match="drop a png")
    _error(recipe_tab.read_recipe, str(files["good"]), match="no genstudio recipe")
    _error(recipe_tab.read_recipe, str(files["not_image"]), match="not an image")


# ------------------------------------------------------------------ property-based


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    channels=st.sampled_from([None, 1, 2, 3, 4]),
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, bool, np.int32]),
    seed=st.integers(0, 2**16),
)
def test_tasks_take_any_shape_dtype_and_mode(tiny, h, w, channels, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    if dtype is bool:
        image = rng.random(shape) > 0.5
    elif np.issubdtype(dtype, np.floating):
        image = rng.random(shape).astype(dtype)
    else:
        image = rng.integers(0, np.iinfo(dtype).max if dtype != np.int32 else 70000, shape).astype(dtype)
    out = upscale.upscale_array(image, tiny("tiny-sr2"))
    assert out.shape[:2] == (2 * h, 2 * w) and out.dtype == np.uint8
    mask = rng.random((max(1, h // 2), max(1, w // 3))) > 0.7
    try:
        result = inpaint.inpaint(image, mask, tiny("tiny-inpaint"))
    except ValueError as exc:  # only the documented refusal: a mask over everything
        assert "whole image" in str(exc)
    else:
        assert result.image.shape[:2] == (h, w) and result.image.dtype == np.uint8


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.text(max_size=5)), n=st.integers(-5, 300)
)
def test_sample_accepts_or_refuses_clearly(tiny, seed, n):
    try:
        out = generate.sample(tiny("tiny-gan"), n, seed)
    except ValueError as exc:
        assert "seed" in str(exc) or "number of images" in str(exc)
    else:
        assert out.shape == (n, 28, 28, 1)


def test_an_empty_seed_says_so(tiny):
    _error(sample_tab.sample, "tiny-gan", None, 4, match="the seed box is empty")  # not "got None"
