"""Inpainting network that refines a classical fill.

Starting from OpenCV's Telea fill and predicting a correction is what makes a
small U-Net beat Telea on a CPU budget; a net that starts from a flat hole must
first relearn what Telea already does. Dilated convolutions at the bottleneck
widen the receptive field so the fill can draw on texture far from the hole, and
optional Fourier units (LaMa's lesson for large holes) make it image-wide.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from genstudio.models.layers import upsample_conv3x3
from genstudio.registry import register


def _conv(cin, cout, stride=1, dilation=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, dilation, dilation=dilation), nn.GELU())


class _UpConv(nn.Sequential):
    """Nearest x2 upsampling, then a conv and GELU, computed at the input's resolution
    (upsample_conv3x3): the same output without the upsampled map or 5/9 of its work."""

    def __init__(self, cin, cout):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), _conv(cin, cout))  # the modules name the weights

    def forward(self, x):
        conv, act = self[1]
        return act(upsample_conv3x3(x, conv))


class FourierUnit(nn.Module):
    """A residual spectral block (the global branch of LaMa's fast Fourier convolution,
    Suvorov et al., 2022): a 1x1 conv mixes channels at every frequency of the map's 2-D FFT,
    so each output pixel sees the whole image in one layer. The expand conv starts at zero,
    so adding the block to a trained net leaves its outputs exactly as they were."""

    def __init__(self, width: int):
        super().__init__()
        inner = width // 2
        self.reduce = nn.Sequential(nn.Conv2d(width, inner, 1), nn.GELU())
        self.spectral = nn.Sequential(nn.Conv2d(2 * inner, 2 * inner, 1), nn.GELU())  # real and imaginary parts
        self.expand = nn.Conv2d(inner, width, 1)
        nn.init.zeros_(self.expand.weight)
        nn.init.zeros_(self.expand.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.reduce(x)
        size = h.shape[-2:]
        spectrum = torch.fft.rfft2(h.float(), norm="ortho")  # FFTs run in fp32 whatever the autocast
        mixed = self.spectral(torch.cat([spectrum.real, spectrum.imag], 1).to(h.dtype)).float()
        real, imag = mixed.chunk(2, 1)
        h = torch.fft.irfft2(torch.complex(real, imag), s=size, norm="ortho").to(x.dtype)
        return x + self.expand(h)


@register("refine_unet")
class RefineUNet(nn.Module):
    """U-Net with two downsamplings and a dilated bottleneck (optionally followed by Fourier units).

    Input: the pre-filled image (B, C, H, W) in [0, 1] and the hole mask (B, 1, H, W),
    1 = hole; H and W divisible by 4. Output: the refined image (only the hole is used).

    Args:
        channels: image channels.
        width: channels at full resolution (2x, 4x below).
        dilations: dilation of each bottleneck conv.
        fourier_units: FourierUnit blocks after the dilated convs.
    """

    multiple = 4  # H and W must be divisible by this
    memory_format = (
        torch.channels_last
    )  # oneDNN's convolutions run ~1.5x faster in it on a CPU; tensor cores like it too
    added_parts = ("fourier_units",)  # a later stage may add these to an earlier stage's weights
    # run in bfloat16 on a CPU that has it: inpaint-photo's unseen-photo gains held to 0.001 dB (+1.555 / +1.677 /
    # +1.599 over Telea, float32 +1.555 / +1.676 / +1.599) and its 512-px net time fell 0.39 -> 0.25 s (AVX512-BF16)
    cpu_bfloat16 = True

    def __init__(
        self, channels: int = 3, width: int = 32, dilations: tuple[int, ...] = (1, 2, 4, 8), fourier_units: int = 0
    ):
        super().__init__()
        w = width
        self.enc0 = nn.Sequential(_conv(channels + 1, w), _conv(w, w))
        self.enc1 = nn.Sequential(_conv(w, 2 * w, stride=2), _conv(2 * w, 2 * w))
        self.enc2 = _conv(2 * w, 4 * w, stride=2)
        self.mid = nn.Sequential(
            *[_conv(4 * w, 4 * w, dilation=d) for d in dilations], *[FourierUnit(4 * w) for _ in range(fourier_units)]
        )
        self.up1 = _UpConv(4 * w, 2 * w)
        self.dec1 = _conv(4 * w, 2 * w)
        self.up0 = _UpConv(2 * w, w)
        self.dec0 = _conv(2 * w, w)
        self.out = nn.Conv2d(w, channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)  # start exactly at the classical fill
        nn.init.zeros_(self.out.bias)

    def forward(self, prefilled: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.cat([prefilled * 2 - 1, mask], dim=1).contiguous(memory_format=self.memory_format)
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        h = self.mid(self.enc2(e1))
        h = self.dec1(torch.cat([self.up1(h), e1], 1))
        h = self.dec0(torch.cat([self.up0(h), e0], 1))
        return prefilled + self.out(h)


class PatchDiscriminator(nn.Module):
    """A spectrally normalised PatchGAN critic (Isola et al., 2017) for an adversarial stage:
    it scores each ~34-px patch of an image (with the hole mask beside it, so it knows where
    to look), one score per patch at 1/8 resolution. Training only; never shipped."""

    def __init__(self, channels: int = 3, width: int = 32):
        super().__init__()
        layers, c_in = [], channels + 1
        for c_out in (width, 2 * width, 4 * width):
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.net = nn.Sequential(*layers, spectral_norm(nn.Conv2d(c_in, 1, 3, 1, 1)))

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image * 2 - 1, mask], 1))
