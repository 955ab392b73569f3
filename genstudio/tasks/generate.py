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
from genstudio.registry import LoadedModel
from genstudio.tasks.images import to_uint8

MAX_SEED = 2**32 - 1
GENERATIVE_TASKS = ("sample", "conditional")


def check_seed(seed) -> int:
    """Seeds are whole numbers in [0, 2^32 - 1]; anything else is a clear error."""
    if isinstance(seed, bool) or seed is None:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    if isinstance(seed, float):
        if not seed.is_integer():
            raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
        seed = int(seed)
    if isinstance(seed, str):
        try:
            seed = int(seed.strip())
        except ValueError:
            raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}") from None
    if not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return int(seed)


def parse_seeds(text: str, limit: int = 1000) -> list[int]:
    """'1,5,9-12' -> [1, 5, 9, 10, 11, 12]."""
    seeds: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise ValueError(f"bad seed {part!r}: use whole numbers and ranges like '1,5,9-12'")
        lo = check_seed(match[1])
        hi = check_seed(match[2]) if match[2] else lo
        if hi < lo:
            raise ValueError(f"seed range {part!r} runs backwards")
        if len(seeds) + hi - lo + 1 > limit:
            raise ValueError(f"at most {limit} seeds")
        seeds += range(lo, hi + 1)
    if not seeds:
        raise ValueError("give at least one seed, e.g. '1,5,9-12'")
    return seeds


def latent(seed: int, dim: int, truncation: float | None = None) -> torch.Tensor:
    """The latent of a seed, drawn on the CPU so it is the same on every device.

    Truncation (Brock et al., 2019): entries beyond +-truncation are redrawn from the
    same seeded stream until all lie inside, trading variety for fidelity."""
    gen = torch.Generator().manual_seed(check_seed(seed))
    z = torch.randn(dim, generator=gen)
    if truncation:
        if truncation <= 0:
            raise ValueError("truncation must be positive (or 0 for none)")
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
        raise ValueError(f"model {model.name!r} is a {model.task!r} model; choose a sampling or conditional model")


def resolve_label(model: LoadedModel, label) -> int:
    """A label given as an index (int or digit string) or a name (case-insensitive)."""
    names = model.labels or []
    if model.task != "conditional":
        raise ValueError(f"model {model.name!r} is unconditional; it takes no label")
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        index = int(label)
    elif isinstance(label, str) and label.strip().lstrip("-").isdigit() and label.strip() not in names:
        index = int(label.strip())
    elif isinstance(label, str):
        lowered = {n.lower(): i for i, n in enumerate(names)}
        if label.strip().lower() not in lowered:
            raise ValueError(f"unknown label {label!r} for {model.name}; labels: {', '.join(names)}")
        index = lowered[label.strip().lower()]
    else:
        raise ValueError(f"label must be an index or a name, got {label!r}")
    if not 0 <= index < len(names):
        raise ValueError(f"label {index} is out of range for {model.name}: use 0-{len(names) - 1} or a name ({', '.join(names)})")
    return index


def label_weights(model: LoadedModel, labels: list[int], blend_with: int | None = None, weight: float = 0.0) -> torch.Tensor:
    """(N, K) class weights: one-hot rows, optionally mixed with a second class by `weight`."""
    k = len(model.labels)
    w = torch.nn.functional.one_hot(torch.tensor(labels), k).float()
    if blend_with is not None:
        if not 0 <= weight <= 1:
            raise ValueError("blend weight must lie in [0, 1]")
        w = (1 - weight) * w + weight * torch.nn.functional.one_hot(torch.tensor([blend_with] * len(labels)), k).float()
    return w


@torch.no_grad()
def render(model: LoadedModel, z: torch.Tensor, weights: torch.Tensor | None = None, batch: int = 256) -> np.ndarray:
    """Latents (N, D) and optional class weights (N, K) -> uint8 images (N, H, W, C)."""
    check_generator(model)
    if model.task == "conditional" and weights is None:
        raise ValueError(f"model {model.name!r} is class-conditional: give a label")
    out = []
    for i in range(0, len(z), batch):
        zi = z[i : i + batch].to(model.device)
        wi = weights[i : i + batch].to(model.device) if weights is not None else None
        with autocast(model.device):
            out.append(to_uint8(model.net.generate(zi, wi).float()))
    return np.concatenate(out)


def sample(model: LoadedModel, n: int, seed: int, label=None, truncation: float | None = None,
           temperature: float = 1.0, blend_label=None, blend_weight: float = 0.0, max_images: int = 1024) -> np.ndarray:
    """n images from seeds seed..seed+n-1 -> uint8 (n, H, W, C).

    GANs take `truncation`, VAEs `temperature` (the prior's standard deviation);
    conditional models need `label` (index or name) and may blend towards `blend_label`."""
    check_generator(model)
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if not isinstance(n, (int, np.integer)) or not 1 <= n <= max_images:
        raise ValueError(f"number of images must be 1-{max_images}, got {n!r}")
    seed = check_seed(seed)
    if seed + n - 1 > MAX_SEED:
        raise ValueError(f"seeds {seed}..{seed + n - 1} pass {MAX_SEED}")
    if not 0 < temperature <= 3:
        raise ValueError("temperature must lie in (0, 3]")
    z = latents(list(range(seed, seed + n)), model.net.latent_dim, truncation) * temperature
    weights = None
    if model.task == "conditional":
        if label is None:
            raise ValueError(f"model {model.name!r} is class-conditional: pick a label ({', '.join(model.labels)})")
        other = resolve_label(model, blend_label) if blend_label is not None else None
        weights = label_weights(model, [resolve_label(model, label)] * n, other, blend_weight)
    return render(model, z, weights)


def sample_all_classes(model: LoadedModel, per_class: int, seed: int, truncation: float | None = None) -> np.ndarray:
    """One row per class, the same seeds in every row: (K * per_class, H, W, C)."""
    if model.task != "conditional":
        raise ValueError(f"model {model.name!r} is unconditional; 'all classes' needs a conditional model")
    if not 1 <= per_class <= 32:
        raise ValueError("images per class must be 1-32")
    seed = check_seed(seed)
    k = len(model.labels)
    z = latents(list(range(seed, seed + per_class)), model.net.latent_dim, truncation).repeat(k, 1)
    weights = label_weights(model, [c for c in range(k) for _ in range(per_class)])
    return render(model, z, weights)
