"""Convolutional VAE (Kingma & Welling, 2014) with a Bernoulli decoder."""

from __future__ import annotations

import torch
from torch import nn

from genstudio.errors import UserError
from genstudio.registry import register


class AffineCoupling(nn.Module):
    """One RealNVP layer (Dinh et al., 2017): the unmasked half of z is scaled and shifted by
    an MLP of the masked half, so both directions and the log-determinant are exact."""

    def __init__(self, mask: torch.Tensor, hidden: int, context: int = 0):
        super().__init__()
        dim = len(mask)
        self.register_buffer("mask", mask)
        self.net = nn.Sequential(
            nn.Linear(dim + context, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2 * dim),
        )
        nn.init.zeros_(self.net[-1].weight)  # starts as the identity: the Gaussian fit
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, x: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = x * self.mask if context is None else torch.cat([x * self.mask, context], 1)
        log_scale, shift = self.net(inputs).chunk(2, dim=1)
        free = 1 - self.mask
        return 2 * torch.tanh(log_scale / 2) * free, shift * free  # bounded scales keep it stable

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        log_scale, shift = self._scale_shift(x, context)
        return x * log_scale.exp() + shift

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, log |det dx/dy|) for y = forward(x)."""
        log_scale, shift = self._scale_shift(y, context)
        return (y - shift) * (-log_scale).exp(), -log_scale.sum(dim=1)


class FlowPrior(nn.Module):
    """A normalising flow from N(0, I) onto the (whitened) aggregate posterior: a continuous
    map, so a latent walk stays smooth, fitted by maximum likelihood to posterior samples.
    With `context` (a condition vector's size) every coupling also sees the condition: one
    map per class and style."""

    def __init__(self, dim: int, layers: int, hidden: int, context: int = 0):
        super().__init__()
        order = torch.Generator().manual_seed(0)  # fixed masks: part of the architecture, not the weights
        masks = [(torch.randperm(dim, generator=order) < dim // 2).float() for _ in range(layers)]
        self.layers = nn.ModuleList(AffineCoupling(mask, hidden, context) for mask in masks)

    def forward(self, e: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            e = layer(e, context)
        return e

    def nll(self, u: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Mean negative log-likelihood (nats, without the constant) of latents u."""
        log_det = torch.zeros(len(u), device=u.device)
        for layer in reversed(self.layers):
            u, step = layer.inverse(u, context)
            log_det = log_det + step
        return (0.5 * u.pow(2).sum(dim=1) - log_det).mean()


@register("conv_vae")
class ConvVAE(nn.Module):
    """Encoder 28->14->7 convs to (mu, logvar); decoder mirrors it and outputs pixel logits.

    Samples come from a Gaussian fitted to the aggregate posterior (the encoder's posteriors
    over the training set: their mean and covariance, kept as running statistics during
    training like BatchNorm's) rather than from N(0, I): where the encoder puts the data is
    where the decoder was trained to decode, so prior samples look like reconstructions
    rather than blends (Ghosh et al., 2020, fit such ex-post densities). With `prior_layers`,
    a flow (fitted in a later stage, `fit_prior = true`) bends that Gaussian onto the
    posterior's actual shape.

    Args:
        latent_dim: size of z.
        width: channels after the first conv (the second has 2x).
        channels: image channels.
        image_size: side of the square image; divisible by 4.
        blocks: extra 3x3 convs at each resolution of the encoder and of the decoder (depth
            where the pixels are, for sharper reconstructions; 0 = the original net).
        prior_layers: coupling layers of the flow prior (0 = the Gaussian fit alone).
        prior_hidden: width of each coupling layer's MLP.
    """

    latent_control = "temperature"  # what the UI and CLI offer for sampling (GANs: truncation)
    added_parts = ("prior_layers", "prior_hidden")  # a later stage may add these to an earlier stage's weights

    def __init__(
        self,
        latent_dim: int = 32,
        width: int = 32,
        channels: int = 1,
        image_size: int = 28,
        blocks: int = 0,
        prior_layers: int = 0,
        prior_hidden: int = 128,
    ):
        super().__init__()
        self.latent_dim, self.num_classes, self.base = latent_dim, 0, image_size // 4
        flat = 2 * width * self.base**2

        def convs(c: int) -> list[nn.Module]:
            return [m for _ in range(blocks) for m in (nn.Conv2d(c, c, 3, 1, 1), nn.SiLU())]

        self.encoder = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1),
            nn.SiLU(),
            *convs(width),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.SiLU(),
            *convs(2 * width),
            nn.Flatten(),
            nn.Linear(flat, 256),
            nn.SiLU(),
            nn.Linear(256, 2 * latent_dim),
        )
        self.decoder_fc = nn.Sequential(nn.Linear(latent_dim, 256), nn.SiLU(), nn.Linear(256, flat), nn.SiLU())
        self.decoder = nn.Sequential(
            *convs(2 * width),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),
            nn.SiLU(),
            *convs(width),
            nn.ConvTranspose2d(width, channels, 4, 2, 1),
        )
        self.width = width
        # running moments of the aggregate posterior; N(0, I) until training updates them
        self.register_buffer("posterior_mean", torch.zeros(latent_dim))
        self.register_buffer("posterior_second_moment", torch.eye(latent_dim))
        self.moment_momentum = 0.01
        self.prior_flow = FlowPrior(latent_dim, prior_layers, prior_hidden) if prior_layers else None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x in [0, 1] -> (mu, logvar)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    @torch.no_grad()
    def _track_posterior(self, mu: torch.Tensor, logvar: torch.Tensor) -> None:
        """E[z] and E[z z^T] of z ~ q(z | x) over the batch, folded into the running moments."""
        second = mu.T @ mu / len(mu) + torch.diag(logvar.exp().mean(0))
        self.posterior_mean.lerp_(mu.mean(0), self.moment_momentum)
        self.posterior_second_moment.lerp_(second, self.moment_momentum)

    def prior_scale(self) -> torch.Tensor:
        """Cholesky factor of the aggregate posterior's covariance."""
        cov = self.posterior_second_moment - torch.outer(self.posterior_mean, self.posterior_mean)
        return torch.linalg.cholesky(cov + 1e-5 * torch.eye(len(cov), device=cov.device))

    def whiten(self, z: torch.Tensor) -> torch.Tensor:
        """Latents in the Gaussian fit's coordinates (what the flow prior models)."""
        return torch.linalg.solve_triangular(self.prior_scale(), (z - self.posterior_mean).T, upper=False).T

    def prior_nll(self, x: torch.Tensor) -> torch.Tensor:
        """The flow prior's loss on posterior samples of x (whitened, as it models them)."""
        with torch.no_grad():
            mu, logvar = self.encode(x)
            latents = self.whiten(mu + torch.randn_like(mu) * (0.5 * logvar).exp())
        return self.prior_flow.nll(latents)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = self.decoder_fc(z).view(len(z), 2 * self.width, self.base, self.base)
        return self.decoder(h)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: (pixel logits, mu, logvar) with a reparameterised sample."""
        mu, logvar = self.encode(x)
        if self.training:
            self._track_posterior(mu, logvar)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decode_logits(z), mu, logvar

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] from standard-normal z, mapped onto the fitted prior: the decoder's
        Bernoulli means. (A temperature scales z, so it scales the spread around the mean.)"""
        if self.prior_flow is not None:
            z = self.prior_flow(z)
        z = self.posterior_mean + z @ self.prior_scale().T
        return torch.sigmoid(self.decode_logits(z))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(self.encode(x)[0]))


