"""Per-task timings and quality figures for every registered model, as one table.

    .venv/bin/python bench/run.py            # prints the table and writes bench/results.md
    .venv/bin/python bench/run.py emoji-gan  # only these models: prints their rows, writes nothing
    ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2 \
        .venv/bin/python bench/run.py inpaint-photo   # as on a CPU without AVX-512 (nor bf16)

Speed goals (issues) are checked here, not in timed tests: 64-image grid <= 100 ms of
model time; x4 of 256x256 <= 0.5 s; 512x512 inpaint with a 20% mask <= 0.5 s; a
240-frame 256x256 walk rendered and encoded <= 5 s. Timings are medians of repeats
after a warm-up, on whatever machine runs this (the README says which).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def timed(fn, repeats: int = 5) -> float:
    fn()  # warm-up: first calls pay for allocation and kernel selection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_mb(code: str) -> tuple[float, float]:
    """Run `code` in a fresh process; returns (seconds it reports, its peak resident MB)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=600)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    seconds, peak_kb = out.stdout.split()[-2:]
    return float(seconds), int(peak_kb) / 1024


def restyle_rows(model) -> list[tuple[str, str, str, str]]:
    """64 pictures restyled (model time), the Restyle tab end to end, a 240-frame morph."""
    import torch

    from genstudio.data import premultiply
    from genstudio.devices import autocast
    from genstudio.tasks import restyle, walk
    from genstudio.ui.tabs import restyle as restyle_tab

    names = model.card["names"][200:264]
    pictures = restyle.restyle(model, names=names, style="noto")  # 64 emoji to restyle
    x = torch.from_numpy(premultiply(np.stack([restyle.fit(p) for p in pictures]))).permute(0, 3, 1, 2)
    x = x.contiguous(memory_format=torch.channels_last)
    weights = torch.nn.functional.one_hot(torch.full((64,), 2), 3).float()

    def model_time():
        with torch.no_grad(), autocast(model.device, cpu_bfloat16=True):
            model.net(x, weights)

    rows = [(model.name, "64 pictures restyled, model time", f"{timed(model_time) * 1000:.1f} ms", "<= 150 ms")]
    tab = timed(lambda: restyle_tab.restyle(model.name, pictures[0], None, restyle_tab.ALL_STYLES, False, "white"))
    rows.append((model.name, "Restyle tab, one picture in three styles, end to end", f"{tab:.2f} s", "<= 1 s"))
    started = time.perf_counter()
    frames = walk.morph_frames(model, names[:10], 24, styles=["fluent"], display_size=256)
    with tempfile.TemporaryDirectory() as tmp:
        walk.encode_video(frames, Path(tmp) / "m.mp4", 24)
    morph = time.perf_counter() - started
    rows.append(
        (model.name, f"morph of 10 emoji, {len(frames)} frames @256, rendered and encoded", f"{morph:.2f} s", "<= 5 s")
    )
    metrics = model.card.get("metrics", {})
    rows += [(model.name, k, str(v), "") for k, v in metrics.items() if "gain over lookup" in k]
    return rows


