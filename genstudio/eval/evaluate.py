"""`genstudio eval NAME`: measure a model with the project's own metrics and write them into its card."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from genstudio import data, paths, registry
from genstudio.errors import UserError
from genstudio.eval.metrics import (
    class_coverage,
    copy_rate,
    frechet_distance,
    precision_recall,
    psnr,
    sr_scores,
    ssim,
    within_group_spread,
)
from genstudio.masks import BANDS, random_mask
from genstudio.registry import LoadedModel

Progress = Callable[[str], None]


def _classifier_for(dataset: str) -> LoadedModel:
    for info in registry.list_models("classify"):
        if info.card.get("dataset") == dataset:
            return registry.load(info.name)
    raise UserError(f"no classifier trained on {dataset!r}: run `genstudio reproduce <dataset>-classifier` first")


@torch.no_grad()
def _classify(classifier: LoadedModel, images: np.ndarray, styles: bool = False):
    """uint8 (N, H, W[, C]) -> (probabilities (N, K), features (N, F)[, style probabilities (N, S)])."""
    probs, feats, style_probs = [], [], []
    x_all = torch.from_numpy(np.ascontiguousarray(images).reshape(len(images), *images.shape[1:3], -1)).permute(
        0, 3, 1, 2
    )
    for i in range(0, len(x_all), 1000):
        x = x_all[i : i + 1000].float().div(255).to(classifier.device)
        f = classifier.net.features(x)
        probs.append(torch.softmax(classifier.net.head(f), 1).cpu().numpy())
        feats.append(f.cpu().numpy().astype(np.float64))
        if styles:
            style_probs.append(torch.softmax(classifier.net.style_head(f), 1).cpu().numpy())
    out = (np.concatenate(probs), np.concatenate(feats))
    return out + (np.concatenate(style_probs),) if styles else out


def _seeded_latents(model: LoadedModel, n: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """Latents of seeds 0..n-1 with the model's own latent settings (its card's `sampling`),
    as `genstudio sample` draws them by default, and those settings."""
    from genstudio.kinds import kind_of
    from genstudio.tasks.generate import latents

    settings = kind_of(model).latent_settings()
    return latents(list(range(n)), model.net.latent_dim, settings.get("truncation")) * settings.get(
        "temperature", 1.0
    ), settings


def emoji_on_white(split: str = "all", size: int = 32) -> dict[str, np.ndarray]:
    """Real emoji as the judge sees them: area-resized premultiplied RGBA composited on white."""
    emoji = data.load_emoji(split, size)
    x = emoji["images"]
    emoji["rgb"] = np.clip((x[..., :3] + 1 - x[..., 3:]) * 255, 0, 255).round().astype(np.uint8)
    return emoji


def _judged(images: np.ndarray, size: int = 32) -> np.ndarray:
    """Straight RGBA samples -> composited on white and area-resized to `size` (uint8 RGB)."""
    from genstudio.tasks.images import composite

    rgb = torch.from_numpy(composite(images, 255)).permute(0, 3, 1, 2).float()
    if rgb.shape[-1] != size:
        rgb = torch.nn.functional.interpolate(rgb, size=(size, size), mode="area")
    return rgb.permute(0, 2, 3, 1).round().clamp(0, 255).to(torch.uint8).numpy()


@torch.no_grad()
def _reconstructions(model: LoadedModel, in_a: np.ndarray) -> np.ndarray | None:
    """A VAE's reconstructions of half A's real emoji (through a cascade's upscaler) as straight
    RGBA uint8, or None for a model without an encoder. Samples from a perfect prior would look
    like these, so they are the ceiling of what its prior can reach."""
    from genstudio.tasks.images import to_uint8, unpremultiply

    vae = getattr(model.net, "generator", model.net)
    if not hasattr(vae, "reconstruct"):
        return None
    emoji = data.load_emoji(
        "all", int(model.card["image_size"]) // getattr(getattr(model.net, "upscaler", None), "scale", 1)
    )
    x = torch.from_numpy(emoji["images"][in_a]).permute(0, 3, 1, 2)
    labels, styles = (torch.from_numpy(emoji[k][in_a]).long() for k in ("labels", "styles"))
    out = []
    for i in range(0, len(x), 500):
        part = (
            x[i : i + 500].to(model.device),
            labels[i : i + 500].to(model.device),
            styles[i : i + 500].to(model.device),
        )
        low = vae.reconstruct(*part)
        out.append(to_uint8(model.net.upscale(low) if vae is not model.net else low))
    return unpremultiply(np.concatenate(out))


def evaluate_emoji_generator(model: LoadedModel, progress: Progress = print) -> dict[str, Any]:
    """Category and style accuracy of samples, Frechet distance in the emoji classifier's
    features beside its real-data floor (and as a ratio), and the copy rate.

    The real emoji are split in two halves by code point (A, B). Samples are drawn with
    half A's (category, style) pairs, so their mix matches, and compared with half B;
    the floor is half A against half B, and half A shifted by 4 px shows what a small
    misalignment already costs."""
    from genstudio.tasks.generate import label_weights, one_hot_weights, render

    classifier = _classifier_for("emoji")
    real = emoji_on_white("all", 32)
    in_a = data.emoji_halves(real["codes"])
    a_labels, a_styles = real["labels"][in_a], real["styles"][in_a]
    n = int(in_a.sum())
    progress(f"sampling {n} emoji from {model.name} with half A's category/style mix")
    z, settings = _seeded_latents(model, n)
    started = time.time()
    samples = render(model, z, label_weights(model, list(a_labels)), one_hot_weights(len(model.styles), list(a_styles)))
    sample_seconds = time.time() - started
    judged = _judged(samples)
    probs, feats, style_probs = _classify(classifier, judged, styles=True)
    _, feats_a = _classify(classifier, real["rgb"][in_a])
    _, feats_b = _classify(classifier, real["rgb"][~in_a])
    shifted = np.full_like(real["rgb"][in_a], 255)
    shifted[:, 4:, 4:] = real["rgb"][in_a][:, :-4, :-4]
    _, feats_shifted = _classify(classifier, shifted)
    test = emoji_on_white("test", 32)
    test_probs, _, test_style_probs = _classify(classifier, test["rgb"], styles=True)
    fd = frechet_distance(feats, feats_b)
    floor = frechet_distance(feats_a, feats_b)
    precision, recall = precision_recall(feats_b, feats)
    real_precision, real_recall = precision_recall(feats_b, feats_a)  # real vs real: what a perfect model scores
    as_float = lambda images: images.astype(np.float32) / 255
    ceiling = {}
    reconstructed = _reconstructions(model, in_a)
    if reconstructed is not None:
        recon_probs, recon_feats, recon_style_probs = _classify(classifier, _judged(reconstructed), styles=True)
        ceiling = {
            "reconstruction_category_accuracy": round(float((recon_probs.argmax(1) == a_labels).mean()), 4),
            "reconstruction_style_accuracy": round(float((recon_style_probs.argmax(1) == a_styles).mean()), 4),
            "fd_reconstructions": round(frechet_distance(recon_feats, feats_b), 3),
        }
    return {
        "evaluated_on": f"{n} samples (seeds 0-{n - 1}) with the category/style mix of half A of the emoji "
        "(by code point), "
        f"composited on white at 32 px, vs half B ({int((~in_a).sum())}); judge {classifier.name}; "
        "precision/recall: k-NN manifolds, k = 3; variety: mean distance to the category's mean feature",
        "sampled_with": settings,
        "category_accuracy": round(float((probs.argmax(1) == a_labels).mean()), 4),
        "style_accuracy": round(float((style_probs.argmax(1) == a_styles).mean()), 4),
        "fd_classifier_features": round(fd, 3),
        "fd_real_floor": round(floor, 3),
        "fd_ratio_to_floor": round(fd / floor, 2),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "real_precision": round(real_precision, 4),
        "real_recall": round(real_recall, 4),
        "variety": round(within_group_spread(feats, a_labels), 3),
        "real_variety": round(within_group_spread(feats_a, a_labels), 3),
        "fd_real_shifted_4px": round(frechet_distance(feats_shifted, feats_b), 3),
        "copy_rate": round(copy_rate(as_float(judged), as_float(real["rgb"])), 4),
        "copy_rate_real_shifted_4px": round(copy_rate(as_float(shifted), as_float(real["rgb"])), 4),
        "real_test_category_accuracy": round(float((test_probs.argmax(1) == test["labels"]).mean()), 4),
        "real_test_style_accuracy": round(float((test_style_probs.argmax(1) == test["styles"]).mean()), 4),
        "class_coverage_entropy": round(class_coverage(probs), 4),
        "sampling_seconds_per_1000": round(sample_seconds / n * 1000, 3),
        **ceiling,
    }


def _floor_train_images(dataset: str) -> np.ndarray:
    """The 10,000 training images (a fixed draw) whose distance to the test split is the floor."""
    train_images, _, _ = data.load_labelled_images(dataset, "train")
    return train_images[np.random.default_rng(0).choice(len(train_images), 10_000, replace=False)]


def real_data_reference(dataset: str) -> tuple[dict[str, float], np.ndarray]:
    """What real images score with the same classifier (the floors generators are compared
    to), and the test split's features."""
    classifier = _classifier_for(dataset)
    test_images, test_labels, _ = data.load_labelled_images(dataset, "test")
    test_probs, test_feats = _classify(classifier, test_images)
    train_probs, train_feats = _classify(classifier, _floor_train_images(dataset))
    real_precision, real_recall = precision_recall(test_feats, train_feats)
    return {
        "real_test_accuracy": round(float((test_probs.argmax(1) == test_labels).mean()), 4),
        "real_fd_train_vs_test": round(frechet_distance(train_feats, test_feats), 3),
        "real_class_coverage": round(class_coverage(test_probs), 4),
        "real_precision": round(real_precision, 4),
        "real_recall": round(real_recall, 4),
        "real_variety": round(within_group_spread(train_feats, train_probs.argmax(1)), 3),
    }, test_feats


@torch.no_grad()
def evaluate_generator(model: LoadedModel, n: int = 10_000, progress: Progress = print) -> dict[str, Any]:
    from genstudio.tasks.generate import render
    from genstudio.tasks.images import to_uint8

    if model.styles:
        return evaluate_emoji_generator(model, progress)

    dataset = model.card["dataset"]
    classifier = _classifier_for(dataset)
    reference, test_feats = real_data_reference(dataset)
    z, settings = _seeded_latents(model, n)  # seeds 0..n-1: reproducible
    weights, labels = None, None
    if model.task == "conditional":
        k = len(model.labels)
        labels = np.arange(n) % k
        weights = torch.nn.functional.one_hot(torch.from_numpy(labels), k).float()
    progress(f"sampling {n} images from {model.name}")
    started = time.time()
    images = render(model, z, weights)
    sample_seconds = time.time() - started
    probs, feats = _classify(classifier, images)
    precision, recall = precision_recall(test_feats, feats)
    fd = frechet_distance(feats, test_feats)
    metrics = {
        "evaluated_on": f"{n} samples (seeds 0-{n - 1}) vs the {dataset} test split, classifier {classifier.name}; "
        "precision/recall: k-NN manifolds, k = 3 (real: 10,000 train images vs the test split); "
        "variety: mean distance to the (judged) class's mean feature",
        "sampled_with": settings,
        "fd_classifier_features": round(fd, 3),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "variety": round(within_group_spread(feats, probs.argmax(1)), 3),
        "class_coverage_entropy": round(class_coverage(probs), 4),
        **reference,
        "fd_ratio_to_floor": round(fd / reference["real_fd_train_vs_test"], 2),
        "sampling_seconds_per_1000": round(sample_seconds / n * 1000, 3),
    }
    if labels is not None:
        metrics["class_accuracy"] = round(float((probs.argmax(1) == labels).mean()), 4)
    if hasattr(model.net, "encode") and not model.styles:  # a VAE: how well it reconstructs unseen images
        test_images, _, _ = data.load_labelled_images(dataset, "test")
        x = torch.from_numpy(test_images[:, None]).float().div(255)
        bce, mse = 0.0, 0.0
        for i in range(0, len(x), 1000):
            xi = x[i : i + 1000].to(model.device)
            mu, _ = model.net.encode(xi)
            logits = model.net.decode_logits(mu)
            bce += float(torch.nn.functional.binary_cross_entropy_with_logits(logits, xi, reduction="sum"))
            mse += float(((torch.sigmoid(logits) - xi) ** 2).sum())
        metrics["test_recon_bce_per_image"] = round(bce / len(x), 2)
        metrics["test_recon_mse_per_pixel"] = round(mse / x.numel(), 5)
        # The floor's training images through encoder mean and decoder: samples from a perfect
        # prior would look like these, so their distance is the ceiling of any prior.
        train = torch.from_numpy(_floor_train_images(dataset)[:, None]).float().div(255)
        recon = torch.cat(
            [model.net.reconstruct(train[i : i + 1000].to(model.device)) for i in range(0, len(train), 1000)]
        )
        _, recon_feats = _classify(classifier, to_uint8(recon)[..., 0])
        metrics["fd_reconstructions"] = round(frechet_distance(recon_feats, test_feats), 3)
    return metrics


def evaluate_classifier(model: LoadedModel, progress: Progress = print) -> dict[str, Any]:
    if model.styles:
        test = emoji_on_white("test", 32)
        probs, _, style_probs = _classify(model, test["rgb"], styles=True)
        return {
            "evaluated_on": f"{len(test['rgb'])} held-out emoji (20% of code points, all styles), on white at 32 px",
            "test_accuracy": round(float((probs.argmax(1) == test["labels"]).mean()), 4),
            "test_style_accuracy": round(float((style_probs.argmax(1) == test["styles"]).mean()), 4),
        }
    images, labels, _ = data.load_labelled_images(model.card["dataset"], "test")
    probs, _ = _classify(model, images)
    return {"test_accuracy": round(float((probs.argmax(1) == labels).mean()), 4)}


def evaluate_upscaler(model: LoadedModel, progress: Progress = print) -> dict[str, Any]:
    from PIL import Image

    from genstudio.tasks.upscale import bicubic_downscale, bicubic_upscale, upscale_array

    scale = int(model.card["scale"])
    metrics: dict[str, Any] = {
        "evaluated_on": f"Y channel, {scale}-pixel border cropped; unseen: {len(data.unseen_crops())} 256-px crops "
        "of scikit-image's photos (no training set holds them; the validation set), and Set5"
    }
    for source, photos in (("unseen", data.unseen_crops()), ("set5", data.load_photos(["val/set5"]))):
        rows = {"model": [], "bicubic": [], "lanczos": []}
        for hr in photos:
            hr = hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]
            lr = bicubic_downscale(hr, scale)
            outputs = {
                "model": upscale_array(lr, model),
                "bicubic": bicubic_upscale(lr, scale),
                "lanczos": bicubic_upscale(lr, scale, Image.LANCZOS),
            }
            for method, out in outputs.items():
                rows[method].append(sr_scores(out, hr, scale))
        progress(
            f"{source}: model {np.mean([s[0] for s in rows['model']]):.2f} dB, "
            f"bicubic {np.mean([s[0] for s in rows['bicubic']]):.2f} dB"
        )
        for method, scores in rows.items():
            metrics[f"{source}_psnr_y_{method}"] = round(float(np.mean([s[0] for s in scores])), 3)
            metrics[f"{source}_ssim_y_{method}"] = round(float(np.mean([s[1] for s in scores])), 4)
    return metrics


