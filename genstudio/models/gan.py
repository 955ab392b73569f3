"""DCGAN-family generators and discriminators, unconditional or class-conditional.

Generator: DCGAN (Radford et al., 2016); a conditional one also sees the class as an
input beside z and through class-conditional BatchNorm.
Discriminators: SNGAN's (spectral norm, Miyato et al., 2018) and DCGAN's (strided convs,
batch norm), both with projection terms for the class (Miyato & Koyama, 2018) and
optionally an auxiliary classifier (Odena et al., 2017). On this CPU the textbook pair
(DCGAN discriminator, non-saturating loss) learned faster than hinge + spectral norm.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from genstudio.errors import UserError
from genstudio.models.layers import ConditionalBatchNorm2d, class_weights, upsample_conv3x3
from genstudio.registry import register


class Conditioning:
    """What a GAN family asks of a generator, declared by its class (0 = not conditioned so):
    the labels it is sampled by, the styles, the subcategories it trains on in their place,
    the k-means clusters of a self-conditioned one; `condition_classes` are the labels its
    discriminator judges."""

    num_classes: int = 0
    num_styles: int = 0
    num_subcategories: int = 0
    num_clusters: int = 0
    condition_classes: int = 0


@register("dcgan_generator")
class Generator(Conditioning, nn.Module):
    """Maps a Gaussian latent (and a class) to an image in [0, 1].

    Args:
        latent_dim: size of z.
        width: channels of the last feature map; earlier ones are 2x and 4x.
        num_classes: 0 for an unconditional model.
        channels: image channels (1 for the MNIST family).
        image_size: side of the square output; must be divisible by 4.
    """

    latent_control = "truncation"  # what the UI and CLI offer for sampling (VAEs: temperature)

    def __init__(
        self, latent_dim: int = 128, width: int = 64, num_classes: int = 0, channels: int = 1, image_size: int = 28
    ):
        super().__init__()
        if image_size % 4:
            raise UserError("image_size must be divisible by 4")
        self.latent_dim, self.num_classes, self.base = latent_dim, num_classes, image_size // 4
        self.condition_classes = num_classes
        self.fc = nn.Linear(latent_dim + num_classes, 4 * width * self.base**2)
        self.bn0 = ConditionalBatchNorm2d(4 * width, num_classes)
        self.up1 = nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1)
        self.bn1 = ConditionalBatchNorm2d(2 * width, num_classes)
        self.up2 = nn.ConvTranspose2d(2 * width, width, 4, 2, 1)
        self.bn2 = ConditionalBatchNorm2d(width, num_classes)
        self.out = nn.Conv2d(width, channels, 3, 1, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Returns images in [-1, 1] (what the discriminator sees)."""
        w = class_weights(labels, self.num_classes, len(z), z.device) if self.num_classes else None
        h = self.fc(torch.cat([z, w], 1) if w is not None else z).view(len(z), -1, self.base, self.base)
        h = torch.relu(self.bn0(h, w))
        h = torch.relu(self.bn1(self.up1(h), w))
        h = torch.relu(self.bn2(self.up2(h), w))
        return torch.tanh(self.out(h))

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1]; the interface every generative family shares."""
        return (self.forward(z, labels) + 1) / 2


@register("clustered_dcgan_generator")
class ClusteredGenerator(Generator):
    """An unconditional generator that is conditional inside: a self-conditioned GAN (Liu et
    al., 2020). Trained on k-means clusters of the images instead of labels, generator and
    discriminator get the finer task class labels give them, with no labels at all.

    Sampling draws the cluster from the latent's last coordinate, u = Phi(z_last), through
    the clusters' cumulative shares (kept in the checkpoint), so clusters come as often as
    in the data and a seed still names one image. The choice is softened over a narrow band
    of u, so a latent walk that crosses a boundary morphs between clusters instead of
    jumping. (Truncation t keeps u inside Phi(+-t), so it thins the outermost clusters.)

    Args: as Generator's, with num_clusters in place of num_classes.
    """

    BAND = 0.003  # width in u of the blend between neighbouring clusters

    def __init__(
        self, latent_dim: int = 128, width: int = 64, num_clusters: int = 50, channels: int = 1, image_size: int = 28
    ):
        super().__init__(latent_dim, width, num_clusters, channels, image_size)
        self.num_clusters = num_clusters
        self.latent_dim = latent_dim + 1  # the network's latent, then the cluster's coordinate
        self.register_buffer("cluster_shares", torch.full((num_clusters,), 1.0 / num_clusters))

    def cluster_weights(self, z_last: torch.Tensor) -> torch.Tensor:
        """(B,) coordinates -> (B, K) cluster weights: one-hot except within BAND of a boundary."""
        u = 0.5 * (1 + torch.erf(z_last.float() / math.sqrt(2)))
        edges = torch.cumsum(self.cluster_shares, 0)[:-1]
        past = torch.sigmoid((u[:, None] - edges[None]) / (self.BAND / 8))  # ~1 once u is past an edge
        ones = torch.ones(len(u), 1, device=u.device)
        at_least = torch.cat([ones, past, torch.zeros_like(ones)], 1)  # P(cluster >= k), k = 0..K
        return at_least[:, :-1] - at_least[:, 1:]

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Training passes the images' clusters; sampling leaves them to the latent."""
        if labels is None:
            labels = self.cluster_weights(z[:, -1])
        return super().forward(z[:, :-1], labels)


