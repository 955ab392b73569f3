"""GANs: unconditional, class-, style- and self-conditioned, distilled."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genstudio import data, registry
from genstudio.errors import UserError
from genstudio.tasks.images import composite, grid, to_uint8
from genstudio.train.ddp import unwrap
from genstudio.train.families import register
from genstudio.train.families.base import (
    LabelledSettings,
    _LabelledImages,
)


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


@dataclass
class GANSettings(LabelledSettings):
    loss: str = ""  # "hinge" | "bce" (empty: hinge)
    d_lr: float = 2e-4
    d_width: int = 32
    # "batch": DCGAN's discriminator; "spectral": SNGAN's (styled models: DCGAN's, spectral-normed);
    # "" = batch for styled models, else spectral
    d_norm: str = ""
    aux_class_weight: float = 0.0  # AC-GAN term beside the projection (0 = projection only)
    g_aux_class_weight: float | None = None  # the generator's weight on that term (None = aux_class_weight)
    diffaugment: str = ""  # comma-separated DiffAugment policy: color, translation, cutout
    teacher: str = ""  # a trained generator (run, shelf model, file; NAME#PART) the generator learns to match, z for z
    distill_weight: float = 0.0  # weight of the L1 distance to the teacher's image beside the adversarial loss
    init_discriminator: str = ""  # a GAN run directory whose discriminator this run's starts from (its state.pt)


@register("gan")
class GANFamily(_LabelledImages):
    """A GAN with a hinge or non-saturating (BCE) loss; class-conditional when the generator
    has num_classes > 0, and style-conditional too when it has num_styles > 0 (emoji)."""

    Settings = GANSettings

    shipped = "g"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from genstudio.models.gan import DCGANDiscriminator, Discriminator

        g = registry.build(self.arch, self.model_cfg).to(self.device)
        self.aux_weight = self.s.aux_class_weight
        # a heavier term for G alone pushes samples to read as their label without teaching D anything new
        self.g_aux_weight = self.aux_weight if self.s.g_aux_class_weight is None else self.s.g_aux_class_weight
        if self.s.g_aux_class_weight is not None and not self.aux_weight:
            raise UserError(
                "train.g_aux_class_weight needs train.aux_class_weight > 0 "
                "(the discriminator's auxiliary head it is judged by)"
            )
        self.loss = self.s.loss or "hinge"
        if self.loss not in ("hinge", "bce"):
            raise UserError(f"train.loss must be 'hinge' or 'bce', got {self.loss!r}")
        self.augment = tuple(p.strip() for p in self.s.diffaugment.split(",") if p.strip())
        unknown = set(self.augment) - {"color", "translation", "cutout"}
        if unknown:
            raise UserError(
                f"train.diffaugment: unknown policy {', '.join(sorted(unknown))} (use color, translation, cutout)"
            )
        self.num_styles = g.num_styles  # g: a gan.Conditioning (what it is conditioned on)
        self.d_norm = self.s.d_norm or ("batch" if self.num_styles else "spectral")
        # a generator that sees subcategories trains on them (the discriminator judges them too);
        # it is sampled by category
        if g.num_subcategories:
            g.set_subcategories(self.subcategories, self.labels)
            self.labels = self.subcategories
        d_classes = g.condition_classes
        if self.num_styles or self.d_norm == "batch":  # DCGAN's strided discriminator, batch- or spectral-normed
            d = DCGANDiscriminator(
                self.s.d_width,
                d_classes,
                self.num_styles,
                self.channels,
                self.image_size,
                self.d_norm,
                auxiliary_classifier=self.aux_weight > 0,
            )
        else:  # SNGAN's discriminator (spectral norm throughout)
            d = Discriminator(self.s.d_width, d_classes, self.channels, auxiliary_classifier=self.aux_weight > 0)
        if self.s.init_discriminator:  # a warm critic for a generator that starts near its teacher
            from genstudio.train.stages import run_module

            try:
                d.load_state_dict(run_module(self.s.init_discriminator, "d"))
            except RuntimeError as err:
                raise UserError(
                    f"train.init_discriminator {self.s.init_discriminator!r}: "
                    f"its discriminator does not fit this one ({err})"
                ) from err
        d = d.to(self.device)
        self.modules = {"g": g, "d": d}
        self.optimizers = {"g": self._adam(g, self.t.lr, (0.0, 0.9)), "d": self._adam(d, self.s.d_lr, (0.0, 0.9))}
        # a self-conditioned generator trains on clusters of the images in place of their labels
        self.clustered = g.num_clusters > 0
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
        if bool(self.s.teacher) != (self.s.distill_weight > 0):
            raise UserError(
                "train.teacher and train.distill_weight > 0 go together (the L1 term needs a teacher and a weight)"
            )
        if not self.s.teacher:
            return None, None
        from genstudio.train.stages import read_part

        _, teacher, record = read_part(self.s.teacher)
        teacher = getattr(teacher, "generator", teacher)  # a cascade teaches with its low-resolution generator
        mine = lambda net: (net.latent_dim, net.num_classes, getattr(net, "num_styles", 0))
        if mine(teacher) != mine(g):
            raise UserError(
                f"train.teacher {self.s.teacher!r}: its latent size, classes and styles {mine(teacher)} "
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
            loss_g = loss_g + self.s.distill_weight * distill
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
