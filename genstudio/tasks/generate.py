"""Sampling from unconditional and class-conditional generators.

Image i of a grid made with seed S uses the latent of seed S + i, so a seed names
one image: the same seed gives the same image in a grid, in the CLI and as the
first keyframe of a latent walk.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from genstudio.devices import autocast
from genstudio.errors import UserError
from genstudio.registry import LoadedModel
from genstudio.tasks.images import to_uint8, unpremultiply

MAX_SEED = 2**32 - 1
GENERATIVE_TASKS = ("sample", "conditional")


def check_seed(seed) -> int:
    """Seeds are whole numbers in [0, 2^32 - 1]; anything else is a clear error."""
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        raise UserError(f"seed must be a whole number from 0 to {MAX_SEED}; the seed box is empty")
    if isinstance(seed, bool):
        raise UserError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    if isinstance(seed, float):
        if not seed.is_integer():
            raise UserError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
        seed = int(seed)
    if isinstance(seed, str):
        try:
            seed = int(seed.strip())
        except ValueError:
            raise UserError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}") from None
    if not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MAX_SEED:
        raise UserError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return int(seed)


def parse_seeds(text: str, limit: int = 1000) -> list[int]:
    """'1,5,9-12' -> [1, 5, 9, 10, 11, 12]."""
    seeds: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise UserError(f"bad seed {part!r}: use whole numbers and ranges like '1,5,9-12'")
        lo = check_seed(match[1])
        hi = check_seed(match[2]) if match[2] else lo
        if hi < lo:
            raise UserError(f"seed range {part!r} runs backwards")
        if len(seeds) + hi - lo + 1 > limit:
            raise UserError(f"at most {limit} seeds")
        seeds += range(lo, hi + 1)
    if not seeds:
        raise UserError("give at least one seed, e.g. '1,5,9-12'")
    return seeds


def latent(seed: int, dim: int, truncation: float | None = None) -> torch.Tensor:
    """The latent of a seed, drawn on the CPU so it is the same on every device.

    Truncation (Brock et al., 2019): entries beyond +-truncation are redrawn from the
    same seeded stream until all lie inside, trading variety for fidelity."""
    gen = torch.Generator().manual_seed(check_seed(seed))
    z = torch.randn(dim, generator=gen)
    if truncation:
        if truncation <= 0:
            raise UserError("truncation must be positive (or 0 for none)")
        for _ in range(1000):
            outside = z.abs() > truncation
            if not outside.any():
                break
            z[outside] = torch.randn(int(outside.sum()), generator=gen)
        else:
            z = z.clamp(-truncation, truncation)
    return z


def latents(seeds: list[int], dim: int, truncation: float | None = None) -> torch.Tensor:
    return torch.stack([latent(s, dim, truncation) for s in seeds])


def check_generator(model: LoadedModel) -> None:
    if model.task not in GENERATIVE_TASKS:
        raise UserError(f"model {model.name!r} is a {model.task!r} model; choose a sampling or conditional model")


def _resolve(names: list[str], value, what: str, model_name: str) -> int:
    """An index (int or digit string) or a name (case-insensitive) into `names`."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        index = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit() and value.strip() not in names:
        index = int(value.strip())
    elif isinstance(value, str):
        lowered = {n.lower(): i for i, n in enumerate(names)}
        if value.strip().lower() not in lowered:
            raise UserError(f"unknown {what} {value!r} for {model_name}; {what}s: {', '.join(names)}")
        index = lowered[value.strip().lower()]
    else:
        raise UserError(f"{what} must be an index or a name, got {value!r}")
    if not 0 <= index < len(names):
        raise UserError(
            f"{what} {index} is out of range for {model_name}: use 0-{len(names) - 1} or a name ({', '.join(names)})"
        )
    return index


def resolve_label(model: LoadedModel, label) -> int:
    """A label given as an index (int or digit string) or a name (case-insensitive)."""
    if model.task != "conditional":
        raise UserError(f"model {model.name!r} is unconditional; it takes no label")
    return _resolve(model.labels or [], label, "label", model.name)


