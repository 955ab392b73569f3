"""Emoji restyling: any emoji, icon or drawing redrawn in a vendor's style.

A content encoder maps a 64-px premultiplied RGBA image to a small spatial code (8 x 8 x K,
bounded by tanh); a decoder redraws the code in a style, its residual blocks modulated by
the style (FiLM, Perez et al. 2018). Trained on pairs of the same emoji drawn by two vendors
(pix2pix's L1 + PatchGAN recipe, Isola et al. 2017), the code keeps what an emoji shows and
the decoder supplies how a vendor draws it. The code space is also where morphs between real
emoji walk, and the checkpoint carries one code per emoji name (float16), so "cat face"
restyles without the data set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from genstudio.models.layers import upsample_conv3x3
from genstudio.registry import register


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


class ResBlock(nn.Module):
    """x + conv(act(conv(act(x)))), optionally with a FiLM scale and shift from a style vector
    between the two convs. The second conv starts at zero, so a fresh block is the identity."""

    def __init__(self, channels: int, style_dim: int = 0):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.film = nn.Linear(style_dim, 2 * channels) if style_dim else None
        if self.film is not None:
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)
        self.act = _act()

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(self.act(x))
        if self.film is not None:
            scale, shift = self.film(style)[:, :, None, None].chunk(2, dim=1)
            h = torch.addcmul(shift, h, 1 + scale)
        return x + self.conv2(self.act(h))


@register("emoji_restyler")
class EmojiRestyler(nn.Module):
    """Content encoder and style-conditioned decoder for 64-px premultiplied RGBA emoji.

    Args:
        num_styles: target styles (vendors); the decoder takes (B, num_styles) style weights,
            so styles blend linearly.
        width: channels at 32 px; 16 px has 2x, 8 px 4x.
        content_channels: channels of the 8 x 8 content code.
        style_dim: size of the style vector each FiLM layer reads.
        num_names: rows of the stored per-name content codes (the card's `names`), 0 = none.
    """

    image_size = 64
    memory_format = torch.channels_last

    def __init__(
        self,
        num_styles: int = 3,
        width: int = 32,
        content_channels: int = 16,
        style_dim: int = 64,
        num_names: int = 0,
        code_side: int = 8,
    ):
        super().__init__()
        w, k = width, content_channels
        if code_side not in (8, 16):
            raise ValueError("code_side must be 8 or 16")
        self.num_styles, self.content_channels, self.code_side = num_styles, content_channels, code_side
        deep = code_side == 8  # an 8-px code has one more level, 4w wide, below the 16-px one
        self.encoder = nn.Sequential(
            nn.Conv2d(4, w, 3, stride=2, padding=1),
            ResBlock(w),  # 32 px
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            ResBlock(2 * w),  # 16 px
            *([nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), ResBlock(4 * w)] if deep else []),  # 8 px
            _act(),
            nn.Conv2d(4 * w if deep else 2 * w, k, 1),
            nn.Tanh(),
        )
        self.style = nn.Sequential(nn.Linear(num_styles, style_dim), _act(), nn.Linear(style_dim, style_dim))
        if deep:
            self.stem = nn.Conv2d(k, 4 * w, 3, padding=1)
            self.blocks8 = nn.ModuleList([ResBlock(4 * w, style_dim) for _ in range(2)])
            self.up16 = nn.Conv2d(4 * w, 2 * w, 3, padding=1)
            self.blocks16 = nn.ModuleList([ResBlock(2 * w, style_dim)])
        else:
            self.stem = nn.Conv2d(k, 2 * w, 3, padding=1)
            self.blocks8 = nn.ModuleList()
            self.up16 = None
            self.blocks16 = nn.ModuleList([ResBlock(2 * w, style_dim) for _ in range(3)])
        self.up32 = nn.Conv2d(2 * w, w, 3, padding=1)
        self.blocks32 = nn.ModuleList([ResBlock(w, style_dim)])
        self.up64 = nn.Conv2d(w, w // 2, 3, padding=1)
        self.out = nn.Conv2d(w // 2, 4, 3, padding=1)
        self.act = _act()
        # content codes by name (the card's `names`), averaged over the vendors' drawings
        self.register_buffer("name_codes", torch.zeros(num_names, k, code_side, code_side, dtype=torch.float16))

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 4, 64, 64) premultiplied RGBA in [0, 1] -> (B, K, S, S) content code in [-1, 1] (S = code_side)."""
        return self.encoder(image * 2 - 1)

    def decode(self, code: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        """Content codes and (B, num_styles) style weights -> premultiplied RGBA in [0, 1]."""
        style = self.style(style_weights.to(code.dtype))
        h = self.stem(code)
        for block in self.blocks8:
            h = block(h, style)
        if self.up16 is not None:
            h = upsample_conv3x3(self.act(h), self.up16)
        for block in self.blocks16:
            h = block(h, style)
        h = upsample_conv3x3(self.act(h), self.up32)
        for block in self.blocks32:
            h = block(h, style)
        h = upsample_conv3x3(self.act(h), self.up64)
        rgba = torch.sigmoid(self.out(self.act(h)))
        # premultiplied: no colour where there is no coverage
        return torch.cat([torch.minimum(rgba[:, :3], rgba[:, 3:]), rgba[:, 3:]], 1)

    def forward(self, image: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(image), style_weights)


class RestyleCritic(nn.Module):
    """A spectrally normalised PatchGAN critic (Isola et al., 2017) of (result, input) pairs in
    a target style: one score per ~30-px patch at 1/8 resolution. Training only; never shipped."""

    def __init__(self, num_styles: int = 3, width: int = 32):
        super().__init__()
        layers, c_in = [], 8 + num_styles
        for c_out in (width, 2 * width, 4 * width):
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.net = nn.Sequential(*layers, spectral_norm(nn.Conv2d(c_in, 1, 3, 1, 1)))

    def forward(self, result: torch.Tensor, source: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        planes = style_weights[:, :, None, None].expand(-1, -1, *result.shape[-2:])
        return self.net(torch.cat([result * 2 - 1, source * 2 - 1, planes.to(result.dtype)], 1))


def style_weights(styles: torch.Tensor, num_styles: int) -> torch.Tensor:
    """Style indices (B,) -> one-hot (B, num_styles); (B, num_styles) weights pass through."""
    if styles.dim() == 2:
        return styles.float()
    return F.one_hot(styles.long(), num_styles).float()
