"""The app as a running server: gradio_client calls (exactly as the README shows them),
start-up laziness, cancellation, and the load test."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from app_server import AppServer
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))


@pytest.fixture(scope="module")
def server():
    with AppServer() as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server.url, verbose=False)


def test_the_page_is_built_without_loading_a_model():
    """Building the app loads no model: the page is served at once, and the models load in the
    background for the tabs' openings (bench/run.py times start-up against its 10-s aim)."""
    from genstudio import registry
    from genstudio.ui.app import build_demo

    registry.clear_cache()
    build_demo()
    assert not registry._cache


def test_serves_before_the_openings_are_ready(server):
    import time

    deadline = time.time() + 60
    while "GenStudio is serving at" not in (log := server.output()) and time.time() < deadline:
        time.sleep(0.2)
    assert server.alive() and "GenStudio is serving at" in log
    ready = log.find("opening result is ready")
    assert ready == -1 or log.find("GenStudio is serving at") < ready


def test_readme_api_calls(client, tmp_path):
    from gradio_client import handle_file

    from genstudio.tasks.io import read_recipe

    sheet, emoji, note = client.predict(model="emoji-restyle", emoji="cat face", style="fluent", api_name="/restyle")
    assert read_recipe(sheet)["emoji"] == "cat face" and read_recipe(emoji)["style"] == "fluent"
    assert Image.open(emoji).mode == "RGBA" and Image.open(emoji).size == (64, 64)
    icon = np.zeros((40, 40, 4), np.uint8)
    icon[8:32, 8:32] = (30, 120, 220, 255)
    Image.fromarray(icon).save(tmp_path / "icon.png")
    sheet, emoji, note = client.predict(
        model="emoji-restyle", picture=handle_file(str(tmp_path / "icon.png")), api_name="/restyle"
    )
    assert read_recipe(sheet)["input"] == "uploaded picture" and read_recipe(sheet)["style"] == "all three"
    grid, seeds = client.predict(model="gan-fmnist", seed=42, n=16, truncation=0.8, api_name="/sample")
    assert read_recipe(grid)["seed"] == 42 and seeds == "42-57"
    grid = client.predict(model="cgan-fmnist", label="Sneaker", seed=7, n=8, truncation=0, api_name="/conditional")
    assert read_recipe(grid)["label"] == "Sneaker"
    photo = str(REPO / "assets" / "photos" / "coffee.png")
    (before, after), upscaled, report = client.predict(
        image=handle_file(photo), model="sr-x2", evaluate=False, api_name="/upscale"
    )
    assert Image.open(upscaled).size == (1200, 800) and "-> 1200x800" in report
    mask = np.zeros((400, 600), np.uint8)
    mask[150:250, 250:350] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    filled, used_mask, note = client.predict(
        image=handle_file(photo),
        mask=handle_file(str(tmp_path / "mask.png")),
        model="inpaint-photo",
        api_name="/inpaint",
    )
    src, out = np.asarray(Image.open(photo).convert("RGB")), np.asarray(Image.open(filled).convert("RGB"))
    assert np.array_equal(out[mask == 0], src[mask == 0])
    best, _, _ = client.predict(
        image=handle_file(photo),
        mask=handle_file(str(tmp_path / "mask.png")),
        model="inpaint-photo",
        best=True,
        api_name="/inpaint",
    )  # best quality: four mirrored passes
    assert read_recipe(best)["flips"] == 4 and np.array_equal(
        np.asarray(Image.open(best).convert("RGB"))[mask == 0], src[mask == 0]
    )
    wider, border, note = client.predict(
        image=handle_file(photo), model="inpaint-photo", left=64, right=64, api_name="/outpaint"
    )
    out = np.asarray(Image.open(wider).convert("RGB"))
    assert out.shape == (400, 728, 3) and np.array_equal(out[:, 64:664], src) and "728x400" in note
    video, recipe = client.predict(
        model="gan-fmnist", seeds="1,5,9-12", frames_per_transition=6, fps=12, size=128, truncation=0, api_name="/walk"
    )
    assert video.endswith(".mp4") and json.loads(Path(recipe).read_text())["frames_per_transition"] == 6
    video, recipe = client.predict(
        model="emoji-restyle",
        emoji=["grinning face", "cat face"],
        styles="fluent",
        frames_per_transition=6,
        fps=12,
        size=128,
        api_name="/walk",
    )
    assert json.loads(Path(recipe).read_text())["emoji"] == ["grinning face", "cat face"]
    assert client.predict(name="sr-x2", api_name="/model_card").startswith("### sr-x2")
    restored = client.predict(handle_file(grid), api_name="/recipe")
    assert restored["model"] == "cgan-fmnist" and restored["task"] == "conditional"


