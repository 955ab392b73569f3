"""What every family shares: the base class the loop drives, labelled image sets, photo crops."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

import cv2
import numpy as np
import torch

from genstudio import data
from genstudio.card import Card
from genstudio.devices import has_fast_bfloat16
from genstudio.errors import UserError
from genstudio.train.config import DataConfig, RunConfig


@dataclass
class NoSettings:
    """A family with no [train] keys of its own."""


@dataclass
class LabelledSettings:
    balanced: bool = False  # draw every label equally often (rare categories get as many steps as common ones)
    mirror: bool = False  # flip half the training images left-right (twice the views of a small set)


class Family:
    shipped = "net"
    Settings: type = NoSettings

    def __init__(self, cfg: RunConfig, device: torch.device, rank: int = 0, world: int = 1):
        self.cfg, self.device, self.rank, self.world = cfg, device, rank, world
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}  # saved and restored by the loop
        self.t, self.s, self.data_cfg = cfg.train, cfg.settings, cfg.data
        self.arch, self.model_cfg = cfg.arch, cfg.model_kwargs
        # every random draw of a family comes from these two, saved and restored on resume
        self.rng = torch.Generator().manual_seed(self.t.seed * 1000 + rank)
        self.np_rng = np.random.default_rng(self.t.seed * 1000 + rank)
        self.batch_size = self.t.batch_size // world  # global batch split over processes
        if self.t.precision not in ("fp32", "bf16"):
            raise UserError(f"train.precision must be 'fp32' or 'bf16', got {self.t.precision!r}")
        # bf16 only where the hardware has it: emulated, it is far slower than fp32
        self.precision = "bf16" if self.t.precision == "bf16" and has_fast_bfloat16(device) else "fp32"
        if self.precision != self.t.precision and rank == 0:
            print(f"{cfg.name}: this {device.type} has no native bfloat16, training in fp32", flush=True)

    def arch_spec(self) -> tuple[str, dict]:
        return self.arch, self.model_cfg

    def autocast(self):
        """Context for forward passes: bfloat16 autocast when the config asks for it (weights,
        optimiser state and backward stay float32)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def _adam(self, module, lr: float, betas=(0.9, 0.999)):
        return torch.optim.Adam(module.parameters(), lr=lr, betas=tuple(self.t.betas or betas))

    def _cosine(self, optimizer):
        """Cosine decay over the configured steps, to 5% of the initial rate."""
        lr = optimizer.param_groups[0]["lr"]
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, self.t.steps, eta_min=lr * 0.05)

    def state_dict(self) -> dict[str, Any]:
        """What the loop saves beside the weights so a resumed run continues exactly."""
        return {"rng": self.rng.get_state(), "np_rng": json.dumps(self.np_rng.bit_generator.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])
        self.np_rng.bit_generator.state = json.loads(state["np_rng"])

    def validate(self, net) -> dict[str, float]:
        return {}

    def before_save(self, net) -> None:
        """Anything the shipped network computes from the data before it is written (none by default)."""


class _LabelledImages(Family):
    """Families trained on a labelled image set (idx dataset or a folder)."""

    Settings = LabelledSettings

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        size = self.data_cfg.image_size or self.model_cfg.get("image_size", 28)
        channels = self.model_cfg.get("channels", 1)
        if self.data_cfg.dataset == "emoji":  # premultiplied RGBA with a category and a style each
            emoji = data.load_emoji(self.data_cfg.split, size)
            images, labels, self.label_names = (
                (emoji["images"] * 255).round().astype(np.uint8),
                emoji["labels"],
                emoji["label_names"],
            )
            self.styles, self.style_names = torch.from_numpy(emoji["styles"]).to(self.device), emoji["style_names"]
            self.subcategories = torch.from_numpy(emoji["subcategories"]).to(self.device)
        else:
            images, labels, self.label_names = data.load_labelled_images(self.data_cfg.dataset, "train", size, channels)
            self.styles, self.style_names, self.subcategories = None, None, None
        arr = images[..., None] if images.ndim == 3 else images
        self.images = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous().to(self.device)  # uint8, kept compact
        self.labels = torch.from_numpy(labels).to(self.device)
        self.image_size, self.channels = arr.shape[1], arr.shape[3]

    def batches(self) -> Iterator[tuple[torch.Tensor, tuple[torch.Tensor, ...]]]:
        """(images in [0, 1], (labels,) or (labels, styles))."""
        weights = None
        if self.s.balanced:  # each label as likely as any other: weight 1 / (its label's count)
            weights = 1.0 / torch.bincount(self.labels.cpu())[self.labels.cpu()].double()
        while True:
            if weights is None:
                idx = torch.randint(0, len(self.images), (self.batch_size,), generator=self.rng)
            else:
                idx = torch.multinomial(weights, self.batch_size, replacement=True, generator=self.rng)
            idx = idx.to(self.device)
            conds = (self.labels[idx], self.styles[idx]) if self.styles is not None else (self.labels[idx],)
            images = self.images[idx].float() / 255
            if self.s.mirror:
                flip = (torch.rand(len(idx), generator=self.rng) < 0.5).to(self.device)
                images = torch.where(flip[:, None, None, None], images.flip(-1), images)
            yield images, conds

    def base_card(self, task: str) -> dict[str, Any]:
        return Card(
            task=task,
            dataset=self.data_cfg.dataset,
            labels=self.label_names if task in ("conditional", "classify") else None,
            image_size=self.image_size,
            channels=self.channels,
            description=self.cfg.description,
        ).to_dict()


def on_white(rgba: torch.Tensor) -> torch.Tensor:
    """Premultiplied RGBA (B, 4, H, W) in [0, 1] composited on white -> RGB."""
    return rgba[:, :3] + (1 - rgba[:, 3:])


def random_crop(
    photos: list[np.ndarray], size: int, rng: np.random.Generator, zoom: tuple[float, float] = (1.0, 1.0)
) -> np.ndarray:
    """A random square crop of a random photo, randomly flipped and rotated by 90-degree steps.
    With a `zoom` range, the photo is first scaled by a factor drawn log-uniformly from it
    (above 1: smoother, as a crop of a higher-resolution photo; below 1: denser); photos too
    small for the crop are drawn again."""
    scale = 1.0 if zoom == (1.0, 1.0) else float(np.exp(rng.uniform(np.log(zoom[0]), np.log(zoom[1]))))
    side = round(size / scale)  # the region of the photo that becomes the crop
    if all(min(p.shape[:2]) < side for p in photos):
        raise UserError(
            f"no training photo is {side} px on each side, as a {size}-px crop at zoom {scale:.2f} needs: "
            "raise train.zoom's lower end"
        )
    while True:  # some T91 images are smaller than a crop: draw again
        photo = photos[int(rng.integers(len(photos)))]
        h, w = photo.shape[:2]
        if h >= side and w >= side:
            break
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = photo[y : y + side, x : x + side]
    if side != size:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(np.rot90(crop, int(rng.integers(4))))


def _train_photos(data_cfg: DataConfig) -> list[np.ndarray]:
    return data.load_photos(data_cfg.train)