class Discriminator(nn.Module):
    """Spectrally normalised conv net with a projection term for the class."""

    def __init__(self, width: int = 32, num_classes: int = 0, channels: int = 1, auxiliary_classifier: bool = False):
        super().__init__()
        act = nn.LeakyReLU(0.1)
        self.features = nn.Sequential(
            spectral_norm(nn.Conv2d(channels, width, 3, 1, 1)),
            act,
            spectral_norm(nn.Conv2d(width, 2 * width, 4, 2, 1)),
            act,
            spectral_norm(nn.Conv2d(2 * width, 2 * width, 3, 1, 1)),
            act,
            spectral_norm(nn.Conv2d(2 * width, 4 * width, 4, 2, 1)),
            act,
            spectral_norm(nn.Conv2d(4 * width, 4 * width, 3, 1, 1)),
            act,
        )
        self.num_classes = num_classes
        self.linear = spectral_norm(nn.Linear(4 * width, 1))
        if num_classes:
            self.embed = spectral_norm(nn.Linear(num_classes, 4 * width, bias=False))
        self.classify = nn.Linear(4 * width, num_classes) if num_classes and auxiliary_classifier else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(realness score (B,), class logits (B, K) or None)."""
        h = self.features(x).sum(dim=(2, 3))
        out = self.linear(h).squeeze(1)
        if self.num_classes:
            w = class_weights(labels, self.num_classes, len(x), x.device)
            out = out + (self.embed(w) * h).sum(1)
        return out, (self.classify(h) if self.classify is not None else None)


def _condition(labels, styles, num_classes: int, num_styles: int, batch: int, device) -> torch.Tensor:
    """Class and style as one (B, K + S) weight vector; each part one-hot or soft (for blends)."""
    parts = [class_weights(labels, num_classes, batch, device)]
    if num_styles:
        if styles is None:
            raise UserError("this model is style-conditional: styles are required")
        parts.append(class_weights(styles, num_styles, batch, device))
    return torch.cat(parts, 1)


@register("styled_dcgan_generator")
class StyledGenerator(Conditioning, nn.Module):
    """A DCGAN generator (Radford et al., 2016) conditioned on a class and a style.

    Class and style enter as one weight vector beside z and through conditional BatchNorm
    (de Vries et al., 2017); both parts may be soft, so two classes or two styles blend.
    Upsampling is nearest + 3x3 conv (no checkerboard, about half the multiply-adds of a
    4x4 transposed conv). Output channels may include alpha: images are premultiplied RGBA.

    Args:
        latent_dim: size of z.
        width: channels at the output resolution; each coarser level doubles them (cap 8x).
        num_classes, num_styles: sizes of the two label groups (num_styles may be 0).
        channels: image channels (4 = premultiplied RGBA).
        image_size: output side, a power of two >= 8 (starts from 4x4).
    """

    latent_control = "truncation"

    def __init__(
        self,
        latent_dim: int = 128,
        width: int = 32,
        num_classes: int = 9,
        num_styles: int = 3,
        channels: int = 4,
        image_size: int = 32,
    ):
        super().__init__()
        levels = int(math.log2(image_size)) - 2
        if image_size != 4 * 2**levels or levels < 1:
            raise UserError("image_size must be a power of two >= 8")
        self.latent_dim, self.num_classes, self.num_styles = latent_dim, num_classes, num_styles
        self.condition_classes = num_classes  # the labels the network sees (a subclass may ask for coarser ones)
        self.width, self.shape = (
            width,
            dict(
                latent_dim=latent_dim,
                num_classes=num_classes,
                num_styles=num_styles,
                channels=channels,
                image_size=image_size,
            ),
        )
        conditions = num_classes + num_styles
        widths = [width * min(8, 2 ** (levels - i)) for i in range(levels + 1)]  # 4x4 ... output
        self.fc = nn.Linear(latent_dim + conditions, widths[0] * 16)
        self.norms = nn.ModuleList([ConditionalBatchNorm2d(w, conditions) for w in widths])
        self.convs = nn.ModuleList([nn.Conv2d(widths[i], widths[i + 1], 3, 1, 1) for i in range(levels)])
        self.out = nn.Conv2d(widths[-1], channels, 3, 1, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor, styles: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] (what the discriminator sees)."""
        c = _condition(labels, styles, self.condition_classes, self.num_styles, len(z), z.device)
        h = self.fc(torch.cat([z, c], 1)).view(len(z), -1, 4, 4)
        # channels-last from here: the convolutions' fast layout (oneDNN on a CPU, tensor cores on a GPU)
        h = torch.relu(self.norms[0](h, c)).contiguous(memory_format=torch.channels_last)
        for conv, norm in zip(self.convs, self.norms[1:]):
            h = torch.relu(norm(upsample_conv3x3(h, conv), c))
        return torch.tanh(self.out(h))

    def generate(self, z: torch.Tensor, labels: torch.Tensor, styles: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1]; the interface every generative family shares."""
        return (self.forward(z, labels, styles) + 1) / 2

    def adapt_from(self, arch: str, kwargs: dict, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        """A wider StyledGenerator's weights cut down to this width (a student's start for
        distillation): at each level the channels the next layer leans on most are kept, by
        the L1 norm of their outgoing weights times their mean conditional gain."""
        if (
            arch != "styled_dcgan_generator"
            or {k: kwargs.get(k) for k in self.shape} != self.shape
            or kwargs.get("width", 0) < self.width
        ):
            return None
        levels, adapted = len(self.convs), dict(state)
        outgoing = [state[f"convs.{i}.weight"] for i in range(levels)] + [state["out.weight"]]
        keep = []
        for i, norm in enumerate(self.norms):
            gain = (1 + state[f"norms.{i}.gain.weight"]).abs().mean(1)
            importance = outgoing[i].abs().sum((0, 2, 3)) * gain
            keep.append(importance.topk(norm.bn.num_features).indices.sort().values)
        cells = (keep[0][:, None] * 16 + torch.arange(16)).flatten()  # fc's rows are (channel, 4x4 cell)
        adapted["fc.weight"], adapted["fc.bias"] = state["fc.weight"][cells], state["fc.bias"][cells]
        for i, kept in enumerate(keep):
            for key in ("bn.running_mean", "bn.running_var", "gain.weight", "bias.weight"):
                adapted[f"norms.{i}.{key}"] = state[f"norms.{i}.{key}"][kept]
        for i in range(levels):  # conv i maps level i's kept channels to level i + 1's
            adapted[f"convs.{i}.weight"] = state[f"convs.{i}.weight"][keep[i + 1]][:, keep[i]]
            adapted[f"convs.{i}.bias"] = state[f"convs.{i}.bias"][keep[i + 1]]
        adapted["out.weight"] = state["out.weight"][:, keep[-1]]
        return adapted


@register("subcategory_styled_dcgan_generator")
class SubcategoryStyledGenerator(StyledGenerator):
    """A StyledGenerator that sees finer labels than it is asked for: trained on subcategories
    (Unicode's emoji subgroups, e.g. 'animal-bird' in Animals & Nature), sampled by category
    and style. Finer labels give generator and discriminator more distinct modes to match,
    the lever that took the self-conditioned Fashion-MNIST GAN from collapse to variety.

    `generate` draws the subcategory within the asked category from the latent's last
    coordinate, as often as in the data (ClusteredGenerator's scheme, shares kept in the
    checkpoint), so a seed still names one image and soft categories still blend.
    `forward` (training) takes the subcategories themselves.

    Args: as StyledGenerator's, plus num_subcategories; num_classes counts the categories.
    """

    BAND = ClusteredGenerator.BAND

    def __init__(
        self,
        latent_dim: int = 128,
        width: int = 32,
        num_classes: int = 9,
        num_subcategories: int = 98,
        num_styles: int = 3,
        channels: int = 4,
        image_size: int = 32,
    ):
        super().__init__(latent_dim, width, num_subcategories, num_styles, channels, image_size)
        # what a category-conditional StyledGenerator must share with this one to start it (adapt_from)
        self.category_model = {
            "latent_dim": latent_dim,
            "width": width,
            "num_classes": num_classes,
            "num_styles": num_styles,
            "channels": channels,
            "image_size": image_size,
        }
        self.num_classes, self.num_subcategories = num_classes, num_subcategories
        self.latent_dim = latent_dim + 1  # the network's latent, then the subcategory's coordinate
        self.register_buffer("category_of", torch.arange(num_subcategories) % num_classes)  # set from the data
        self.register_buffer(
            "subcategory_shares", torch.ones(num_subcategories)
        )  # within its category, set from the data

    def set_subcategories(self, subcategories: torch.Tensor, categories: torch.Tensor) -> None:
        """Each subcategory's category and its share of that category, from the training labels."""
        counts = torch.bincount(subcategories.cpu(), minlength=self.num_subcategories).float()
        category_of = torch.zeros(self.num_subcategories, dtype=torch.long).scatter_(
            0, subcategories.cpu(), categories.cpu()
        )
        totals = torch.zeros(self.num_classes).index_add_(0, category_of, counts)
        self.category_of.copy_(category_of)
        self.subcategory_shares.copy_(counts / totals[category_of].clamp(min=1))

    def subcategory_weights(self, categories: torch.Tensor, z_last: torch.Tensor) -> torch.Tensor:
        """(B, K) category weights and (B,) coordinates -> (B, num_subcategories) weights: within
        each category one-hot, except within BAND of a boundary; mixed as the categories are."""
        u = 0.5 * (1 + torch.erf(z_last.float() / math.sqrt(2)))
        order = torch.argsort(
            self.category_of * self.num_subcategories + torch.arange(self.num_subcategories, device=u.device)
        )
        shares = self.subcategory_shares[order]
        same = self.category_of[order][:, None] == self.category_of[order][None, :]
        end = torch.tril(same.float()) @ shares  # cumulative share within the category, in sorted order
        start = end - shares

        def at_least(edge):  # P(u past edge), softened; certain at a category's ends
            soft = torch.sigmoid((u[:, None] - edge[None]) / (self.BAND / 8))
            return torch.where(edge[None] <= 1e-6, 1.0, torch.where(edge[None] >= 1 - 1e-6, 0.0, soft))

        within = torch.zeros(len(u), self.num_subcategories, device=u.device)
        within[:, order] = at_least(start) - at_least(end)
        return categories[:, self.category_of] * within

    def forward(self, z: torch.Tensor, subcategories: torch.Tensor, styles: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] for given subcategories (training); z's last coordinate is unused."""
        return super().forward(z[:, :-1], subcategories, styles)

    def generate(self, z: torch.Tensor, labels: torch.Tensor, styles: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] of the given categories; the subcategory comes from z's last coordinate."""
        categories = class_weights(labels, self.num_classes, len(z), z.device)
        return (self.forward(z, self.subcategory_weights(categories, z[:, -1]), styles) + 1) / 2

    def adapt_from(self, arch: str, kwargs: dict, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        """A category-conditional StyledGenerator's weights, each subcategory starting as its
        category (set_subcategories first): the first stage starts exactly where that model is."""
        if arch != "styled_dcgan_generator" or kwargs != self.category_model:
            return None
        columns = torch.cat([self.category_of, torch.arange(self.num_classes, self.num_classes + self.num_styles)])
        adapted, latent = dict(state), self.category_model["latent_dim"]
        fc = state["fc.weight"]
        adapted["fc.weight"] = torch.cat([fc[:, :latent], fc[:, latent:][:, columns.to(fc.device)]], 1)
        for key, weight in state.items():
            if key.startswith("norms.") and key.endswith(("gain.weight", "bias.weight")):
                adapted[key] = weight[:, columns.to(weight.device)]
        return adapted


class DCGANDiscriminator(nn.Module):
    """The DCGAN discriminator (Radford et al., 2016): strided 4x4 convs, with projection terms
    (Miyato & Koyama, 2018) for the class and the style when the generator has them.

    norm: 'batch' (the textbook one; real and fake go through in separate batches) or
    'spectral' (Miyato et al., 2018).
    """

    def __init__(
        self,
        width: int = 64,
        num_classes: int = 9,
        num_styles: int = 3,
        channels: int = 4,
        image_size: int = 32,
        norm: str = "batch",
        auxiliary_classifier: bool = False,
    ):
        super().__init__()
        if norm not in ("batch", "spectral"):
            raise UserError(f"norm must be 'batch' or 'spectral', got {norm!r}")
        wrap = spectral_norm if norm == "spectral" else (lambda m: m)
        layers, c_in, size, w = [], channels, image_size, width
        while size > 4:
            layers.append(wrap(nn.Conv2d(c_in, w, 4, 2, 1)))
            if norm == "batch" and c_in != channels:  # DCGAN: no norm on the first layer
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.LeakyReLU(0.2))
            c_in, size, w = w, size // 2, min(w * 2, 8 * width)
        self.features = nn.Sequential(*layers)
        self.num_classes, self.num_styles = num_classes, num_styles
        self.linear = wrap(nn.Linear(c_in, 1))
        self.embed = wrap(nn.Linear(num_classes + num_styles, c_in, bias=False)) if num_classes else None
        # AC-GAN heads (Odena et al., 2017): the class and the style, predicted from the features
        self.classify = nn.Linear(c_in, num_classes + num_styles) if auxiliary_classifier and num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, styles: torch.Tensor | None = None):
        """(realness logit (B,), class and style logits (B, K + S) or None)."""
        h = self.features(x).sum(dim=(2, 3))
        score = self.linear(h).squeeze(1)
        if self.embed is not None:
            c = _condition(labels, styles, self.num_classes, self.num_styles, len(x), x.device)
            score = score + (self.embed(c) * h).sum(1)
        return score, (self.classify(h) if self.classify is not None else None)