def test_conditional_models_need_no_labels(client):
    """No class: the conditional grid shows one row per class, and a walk tours every class."""
    from genstudio.tasks.io import read_recipe

    grid = client.predict(
        model="cgan-fmnist", label=None, seed=3, n=4, truncation=0, display_scale=1, api_name="/conditional"
    )
    assert read_recipe(grid)["mode"] == "all classes"
    assert Image.open(grid).height == 10 * (28 + 2) + 2  # ten rows of 28-px images
    video, recipe = client.predict(
        model="cgan-fmnist", seeds="1,2", frames_per_transition=2, fps=8, size=64, truncation=0, api_name="/walk"
    )
    assert video.endswith(".mp4") and json.loads(Path(recipe).read_text()).get("labels") is None


def test_errors_reach_the_client_as_messages(client, server, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    (tmp_path / "notes.png").write_text("this is not an image")
    with pytest.raises(AppError, match="not an image we can read"):  # not Gradio's "Could not preprocess input"
        client.predict(image=handle_file(str(tmp_path / "notes.png")), model="sr-x2", api_name="/upscale")

    with pytest.raises(AppError, match="out of range|unknown label"):
        client.predict(model="cgan-fmnist", label="Robot", api_name="/conditional")
    photo = handle_file(str(REPO / "assets" / "photos" / "coffee.png"))
    with pytest.raises(
        AppError, match="Left \\(px\\): Value -8 is less than minimum value 0"
    ):  # the Number's own check
        client.predict(image=photo, model="telea", left=-8, api_name="/outpaint")
    with pytest.raises(AppError, match="greater than maximum value"):
        client.predict(model="gan-fmnist", seed=1, n=100000, api_name="/sample")
    with pytest.raises(AppError, match="at most 4x"):
        client.predict(image=photo, model="telea", right=4000, api_name="/outpaint")
    with pytest.raises(AppError, match="limit"):
        client.predict(model="gan-fmnist", seeds="1-60", frames_per_transition=120, fps=12, api_name="/walk")
    assert "Traceback" not in server.output()  # bad input is a message, not a bug in the log


def test_cancelled_and_abandoned_requests_leave_the_server_healthy(server):
    from gradio_client import Client

    for _ in range(2):
        client = Client(server.url, verbose=False)
        job = client.submit(
            model="gan-fmnist",
            seeds="0-20",
            frames_per_transition=30,
            fps=30,
            grid_cols=2,
            grid_rows=2,
            size=384,
            api_name="/walk",
        )
        time.sleep(1.0)
        job.cancel()
        client.close()  # a client that walks away mid-video
    fresh = Client(server.url, verbose=False)
    grid, seeds = fresh.predict(model="gan-fmnist", seed=1, n=4, truncation=0, display_scale=2, api_name="/sample")
    assert Path(grid).exists() and seeds == "1-4" and server.alive()


@pytest.mark.slow
def test_load_16_users_25_requests(tmp_path):
    """16 concurrent users x 25 mixed requests: zero failures, no leak (bench/load.md has the figures)."""
    import load

    from genstudio import registry

    models = load.default_models(registry)
    with AppServer() as server:
        files = load.make_inputs(tmp_path)
        load.run_load(server.url, files, models, users=16, requests=len(load.actions(files, models)))
        rss_warm = server.rss_mb()
        latencies, failures = load.run_load(server.url, files, models, users=16, requests=25, time_limit=900)
        rss_after = server.rss_mb()
        assert failures == []
        assert sum(len(v) for v in latencies.values()) == 16 * 25
        assert rss_after <= rss_warm * 1.15, (rss_warm, rss_after)
        assert server.alive()