def resolve_style(model: LoadedModel, style) -> int:
    """A style (e.g. an emoji vendor) by index or name; models without styles refuse one."""
    if not model.styles:
        raise UserError(f"model {model.name!r} has no styles; it takes no style")
    return _resolve(model.styles, style, "style", model.name)


def one_hot_weights(k: int, indices: list[int], blend_with: int | None = None, weight: float = 0.0) -> torch.Tensor:
    """(N, k) weights: one-hot rows, optionally mixed with a second index by `weight`."""
    w = torch.nn.functional.one_hot(torch.tensor(indices), k).float()
    if blend_with is not None:
        if not 0 <= weight <= 1:
            raise UserError("blend weight must lie in [0, 1]")
        w = (1 - weight) * w + weight * torch.nn.functional.one_hot(
            torch.tensor([blend_with] * len(indices)), k
        ).float()
    return w


def label_weights(
    model: LoadedModel, labels: list[int], blend_with: int | None = None, weight: float = 0.0
) -> torch.Tensor:
    """(N, K) class weights: one-hot rows, optionally mixed with a second class by `weight`."""
    return one_hot_weights(len(model.labels), labels, blend_with, weight)


LABEL_STREAM, STYLE_STREAM = 1, 2  # a seed's random streams beside its latent's


def seeded_choice(seed: int, k: int, stream: int) -> int:
    """A class or style drawn from a seed (its own stream, apart from the latent's), so
    a seed still names one image when the user does not fix them."""
    return int(np.random.default_rng([check_seed(seed), stream]).integers(k))


def per_seed(seeds: list[int], fixed: int | None, k: int, stream: int) -> list[int]:
    """The fixed index for every seed, or one drawn from each seed."""
    return [fixed] * len(seeds) if fixed is not None else [seeded_choice(s, k, stream) for s in seeds]


def keyframe_conditions(info, seeds: list[int], label=None, style=None) -> tuple[list[str], list[str]]:
    """The class and style names a Sample grid drew its images of `seeds` with (from a model's
    header): the fixed one, else each seed's own, so a walk through them passes through exactly
    those images. Empty lists where the model takes none."""

    def names(options: list[str] | None, fixed, stream: int) -> list[str]:
        if not options:
            return []
        if fixed is not None:
            return [options[_resolve(options, fixed, "label" if stream == LABEL_STREAM else "style", info.name)]]
        return [options[seeded_choice(s, len(options), stream)] for s in seeds]

    labels = names(info.labels, label, LABEL_STREAM) if info.card.get("task") == "conditional" else []
    return labels, names(info.styles, style, STYLE_STREAM)


def _label_index(model: LoadedModel, label) -> int | None:
    return resolve_label(model, label) if label is not None else None


def _style_index(model: LoadedModel, style) -> int | None:
    """A style model's style (or None: drawn); a model without styles refuses any style."""
    if style is not None or model.styles:
        return resolve_style(model, style) if style is not None else None
    return None


@torch.no_grad()
def render(
    model: LoadedModel,
    z: torch.Tensor,
    weights: torch.Tensor | None = None,
    style_weights: torch.Tensor | None = None,
    batch: int = 256,
) -> np.ndarray:
    """Latents (N, D) and optional class (N, K) and style (N, S) weights -> uint8 images
    (N, H, W, C); 4-channel models give straight (not premultiplied) RGBA, as a PNG stores."""
    check_generator(model)
    if model.task == "conditional" and weights is None:
        raise UserError(f"model {model.name!r} is class-conditional: give a label")
    if model.styles and style_weights is None:
        raise UserError(f"model {model.name!r} is style-conditional: give a style")
    out = []
    for i in range(0, len(z), batch):
        zi = z[i : i + batch].to(model.device)
        conds = [w[i : i + batch].to(model.device) for w in (weights, style_weights) if w is not None]
        with autocast(model.device, cpu_bfloat16=getattr(model.net, "cpu_bfloat16", False)):
            out.append(to_uint8(model.net.generate(zi, *conds).float()))
    images = np.concatenate(out)
    return unpremultiply(images) if images.shape[-1] == 4 else images