@register("styled_conv_vae")
class StyledConvVAE(nn.Module):
    """A conditional VAE (Sohn et al., 2015): encoder and decoder both see the class and the
    style (as one weight vector, so soft weights blend them), at 32 px in premultiplied RGBA.

    Encoder: strided convs image_size -> 4x4 (width, 2x, 4x ...), then with the condition to
    (mu, logvar). Decoder: z and the condition to 4x4, nearest upsampling + 3x3 convs, pixel
    logits (a Bernoulli likelihood on each premultiplied channel).

    The prior is learned and conditional, p(z | c) = N(A c, I): a decoder that learns to
    ignore c (as one with a N(0, I) prior did here: 0.16 category accuracy) still makes
    samples of the asked class, because the class moves z itself. `forward` returns the
    posterior mean relative to the prior mean, so the KL term keeps its standard form.

    With `prior_layers`, a conditional flow (fitted in a later stage, `fit_prior = true`)
    bends each condition's N(A c, I) onto the shape of that condition's posteriors.

    Args:
        latent_dim: size of z.
        width: channels at full resolution; each coarser level doubles them, up to max_width.
        num_classes, num_styles: sizes of the two label groups.
        channels: image channels (4 = premultiplied RGBA).
        image_size: a power of two >= 8.
        hidden: width of the dense layers between the 4x4 features and z.
        max_width: cap on any level's channels (0 = none): keeps the dense layers, which
            grow with the 4x4 level's channels, within the checkpoint size limit.
        decoder_convs: 3x3 convs per decoder level (the first follows the upsampling).
        prior_layers, prior_hidden: the flow prior's coupling layers and their MLP width.
    """

    latent_control = "temperature"
    added_parts = ("prior_layers", "prior_hidden")

    def __init__(
        self,
        latent_dim: int = 64,
        width: int = 32,
        num_classes: int = 9,
        num_styles: int = 3,
        channels: int = 4,
        image_size: int = 32,
        hidden: int = 512,
        max_width: int = 0,
        decoder_convs: int = 1,
        prior_layers: int = 0,
        prior_hidden: int = 128,
    ):
        super().__init__()
        levels = image_size.bit_length() - 3  # halvings down to 4x4
        if image_size != 4 * 2**levels or levels < 1:
            raise UserError("image_size must be a power of two >= 8")
        self.latent_dim, self.num_classes, self.num_styles = latent_dim, num_classes, num_styles
        widths = [min(width * 2**i, max_width or width * 2**i) for i in range(levels + 1)]  # full resolution ... 4x4
        conditions, flat = num_classes + num_styles, widths[-1] * 16
        enc: list[nn.Module] = [nn.Conv2d(channels, widths[0], 3, 1, 1), nn.SiLU()]
        for a, b in zip(widths, widths[1:]):
            enc += [nn.Conv2d(a, b, 4, 2, 1), nn.SiLU()]
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        self.to_posterior = nn.Sequential(
            nn.Linear(flat + conditions, hidden), nn.SiLU(), nn.Linear(hidden, 2 * latent_dim)
        )
        self.decoder_fc = nn.Sequential(
            nn.Linear(latent_dim + conditions, hidden), nn.SiLU(), nn.Linear(hidden, flat), nn.SiLU()
        )
        self.prior_mean = nn.Linear(conditions, latent_dim, bias=False)  # p(z | c) = N(A c, I)
        dec: list[nn.Module] = []
        for a, b in zip(widths[::-1], widths[::-1][1:]):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(a, b, 3, 1, 1), nn.SiLU()]
            for _ in range(decoder_convs - 1):
                dec += [nn.Conv2d(b, b, 3, 1, 1), nn.SiLU()]
        self.decoder = nn.Sequential(*dec, nn.Conv2d(widths[0], channels, 3, 1, 1))
        self.top = widths[-1]
        self.prior_flow = FlowPrior(latent_dim, prior_layers, prior_hidden, conditions) if prior_layers else None

    def _condition(self, labels, styles, batch, device):
        from genstudio.models.gan import _condition

        return _condition(labels, styles, self.num_classes, self.num_styles, batch, device)

    def encode(self, x: torch.Tensor, labels: torch.Tensor, styles: torch.Tensor | None = None):
        """x in [0, 1] -> (mu, logvar)."""
        c = self._condition(labels, styles, len(x), x.device)
        mu, logvar = self.to_posterior(torch.cat([self.encoder(x), c], 1)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor, styles: torch.Tensor | None = None) -> torch.Tensor:
        c = self._condition(labels, styles, len(z), z.device)
        return self.decoder(self.decoder_fc(torch.cat([z, c], 1)).view(len(z), self.top, 4, 4))

    def forward(self, x: torch.Tensor, labels: torch.Tensor, styles: torch.Tensor | None = None):
        """Training pass: (pixel logits, posterior mean minus prior mean, logvar), with a
        reparameterised sample; KL(q || p(z | c)) is then the standard Gaussian KL of those."""
        mu, logvar = self.encode(x, labels, styles)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        prior = self.prior_mean(self._condition(labels, styles, len(x), x.device))
        return self.decode_logits(z, labels, styles), mu - prior, logvar

    def prior_nll(self, x: torch.Tensor, labels: torch.Tensor, styles: torch.Tensor | None = None) -> torch.Tensor:
        """The flow prior's loss on posterior samples of x, relative to their condition's mean."""
        with torch.no_grad():
            c = self._condition(labels, styles, len(x), x.device)
            mu, logvar = self.encode(x, labels, styles)
            latents = mu + torch.randn_like(mu) * (0.5 * logvar).exp() - self.prior_mean(c)
        return self.prior_flow.nll(latents, c)

    def _decode(self, z: torch.Tensor, labels: torch.Tensor, styles: torch.Tensor | None) -> torch.Tensor:
        """The decoder's Bernoulli means, kept a valid premultiplied image."""
        x = torch.sigmoid(self.decode_logits(z, labels, styles))
        if x.shape[1] == 4:
            x = torch.cat([torch.minimum(x[:, :3], x[:, 3:]), x[:, 3:]], 1)
        return x

    def generate(self, z: torch.Tensor, labels: torch.Tensor, styles: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] from standard-normal z, mapped onto the condition's prior (through
        the flow, if there is one)."""
        c = self._condition(labels, styles, len(z), z.device)
        return self._decode(
            self.prior_mean(c) + (z if self.prior_flow is None else self.prior_flow(z, c)), labels, styles
        )

    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor, styles: torch.Tensor | None = None) -> torch.Tensor:
        return self._decode(self.encode(x, labels, styles)[0], labels, styles)
