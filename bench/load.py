"""Load test: N concurrent gradio_client users, each making M mixed requests across every
endpoint, against a server on loopback. Bounded in count and time; stops by itself.

    .venv/bin/python bench/load.py [--users 16] [--requests 25]   # writes bench/load.md

Every response is checked for correctness; failures, p50/p95 latency per endpoint and the
server's resident memory after warm-up and after the run are reported.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from app_server import AppServer  # noqa: E402


def make_inputs(folder: Path) -> dict[str, str]:
    photo = np.asarray(Image.open(REPO / "assets" / "photos" / "chelsea.png").convert("RGB"))[60:188, 150:278]
    Image.fromarray(photo).save(folder / "photo.png")
    Image.fromarray(photo[:48, :48]).save(folder / "small.png")
    mask = np.zeros((128, 128), np.uint8)
    mask[40:80, 30:90] = 255
    Image.fromarray(mask).save(folder / "mask.png")
    return {"photo": str(folder / "photo.png"), "small": str(folder / "small.png"), "mask": str(folder / "mask.png")}


def actions(files: dict[str, str], models: dict[str, str]):
    """(endpoint, call(client) -> None) pairs; each call checks its own result."""
    from gradio_client import handle_file

    def sample(c):
        img, seeds = c.predict(model=models["sample"], seed=7, n=16, truncation=0, display_scale=2, api_name="/sample")
        assert Image.open(img).size == (2 * 122, 2 * 122) and seeds == "7-22", (img, seeds)

    def conditional(c):
        img = c.predict(
            model=models["conditional"],
            label=models["label"],
            seed=3,
            n=4,
            truncation=0,
            display_scale=2,
            api_name="/conditional",
        )
        assert Image.open(img).size == (2 * 62, 2 * 62)

    def upscale(c):
        slider, out, report = c.predict(image=handle_file(files["small"]), model=models["upscale"], api_name="/upscale")
        s = int(report.split(" with ")[0].split("-> ")[1].split("x")[0]) // 48
        assert Image.open(out).size == (48 * s, 48 * s), report

    def inpaint(c):
        out, mask, note = c.predict(
            image=handle_file(files["photo"]),
            mask=handle_file(files["mask"]),
            model=models["inpaint"],
            api_name="/inpaint",
        )
        got, src = np.asarray(Image.open(out).convert("RGB")), np.asarray(Image.open(files["photo"]))
        m = np.asarray(Image.open(files["mask"])) > 0
        assert np.array_equal(got[~m], src[~m]) and "changed" in note

    def walk(c):
        video, recipe = c.predict(
            model=models["sample"],
            seeds="1,2",
            frames_per_transition=4,
            fps=10,
            size=64,
            resize="nearest",
            truncation=0,
            api_name="/walk",
        )
        assert Path(video).stat().st_size > 0 and json.loads(Path(recipe).read_text())["seeds"] == "1,2"

    def card(c):
        assert c.predict(name=models["upscale"], api_name="/model_card").startswith(f"### {models['upscale']}")

    return [
        ("sample", sample),
        ("conditional", conditional),
        ("upscale", upscale),
        ("inpaint", inpaint),
        ("walk", walk),
        ("model_card", card),
    ]


def run_load(
    url: str, files: dict[str, str], models: dict[str, str], users: int, requests: int, time_limit: float = 600
):
    from gradio_client import Client

    plan = actions(files, models)
    latencies: dict[str, list[float]] = {name: [] for name, _ in plan}
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.time() + time_limit

    def user(u: int):
        client = Client(url, verbose=False)
        for r in range(requests):
            if time.time() > deadline:
                with lock:
                    failures.append(f"user {u}: time limit reached before request {r}")
                return
            name, call = plan[(u + r) % len(plan)]
            start = time.perf_counter()
            try:
                call(client)
            except Exception as exc:  # every failure is recorded, none is retried
                with lock:
                    failures.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
                continue
            with lock:
                latencies[name].append(time.perf_counter() - start)

    with ThreadPoolExecutor(users) as pool:
        list(pool.map(user, range(users)))
    return latencies, failures


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--requests", type=int, default=25)
    args = parser.parse_args(argv)
    import tempfile

    from genstudio import registry

    models = default_models(registry)
    with tempfile.TemporaryDirectory() as tmp, AppServer() as server:
        files = make_inputs(Path(tmp))
        # warm-up at full concurrency: every model loaded, every worker thread and buffer allocated
        run_load(server.url, files, models, users=args.users, requests=len(actions(files, models)))
        rss_warm = server.rss_mb()
        started = time.time()
        latencies, failures = run_load(server.url, files, models, args.users, args.requests)
        wall = time.time() - started
        rss_after = server.rss_mb()
        alive = server.alive()
    total = sum(len(v) for v in latencies.values()) + len(failures)
    lines = [
        f"# Load test\n\n`.venv/bin/python bench/load.py --users {args.users} --requests {args.requests}` "
        f"({time.strftime('%Y-%m-%d')}, 2-core CPU, loopback)\n",
        f"- requests: {total} in {wall:.1f} s; failures: {len(failures)}; server alive after: {alive}",
        f"- resident memory: {rss_warm:.0f} MB after warm-up, {rss_after:.0f} MB after the run "
        f"({(rss_after / rss_warm - 1) * 100:+.1f}%)\n",
        "| endpoint | requests | p50 (s) | p95 (s) |",
        "|---|---|---|---|",
    ]
    for name, values in latencies.items():
        lines.append(f"| {name} | {len(values)} | {percentile(values, 50):.2f} | {percentile(values, 95):.2f} |")
    if failures:
        lines += ["", "Failures:", *[f"- {f}" for f in failures[:20]]]
    report = "\n".join(lines) + "\n"
    print(report)
    (REPO / "bench" / "load.md").write_text(report)
    return 1 if failures else 0


def default_models(registry) -> dict[str, str]:
    """The first model of each task (the shipped ones by name where present)."""

    def pick(task, prefer):
        names = [m.name for m in registry.list_models(task)]
        return prefer if prefer in names else names[0]

    cond = pick("conditional", "cgan-fmnist")
    return {
        "sample": pick("sample", "gan-fmnist"),
        "conditional": cond,
        "label": registry.inspect(cond).labels[0],
        "upscale": pick("upscale", "sr-x2"),
        "inpaint": pick("inpaint", "inpaint-photo"),
    }


if __name__ == "__main__":
    sys.exit(main())