def inpaint_benchmark(source: str, masks_per_image: int = 8) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(band, image, mask) triples with a fixed seed. source: "unseen" (seeded 256-px crops of
    photos no training set holds: the validation set), "set5" (centred crops of at most 256 px)
    or a labelled dataset's name (its first 64 test images)."""
    rng = np.random.default_rng(1234)
    if source == "unseen":
        sources = data.unseen_crops()
    elif source == "set5":
        sources = []
        for photo in data.load_photos(["val/set5"]):
            h, w = photo.shape[:2]
            ch, cw = min(256, h), min(256, w)
            y, x = (h - ch) // 2, (w - cw) // 2
            sources.append(photo[y : y + ch, x : x + cw])
    else:
        images, _, _ = data.load_labelled_images(source, "test")
        sources, masks_per_image = list(images[:64]), 1
    cases = []
    for band, coverage in BANDS.items():
        for image in sources:
            for _ in range(masks_per_image):
                cases.append((band, image, random_mask(image.shape[0], image.shape[1], rng, coverage)))
    return cases


def inpaint_scores(
    model: LoadedModel | str, cases, methods=("model", "telea", "navier-stokes"), progress: Progress | None = None
) -> dict[str, float]:
    """Mean PSNR, SSIM, hole L1 and hole detail (see `hole_detail`) per band and method
    ("model" is `model`, "model-flips4" its average over four mirrored passes)."""
    from genstudio.tasks.inpaint import inpaint

    passes = {"model": 1, "model-flips4": 4}
    scores: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    for number, (band, image, mask) in enumerate(cases):
        for method in methods:
            out = inpaint(image, mask, model if method in passes else method, flips=passes.get(method, 1)).image
            hole = mask.astype(bool)
            l1 = float(np.abs(out.astype(np.float64) - image)[hole].mean() / 255)
            scores.setdefault((band, method), []).append(
                (psnr(out, image), ssim(out, image), l1, hole_detail(out, image, hole))
            )
        if progress and number % 50 == 49:
            progress(f"inpainting: {number + 1}/{len(cases)} cases")
    metrics = {}
    for (band, method), values in scores.items():
        v = np.array(values)
        metrics[f"{band} psnr {method}"] = round(float(v[:, 0].mean()), 3)
        metrics[f"{band} ssim {method}"] = round(float(v[:, 1].mean()), 4)
        metrics[f"{band} hole_l1 {method}"] = round(float(v[:, 2].mean()), 4)
        metrics[f"{band} hole_detail {method}"] = round(float(v[:, 3].mean()), 3)
    return metrics


