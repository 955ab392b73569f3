"""A training config, parsed once into typed dataclasses.

A config is a TOML file with `name`, `family`, `description` and three tables:
`[data]`, `[model]` (the architecture name and its constructor arguments) and
`[train]`, and optionally `[sampling]` (a generator's default latent settings). An
unknown key or a value of the wrong type is an error naming the key and the file,
never a silent default. `--set train.steps=8` overrides a key with
the same checks.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from genstudio.errors import UserError


class ConfigError(UserError):
    """A config key is unknown, missing or of the wrong type."""


@dataclass
class DataConfig:
    dataset: str | None = None  # an idx dataset name, "emoji", or a folder of images (subfolders = classes)
    split: str = "all"  # emoji: "all", "train" or "test" (by code point)
    image_size: int = 0  # resize a labelled set to this side (0 = the model's image_size, else 28)
    train: list[str] = field(default_factory=lambda: ["train/t91", "train/bsd200"])  # photo folders under data/sr
    val: str = "val/set5"  # photo folder for validation during training


@dataclass
class TrainConfig:
    """What every family's run takes; a family's own keys (`[train]` too) are its `Settings`."""

    steps: int = 1000
    stop_at: int = 0  # stop this run at that step (0 = at `steps`); resume later goes on exactly
    time_limit_minutes: float = 0.0  # 0 = no limit; a budget for a CPU (recipes' stages use steps only)
    batch_size: int = 64  # global: split over DDP processes
    seed: int = 0
    threads: int = 0  # torch threads on a CPU (0 = torch's default)
    precision: str = "fp32"  # "bf16": forward passes under bfloat16 autocast (1.8x a GAN step on an AVX512-BF16 CPU)
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500
    weights: str = "float32"  # how the model file stores its weights: "float16" halves it (the 10 MB budget per model)
    ema: float = 0.0  # EMA decay of the shipped network (0 = none)
    init_from: str = ""  # start from a model's weights: a shelf name or a run directory / .safetensors file
    init_part: str = ""  # of a composite init_from (a cascade), the part to start from: "generator" or "upscaler"
    lr: float = 2e-4
    betas: list[float] = field(default_factory=list)  # Adam's; empty = the family's (GAN 0, 0.9; else 0.9, 0.999)


@dataclass
class SamplingConfig:
    """A generator's default latent settings, written into its card; None = the kind's own."""

    truncation: float | None = None  # GANs: latents redrawn beyond +-truncation
    temperature: float | None = None  # VAEs: the prior's scale

    def as_card(self) -> dict[str, float]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class RunConfig:
    name: str
    family: str
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: dict[str, Any] = field(default_factory=dict)  # arch + its constructor kwargs
    train: TrainConfig = field(default_factory=TrainConfig)
    settings: Any = None  # the family's own [train] keys, as its Settings dataclass
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    source: str = ""  # the file it was read from (for messages)

    @property
    def arch(self) -> str:
        return self.model["arch"]

    @property
    def model_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.model.items() if k != "arch"}

    def as_dict(self) -> dict[str, Any]:
        """The resolved config, as recorded in a checkpoint's provenance (one [train] table, as written)."""
        out = dataclasses.asdict(self)
        out.pop("source")
        out["train"].update(out.pop("settings") or {})
        return out


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    hint = typing.get_origin(annotation) or annotation
    if hint is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        (item,) = typing.get_args(annotation)
        return [_check_type(v, item, where) for v in value]
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (types.UnionType, typing.Union):  # `str | None`
        if value is None:
            return None
        return _check_type(value, [a for a in typing.get_args(annotation) if a is not type(None)][0], where)
    if hint is int and isinstance(value, bool) or not isinstance(value, hint):
        raise ConfigError(f"{where} must be {getattr(hint, '__name__', hint)}, got {value!r}")
    return value


def _build(cls, table: dict[str, Any], where: str):
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}; known: {', '.join(sorted(known))}")
    return cls(**{k: _check_type(v, hints[k], f"{where}.{k}") for k, v in table.items()})


