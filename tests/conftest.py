"""Shared fixtures: a checkpoints folder of tiny, untrained models of every task, so most
tests are fast and independent of the shipped weights (which have tests of their own)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genstudio import registry

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests import app_server

REPO = Path(__file__).resolve().parent.parent
EMOJI_LABELS = [
    "Smileys & Emotion",
    "People & Body",
    "Animals & Nature",
    "Food & Drink",
    "Travel & Places",
    "Activities",
    "Objects",
    "Symbols",
    "Flags",
]
FMNIST_LABELS = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def _card(task, **extra):
    card = {
        "task": task,
        "dataset": "tiny",
        "labels": None,
        "image_size": 28,
        "channels": 1,
        "scale": None,
        "metrics": {},
    }
    card.update(extra)
    return card


TINY = {
    "tiny-gan": ("dcgan_generator", {"latent_dim": 8, "width": 4, "num_classes": 0}, _card("sample")),
    "tiny-cgan": (
        "dcgan_generator",
        {"latent_dim": 8, "width": 4, "num_classes": 10},
        _card("conditional", labels=FMNIST_LABELS),
    ),
    "tiny-emoji": (
        "styled_dcgan_generator",
        {"latent_dim": 8, "width": 4, "num_classes": 9, "num_styles": 3, "channels": 4, "image_size": 8},
        _card(
            "conditional",
            labels=EMOJI_LABELS,
            styles=["noto", "twemoji", "fluent"],
            image_size=8,
            channels=4,
            dataset="emoji",
        ),
    ),
    "tiny-vae": ("conv_vae", {"latent_dim": 4, "width": 4}, _card("sample")),
    "tiny-sr2": ("edsr", {"scale": 2, "width": 4, "blocks": 1}, _card("upscale", image_size=None, channels=3, scale=2)),
    "tiny-sr4": ("edsr", {"scale": 4, "width": 4, "blocks": 1}, _card("upscale", image_size=None, channels=3, scale=4)),
    "tiny-restyle": (
        "emoji_restyler",
        {"num_styles": 3, "width": 8, "content_channels": 4, "style_dim": 8, "num_names": 3},
        _card(
            "restyle",
            styles=["noto", "twemoji", "fluent"],
            names=["cat face", "slice of pizza", "grinning face"],
            image_size=64,
            channels=4,
            dataset="emoji",
            style_colours={s: [60.0, 10.0, 20.0, 20.0, 25.0, 40.0] for s in ("noto", "twemoji", "fluent")},
        ),
    ),
    "tiny-inpaint": (
        "refine_unet",
        {"channels": 3, "width": 4, "dilations": [1, 2]},
        _card("inpaint", image_size=None, channels=3),
    ),
    "tiny-inpaint-gray": ("refine_unet", {"channels": 1, "width": 4, "dilations": [1]}, _card("inpaint")),
}


def write_tiny_models(directory: Path) -> Path:
    torch.manual_seed(0)
    for name, (arch, kwargs, card) in TINY.items():
        net = registry.build(arch, kwargs)
        with torch.no_grad():  # untrained nets whose outputs are not trivially zero
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        registry.save_checkpoint(registry.checkpoint_path(name, directory), net, arch, kwargs, card)
    return directory


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return write_tiny_models(tmp_path_factory.mktemp("checkpoints"))


@pytest.fixture
def tiny(tiny_dir, monkeypatch):
    """Point the registry at the tiny models; returns a loader."""
    monkeypatch.setenv("GENSTUDIO_CHECKPOINTS", str(tiny_dir))
    monkeypatch.setenv("GENSTUDIO_DEVICE", "cpu")
    registry.clear_cache()
    yield lambda name: registry.load(name)
    registry.clear_cache()


@pytest.fixture
def photo() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()[::4, ::4].copy()  # 128 x 128 RGB


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Expose each phase's report on the test item (browser tests screenshot failures)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
