"""What each model family adds to the one loop: its networks, optimisers, data and step.

One module per family; each registers itself with `@register(NAME)`, and its class carries a
`Settings` dataclass: the `[train]` keys that family takes beside every family's (a key no
family of the config takes is an error naming it). A family exposes `modules` (name ->
nn.Module; the loop wraps trainable ones in DDP), `optimizers`, `shipped` (the module that
becomes the checkpoint, EMA'd by the loop), `batches()`, `step(batch) -> {loss: value}`,
`arch_spec()`, `card()`, `preview(net) -> uint8 image` and `validate(net) -> {metric: value}`.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from genstudio.errors import UserError

if TYPE_CHECKING:
    import torch

    from genstudio.train.config import RunConfig
    from genstudio.train.families.base import Family

FAMILIES: dict[str, type[Family]] = {}


def register(name: str):
    def add(cls):
        FAMILIES[name] = cls
        return cls

    return add


def family_class(name: str, where: str = "config") -> type[Family]:
    """The family registered as `name`, once every module of this package has registered."""
    if not FAMILIES:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
    if name not in FAMILIES:
        raise UserError(f"{where}: unknown family {name!r}; known: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[name]


def make_family(cfg: RunConfig, device: torch.device, rank: int = 0, world: int = 1) -> Family:
    return family_class(cfg.family, cfg.source)(cfg, device, rank, world)
