"""VAEs, with a flow prior trained with them or fitted after."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genstudio import data, registry
from genstudio.errors import UserError
from genstudio.tasks.images import composite, grid, to_uint8
from genstudio.train.families import register
from genstudio.train.families.base import (
    LabelledSettings,
    _LabelledImages,
)


@dataclass
class VAESettings(LabelledSettings):
    beta: float = 1.0
    kl_warmup_steps: int = 0
    fit_prior: bool = False  # fit only the flow prior to the encoder's posteriors (a stage after the VAE's own)


@register("vae")
class VAEFamily(_LabelledImages):
    Settings = VAESettings

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        net = registry.build(self.arch, self.model_cfg).to(self.device)
        self.modules = {"net": net}
        self.fit_prior = self.s.fit_prior
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
        self.beta = self.s.beta
        self.warmup = self.s.kl_warmup_steps  # KL annealing avoids early posterior collapse
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
