"""The app as a running server: gradio_client calls (exactly as the README shows them),
start-up laziness, cancellation, and the load test."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app_server import AppServer

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


def test_starts_fast_without_loading_models(server):
    # no model is loaded before the first request: start-up stays a matter of seconds
    assert server.startup_seconds < 60  # generous on a loaded CI machine; bench/ reports the real figure
    out = server.proc  # the process is alive and serving
    assert out.poll() is None and server.alive()


def test_readme_api_calls(client, tmp_path):
    from gradio_client import handle_file

    from genstudio.tasks.io import read_recipe

    grid, seeds = client.predict("gan-fmnist", 42, 16, None, None, 0.8, 1.0, "white", 4, False, api_name="/sample")
    assert read_recipe(grid)["seed"] == 42 and seeds == "42-57"
    grid = client.predict("cgan-fmnist", "Sneaker", None, "one class", None, None, 0.5, 7, 8, 0, "white", 4, False, api_name="/conditional")
    assert read_recipe(grid)["label"] == "Sneaker"
    photo = str(REPO / "assets" / "photos" / "coffee.png")
    (before, after), upscaled, report = client.predict(handle_file(photo), "sr-x2", False, 256, api_name="/upscale")
    assert Image.open(upscaled).size == (1200, 800) and "-> 1200x800" in report
    mask = np.zeros((400, 600), np.uint8)
    mask[150:250, 250:350] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    filled, used_mask, note = client.predict(handle_file(photo), handle_file(str(tmp_path / "mask.png")), "inpaint-photo",
                                             "crop", 0, 0, api_name="/inpaint")
    src, out = np.asarray(Image.open(photo).convert("RGB")), np.asarray(Image.open(filled).convert("RGB"))
    assert np.array_equal(out[mask == 0], src[mask == 0])
    best, _, _ = client.predict(handle_file(photo), handle_file(str(tmp_path / "mask.png")), "inpaint-photo", "crop", 0, 0,
                                False, True, api_name="/inpaint")  # best quality: four mirrored passes
    assert read_recipe(best)["flips"] == 4 and np.array_equal(np.asarray(Image.open(best).convert("RGB"))[mask == 0], src[mask == 0])
    wider, border, note = client.predict(handle_file(photo), "inpaint-photo", 64, 0, 64, 0, api_name="/outpaint")
    out = np.asarray(Image.open(wider).convert("RGB"))
    assert out.shape == (400, 728, 3) and np.array_equal(out[:, 64:664], src) and "728x400" in note
    video, recipe = client.predict("gan-fmnist", "1,5,9-12", "", "", 6, 12, "spherical", True, 1, 1, 128, "nearest", 0, "white", api_name="/walk")
    assert video.endswith(".mp4") and json.loads(Path(recipe).read_text())["frames_per_transition"] == 6
    assert client.predict("sr-x2", api_name="/model_card").startswith("### sr-x2")
    restored = client.predict(handle_file(grid), api_name="/recipe")
    assert restored["model"] == "cgan-fmnist" and restored["task"] == "conditional"


def test_conditional_models_need_no_labels(client):
    """No class: the conditional grid shows one row per class, and a walk tours every class."""
    from genstudio.tasks.io import read_recipe

    grid = client.predict("cgan-fmnist", None, None, "one class", None, None, 0.5, 3, 4, 0, "white", 1, False,
                          api_name="/conditional")
    assert read_recipe(grid)["mode"] == "all classes"
    assert Image.open(grid).height == 10 * (28 + 2) + 2  # ten rows of 28-px images
    video, recipe = client.predict("cgan-fmnist", "1,2", "", "", 2, 8, "spherical", True, 1, 1, 64, "nearest", 0, "white",
                                   api_name="/walk")
    assert video.endswith(".mp4") and json.loads(Path(recipe).read_text()).get("labels") is None


def test_errors_reach_the_client_as_messages(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    (tmp_path / "notes.png").write_text("this is not an image")
    with pytest.raises(AppError, match="not an image we can read"):  # not Gradio's "Could not preprocess input"
        client.predict(handle_file(str(tmp_path / "notes.png")), "sr-x2", False, 256, api_name="/upscale")

    with pytest.raises(AppError, match="out of range|unknown label"):
        client.predict("cgan-fmnist", "Robot", None, "one class", None, None, 0.5, 7, 8, 0, "white", 4, False, api_name="/conditional")
    photo = handle_file(str(REPO / "assets" / "photos" / "coffee.png"))
    with pytest.raises(AppError, match="less than minimum value 0"):  # Gradio checks the Number first
        client.predict(photo, "telea", -8, 0, 0, 0, api_name="/outpaint")
    with pytest.raises(AppError, match="at most 4x"):
        client.predict(photo, "telea", 0, 0, 4000, 0, api_name="/outpaint")
    with pytest.raises(AppError, match="limit"):
        client.predict("gan-fmnist", "1-60", "", "", 120, 12, "spherical", True, 1, 1, 128, "nearest", 0, "white", api_name="/walk")


def test_cancelled_and_abandoned_requests_leave_the_server_healthy(server):
    from gradio_client import Client

    for _ in range(2):
        client = Client(server.url, verbose=False)
        job = client.submit("gan-fmnist", "0-20", "", "", 30, 30, "spherical", True, 2, 2, 512, "smooth", 0, "white", api_name="/walk")
        time.sleep(1.0)
        job.cancel()
        client.close()  # a client that walks away mid-video
    fresh = Client(server.url, verbose=False)
    grid, seeds = fresh.predict("gan-fmnist", 1, 4, None, None, 0, 1, "white", 2, False, api_name="/sample")
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
