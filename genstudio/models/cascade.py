"""A cascade: a low-resolution generator followed by a learned upscaler (as in cascaded
diffusion, Ho et al. 2021, here with a GAN): each half trains at the size it is cheapest
at, and the pair ships as one self-describing checkpoint."""

from __future__ import annotations

import torch
from torch import nn

from genstudio.registry import build, register


@register("cascade_generator")
class CascadeGenerator(nn.Module):
    """generate(z, labels, styles) = upscaler(generator.generate(z, labels, styles)).

    Args:
        generator: {"arch": name, "kwargs": {...}} of the low-resolution generator.
        upscaler: {"arch": name, "kwargs": {...}} of the super-resolution net.
    Images are premultiplied RGBA when the generator makes 4 channels; the upscaled colour
    is kept within its alpha so the result stays a valid premultiplied image.
    """

    memory_format = torch.channels_last  # oneDNN's fast layout on a CPU: a 64-image grid 330 -> 280 ms here
    # sampled in bfloat16 on a CPU that has it: the judge's figures held (emoji-gan 0.777 / 0.873 / FD 11.86
    # in float32 and in bfloat16; emoji-vae 0.547 / 0.835 / 21.5 both ways) and a 64-image grid took 159 -> 105 ms
    cpu_bfloat16 = True

    @staticmethod
    def sampler(kwargs: dict) -> tuple[str, dict]:
        """(arch, kwargs) of the part that samples: its controls are the cascade's."""
        return kwargs["generator"]["arch"], kwargs["generator"]["kwargs"]

    def __init__(self, generator: dict, upscaler: dict):
        super().__init__()
        self.generator = build(generator["arch"], generator["kwargs"])
        self.upscaler = build(upscaler["arch"], upscaler["kwargs"])
        self.latent_dim = self.generator.latent_dim
        self.num_classes = getattr(self.generator, "num_classes", 0)
        self.num_styles = getattr(self.generator, "num_styles", 0)

    def low_res(self, z: torch.Tensor, *conditions) -> torch.Tensor:
        return self.generator.generate(z, *conditions)

    def upscale(self, low_res: torch.Tensor) -> torch.Tensor:
        out = self.upscaler(low_res).clamp(0, 1)
        if out.shape[1] == 4:
            out = torch.cat([torch.minimum(out[:, :3], out[:, 3:]), out[:, 3:]], 1)
        return out

    def generate(self, z: torch.Tensor, *conditions) -> torch.Tensor:
        return self.upscale(self.low_res(z, *conditions))