def _check_model_table(model: dict[str, Any], where: str) -> None:
    from genstudio import registry

    if "arch" not in model:
        raise ConfigError(f"{where}: [model] needs an 'arch'")
    registry._import_architectures()
    if model["arch"] not in registry.ARCHITECTURES:
        raise ConfigError(
            f"{where}: unknown architecture {model['arch']!r}; known: {', '.join(sorted(registry.ARCHITECTURES))}"
        )
    params = inspect.signature(registry.ARCHITECTURES[model["arch"]]).parameters
    for key in model:
        if key != "arch" and key not in params:
            raise ConfigError(
                f"{where}: [model] {key!r} is not an argument of {model['arch']}; known: {', '.join(params)}"
            )


def parse_value(text: str) -> Any:
    """A --set value as TOML (8, 2e-4, true, [1, 2], "x"); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """`train.steps=8` -> raw["train"]["steps"] = 8 (checked later with everything else)."""
    if "=" not in assignment:
        raise ConfigError(f"--set takes KEY=VALUE (e.g. train.steps=8), got {assignment!r}")
    key, text = assignment.split("=", 1)
    *tables, leaf = key.strip().split(".")
    target = raw
    for table in tables:
        target = target.setdefault(table, {})
        if not isinstance(target, dict):
            raise ConfigError(f"--set {key}: {table!r} is not a table")
    target[leaf] = parse_value(text.strip())


def parse_sampling(assignments: list[str] | tuple[str, ...]) -> dict[str, float]:
    """`["truncation=1.5"]` -> {"truncation": 1.5}, checked as a config's [sampling] table is."""
    table: dict[str, Any] = {}
    for assignment in assignments:
        if "=" not in assignment:
            raise ConfigError(f"--sampling takes KEY=VALUE (e.g. truncation=1.5), got {assignment!r}")
        key, text = assignment.split("=", 1)
        table[key.strip()] = parse_value(text.strip())
    return _build(SamplingConfig, table, "--sampling").as_card()


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read, override and check a config; every mistake names its key and file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for assignment in overrides:
        apply_override(raw, assignment)
    where = str(path)
    if "stages" in raw and "family" not in raw:
        raise ConfigError(
            f"{where} is a recipe: `genstudio reproduce {raw.get('model', path.stem)}` trains its stages; "
            f"`genstudio train configs/stages/STAGE.toml` trains one"
        )
    for key in ("name", "family", "model"):
        if key not in raw:
            raise ConfigError(f"{where}: config needs a top-level {key!r}")
    top = {f.name for f in dataclasses.fields(RunConfig)} - {"source"}
    for key in raw:
        if key not in top:
            raise ConfigError(f"{where}: unknown key {key!r}; known: {', '.join(sorted(top))}")
    _check_model_table(raw["model"], where)
    from genstudio import registry

    registry.checkpoint_path(_check_type(raw["name"], str, f"{where}: name"))  # a valid model name
    from genstudio.train.families import family_class

    family = family_class(_check_type(raw["family"], str, f"{where}: family"), where)
    table = raw.get("train", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where} [train] must be a table")
    common = {f.name for f in dataclasses.fields(TrainConfig)}
    own = {f.name for f in dataclasses.fields(family.Settings)}
    for key in table:
        if key not in common | own:
            raise ConfigError(
                f"{where} [train]: {key!r} is not a key of family {raw['family']!r}; its own keys: "
                f"{', '.join(sorted(own)) or 'none'}; every family's: {', '.join(sorted(common))}"
            )
    train = _build(TrainConfig, {k: v for k, v in table.items() if k in common}, f"{where} [train]")
    settings = _build(family.Settings, {k: v for k, v in table.items() if k in own}, f"{where} [train]")
    if train.weights not in registry.STORED_DTYPES:
        raise ConfigError(
            f"{where} [train]: weights must be one of {', '.join(registry.STORED_DTYPES)}, got {train.weights!r}"
        )
    return RunConfig(
        name=raw["name"],
        family=raw["family"],
        description=_check_type(raw.get("description", ""), str, f"{where}: description"),
        data=_build(DataConfig, raw.get("data", {}), f"{where} [data]"),
        model=dict(raw["model"]),
        train=train,
        settings=settings,
        sampling=_build(SamplingConfig, raw.get("sampling", {}), f"{where} [sampling]"),
        source=where,
    )