def main() -> None:
    import torch

    from genstudio import registry
    from genstudio.devices import has_fast_bfloat16
    from genstudio.masks import random_mask
    from genstudio.tasks import generate, inpaint, upscale, walk
    from genstudio.ui.tabs import sample as sample_tab

    only = sys.argv[1:]
    unknown = set(only) - {info.name for info in registry.list_models()}
    if unknown:
        sys.exit(f"no such model: {', '.join(sorted(unknown))}")
    rows: list[tuple[str, str, str, str]] = []  # model, measure, value, goal
    sys.path.insert(0, str(REPO / "tests"))
    from app_server import AppServer

    if not only:
        with AppServer() as server:
            rows.append(
                (
                    "app",
                    "cold start: process start to serving (no model loaded)",
                    f"{server.startup_seconds:.1f} s",
                    "<= 10 s",
                )
            )
    rng = np.random.default_rng(0)
    for info in [i for i in registry.list_models() if not only or i.name in only]:
        model = registry.load(info.name)
        m = info.card.get("metrics", {})
        if info.task in ("sample", "conditional"):
            label = model.labels[0] if model.labels else None
            z = generate.latents(list(range(64)), model.net.latent_dim)
            weights = generate.label_weights(model, [0] * 64) if label is not None else None
            styles = generate.one_hot_weights(len(model.styles), [0] * 64) if model.styles else None
            grid_ms = timed(lambda: generate.render(model, z, weights, styles)) * 1000
            rows.append(
                (
                    info.name,
                    "64-image grid, model time",
                    f"{grid_ms:.1f} ms",
                    "<= 150 ms" if model.styles else "<= 100 ms",
                )
            )
            e2e = timed(lambda: sample_tab.sample(info.name, 0, 64, label, None, 0, 1, "white", 6, False))
            rows.append(
                (info.name, "64-image grid, Sample tab function end to end (x6 display)", f"{e2e * 1000:.1f} ms", "")
            )
            for key in (
                "class_accuracy",
                "real_test_accuracy",
                "category_accuracy",
                "style_accuracy",
                "fd_classifier_features",
                "real_fd_train_vs_test",
                "fd_real_floor",
                "fd_ratio_to_floor",
                "copy_rate",
                "class_coverage_entropy",
                "test_recon_bce_per_image",
            ):
                if key in m:
                    rows.append((info.name, key, str(m[key]), ""))
            seeds = list(range(1, 9))
            t0 = time.perf_counter()
            zs = generate.latents(seeds, model.net.latent_dim)
            path = walk._path(zs, 30, True, walk.slerp)
            w = generate.label_weights(model, [0] * len(path)) if label is not None else None
            generate.render(
                model, path, w, generate.one_hot_weights(len(model.styles), [0] * len(path)) if model.styles else None
            )
            t_model = time.perf_counter() - t0
            t0 = time.perf_counter()
            frames = walk.walk_frames(model, seeds, 30, labels=[label] if label else None, display_size=256)
            t_frames = time.perf_counter() - t0
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                walk.encode_video(frames, Path(tmp) / "w.mp4", 30)
                t_encode = time.perf_counter() - t0
            # resize = frames minus a separate model-only run: timing noise could make it negative
            rows.append(
                (
                    info.name,
                    "walk 8x30 frames @256: model / resize / encode / total",
                    f"{t_model:.2f} / {max(t_frames - t_model, 0):.2f} / {t_encode:.2f} / {t_frames + t_encode:.2f} s",
                    "total <= 3 s" if model.styles else "total <= 5 s",
                )
            )
        elif info.task == "restyle":
            rows += restyle_rows(model)
        elif info.task == "upscale":
            scale = info.card["scale"]
            img = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
            goal = "<= 0.5 s (also on AVX2)" if scale == 4 else ""
            rows.append(
                (
                    info.name,
                    f"x{scale} of 256x256",
                    f"{timed(lambda: upscale.upscale_array(img, model), 3):.3f} s",
                    goal,
                )
            )
            code = (
                "import time, resource, numpy as np; from genstudio import registry; "
                "from genstudio.tasks.upscale import upscale_array;"
                f"m = registry.load('{info.name}'); "
                "img = np.random.default_rng(0).integers(0, 255, (2048, 2048, 3), dtype=np.uint8);"
                "t = time.perf_counter(); upscale_array(img, m, tile=256); "
                "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
            )
            seconds, peak = peak_rss_mb(code)
            rows.append(
                (
                    info.name,
                    f"x{scale} of 2048x2048, 256-px tiles: time, peak RSS",
                    f"{seconds:.1f} s, {peak:.0f} MB",
                    "works",
                )
            )
            for key in (
                "unseen_psnr_y_model",
                "unseen_psnr_y_bicubic",
                "set5_psnr_y_model",
                "set5_ssim_y_model",
                "set5_psnr_y_bicubic",
                "set5_psnr_y_lanczos",
            ):
                if key in m:
                    rows.append((info.name, key, str(m[key]), ""))
        elif info.task == "inpaint":
            img = np.asarray(
                __import__("PIL.Image").Image.open(REPO / "assets" / "photos" / "astronaut.png").convert("RGB")
            )
            mask = random_mask(512, 512, np.random.default_rng(3), (0.19, 0.21))
            goal = "" if info.card.get("image_size") else "<= 0.5 s"  # the aim is for photo models, not 28-px ones
            rows.append(
                (
                    info.name,
                    f"512x512, {mask.mean():.0%} mask",
                    f"{timed(lambda: inpaint.inpaint(img, mask, model), 3):.3f} s",
                    goal,
                )
            )
            if not info.card.get("image_size"):
                best = lambda: inpaint.inpaint(img, mask, model, flips=4)
                rows.append(
                    (
                        info.name,
                        f"512x512, {mask.mean():.0%} mask, best quality (4 mirrored passes)",
                        f"{timed(best, 3):.3f} s",
                        "",
                    )
                )
                extend = lambda: inpaint.outpaint(img, (64, 64, 64, 64), model)
                rows.append((info.name, "outpaint 512x512 by 64 px on every side", f"{timed(extend, 3):.3f} s", ""))
            for key in [k for k in m if "psnr" in k and "20-40%" in k or "gain" in k or "outpaint" in k]:
                rows.append((info.name, key, str(m[key]), ""))
        elif info.task == "classify":
            rows.append((info.name, "test accuracy", str(m.get("test_accuracy", "not evaluated")), ""))
    for method in inpaint.BASELINES:
        img = np.asarray(
            __import__("PIL.Image").Image.open(REPO / "assets" / "photos" / "astronaut.png").convert("RGB")
        )
        mask = random_mask(512, 512, np.random.default_rng(3), (0.19, 0.21))
        rows.append(
            (
                method,
                f"512x512, {mask.mean():.0%} mask",
                f"{timed(lambda: inpaint.inpaint(img, mask, method), 3):.3f} s",
                "",
            )
        )

    device = registry.load(registry.list_models()[0].name).device
    limits = {
        "oneDNN": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "MKL": os.environ.get("MKL_ENABLE_INSTRUCTIONS"),
        "ATen": os.environ.get("ATEN_CPU_CAPABILITY"),
    }
    isa = ", ".join(f"{lib} {level}" for lib, level in limits.items() if level)
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device {device}, "
        f"native bfloat16: {'yes' if has_fast_bfloat16(device) else 'no'}"
        + (f", limited to {isa}" if isa else "")
        + ".\n\n"
    )
    table = "| model | measure | value | goal |\n|---|---|---|---|\n" + "\n".join(
        f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows
    )
    print(header + table)
    if only:
        return
    (REPO / "bench" / "results.md").write_text(
        "# Benchmarks\n\n`.venv/bin/python bench/run.py`\n\n" + header + table + "\n"
    )


if __name__ == "__main__":
    main()
