"""Earlier stages of a model: where a run starts from, and what it records of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genstudio import registry
from genstudio.errors import UserError


def resolve_init_from(reference: str) -> Path | str:
    """init_from names a shelf model, a run directory or a .safetensors file."""
    path = Path(reference)
    if path.suffix == registry.SUFFIX and path.is_file():
        return path
    if path.is_dir():
        files = sorted(path.glob(f"*{registry.SUFFIX}"))
        if len(files) != 1:
            raise UserError(
                f"init_from {reference!r}: expected one {registry.SUFFIX} file in the run directory, found {len(files)}"
            )
        return files[0]
    if "/" in reference or reference.endswith(registry.SUFFIX):
        raise UserError(f"init_from {reference!r}: no such run directory or checkpoint file")
    return reference


def stage_record(info: registry.ModelInfo, reference: str) -> dict[str, Any]:
    """What a later stage records of the stage it started from: its cost, its config, its
    last validation figure and, recursively, its own earlier stages."""
    before = info.card.get("provenance", {})
    record = {
        "model": info.name,
        "from": reference,
        **{k: before.get(k) for k in ("steps", "wall_time_minutes", "git_commit", "config")},
    }
    if before.get("curve"):
        record["last_log"] = before["curve"][-1]  # its losses and, at its last step, its validation figure
        record["curve"] = before["curve"][
            :: max(1, len(before["curve"]) // 50)
        ]  # a coarse copy, for a cascade's charts
    if info.card.get("metrics"):
        record["metrics"] = info.card["metrics"]
    for source in ("init_from", "teacher"):  # where it started, and what it was distilled from
        if before.get(source):
            record[source] = before[source]
    if info.card.get("stages"):  # a curriculum's result or a blend: the stages it was made from
        record["stages"] = info.card["stages"]
    return record


def _parts(info: registry.ModelInfo) -> list[str]:
    """The parts of a composite model (a cascade's generator and upscaler), in order."""
    return [k for k, v in info.kwargs.items() if isinstance(v, dict) and {"arch", "kwargs"} <= v.keys()]


def part_record(info: registry.ModelInfo, reference: str, part: str) -> dict[str, Any]:
    """What a stage records when it started from one part of a composite: that part's own
    stage record, as the composite's card keeps it (a cascade lists its parts' stages in
    order, generator first), so the chain of earlier stages stays whole."""
    parts, stages = _parts(info), info.card.get("stages") or []
    if part in parts and len(stages) == len(parts):
        return {**stages[parts.index(part)], "from": f"{reference} ({part})", "part": part}
    return {**stage_record(info, reference), "part": part}


def part_of(info: registry.ModelInfo, net: torch.nn.Module, part: str) -> tuple[tuple[str, dict], torch.nn.Module]:
    """((arch, kwargs), module) of one part of a composite model, e.g. a cascade's generator,
    so a later stage can go on training it after the assembled model has shipped."""
    if part not in _parts(info):
        raise UserError(f"part {part!r}: {info.name} has no such part (its parts: {', '.join(_parts(info)) or 'none'})")
    return (info.kwargs[part]["arch"], info.kwargs[part]["kwargs"]), getattr(net, part)


def read_stage(reference: str) -> tuple[registry.ModelInfo, registry.LoadedModel]:
    """(description, CPU-loaded model) of a shelf name, run directory or checkpoint file."""
    source = resolve_init_from(reference)
    if isinstance(source, Path):
        return registry.inspect_file(source), registry.load_file(source)
    info = registry.inspect(source)
    if info.error:
        raise UserError(f"{reference!r}: {info.error}")
    return info, registry.load(source, device="cpu")


def run_module(run_dir: str, key: str) -> dict[str, torch.Tensor]:
    """The weights of a run's training-only module (a GAN's discriminator, `d`), from its state.pt."""
    state_path = Path(run_dir) / "state.pt"
    if not state_path.is_file():
        raise UserError(f"{run_dir!r}: no run directory with a state.pt (a run's training state) there")
    modules = torch.load(state_path, map_location="cpu", weights_only=True)["modules"]
    if key not in modules:
        raise UserError(f"{run_dir!r}: its run has no {key!r} (it has {', '.join(modules)})")
    return modules[key]


def read_part(reference: str) -> tuple[tuple[str, dict], torch.nn.Module, dict[str, Any]]:
    """((arch, kwargs), network, stage record) of a run, shelf model or checkpoint file, or of
    one part of a composite, `REFERENCE#PART` (e.g. `emoji-gan#upscaler`: a second cascade
    shares the first one's upscaler, neither retrained nor copied into runs/)."""
    source, _, part = reference.partition("#")
    info, loaded = read_stage(source)
    if part:
        spec, net = part_of(info, loaded.net, part)
        return spec, net, part_record(info, source, part)
    return (info.arch, info.kwargs), loaded.net, stage_record(info, source)
