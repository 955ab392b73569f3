"""Inpainting: a network that refines a classical fill under painted-looking masks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from genstudio import data, registry
from genstudio.card import Card
from genstudio.errors import UserError
from genstudio.masks import random_mask
from genstudio.tasks.images import grid, to_uint8
from genstudio.tasks.inpaint import classical_fill
from genstudio.train.families import register
from genstudio.train.families.base import Family, _train_photos, random_crop


@dataclass
class InpaintSettings:
    loss: str = ""  # "l1" | "l2" (empty: l1)
    crop: int = 128
    coverage: list[float] = field(default_factory=lambda: [0.05, 0.40])
    zoom: list[float] = field(
        default_factory=lambda: [1.0, 1.0]
    )  # photo crops scaled by a factor drawn from this range
    adversarial_weight: float = 0.0  # > 0: a PatchGAN critic's hinge loss beside the pixel loss (sharper fills)
    d_lr: float = 2e-4
    d_width: int = 32


@register("inpaint")
class InpaintFamily(Family):
    """Learns to refine a Telea fill, on photo crops or on a labelled image set."""

    Settings = InpaintSettings

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        net = registry.build(self.arch, self.model_cfg).to(self.device)
        self.modules = {"net": net}
        self.optimizers = {"net": self._adam(net, self.t.lr)}
        self.schedulers = {"net": self._cosine(self.optimizers["net"])}
        self.loss = self.s.loss or "l1"  # l2 aims straight at PSNR; l1 at sharper fills
        if self.loss not in ("l1", "l2"):
            raise UserError(f"train.loss must be 'l1' or 'l2', got {self.loss!r}")
        self.adversarial_weight = self.s.adversarial_weight
        if self.adversarial_weight:  # a critic of the filled patches: fills with texture rather than the mean
            from genstudio.models.inpaint import PatchDiscriminator

            critic = PatchDiscriminator(net.out.out_channels, self.s.d_width).to(self.device)
            self.modules["d"] = critic
            self.optimizers["d"] = self._adam(critic, self.s.d_lr, (0.0, 0.9))
        self.crop = self.s.crop
        self.coverage = tuple(self.s.coverage)
        if self.data_cfg.dataset:
            images, _, _ = data.load_labelled_images(self.data_cfg.dataset, "train")
            self.images = images[..., None] if images.ndim == 3 else images
            self.crop = self.images.shape[1]
            self.photos = None
        else:
            self.photos = _train_photos(self.data_cfg)

    def _sample(self, rng: np.random.Generator) -> np.ndarray:
        if self.photos is None:
            return self.images[int(rng.integers(len(self.images)))]
        return random_crop(self.photos, self.crop, rng, tuple(self.s.zoom))

    def batches(self, rng: np.random.Generator | None = None):
        rng = rng or self.np_rng
        while True:
            targets, prefilled, masks = [], [], []
            for _ in range(self.batch_size):
                image = self._sample(rng)
                mask = random_mask(self.crop, self.crop, rng, self.coverage)
                targets.append(image)
                prefilled.append(classical_fill(image, mask, "telea"))
                masks.append(mask[..., None])
            as_t = lambda a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).float().to(self.device)
            yield as_t(prefilled) / 255, as_t(masks), as_t(targets) / 255

    def step(self, batch):
        prefilled, mask, target = batch
        with self.autocast():
            out = self.modules["net"](prefilled, mask).float()
        # only the hole is ever shown, so only the hole is scored
        hole_mean = lambda error: (error * mask).sum() / (mask.sum() * target.shape[1]).clamp(min=1)
        loss = hole_mean(torch.abs(out - target) if self.loss == "l1" else (out - target) ** 2)
        logged = {f"hole_{self.loss}": loss.item()}
        if self.adversarial_weight:
            filled = target * (1 - mask) + out * mask
            critic_loss, fooled = self._adversarial(filled, mask, target)
            loss = loss + self.adversarial_weight * fooled
            logged.update(critic_hinge=critic_loss, generator_adversarial=fooled.item())
        self.optimizers["net"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["net"].step()
        self.schedulers["net"].step()
        with torch.no_grad():
            l1, telea_l1 = hole_mean(torch.abs(out - target)), hole_mean(torch.abs(prefilled - target))
        return {**logged, "hole_l1": l1.item(), "telea_hole_l1": telea_l1.item()}

    def _adversarial(
        self, filled: torch.Tensor, mask: torch.Tensor, target: torch.Tensor
    ) -> tuple[float, torch.Tensor]:
        """One hinge step of the critic, then the fill's adversarial loss. Only patches that
        touch the hole count as fake (the rest of a filled image is the photo itself)."""
        critic = self.modules["d"]
        real_scores = critic(target, mask)
        in_hole = F.adaptive_max_pool2d(mask, real_scores.shape[-2:])
        fake_mean = lambda scores: (scores * in_hole).sum() / in_hole.sum().clamp(min=1)
        critic_loss = F.relu(1 - real_scores).mean() + fake_mean(F.relu(1 + critic(filled.detach(), mask)))
        self.optimizers["d"].zero_grad(set_to_none=True)
        critic_loss.backward()
        self.optimizers["d"].step()
        critic.requires_grad_(False)  # the fill's loss needs gradients for the fill, not the critic's weights
        fooled = -fake_mean(critic(filled, mask))
        critic.requires_grad_(True)
        return critic_loss.item(), fooled

    @torch.no_grad()
    def validate(self, net) -> dict[str, float]:
        """Photo models: dB over Telea on a fixed third of the unseen-photo validation set (photos
        no training set holds), the figure stages and settings are chosen by."""
        if self.photos is None:
            return {}
        from genstudio.eval.evaluate import inpaint_benchmark, inpaint_scores
        from genstudio.masks import BANDS

        net.eval()
        loaded = registry.LoadedModel("training", net, self.card(), self.arch, self.device)
        scores = inpaint_scores(loaded, inpaint_benchmark("unseen", 1)[::3], methods=("model", "telea"))
        gains = {band: scores[f"{band} psnr model"] - scores[f"{band} psnr telea"] for band in BANDS}
        return {
            "unseen_gain_db": round(float(np.mean(list(gains.values()))), 3),
            "unseen_gain_db_20_40": round(gains["20-40%"], 3),
            "unseen_hole_detail_20_40": scores["20-40% hole_detail model"],
        }

    @torch.no_grad()
    def preview(self, net):
        net.eval()
        prefilled, mask, target = next(self.batches(np.random.default_rng(0)))  # the same crops each time
        out = prefilled * (1 - mask) + net(prefilled, mask).clamp(0, 1) * mask
        holes = target * (1 - mask) + mask
        rows = [to_uint8(t[:8]) for t in (holes, prefilled, out, target)]
        return grid(np.concatenate(rows), 8)

    def card(self):
        dataset = self.data_cfg.dataset or "T91 + BSD200 crops"
        channels = 1 if self.photos is None else 3
        return Card(
            task="inpaint",
            dataset=dataset,
            image_size=self.crop if self.photos is None else None,
            channels=channels,
            prefill="telea",
            description=self.cfg.description,
        ).to_dict()
