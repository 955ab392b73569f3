"""Convolutional VAE (Kingma & Welling, 2014) with a Bernoulli decoder."""
from __future__ import annotations

import torch
from torch import nn

from genstudio.registry import register


@register("conv_vae")
class ConvVAE(nn.Module):
    """Encoder 28->14->7 convs to (mu, logvar); decoder mirrors it and outputs pixel logits.

    Args:
        latent_dim: size of z.
        width: channels after the first conv (the second has 2x).
        channels: image channels.
        image_size: side of the square image; divisible by 4.
    """

    def __init__(self, latent_dim: int = 32, width: int = 32, channels: int = 1, image_size: int = 28):
        super().__init__()
        self.latent_dim, self.num_classes, self.base = latent_dim, 0, image_size // 4
        flat = 2 * width * self.base**2
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.SiLU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.SiLU(),
            nn.Flatten(), nn.Linear(flat, 256), nn.SiLU(), nn.Linear(256, 2 * latent_dim),
        )
        self.decoder_fc = nn.Sequential(nn.Linear(latent_dim, 256), nn.SiLU(), nn.Linear(256, flat), nn.SiLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.SiLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1),
        )
        self.width = width

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x in [0, 1] -> (mu, logvar)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = self.decoder_fc(z).view(len(z), 2 * self.width, self.base, self.base)
        return self.decoder(h)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: (pixel logits, mu, logvar) with a reparameterised sample."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decode_logits(z), mu, logvar

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1]: the decoder's Bernoulli means."""
        return torch.sigmoid(self.decode_logits(z))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.generate(self.encode(x)[0])
