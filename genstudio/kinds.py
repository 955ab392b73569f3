"""One home per model kind: what a model offers, asked by the CLI, the UI, the evaluation
and the recipes instead of testing architecture names.

A kind follows from a checkpoint's header alone (task, labels, styles and its
architecture's declared `latent_control`), so the UI can show the right controls
without loading weights. Adding a family means: a module in `models/` whose class
declares what it needs (a generator's `latent_control`), a family module in
`train/families/`, its recipe in `configs/`, and nothing else edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genstudio import registry

NEUTRAL = {"truncation": 0.0, "temperature": 1.0}  # a latent control's setting that changes nothing
LATENT_CONTROLS = {
    "truncation": "GAN truncation: latents beyond ±t are redrawn; lower = cleaner but less varied (0 = off); "
    "starts at the model's own",
    "temperature": "VAE prior scale: below 1 = smoother, typical images; above 1 = wilder",
}


@dataclass(frozen=True)
class ModelKind:
    task: str  # sample | conditional | inpaint | upscale | classify
    controls: tuple[str, ...]  # the sampling controls that apply: label, style, truncation, temperature
    defaults: tuple[tuple[str, float], ...] = ()  # the card's chosen latent settings, e.g. (("truncation", 1.5),)

    def default(self, control: str) -> float:
        """The model's own setting of a latent control (its card's `sampling`), else neutral."""
        return dict(self.defaults).get(control, NEUTRAL[control])

    def latent_settings(self, truncation: float | None = None, temperature: float | None = None) -> dict[str, Any]:
        """Only the latent settings this kind takes (what sample() receives and a recipe
        records); None means the model's default, truncation 0 means off (and is recorded as 0,
        so a recipe made without truncation stays without it)."""
        out: dict[str, Any] = {}
        if "truncation" in self.controls:
            out["truncation"] = self.default("truncation") if truncation is None else float(truncation)
        if "temperature" in self.controls:
            out["temperature"] = self.default("temperature") if temperature is None else float(temperature)
        return out


def latent_control(arch: str, kwargs: dict[str, Any]) -> str | None:
    """A generator architecture's sampling knob; a cascade's comes from the part that samples."""
    registry._import_architectures()
    cls = registry.ARCHITECTURES.get(arch)
    if cls is None:
        return None
    sampler = getattr(cls, "sampler", None)
    if sampler is not None:
        return latent_control(*sampler(kwargs))
    return getattr(cls, "latent_control", None)


def kind_of(model: registry.ModelInfo | registry.LoadedModel) -> ModelKind:
    """What a model (header or loaded) offers: its task and the sampling controls it takes."""
    card = model.card
    task = card.get("task")
    controls: list[str] = []
    if task == "conditional":
        controls.append("label")
    if card.get("styles") and task in ("sample", "conditional"):
        controls.append("style")
    if task in ("sample", "conditional"):
        control = latent_control(model.arch, model.kwargs)
        if control:
            controls.append(control)
    defaults = tuple((k, float(v)) for k, v in sorted(card.get("sampling", {}).items()) if k in controls)
    return ModelKind(task=task, controls=tuple(controls), defaults=defaults)
