"""What each model family adds to the one loop: its networks, optimisers, data and step.

A family exposes `modules` (name -> nn.Module; the loop wraps trainable ones in DDP),
`optimizers`, `shipped` (the module that becomes the checkpoint, EMA'd by the loop),
`batches()`, `step(batch) -> {loss name: value}`, `arch_spec()`, `card()`,
`preview(net) -> uint8 image` and `validate(net) -> {metric: value}`.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from genstudio import data, registry
from genstudio.card import Card
from genstudio.devices import has_fast_bfloat16
from genstudio.errors import UserError
from genstudio.masks import random_mask
from genstudio.tasks.images import composite, grid, to_uint8
from genstudio.tasks.inpaint import classical_fill
from genstudio.tasks.upscale import bicubic_downscale
from genstudio.train.config import DataConfig, RunConfig
from genstudio.train.ddp import unwrap


class Family:
    shipped = "net"

    def __init__(self, cfg: RunConfig, device: torch.device, rank: int = 0, world: int = 1):
        self.cfg, self.device, self.rank, self.world = cfg, device, rank, world
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}  # saved and restored by the loop
        self.t, self.data_cfg = cfg.train, cfg.data
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
        if self.t.balanced:  # each label as likely as any other: weight 1 / (its label's count)
            weights = 1.0 / torch.bincount(self.labels.cpu())[self.labels.cpu()].double()
        while True:
            if weights is None:
                idx = torch.randint(0, len(self.images), (self.batch_size,), generator=self.rng)
            else:
                idx = torch.multinomial(weights, self.batch_size, replacement=True, generator=self.rng)
            idx = idx.to(self.device)
            conds = (self.labels[idx], self.styles[idx]) if self.styles is not None else (self.labels[idx],)
            images = self.images[idx].float() / 255
            if self.t.mirror:
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


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """DiffAugment (Zhao et al., 2020): the same differentiable augmentations on real and fake
    images keep a discriminator from memorising a small set. Randomness comes from `generator`
    (on the CPU), so a resumed run draws the same augmentations."""
    b = len(x)
    rand = lambda *shape: torch.rand(*shape, generator=generator).to(x.device)
    if "color" in policy:
        x = x + (rand(b, 1, 1, 1) - 0.5)
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (rand(b, 1, 1, 1) * 2) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (rand(b, 1, 1, 1) + 0.5) + mean
    if "translation" in policy:  # shift by up to 1/8 of the side, zero padding
        pad = x.shape[-1] // 8
        shift = (rand(2, b) * (2 * pad + 1)).long() - pad
        padded = F.pad(x, (pad, pad, pad, pad))
        rows = torch.arange(x.shape[2], device=x.device)[None, :] + pad - shift[0][:, None]
        cols = torch.arange(x.shape[3], device=x.device)[None, :] + pad - shift[1][:, None]
        x = padded[torch.arange(b)[:, None, None], :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    if "cutout" in policy:  # a square of half the side set to zero
        side = x.shape[-1] // 2
        corner = (rand(2, b) * (x.shape[-1] - side + 1)).long()
        grid_y = torch.arange(x.shape[2], device=x.device)[None, :, None]
        grid_x = torch.arange(x.shape[3], device=x.device)[None, None, :]
        inside = (
            (grid_y >= corner[0][:, None, None])
            & (grid_y < corner[0][:, None, None] + side)
            & (grid_x >= corner[1][:, None, None])
            & (grid_x < corner[1][:, None, None] + side)
        )
        x = x * (~inside)[:, None].float()
    return x


class GANFamily(_LabelledImages):
    """A GAN with a hinge or non-saturating (BCE) loss; class-conditional when the generator
    has num_classes > 0, and style-conditional too when it has num_styles > 0 (emoji)."""

    shipped = "g"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from genstudio.models.gan import DCGANDiscriminator, Discriminator

        g = registry.build(self.arch, self.model_cfg).to(self.device)
        self.aux_weight = self.t.aux_class_weight
        # a heavier term for G alone pushes samples to read as their label without teaching D anything new
        self.g_aux_weight = self.aux_weight if self.t.g_aux_class_weight is None else self.t.g_aux_class_weight
        if self.t.g_aux_class_weight is not None and not self.aux_weight:
            raise UserError(
                "train.g_aux_class_weight needs train.aux_class_weight > 0 "
                "(the discriminator's auxiliary head it is judged by)"
            )
        self.loss = self.t.loss or "hinge"
        if self.loss not in ("hinge", "bce"):
            raise UserError(f"train.loss must be 'hinge' or 'bce', got {self.loss!r}")
        self.augment = tuple(p.strip() for p in self.t.diffaugment.split(",") if p.strip())
        unknown = set(self.augment) - {"color", "translation", "cutout"}
        if unknown:
            raise UserError(
                f"train.diffaugment: unknown policy {', '.join(sorted(unknown))} (use color, translation, cutout)"
            )
        self.num_styles = getattr(g, "num_styles", 0)
        self.d_norm = self.t.d_norm or ("batch" if self.num_styles else "spectral")
        # a generator that sees subcategories trains on them (the discriminator judges them too);
        # it is sampled by category
        if hasattr(g, "num_subcategories"):
            g.set_subcategories(self.subcategories, self.labels)
            self.labels = self.subcategories
        d_classes = getattr(g, "condition_classes", g.num_classes)
        if self.num_styles or self.d_norm == "batch":  # DCGAN's strided discriminator, batch- or spectral-normed
            d = DCGANDiscriminator(
                self.t.d_width,
                d_classes,
                self.num_styles,
                self.channels,
                self.image_size,
                self.d_norm,
                auxiliary_classifier=self.aux_weight > 0,
            )
        else:  # SNGAN's discriminator (spectral norm throughout)
            d = Discriminator(self.t.d_width, d_classes, self.channels, auxiliary_classifier=self.aux_weight > 0)
        if self.t.init_discriminator:  # a warm critic for a generator that starts near its teacher
            from genstudio.train.stages import run_module

            try:
                d.load_state_dict(run_module(self.t.init_discriminator, "d"))
            except RuntimeError as err:
                raise UserError(
                    f"train.init_discriminator {self.t.init_discriminator!r}: "
                    f"its discriminator does not fit this one ({err})"
                ) from err
        d = d.to(self.device)
        self.modules = {"g": g, "d": d}
        self.optimizers = {"g": self._adam(g, self.t.lr, (0.0, 0.9)), "d": self._adam(d, self.t.d_lr, (0.0, 0.9))}
        # a self-conditioned generator trains on clusters of the images in place of their labels
        self.clustered = hasattr(g, "num_clusters")
        if self.clustered:
            clusters = torch.from_numpy(
                data.kmeans(self.images.flatten(1).float().cpu().numpy() / 255, g.num_clusters, self.t.seed)
            )
            self.labels = clusters.to(self.device)
            g.cluster_shares.copy_(torch.bincount(clusters, minlength=g.num_clusters).float() / len(clusters))
        self.conditional = g.num_classes > 0 and not self.clustered
        self.preview_z = torch.randn(100, g.latent_dim, generator=torch.Generator().manual_seed(0)).to(self.device)
        self.teacher, self.teacher_record = self._read_teacher(g)

    def _read_teacher(self, g) -> tuple[torch.nn.Module | None, dict | None]:
        """The trained generator this one learns to match image for image (distillation into a
        smaller, faster network: Aguinaldo et al., 2019), frozen and in eval mode as it samples."""
        if bool(self.t.teacher) != (self.t.distill_weight > 0):
            raise UserError(
                "train.teacher and train.distill_weight > 0 go together (the L1 term needs a teacher and a weight)"
            )
        if not self.t.teacher:
            return None, None
        from genstudio.train.stages import read_part

        _, teacher, record = read_part(self.t.teacher)
        teacher = getattr(teacher, "generator", teacher)  # a cascade teaches with its low-resolution generator
        mine = lambda net: (net.latent_dim, net.num_classes, getattr(net, "num_styles", 0))
        if mine(teacher) != mine(g):
            raise UserError(
                f"train.teacher {self.t.teacher!r}: its latent size, classes and styles {mine(teacher)} "
                f"differ from this generator's {mine(g)}"
            )
        return teacher.to(self.device).eval().requires_grad_(False), record

    def batches(self):
        for images, conds in super().batches():
            yield images, (conds if self.num_styles else conds[:1]) if self.conditional or self.clustered else ()

    def _d_loss(self, real_scores, fake_scores):
        if self.loss == "hinge":
            return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def _g_loss(self, fake_scores):
        return -fake_scores.mean() if self.loss == "hinge" else F.softplus(-fake_scores).mean()

    def _aux_loss(self, logits, cond):
        """Cross-entropy of the auxiliary head: the class, and the style too for style models."""
        k = unwrap(self.modules["d"]).num_classes
        loss = F.cross_entropy(logits[:, :k], cond[0])
        return loss + F.cross_entropy(logits[:, k:], cond[1]) if len(cond) > 1 else loss

    def _aug(self, x):
        return diff_augment(x, self.augment, self.rng) if self.augment else x

    def step(self, batch):
        real, cond = batch
        real = real * 2 - 1
        g, d = self.modules["g"], self.modules["d"]
        z = torch.randn(len(real), unwrap(g).latent_dim, generator=self.rng).to(self.device)
        losses = {}
        with self.autocast():
            with torch.no_grad():
                fake = g(z, *cond)
            if self.d_norm == "batch":  # batch statistics must not mix real and fake
                real_scores, logits = d(self._aug(real), *cond)
                fake_scores, _ = d(self._aug(fake), *cond)
            else:
                both = tuple(torch.cat([c, c]) for c in cond)
                scores, logits = d(self._aug(torch.cat([real, fake])), *both)  # one forward: DDP-friendly
                real_scores, fake_scores = scores[: len(real)], scores[len(real) :]
                logits = logits[: len(real)] if logits is not None else None
        real_scores, fake_scores = real_scores.float(), fake_scores.float()  # losses in float32
        loss_d = self._d_loss(real_scores, fake_scores)
        if logits is not None:  # the classifier learns from real images only, so G's mistakes never teach it
            aux_d = self._aux_loss(logits.float(), cond)
            loss_d = loss_d + self.aux_weight * aux_d
            losses["aux_d"] = aux_d.item()
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()

        plain_d = unwrap(d).requires_grad_(False)  # G's step needs no D gradients (nor their all-reduce)
        with self.autocast():
            fake_for_g = g(z, *cond)
            scores, logits = plain_d(self._aug(fake_for_g), *cond)
        loss_g = self._g_loss(scores.float())
        if logits is not None:
            aux_g = self._aux_loss(logits.float(), cond)
            loss_g = loss_g + self.g_aux_weight * aux_g
            losses["aux_g"] = aux_g.item()
        if self.teacher is not None:
            with torch.no_grad(), self.autocast():
                target = self.teacher(z, *cond)
            distill = F.l1_loss(fake_for_g.float(), target.float())
            loss_g = loss_g + self.t.distill_weight * distill
            losses["distill_l1"] = distill.item()
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["g"].step()
        plain_d.requires_grad_(True)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), **losses}

    @torch.no_grad()
    def preview(self, net):
        net.eval()
        if not self.conditional:
            return grid(to_uint8(net.generate(self.preview_z)), 10)
        # one row per class, so a conditional grid reads class by class
        rows = torch.arange(100, device=self.device) // 10
        cond = (rows % net.num_classes,)
        if self.num_styles:
            cond += (torch.arange(100, device=self.device) % self.num_styles,)
        images = to_uint8(net.generate(self.preview_z, *cond))
        return grid(images if images.shape[-1] != 4 else composite(images, 255, premultiplied=True), 10)

    def card(self):
        card = self.base_card("conditional" if self.conditional else "sample")
        if self.num_styles:
            card.update(styles=self.style_names, credits=data.EMOJI_CREDITS)
        if self.teacher_record:
            card["provenance"] = {"teacher": self.teacher_record}  # the loop adds the rest of the provenance
        return card


class VAEFamily(_LabelledImages):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        net = registry.build(self.arch, self.model_cfg).to(self.device)
        self.modules = {"net": net}
        self.fit_prior = self.t.fit_prior
        if self.fit_prior:  # a later stage: only the flow prior learns, on the frozen encoder's posteriors
            if getattr(net, "prior_flow", None) is None:
                raise UserError(f"{self.cfg.source}: train.fit_prior needs a flow prior ([model] prior_layers > 0)")
            if self.world > 1:
                raise UserError("train.fit_prior runs in one process (a few CPU-minutes)")
            net.requires_grad_(False).prior_flow.requires_grad_(True)
            self.optimizers = {"net": self._adam(net.prior_flow, self.t.lr)}
            self.schedulers = {"net": self._cosine(self.optimizers["net"])}
        else:
            self.optimizers = {"net": self._adam(net, self.t.lr)}
        self.beta = self.t.beta
        self.warmup = self.t.kl_warmup_steps  # KL annealing avoids early posterior collapse
        self.steps_done = 0  # for the KL warm-up; saved with the run
        self.conditional = getattr(net, "num_classes", 0) > 0

    def state_dict(self):
        return {**super().state_dict(), "steps_done": self.steps_done}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.steps_done = int(state["steps_done"])

    def step(self, batch):
        x, conds = batch
        net = self.modules["net"]
        if self.fit_prior:
            nll = net.prior_nll(x, *conds) if self.conditional else net.prior_nll(x)
            self.optimizers["net"].zero_grad(set_to_none=True)
            nll.backward()
            self.optimizers["net"].step()
            self.schedulers["net"].step()
            return {"prior_nll": nll.item()}
        logits, mu, logvar = net(x, *conds) if self.conditional else net(x)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / len(x)
        self.steps_done += 1
        beta = self.beta * min(1.0, self.steps_done / self.warmup) if self.warmup else self.beta
        loss = recon + beta * kl
        self.optimizers["net"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["net"].step()
        return {"recon_bce": recon.item(), "kl": kl.item()}

    @torch.no_grad()
    def preview(self, net):
        net.eval()
        z = torch.randn(100, net.latent_dim, generator=torch.Generator().manual_seed(0)).to(self.device)
        if not self.conditional:
            return grid(to_uint8(net.generate(z)), 10)
        rows = torch.arange(100, device=self.device) // 10 % net.num_classes  # one row per class
        styles = (torch.arange(100, device=self.device) % net.num_styles,) if self.styles is not None else ()
        return grid(composite(to_uint8(net.generate(z, rows, *styles)), 255, premultiplied=True), 10)

    def card(self):
        card = self.base_card("conditional" if self.conditional else "sample")
        if self.styles is not None:
            card.update(styles=self.style_names, credits=data.EMOJI_CREDITS)
        return card


class ClassifierFamily(_LabelledImages):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        net = registry.build(self.arch, self.model_cfg).to(self.device)
        self.modules = {"net": net}
        self.optimizers = {"net": torch.optim.AdamW(net.parameters(), lr=self.t.lr, weight_decay=1e-4)}
        self.schedulers = {"net": self._cosine(self.optimizers["net"])}
        if self.styles is not None:  # emoji: judged on the held-out code points, composited on white
            test = data.load_emoji("test", self.image_size)
            x = on_white(torch.from_numpy(test["images"]).permute(0, 3, 1, 2))
            self.test = (x, torch.from_numpy(test["labels"]), torch.from_numpy(test["styles"]))
        else:
            test_images, test_labels, _ = data.load_labelled_images(self.data_cfg.dataset, "test")
            self.test = (torch.from_numpy(test_images[:, None]).float().div(255), torch.from_numpy(test_labels))

    def step(self, batch):
        x, conds = batch
        if x.shape[1] == 4:
            x = on_white(x)
        # light augmentation: random shifts of up to 2 px
        x = torch.roll(
            x,
            shifts=(
                int(torch.randint(-2, 3, (1,), generator=self.rng)),
                int(torch.randint(-2, 3, (1,), generator=self.rng)),
            ),
            dims=(2, 3),
        )
        net = self.modules["net"]
        with self.autocast():
            features = net.features(x)
            logits = net.head(features)
            style_logits = unwrap(net).style_head(features) if len(conds) > 1 else None
        loss = F.cross_entropy(logits.float(), conds[0], label_smoothing=0.05)
        losses = {"loss": loss.item()}
        if style_logits is not None:
            style_loss = F.cross_entropy(style_logits.float(), conds[1], label_smoothing=0.05)
            loss = loss + style_loss
            losses["style_loss"] = style_loss.item()
        self.optimizers["net"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["net"].step()
        self.schedulers["net"].step()
        return losses

    @torch.no_grad()
    def validate(self, net):
        net.eval()
        x, y = self.test[:2]
        feats = torch.cat([net.features(x[i : i + 1000].to(self.device)).cpu() for i in range(0, len(x), 1000)])
        out = {"test_accuracy": round(float((net.head(feats).argmax(1) == y).float().mean()), 4)}
        if len(self.test) > 2:
            out["test_style_accuracy"] = round(
                float((net.style_head(feats).argmax(1) == self.test[2]).float().mean()), 4
            )
        return out

    def preview(self, net):
        return grid(to_uint8(self.test[0][:100]), 10)

    def card(self):
        card = self.base_card("classify")
        if self.styles is not None:
            # it sees emoji composited on white, as generated samples are judged
            card.update(
                channels=3,
                styles=self.style_names,
                credits=data.EMOJI_CREDITS,
                split="train: 80% of code points (genstudio.data.emoji_split), all styles",
            )
        return card


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


class SRFamily(Family):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        net = registry.build(self.arch, self.model_cfg).to(self.device)
        self.emoji = self.data_cfg.dataset == "emoji"
        if self.emoji:  # the second half of a 32 -> 64 px emoji cascade, on premultiplied RGBA
            as_tensor = lambda split: (
                torch.from_numpy(data.load_emoji(split, 64)["images"]).permute(0, 3, 1, 2).contiguous()
            )
            self.emoji_hr, self.emoji_val = as_tensor(self.data_cfg.split), as_tensor("test")[::4]
        else:
            self.photos = _train_photos(self.data_cfg)
        self.scale = net.scale
        self.modules = {"net": net}
        self.optimizers = {"net": self._adam(net, self.t.lr)}
        self.schedulers = {"net": self._cosine(self.optimizers["net"])}
        self.patch = self.t.lr_patch
        if not self.emoji:  # validation: the chosen set ("unseen": photos no training set holds), Set5 beside it
            self.val = data.unseen_crops() if self.data_cfg.val == "unseen" else data.load_photos([self.data_cfg.val])
            self.set5 = data.load_photos(["val/set5"])

    def emoji_low_res(self, hr: torch.Tensor) -> torch.Tensor:
        """Area downsampling: how the 32-px generator's training emoji were made."""
        return F.interpolate(hr, scale_factor=1 / self.scale, mode="area")

    def batches(self):
        while self.emoji:
            hr = self.emoji_hr[torch.randint(0, len(self.emoji_hr), (self.batch_size,), generator=self.rng)].to(
                self.device
            )
            yield self.emoji_low_res(hr), hr
        while True:
            hr = np.stack(
                [random_crop(self.photos, self.patch * self.scale, self.np_rng) for _ in range(self.batch_size)]
            )
            lr = np.stack([bicubic_downscale(h, self.scale) for h in hr])
            yield (
                torch.from_numpy(lr).permute(0, 3, 1, 2).float().div(255).to(self.device),
                torch.from_numpy(hr).permute(0, 3, 1, 2).float().div(255).to(self.device),
            )

    def step(self, batch):
        lr, hr = batch
        loss = F.l1_loss(self.modules["net"](lr), hr)
        self.optimizers["net"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["net"].step()
        self.schedulers["net"].step()
        return {"l1": loss.item()}

    @torch.no_grad()
    def validate(self, net):
        from genstudio.eval.metrics import sr_scores
        from genstudio.tasks.upscale import upscale_array

        net.eval()
        if self.emoji:
            hr = self.emoji_val.to(self.device)
            lr = self.emoji_low_res(hr)
            psnr_of = lambda out: float(
                (10 * torch.log10(1 / ((out.clamp(0, 1) - hr) ** 2).mean(dim=(1, 2, 3)))).mean()
            )
            bicubic = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
            return {
                "emoji_test_psnr": round(psnr_of(net(lr)), 3),
                "emoji_test_psnr_bicubic": round(psnr_of(bicubic), 3),
            }
        loaded = registry.LoadedModel("training", net, self.card(), self.arch, self.device)

        def mean_psnr(photos):
            scores = []
            for hr in photos:
                hr = hr[: hr.shape[0] - hr.shape[0] % self.scale, : hr.shape[1] - hr.shape[1] % self.scale]
                scores.append(sr_scores(upscale_array(bicubic_downscale(hr, self.scale), loaded), hr, self.scale)[0])
            return round(float(np.mean(scores)), 3)

        scores = {"set5_psnr_y": mean_psnr(self.set5)}
        if self.data_cfg.val == "unseen":
            scores["unseen_psnr_y"] = mean_psnr(self.val)
        return scores

    @torch.no_grad()
    def preview(self, net):
        net.eval()
        if self.emoji:
            hr = self.emoji_val[:8].to(self.device)
            lr = self.emoji_low_res(hr)
            rows = [F.interpolate(lr, scale_factor=self.scale, mode="nearest"), net(lr).clamp(0, 1), hr]
            return composite(grid(to_uint8(torch.cat(rows)), 8, fill=0), 255, premultiplied=True)
        hr = self.set5[2][:128, :128]  # Set5 butterfly: edges show SR best
        lr = (
            torch.from_numpy(np.array(bicubic_downscale(hr, self.scale)))
            .permute(2, 0, 1)[None]
            .float()
            .div(255)
            .to(self.device)
        )
        up = to_uint8(net(lr))[0]
        return np.concatenate([hr, up], axis=1)

    def card(self):
        if self.emoji:
            return Card(
                task="upscale",
                dataset="emoji (premultiplied RGBA)",
                image_size=32,
                channels=4,
                scale=self.scale,
                description=self.cfg.description,
                credits=data.EMOJI_CREDITS,
            ).to_dict()
        return Card(
            task="upscale",
            dataset="T91 + BSD200 (291 images)",
            channels=3,
            scale=self.scale,
            description=self.cfg.description,
        ).to_dict()


class InpaintFamily(Family):
    """Learns to refine a Telea fill, on photo crops or on a labelled image set."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        net = registry.build(self.arch, self.model_cfg).to(self.device)
        self.modules = {"net": net}
        self.optimizers = {"net": self._adam(net, self.t.lr)}
        self.schedulers = {"net": self._cosine(self.optimizers["net"])}
        self.loss = self.t.loss or "l1"  # l2 aims straight at PSNR; l1 at sharper fills
        if self.loss not in ("l1", "l2"):
            raise UserError(f"train.loss must be 'l1' or 'l2', got {self.loss!r}")
        self.adversarial_weight = self.t.adversarial_weight
        if self.adversarial_weight:  # a critic of the filled patches: fills with texture rather than the mean
            from genstudio.models.inpaint import PatchDiscriminator

            critic = PatchDiscriminator(net.out.out_channels, self.t.d_width).to(self.device)
            self.modules["d"] = critic
            self.optimizers["d"] = self._adam(critic, self.t.d_lr, (0.0, 0.9))
        self.crop = self.t.crop
        self.coverage = tuple(self.t.coverage)
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
        return random_crop(self.photos, self.crop, rng, tuple(self.t.zoom))

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


class CascadeFamily(Family):
    """Joins trained stages into one model (no optimisation: `steps = 0`): `train.parts`
    names the runs (or shelf models) of the low-resolution generator and the upscaler."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from genstudio.train.stages import read_part, read_stage, stage_record

        if len(self.t.parts) != 2:
            raise UserError(
                f"{self.cfg.source}: train.parts must name the generator and the upscaler, got {self.t.parts!r}"
            )
        gen_info, gen = read_stage(self.t.parts[0])
        (up_arch, up_kwargs), upscaler, up_record = read_part(self.t.parts[1])
        if gen_info.card.get("task") not in ("sample", "conditional") or not hasattr(upscaler, "scale"):
            raise UserError(f"{self.cfg.source}: train.parts must be a generator, then an upscaler")
        self.model_cfg = {
            "generator": {"arch": gen_info.arch, "kwargs": gen_info.kwargs},
            "upscaler": {"arch": up_arch, "kwargs": up_kwargs},
        }
        net = registry.build(self.arch, self.model_cfg).to(self.device)
        net.generator.load_state_dict(gen.net.state_dict())
        net.upscaler.load_state_dict(upscaler.state_dict())
        self.modules, self.optimizers = {"net": net}, {}
        self.gen_card, self.scale = gen_info.card, int(upscaler.scale)
        self.stages = [stage_record(gen_info, self.t.parts[0]), up_record]
        self.preview_z = torch.randn(100, net.latent_dim, generator=torch.Generator().manual_seed(0)).to(self.device)

    def batches(self):
        raise UserError("a cascade is assembled, not trained: set train.steps = 0")
        yield

    @torch.no_grad()
    def preview(self, net):
        rows = torch.arange(100, device=self.device) // 10 % max(1, net.num_classes)
        cond = (rows,) + ((torch.arange(100, device=self.device) % net.num_styles,) if net.num_styles else ())
        images = to_uint8(net.generate(self.preview_z, *cond))
        return grid(images if images.shape[-1] != 4 else composite(images, 255, premultiplied=True), 10)

    def card(self):
        card = {
            **self.gen_card,
            "image_size": self.gen_card["image_size"] * self.scale,
            "metrics": {},
            "description": self.cfg.description,
            "stages": self.stages,
        }
        card.pop("provenance", None)
        return card


class InterpolateFamily(Family):
    """Network interpolation (Wang et al., ESRGAN, 2018): the weights (1 - blend) A + blend B
    of two trained stages of one architecture, e.g. a PSNR-best model and its adversarially
    tuned successor; `blend` sets the trade between fidelity and detail without retraining.
    Assembled, not trained (`steps = 0`); the card records both stages."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from genstudio.train.stages import read_stage, stage_record

        if len(self.t.parts) != 2 or not 0 <= self.t.blend <= 1:
            raise UserError(f"{self.cfg.source}: interpolation needs train.parts = [A, B] and 0 <= train.blend <= 1")
        (a_info, a), (b_info, b) = (read_stage(p) for p in self.t.parts)
        if not (self.arch, self.model_cfg) == (a_info.arch, a_info.kwargs) == (b_info.arch, b_info.kwargs):
            raise UserError(f"{self.cfg.source}: train.parts must both be the [model] this config describes")
        net = registry.build(self.arch, self.model_cfg).to(self.device)
        b_state = b.net.state_dict()
        net.load_state_dict(
            {
                k: v.lerp(b_state[k], self.t.blend) if v.is_floating_point() else b_state[k]
                for k, v in a.net.state_dict().items()
            }
        )
        self.modules, self.optimizers = {"net": net}, {}
        self.base_card = {**a_info.card, "metrics": {}, "description": self.cfg.description}
        self.base_card.pop("provenance", None)
        self.base_card["stages"] = [stage_record(a_info, self.t.parts[0]), stage_record(b_info, self.t.parts[1])]

    def batches(self):
        raise UserError("an interpolation is assembled, not trained: set train.steps = 0")
        yield

    def card(self):
        return dict(self.base_card)


FAMILIES = {
    "gan": GANFamily,
    "vae": VAEFamily,
    "classifier": ClassifierFamily,
    "sr": SRFamily,
    "inpaint": InpaintFamily,
    "cascade": CascadeFamily,
    "interpolate": InterpolateFamily,
}


def make_family(cfg: RunConfig, device: torch.device, rank: int = 0, world: int = 1) -> Family:
    from genstudio.train.restyle import RestyleFamily  # it builds on Family: imported once this module is whole

    FAMILIES.setdefault("restyle", RestyleFamily)
    if cfg.family not in FAMILIES:
        raise UserError(f"{cfg.source}: unknown family {cfg.family!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[cfg.family](cfg, device, rank, world)