def hole_detail(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    """Mean gradient magnitude inside the hole, relative to the photo's own there: 1 is as
    much detail as the photo has, below 1 is a blurred fill, above 1 is invented texture.
    PSNR rewards the blur that averages plausible fills; this shows it."""

    def gradient(image):
        grey = image.astype(np.float64).reshape(*image.shape[:2], -1).mean(-1)
        return np.hypot(np.diff(grey, axis=1)[:-1], np.diff(grey, axis=0)[:, :-1])

    inside = hole[:-1, :-1]
    return float(gradient(out)[inside].mean() / max(gradient(truth)[inside].mean(), 1e-6))


def outpaint_scores(model: LoadedModel, crops: list[np.ndarray], border: int = 32) -> dict[str, float]:
    """Cut `border` px off every side of each crop and extend it back: PSNR of the border alone,
    for the model, Telea and edge replication."""
    import cv2

    from genstudio.tasks.inpaint import outpaint

    methods = {
        "model": lambda x: outpaint(x, (border,) * 4, model).image,
        "telea": lambda x: outpaint(x, (border,) * 4, "telea").image,
        "edge": lambda x: cv2.copyMakeBorder(x, border, border, border, border, cv2.BORDER_REPLICATE),
    }
    errors: dict[str, list[float]] = {name: [] for name in methods}
    for crop in crops:
        ring = np.ones(crop.shape[:2], bool)
        ring[border:-border, border:-border] = False
        for name, extend in methods.items():
            out = extend(crop[border:-border, border:-border])
            errors[name].append(np.mean((out[ring].astype(np.float64) - crop[ring]) ** 2))
    return {
        f"outpaint {border}px border psnr {name}": round(float(np.mean([10 * np.log10(255**2 / e) for e in errs])), 3)
        for name, errs in errors.items()
    }


def evaluate_inpainter(model: LoadedModel, progress: Progress = print) -> dict[str, Any]:
    dataset = model.card["dataset"] if model.card.get("image_size") else None
    if dataset:
        cases = inpaint_benchmark(dataset)
        return {
            "evaluated_on": f"{dataset} test[:64], {len(cases)} seeded masks, bands {', '.join(BANDS)}",
            **inpaint_scores(model, cases),
        }
    unseen, set5 = inpaint_benchmark("unseen", masks_per_image=2), inpaint_benchmark("set5")
    metrics: dict[str, Any] = {
        "evaluated_on": f"unseen: {len(unseen)} seeded masks on {len(unseen) // 6} 256-px crops of "
        f"{len(data.UNSEEN_PHOTOS)} "
        f"photos no training set holds (scikit-image's); set5: {len(set5)} masks on Set5 crops; "
        f"bands {', '.join(BANDS)}; outpaint: those crops' 32-px border cut off and extended back"
    }
    metrics.update(
        {
            f"unseen {k}": v
            for k, v in inpaint_scores(model, unseen, ("model", "model-flips4", "telea"), progress).items()
        }
    )
    for band in BANDS:
        metrics[f"unseen {band} gain over telea (dB)"] = round(
            metrics[f"unseen {band} psnr model"] - metrics[f"unseen {band} psnr telea"], 3
        )
        metrics[f"unseen {band} gain over telea with 4 flips (dB)"] = round(
            metrics[f"unseen {band} psnr model-flips4"] - metrics[f"unseen {band} psnr telea"], 3
        )
    metrics.update({f"set5 {k}": v for k, v in inpaint_scores(model, set5, progress=progress).items()})
    for band in BANDS:
        metrics[f"set5 {band} gain over telea (dB)"] = round(
            metrics[f"set5 {band} psnr model"] - metrics[f"set5 {band} psnr telea"], 3
        )
    metrics.update({f"unseen {k}": v for k, v in outpaint_scores(model, data.unseen_crops()).items()})
    return metrics


def restyle_pairs(split: str = "test") -> dict[str, np.ndarray]:
    """Every ordered pair of two vendors' drawings of one emoji code in a split: straight RGBA
    64-px sources and targets, the target's style index and the code's category."""
    from genstudio.tasks.images import unpremultiply

    emoji = data.load_emoji(split, 64)
    images = unpremultiply((emoji["images"] * 255).round().astype(np.uint8))
    by_code: dict[str, list[int]] = {}
    for i, code in enumerate(emoji["codes"].tolist()):
        by_code.setdefault(code, []).append(i)
    src, dst = map(np.array, zip(*[(a, b) for idx in by_code.values() for a in idx for b in idx if a != b]))
    return {
        "sources": images[src],
        "targets": images[dst],
        "styles": emoji["styles"][dst],
        "labels": emoji["labels"][dst],
        "source_styles": emoji["styles"][src],
        "style_names": emoji["style_names"],
    }


def psnr_on_white(images: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """PSNR (dB) per image of straight RGBA images composited on white, against the targets."""
    from genstudio.tasks.images import composite

    error = (composite(images, 255).astype(np.float64) - composite(targets, 255)) ** 2
    return 10 * np.log10(255**2 / np.maximum(error.mean(axis=(1, 2, 3)), 1e-10))


def evaluate_restyler(model: LoadedModel, progress: Progress = print) -> dict[str, Any]:
    """On the held-out emoji codes (never trained on), every vendor pair A -> B: PSNR on white
    against the real drawing by B, beside identity, Reinhard colour transfer and the lookup of
    the nearest training emoji by B; and the judge's style and category accuracy of the results
    beside those of the real targets."""
    from genstudio.tasks import restyle

    classifier = _classifier_for("emoji")
    pairs = restyle_pairs("test")
    train = restyle_pairs("train")
    metrics: dict[str, Any] = {
        "evaluated_on": f"{len(pairs['sources'])} ordered vendor pairs of the held-out emoji codes "
        f"(64 px, composited on white); judge {classifier.name} at 32 px"
    }
    started, results = time.time(), np.zeros_like(pairs["targets"])
    for s, style in enumerate(pairs["style_names"]):
        chosen = pairs["styles"] == s
        progress(f"restyling {int(chosen.sum())} held-out emoji into {style}")
        results[chosen] = restyle.restyle(model, images=pairs["sources"][chosen], style=style)
    metrics["restyle_seconds_per_1000"] = round((time.time() - started) / len(results) * 1000, 3)
    _, _, real_style = _classify(classifier, _judged(pairs["targets"]), styles=True)
    real_category, _ = _classify(classifier, _judged(pairs["targets"]))
    probs, _, style_probs = _classify(classifier, _judged(results), styles=True)
    stats = model.card.get("style_colours") or {}
    for s, style in enumerate(pairs["style_names"]):
        chosen = pairs["styles"] == s
        sources, targets = pairs["sources"][chosen], pairs["targets"][chosen]
        candidates = np.unique(train["targets"][train["styles"] == s], axis=0)
        baselines = {"model": results[chosen], "identity": sources, "lookup": restyle.lookup(sources, candidates)}
        if style in stats:
            baselines["colour transfer"] = np.stack([restyle.colour_transfer(im, stats[style]) for im in sources])
        for method, images in baselines.items():
            metrics[f"{style} psnr_white {method}"] = round(float(psnr_on_white(images, targets).mean()), 3)
        metrics[f"{style} gain over lookup (dB)"] = round(
            metrics[f"{style} psnr_white model"] - metrics[f"{style} psnr_white lookup"], 3
        )
        for what, guessed, truth in (("style", style_probs, pairs["styles"]), ("category", probs, pairs["labels"])):
            metrics[f"{style} {what}_accuracy model"] = round(
                float((guessed[chosen].argmax(1) == truth[chosen]).mean()), 4
            )
        metrics[f"{style} style_accuracy real"] = round(float((real_style[chosen].argmax(1) == s).mean()), 4)
        metrics[f"{style} category_accuracy real"] = round(
            float((real_category[chosen].argmax(1) == pairs["labels"][chosen]).mean()), 4
        )
    return metrics


def restyle_sheet(model: LoadedModel, per_sheet: int = 10) -> np.ndarray:
    """Held-out emoji (rows, from every vendor in turn): the input, the model's drawing in each
    style, then the real drawings in each style; on white, 2x, with a header."""
    from PIL import Image, ImageDraw, ImageFont

    from genstudio.tasks import restyle
    from genstudio.tasks.images import composite, grid, resize

    emoji = restyle_pairs("test")
    full = [
        i for i in range(len(emoji["sources"]))
    ]  # a code with all three vendors: its real drawings show every style
    by_source: dict[bytes, list[int]] = {}
    for i in full:
        by_source.setdefault(emoji["sources"][i].tobytes(), []).append(i)
    whole = [idx for idx in by_source.values() if len(idx) == 2]
    rows_idx = [whole[j][0] for j in np.linspace(0, len(whole) - 1, per_sheet).round().astype(int)]
    styles = emoji["style_names"]
    tiles = []
    for i in rows_idx:
        source = emoji["sources"][i]
        made = [restyle.restyle(model, images=[source], style=s)[0] for s in styles]
        real = {int(emoji["styles"][j]): emoji["targets"][j] for j in by_source[source.tobytes()]}
        real[int(emoji["source_styles"][i])] = source
        tiles += [source, *made, *[real[k] for k in range(len(styles))]]
    sheet = resize(grid(composite(np.stack(tiles), 255), 1 + 2 * len(styles), padding=4), 2)
    header = Image.new("RGB", (sheet.shape[1], 28), (255, 255, 255))
    draw, font = ImageDraw.Draw(header), ImageFont.load_default(size=14)
    titles = ["input", *styles, *[f"real {s}" for s in styles]]
    cell = sheet.shape[1] / len(titles)
    for c, title in enumerate(titles):
        draw.text((cell * (c + 0.5), 14), title, fill=(40, 40, 40), font=font, anchor="mm")
    return np.concatenate([np.asarray(header), sheet])


EVALUATORS = {
    "sample": evaluate_generator,
    "conditional": evaluate_generator,
    "classify": evaluate_classifier,
    "upscale": evaluate_upscaler,
    "inpaint": evaluate_inpainter,
    "restyle": evaluate_restyler,
}


def category_style_sheet(model: LoadedModel, per_style: int = 8, seed: int = 0) -> np.ndarray:
    """One named row per category; for each style (named above), `per_style` seeds side by side; on white."""
    from PIL import Image, ImageDraw, ImageFont

    from genstudio.kinds import kind_of
    from genstudio.tasks.generate import sample_all_classes
    from genstudio.tasks.images import composite, grid, label_rows

    truncation = kind_of(model).latent_settings().get("truncation")
    blocks = [sample_all_classes(model, per_style, seed, truncation, style=s) for s in range(len(model.styles))]
    k = len(model.labels)
    rows = [np.concatenate([b[c * per_style : (c + 1) * per_style] for b in blocks]) for c in range(k)]
    sheet = label_rows(grid(composite(np.concatenate(rows), 255), per_style * len(model.styles)), model.labels)
    header = Image.new("RGB", (sheet.shape[1], 24), (255, 255, 255))
    draw, font = ImageDraw.Draw(header), ImageFont.load_default(size=16)
    block = (sheet.shape[1] - 150) / len(model.styles)
    for i, style in enumerate(model.styles):
        draw.text((150 + block * (i + 0.5), 12), style, fill=(40, 40, 40), font=font, anchor="mm")
    return np.concatenate([np.asarray(header), sheet])


def example_picture(model: LoadedModel) -> np.ndarray | None:
    """What the model does, as one picture for the Models tab and the README."""
    from genstudio.kinds import kind_of
    from genstudio.tasks.images import as_rgb, grid, resize

    latent = kind_of(model).latent_settings()
    if model.task == "sample":
        from genstudio.tasks.generate import sample

        return resize(grid(sample(model, 64, seed=0, **latent), 8), 3)
    if model.task == "conditional" and model.styles:
        return category_style_sheet(model)
    if model.task == "conditional":
        from genstudio.tasks.generate import sample_all_classes

        return resize(grid(sample_all_classes(model, 8, seed=0, truncation=latent.get("truncation")), 8), 3)
    if model.task == "restyle":
        return restyle_sheet(model)
    if model.task == "upscale":
        from genstudio.tasks.upscale import bicubic_downscale, bicubic_upscale, upscale_array

        scale = int(model.card["scale"])
        hr = data.load_photos(["val/set5"])[2][:192, :192]  # butterfly: fine edges
        lr = bicubic_downscale(hr, scale)
        return grid(np.stack([bicubic_upscale(lr, scale), upscale_array(lr, model), hr]), 3, padding=4)
    if model.task == "inpaint":
        from genstudio.tasks.inpaint import inpaint

        cases = [
            c
            for c in inpaint_benchmark(model.card["dataset"] if model.card.get("image_size") else "unseen", 1)
            if c[0] == "20-40%"
        ]
        rows = []
        for _, image, mask in cases[:: max(1, len(cases) // 4)][:4]:
            holed = image.copy()
            holed[mask.astype(bool)] = 255
            rows += [holed, inpaint(image, mask, "telea").image, inpaint(image, mask, model).image, image]
        tiles = np.stack([as_rgb(r) for r in rows])
        picture = grid(tiles, 4, padding=4)
        return resize(picture, 4) if picture.shape[0] < 200 else picture
    return None


def measure(model: LoadedModel, progress: Progress = print) -> dict[str, Any]:
    """The figures for a model's card: the evaluation its task declares."""
    return EVALUATORS[model.task](model, progress=progress)


def _save_picture(model: LoadedModel) -> None:
    from genstudio.tasks.io import save_png

    picture = example_picture(model)
    if picture is not None:
        folder = paths.checkpoints().parent / "assets" / "models"  # beside the shelf: a test's shelf keeps its own
        folder.mkdir(parents=True, exist_ok=True)
        save_png(picture, folder / f"{model.name}.png", {"model": model.name, "task": "example"})


def _run_checkpoint(run: str | Path) -> Path:
    """The model file of a run directory (or the file itself)."""
    run = Path(run)
    files = [run] if run.is_file() else sorted(run.glob(f"*{registry.SUFFIX}")) if run.is_dir() else []
    if len(files) != 1:
        raise UserError(
            f"{run}: expected a run directory holding one {registry.SUFFIX} file (the run's model), "
            f"or that file; found {len(files)}"
        )
    return files[0]


def evaluate(
    name: str, write: bool = True, progress: Progress = print, sampling: dict[str, float] | None = None
) -> dict[str, Any]:
    """Evaluate a shelf model; with `write`, store the figures in its card's `metrics` and its
    example picture in assets/models/NAME.png. A run directory or a run's checkpoint file (a
    stage to compare before promoting one) is measured and nothing is written.

    `sampling` (e.g. {"truncation": 1.5}) measures the model with those default latent
    settings; with `write` they become the card's defaults, so what is measured is what
    `genstudio sample` and the app draw."""
    on_shelf = not (Path(name).is_dir() or name.endswith(registry.SUFFIX))
    if on_shelf and sampling and write:
        registry.update_card(name, sampling=sampling)
    model = registry.load(name) if on_shelf else registry.load_file(_run_checkpoint(name))
    if sampling:
        model = dataclasses.replace(
            model, card={**model.card, "sampling": {**model.card.get("sampling", {}), **sampling}}
        )
    metrics = measure(model, progress)
    if on_shelf and write:
        _save_picture(model)
        registry.update_card(name, metrics=metrics)
    return metrics


def promote(
    run_dir: str | Path, progress: Progress = print, evaluate: bool = True, recipe: dict[str, Any] | None = None
) -> tuple[Path, dict[str, Any]]:
    """Evaluate a training run's model (the same evaluation as `genstudio eval`), write the
    figures into its card and only then put it on the shelf (checkpoints/ + MANIFEST.json).
    `evaluate=False` ships it with no figures (a recipe's chain checked at a tiny scale);
    `recipe` is recorded in the card: the recipe that built it."""
    if not Path(run_dir).is_dir():
        raise UserError(f"{run_dir} is not a run directory")
    checkpoint = _run_checkpoint(run_dir)
    model = registry.load_file(checkpoint)
    metrics: dict[str, Any] = {}
    if evaluate:
        progress(f"evaluating {model.name} from {checkpoint}")
        metrics = measure(model, progress)
        _save_picture(model)
    registry.publish(checkpoint, metrics=metrics, **({"recipe": recipe} if recipe else {}))
    return registry.checkpoint_path(model.name), metrics
