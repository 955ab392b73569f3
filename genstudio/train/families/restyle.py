"""The restyle family: pairs of one emoji drawn by two vendors, source augmented, L1 + PatchGAN."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from genstudio import data, registry
from genstudio.card import Card
from genstudio.tasks.images import composite, grid, to_uint8
from genstudio.train.families import register
from genstudio.train.families.base import Family, on_white


def display_name(code: str, short_name: str) -> str:
    """Unicode's name of a one-code-point emoji ('cat face', 'slice of pizza'), else its short
    name with spaces ('flag us')."""
    points = [int(p, 16) for p in code.split("-") if p.upper() != "FE0F"]
    if len(points) == 1:
        try:
            return unicodedata.name(chr(points[0])).lower()
        except ValueError:
            pass
    return short_name.replace("_", " ").replace("-", " ")


def emoji_names(codes: np.ndarray, short_names: np.ndarray) -> tuple[list[str], list[str]]:
    """(codes in a fixed order, one unique display name each) for every emoji code in the set."""
    first = dict(zip(codes.tolist(), short_names.tolist()))
    ordered = sorted(first)
    names, seen = [], set()
    for code in ordered:
        name = display_name(code, first[code])
        if name in seen:  # two codes that Unicode names alike: keep the short name
            name = first[code].replace("_", " ")
        seen.add(name)
        names.append(name)
    return ordered, names


def augment_source(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """What the encoder sees of a source emoji: shifted and scaled a little, colours jittered,
    sometimes outlined, flattened or put on white, so a vendor it never saw is no surprise."""
    b, device = len(x), x.device
    u = lambda *shape: torch.rand(*shape, generator=gen).to(device)
    scale = 0.85 + 0.25 * u(b)
    shift = (u(b, 2) - 0.5) * (6 / 32)  # +-3 px of 64
    theta = torch.zeros(b, 2, 3, device=device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = shift
    x = F.grid_sample(x, F.affine_grid(theta, x.shape, align_corners=False), align_corners=False, padding_mode="zeros")
    rgb, alpha = x[:, :3], x[:, 3:]
    grey = rgb.mean(1, keepdim=True)
    rgb = grey + (rgb - grey) * (0.7 + 0.6 * u(b, 1, 1, 1))  # saturation
    rgb = rgb * (0.85 + 0.3 * u(b, 1, 1, 1)) + (u(b, 3, 1, 1) - 0.5) * 0.1 * alpha  # brightness, tint
    outline = (u(b, 1, 1, 1) < 0.15).float()  # a dark outline around the shape
    grown = F.max_pool2d(alpha, 3, 1, 1)
    rgb = rgb * (1 - outline) + outline * rgb * alpha / grown.clamp(min=1e-3)
    alpha = alpha * (1 - outline) + outline * grown
    flat = (u(b, 1, 1, 1) < 0.15).float()  # flat colours: shading smoothed away
    rgb = rgb * (1 - flat) + flat * F.avg_pool2d(rgb, 5, 1, 2)
    rgb = rgb.clamp(0, 1)
    rgb = torch.minimum(rgb, alpha)
    opaque = (u(b, 1, 1, 1) < 0.1).float()  # an opaque image on white (a drawing, a screenshot)
    rgb = rgb * (1 - opaque) + opaque * (rgb + 1 - alpha)
    alpha = alpha * (1 - opaque) + opaque
    return torch.cat([rgb, alpha], 1)


@dataclass
class RestyleSettings:
    adversarial_weight: float = 0.0  # > 0: a PatchGAN critic of (result, input, style) beside the L1 loss
    d_lr: float = 2e-4
    d_width: int = 32


@register("restyle")
class RestyleFamily(Family):
    """Learns `restyle(image of emoji E by vendor A, style B) = E by vendor B` on the train
    split of emoji codes (all ordered vendor pairs, A = B included, so it also reconstructs)."""

    Settings = RestyleSettings

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from genstudio.models.restyle import RestyleCritic

        train = data.load_emoji(self.data_cfg.split or "train", 64)
        self.images = torch.from_numpy(train["images"]).permute(0, 3, 1, 2).contiguous().to(self.device)
        self.style_names = train["style_names"]
        by_code: dict[str, list[int]] = {}
        for i, code in enumerate(train["codes"].tolist()):
            by_code.setdefault(code, []).append(i)
        self.groups = [idx for idx in by_code.values() if len(idx) > 1]
        self.styles = torch.from_numpy(train["styles"]).to(self.device)
        self.val = self._pairs(data.load_emoji("test", 64))
        self.every = data.load_emoji("all", 64)  # the per-name codes cover every emoji
        self.names_order, self.names = emoji_names(self.every["codes"], self.every["names"])
        net = registry.build(self.arch, {**self.model_cfg, "num_names": len(self.names)}).to(self.device)
        self.model_cfg = {**self.model_cfg, "num_names": len(self.names)}
        self.modules = {"net": net}
        self.optimizers = {"net": self._adam(net, self.t.lr)}
        self.schedulers = {"net": self._cosine(self.optimizers["net"])}
        self.adversarial_weight = self.s.adversarial_weight
        if self.adversarial_weight:
            critic = RestyleCritic(net.num_styles, self.s.d_width).to(self.device)
            self.modules["d"] = critic
            self.optimizers["d"] = self._adam(critic, self.s.d_lr, (0.0, 0.9))

    def _pairs(self, split: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every ordered pair of two different vendors' drawings of one code: (sources, targets, styles)."""
        by_code: dict[str, list[int]] = {}
        for i, code in enumerate(split["codes"].tolist()):
            by_code.setdefault(code, []).append(i)
        pairs = [(a, b) for idx in by_code.values() for a in idx for b in idx if a != b]
        src, dst = (torch.tensor(p) for p in zip(*pairs))
        images = torch.from_numpy(split["images"]).permute(0, 3, 1, 2)
        return images[src].contiguous(), images[dst].contiguous(), torch.from_numpy(split["styles"])[dst]

    def batches(self):
        while True:
            picks = torch.randint(0, len(self.groups), (self.batch_size,), generator=self.rng).tolist()
            src, dst = [], []
            for g in picks:
                group = self.groups[g]
                a, b = torch.randint(0, len(group), (2,), generator=self.rng).tolist()
                src.append(group[a])
                dst.append(group[b])
            src, dst = torch.tensor(src, device=self.device), torch.tensor(dst, device=self.device)
            yield augment_source(self.images[src], self.rng), self.images[dst], self.styles[dst]

    def step(self, batch):
        from genstudio.models.restyle import style_weights

        source, target, styles = batch
        weights = style_weights(styles, self.modules["net"].num_styles)
        with self.autocast():
            out = self.modules["net"](source, weights).float()
        l1 = F.l1_loss(out, target)
        loss, logged = l1, {"l1": l1.item()}
        if self.adversarial_weight:
            critic, opt_d = self.modules["d"], self.optimizers["d"]
            with self.autocast():
                critic_loss = (
                    F.relu(1 - critic(target, source, weights)).mean()
                    + F.relu(1 + critic(out.detach(), source, weights)).mean()
                )
            opt_d.zero_grad(set_to_none=True)
            critic_loss.backward()
            opt_d.step()
            critic.requires_grad_(False)
            with self.autocast():
                fooled = -critic(out, source, weights).float().mean()
            critic.requires_grad_(True)
            loss = loss + self.adversarial_weight * fooled
            logged.update(critic_hinge=critic_loss.item(), generator_adversarial=fooled.item())
        self.optimizers["net"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["net"].step()
        self.schedulers["net"].step()
        return logged

    @torch.no_grad()
    def restyle_all(self, net, sources: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        from genstudio.models.restyle import style_weights

        net.eval()
        out = [
            net(
                sources[i : i + 256].to(self.device), style_weights(styles[i : i + 256], net.num_styles).to(self.device)
            )
            for i in range(0, len(sources), 256)
        ]
        return torch.cat(out).float().cpu()

    @torch.no_grad()
    def validate(self, net) -> dict[str, float]:
        """PSNR on white against the real target drawing, over every vendor pair of the held-out
        codes (never trained on): the figure checkpoints are chosen by."""
        sources, targets, styles = self.val
        out = self.restyle_all(net, sources, styles)
        psnr = lambda x: float((10 * torch.log10(1 / ((on_white(x) - on_white(targets)) ** 2).mean((1, 2, 3)))).mean())
        return {"test_psnr_white": round(psnr(out), 3), "test_psnr_identity": round(psnr(sources), 3)}

    @torch.no_grad()
    def preview(self, net):
        """Rows: 10 held-out emoji as given, then restyled into each style, then the real targets' vendor."""
        sources = self.val[0][::97][:10]
        rows = [sources] + [
            self.restyle_all(net, sources, torch.full((len(sources),), s)) for s in range(len(self.style_names))
        ]
        return composite(grid(to_uint8(torch.cat(rows)), len(sources), fill=0), 255, premultiplied=True)

    @torch.no_grad()
    def before_save(self, net) -> None:
        """Store a content code per emoji name: the mean of its vendors' codes."""
        net.eval()
        images = torch.from_numpy(self.every["images"]).permute(0, 3, 1, 2)
        codes = torch.cat(
            [net.encode(images[i : i + 256].to(self.device)).float().cpu() for i in range(0, len(images), 256)]
        )
        index = {code: i for i, code in enumerate(self.names_order)}
        rows = torch.tensor([index[c] for c in self.every["codes"].tolist()])
        sums = torch.zeros(len(self.names_order), *codes.shape[1:]).index_add_(0, rows, codes)
        counts = torch.bincount(rows, minlength=len(self.names_order)).float()
        net.name_codes.copy_((sums / counts[:, None, None, None]).half())

    def card(self):
        from genstudio.tasks.images import unpremultiply
        from genstudio.tasks.restyle import colour_stats

        if not hasattr(self, "style_colours"):  # Reinhard's baseline: each vendor's colours on the train split
            straight = unpremultiply((self.images.permute(0, 2, 3, 1).cpu().numpy() * 255).round().astype(np.uint8))
            styles = self.styles.cpu().numpy()
            self.style_colours = {
                name: [round(v, 3) for v in colour_stats(straight[styles == s])]
                for s, name in enumerate(self.style_names)
            }
        return Card(
            task="restyle",
            dataset="emoji (premultiplied RGBA, 64 px)",
            styles=self.style_names,
            image_size=64,
            channels=4,
            names=self.names,
            style_colours=self.style_colours,
            description=self.cfg.description,
            credits=data.EMOJI_CREDITS,
            split="train: 80% of code points (genstudio.data.emoji_split); validation and figures: the other 20%",
        ).to_dict()