def sample(
    model: LoadedModel,
    n: int,
    seed: int,
    label=None,
    truncation: float | None = None,
    temperature: float = 1.0,
    blend_label=None,
    blend_weight: float = 0.0,
    style=None,
    blend_style=None,
    style_weight: float = 0.0,
    max_images: int = 1024,
) -> np.ndarray:
    """n images from seeds seed..seed+n-1 -> uint8 (n, H, W, C).

    GANs take `truncation`, VAEs `temperature` (the prior's standard deviation);
    conditional models take `label` (index or name; None draws one per image from its
    seed) and may blend towards `blend_label`; style-conditional models likewise take
    `style`, `blend_style` and `style_weight`."""
    check_generator(model)
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if not isinstance(n, (int, np.integer)) or not 1 <= n <= max_images:
        raise UserError(f"number of images must be 1-{max_images}, got {n!r}")
    seed = check_seed(seed)
    if seed + n - 1 > MAX_SEED:
        raise UserError(f"seeds {seed}..{seed + n - 1} pass {MAX_SEED}")
    if not 0 < temperature <= 3:
        raise UserError("temperature must lie in (0, 3]")
    seeds = list(range(seed, seed + n))
    z = latents(seeds, model.net.latent_dim, truncation) * temperature
    weights = style_weights = None
    label_index, other_label = _label_index(model, label), _label_index(model, blend_label)
    style_index, other_style = _style_index(model, style), _style_index(model, blend_style)
    if model.task == "conditional":
        labels = per_seed(seeds, label_index, len(model.labels), LABEL_STREAM)
        weights = label_weights(model, labels, other_label, blend_weight)
    if model.styles:
        styles = per_seed(seeds, style_index, len(model.styles), STYLE_STREAM)
        style_weights = one_hot_weights(len(model.styles), styles, other_style, style_weight)
    return render(model, z, weights, style_weights)


def sample_all_classes(
    model: LoadedModel, per_class: int, seed: int, truncation: float | None = None, style=None, temperature: float = 1.0
) -> np.ndarray:
    """One row per class, the same seeds in every row: (K * per_class, H, W, C). A style
    model uses `style` in every row, or one style per column drawn from its seed."""
    if model.task != "conditional":
        raise UserError(f"model {model.name!r} is unconditional; 'all classes' needs a conditional model")
    if not 1 <= per_class <= 32:
        raise UserError("images per class must be 1-32")
    seeds, k = list(range(check_seed(seed), check_seed(seed) + per_class)), len(model.labels)
    style_index = _style_index(model, style)
    z = latents(seeds, model.net.latent_dim, truncation).repeat(k, 1) * temperature
    weights = label_weights(model, [c for c in range(k) for _ in range(per_class)])
    style_weights = (
        one_hot_weights(len(model.styles), per_seed(seeds, style_index, len(model.styles), STYLE_STREAM) * k)
        if model.styles
        else None
    )
    return render(model, z, weights, style_weights)


def sample_all_styles(
    model: LoadedModel, per_style: int, seed: int, label=None, truncation: float | None = None, temperature: float = 1.0
) -> np.ndarray:
    """The same seeds in every style, one row per style: (S * per_style, H, W, C)."""
    if not model.styles:
        raise UserError(f"model {model.name!r} has no styles; 'all styles' needs a style-conditional model")
    if not 1 <= per_style <= 32:
        raise UserError("images per style must be 1-32")
    seeds, s = list(range(check_seed(seed), check_seed(seed) + per_style)), len(model.styles)
    z = latents(seeds, model.net.latent_dim, truncation).repeat(s, 1) * temperature
    labels = per_seed(seeds, _label_index(model, label), len(model.labels), LABEL_STREAM)
    return render(
        model, z, label_weights(model, labels * s), one_hot_weights(s, [i for i in range(s) for _ in range(per_style)])
    )
