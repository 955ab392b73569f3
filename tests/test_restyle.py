"""Restyle: pictures and named emoji redrawn in a style, the baselines beside it, and every bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from genstudio.cli import main
from genstudio.errors import UserError
from genstudio.tasks import restyle
from genstudio.tasks.io import read_recipe


def _emoji(size: int = 40, colour=(250, 200, 40)) -> np.ndarray:
    """A round straight-RGBA 'emoji' on transparency."""
    yy, xx = np.mgrid[:size, :size]
    inside = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 2.5) ** 2
    image = np.zeros((size, size, 4), np.uint8)
    image[inside] = (*colour, 255)
    return image


def test_restyle_is_deterministic_keeps_alpha_and_differs_by_style(tiny):
    model = tiny("tiny-restyle")
    picture = _emoji()
    first = restyle.restyle(model, images=[picture], style="noto")
    assert first.shape == (1, 64, 64, 4) and first.dtype == np.uint8
    assert np.array_equal(first, restyle.restyle(model, images=[picture], style="noto"))
    assert not np.array_equal(first, restyle.restyle(model, images=[picture], style="fluent"))
    assert first[..., 3].min() < first[..., 3].max()  # an alpha channel that varies, not a flat one


def test_named_emoji_restyle_from_the_stored_codes(tiny):
    model = tiny("tiny-restyle")
    out = restyle.restyle(model, names=["Cat Face", "pizza"], style=1)  # any case; a unique part of a name
    assert out.shape == (2, 64, 64, 4)
    assert restyle.find_name(model, "cat_face") == 0


def test_an_opaque_drawing_on_white_gets_a_transparent_background():
    drawing = np.full((50, 80, 3), 255, np.uint8)
    drawing[10:40, 20:60] = (200, 30, 30)
    fitted = restyle.fit(drawing)
    assert fitted.shape == (64, 64, 4)
    assert fitted[0, 0, 3] == 0 and fitted[32, 32, 3] == 255  # the white around it is background
    visible = np.nonzero(fitted[..., 3] > 128)[1]
    assert visible.max() - visible.min() + 1 == pytest.approx(restyle.CONTENT_SIDE, abs=1)  # fitted, aspect kept


@pytest.mark.parametrize(
    "picture,message",
    [
        (np.zeros((1, 1, 4), np.uint8), "too small"),
        (np.zeros((0, 5, 3), np.uint8), "too small"),
        (np.zeros((8, 8, 4), np.uint8), "fully transparent"),
        (np.zeros((8, 8, 2), np.uint8), "not an image"),
        (np.zeros((8, 8, 3), np.float32), "not an image"),
    ],
)
def test_bad_pictures_are_refused_with_one_clear_line(tiny, picture, message):
    with pytest.raises(UserError, match=message):
        restyle.restyle(tiny("tiny-restyle"), images=[picture])


def test_a_picture_past_the_pixel_limit_is_refused(tiny, monkeypatch):
    monkeypatch.setenv("GENSTUDIO_MAX_PIXELS", "100")
    with pytest.raises(UserError, match="limit"):
        restyle.restyle(tiny("tiny-restyle"), images=[_emoji(20)])


def test_unknown_style_and_name_are_refused_with_the_nearest_names(tiny):
    model = tiny("tiny-restyle")
    with pytest.raises(UserError, match="unknown style 'apple'"):
        restyle.restyle(model, images=[_emoji()], style="apple")
    with pytest.raises(UserError, match="nearest: cat face"):
        restyle.restyle(model, names=["cat fase"])
    with pytest.raises(UserError, match="restyle model"):
        restyle.restyle(tiny("tiny-gan"), images=[_emoji()])


def test_baselines_keep_the_shape_and_the_lookup_returns_a_candidate():
    pictures = np.stack([_emoji(64), _emoji(64, (40, 90, 220))])
    candidates = np.stack([_emoji(64, (40, 90, 220)), _emoji(64, (250, 200, 40))])
    assert np.array_equal(restyle.lookup(pictures, candidates), candidates[[1, 0]])
    moved = restyle.colour_transfer(pictures[0], restyle.colour_stats(candidates[:1]))
    assert moved.shape == (64, 64, 4) and moved[32, 32, 2] > moved[32, 32, 0]  # yellow moved towards the blue's colours


def test_cli_restyles_a_folder_keeping_names_every_style(tiny, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(_emoji()).save(folder / "sun.png")
    Image.fromarray(_emoji(30, (30, 200, 60))[..., :3]).save(folder / "leaf.png")
    assert (
        main(
            [
                "restyle",
                "--model",
                "tiny-restyle",
                "--input",
                str(folder),
                "--style",
                "all",
                "--output",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"{stem}-{s}.png" for stem in ("leaf", "sun") for s in ("fluent", "noto", "twemoji")]
    recipe = read_recipe(tmp_path / "out" / "sun-twemoji.png")
    assert recipe["task"] == "restyle" and recipe["style"] == "twemoji" and recipe["input"] == "sun.png"
    assert Image.open(tmp_path / "out" / "sun-twemoji.png").mode == "RGBA"


def test_cli_restyles_a_named_emoji(tiny, tmp_path):
    assert (
        main(
            [
                "restyle",
                "--model",
                "tiny-restyle",
                "--emoji",
                "cat face",
                "--style",
                "fluent",
                "--output",
                str(tmp_path / "cat.png"),
            ]
        )
        == 0
    )
    assert read_recipe(tmp_path / "cat.png")["emoji"] == "cat face"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--emoji", "banana split"], "no emoji named"),
        (["--input", "missing.png"], "does not exist"),
        (["--input", "notes.txt"], "not an image"),
        (["--emoji", "cat face", "--style", "apple"], "unknown style"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2_with_nothing_written(tiny, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not a picture")
    assert main(["restyle", "--model", "tiny-restyle", *args, "--output", str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "out.png").exists()


def test_restyle_tab_shows_the_input_in_every_style_with_the_baselines_and_its_recipe(tiny):
    from genstudio.ui.tabs.restyle import ALL_STYLES
    from genstudio.ui.tabs.restyle import restyle as restyle_tab

    sheet, single, note = restyle_tab("tiny-restyle", _emoji(), None, ALL_STYLES, True, "white")
    recipe = read_recipe(sheet)
    assert recipe["task"] == "restyle" and recipe["input"] == "uploaded picture" and recipe["baselines"] is True
    assert np.asarray(single).shape == (64, 64, 4)  # the first result alone keeps its alpha
    # rows: the picture, its colour transfer, its lookup; columns: input + 3 styles (128-px cells, a 170-px name margin)
    assert np.asarray(sheet).shape[0] == 56 + 3 * (64 + 4) * 2 + 8 and note == ""
    named, _, note = restyle_tab("tiny-restyle", None, "cat face, pizza", "fluent", True, "transparent")
    assert read_recipe(named)["emoji"] == "cat face, pizza" and "baselines redraw a picture" in note
    assert np.asarray(named).shape[2] == 4  # transparent background: an RGBA sheet


def test_restyle_tab_bad_input_is_a_clear_error(tiny):
    import gradio as gr

    from genstudio.ui.tabs.restyle import ALL_STYLES
    from genstudio.ui.tabs.restyle import restyle as restyle_tab

    for picture, name, message in (
        (None, None, "upload a picture"),
        (None, "banana split", "no emoji named"),
        (np.zeros((1, 1, 4), np.uint8), None, "too small"),
    ):
        with pytest.raises(gr.Error, match=message):
            restyle_tab("tiny-restyle", picture, name, ALL_STYLES, False, "white")


def test_a_grid_sent_to_restyle_arrives_as_its_emoji(tiny):
    from genstudio.tasks import generate
    from genstudio.tasks.images import grid
    from genstudio.ui.app import send_to_restyle

    emoji = generate.sample(tiny("tiny-emoji"), 5, seed=3)
    sent, shown, name, _ = send_to_restyle(grid(emoji, fill=0), "tiny-emoji")
    assert len(sent) == 5 and all(np.array_equal(a, b) for a, b in zip(sent, emoji)) and name is None
