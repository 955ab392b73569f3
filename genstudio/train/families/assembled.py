"""Models assembled from trained stages, with no training of their own: cascades and blends."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from genstudio import registry
from genstudio.errors import UserError
from genstudio.tasks.images import composite, grid, to_uint8
from genstudio.train.families import register
from genstudio.train.families.base import Family


@dataclass
class AssembledSettings:
    # a cascade's generator and upscaler, or the two stages an interpolation blends
    # (runs, shelf models or checkpoint files; NAME#PART for one part of a composite)
    parts: list[str] = field(default_factory=list)
    blend: float = 0.0  # interpolation: the weight of the second part


@register("cascade")
class CascadeFamily(Family):
    Settings = AssembledSettings
    """Joins trained stages into one model (no optimisation: `steps = 0`): `train.parts`
    names the runs (or shelf models) of the low-resolution generator and the upscaler."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from genstudio.train.stages import read_part, read_stage, stage_record

        if len(self.s.parts) != 2:
            raise UserError(
                f"{self.cfg.source}: train.parts must name the generator and the upscaler, got {self.s.parts!r}"
            )
        gen_info, gen = read_stage(self.s.parts[0])
        (up_arch, up_kwargs), upscaler, up_record = read_part(self.s.parts[1])
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
        self.stages = [stage_record(gen_info, self.s.parts[0]), up_record]
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


@register("interpolate")
class InterpolateFamily(Family):
    Settings = AssembledSettings
    """Network interpolation (Wang et al., ESRGAN, 2018): the weights (1 - blend) A + blend B
    of two trained stages of one architecture, e.g. a PSNR-best model and its adversarially
    tuned successor; `blend` sets the trade between fidelity and detail without retraining.
    Assembled, not trained (`steps = 0`); the card records both stages."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from genstudio.train.stages import read_stage, stage_record

        if len(self.s.parts) != 2 or not 0 <= self.s.blend <= 1:
            raise UserError(f"{self.cfg.source}: interpolation needs train.parts = [A, B] and 0 <= train.blend <= 1")
        (a_info, a), (b_info, b) = (read_stage(p) for p in self.s.parts)
        if not (self.arch, self.model_cfg) == (a_info.arch, a_info.kwargs) == (b_info.arch, b_info.kwargs):
            raise UserError(f"{self.cfg.source}: train.parts must both be the [model] this config describes")
        net = registry.build(self.arch, self.model_cfg).to(self.device)
        b_state = b.net.state_dict()
        net.load_state_dict(
            {
                k: v.lerp(b_state[k], self.s.blend) if v.is_floating_point() else b_state[k]
                for k, v in a.net.state_dict().items()
            }
        )
        self.modules, self.optimizers = {"net": net}, {}
        self.base_card = {**a_info.card, "metrics": {}, "description": self.cfg.description}
        self.base_card.pop("provenance", None)
        self.base_card["stages"] = [stage_record(a_info, self.s.parts[0]), stage_record(b_info, self.s.parts[1])]

    def batches(self):
        raise UserError("an interpolation is assembled, not trained: set train.steps = 0")
        yield

    def card(self):
        return dict(self.base_card)
