"""Recipes: how each shipped model is rebuilt from nothing, stage by stage.

`configs/MODEL.toml` is a model's recipe:

    model = "sr-x4"
    judge = "..."                  # optional: the classifier its evaluation needs, built first if missing
    stages = ["sr-x4-base", "sr-x4"]

Each stage is a config, `configs/stages/STAGE.toml` (`name = STAGE`), trained in order into
`RUNS/STAGE`; the last stage is named after the model and its run is promoted. A stage names an
earlier stage's run as `runs/STAGE` (init_from, teacher, parts, ...), never a shelf model (the
recipe would need what it builds), and stops at a step count, never at a time limit (the result
would depend on the CPU). A stage two recipes share (emoji-x2, the upscaler of both emoji
cascades) is trained once per RUNS.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import tomllib

from genstudio import paths, registry
from genstudio.errors import UserError
from genstudio.train.config import RunConfig, load_config

CONFIGS = paths.REPOSITORY / "configs"
RUN_PREFIX = "runs/"
REFERENCES = ("init_from", "teacher", "init_discriminator")  # [train] keys naming another stage's run (and parts)


@dataclass(frozen=True)
class Recipe:
    model: str
    stages: tuple[str, ...]
    judge: str = ""

    def stage_path(self, stage: str) -> Path:
        return CONFIGS / "stages" / f"{stage}.toml"


def recipe_names() -> list[str]:
    return sorted(p.stem for p in CONFIGS.glob("*.toml"))


def load_recipe(model: str) -> Recipe:
    path = CONFIGS / f"{model}.toml"
    if not path.is_file():
        raise UserError(f"no recipe for {model!r} (configs/{model}.toml); recipes: {', '.join(recipe_names())}")
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    unknown = set(raw) - {f.name for f in dataclasses.fields(Recipe)}
    if unknown or not raw.get("stages") or raw.get("model") != model:
        raise UserError(f"{path}: a recipe has `model = {model!r}`, `stages = [...]` and maybe `judge`; got {raw}")
    recipe = Recipe(model=model, stages=tuple(raw["stages"]), judge=raw.get("judge", ""))
    check(recipe)
    return recipe


def _references(cfg: RunConfig) -> list[str]:
    table = cfg.as_dict()["train"]  # every family's keys and its own
    return [r for r in [table.get(key) for key in REFERENCES] + list(table.get("parts", [])) if r]


def check(recipe: Recipe) -> None:
    """Every stage exists and is named after its file, the last after the model; each names only
    earlier stages' runs; none stops on wall time."""
    seen: list[str] = []
    for stage in recipe.stages:
        where = recipe.stage_path(stage)
        if stage in seen:
            raise UserError(f"recipe {recipe.model}: stage {stage!r} is listed twice")
        if not where.is_file():
            raise UserError(f"recipe {recipe.model}: no stage config {where}")
        cfg = load_config(where)
        if cfg.name != stage:
            raise UserError(f"{where}: name = {cfg.name!r}, but a stage is named after its file ({stage!r})")
        if cfg.train.time_limit_minutes:
            raise UserError(f"{where}: a recipe's stage stops at a step count (steps, stop_at), not a time limit")
        for reference in _references(cfg):
            run = reference.partition("#")[0]
            if not run.startswith(RUN_PREFIX) or run[len(RUN_PREFIX) :] not in seen:
                raise UserError(
                    f"{where}: {reference!r} is not an earlier stage's run (runs/STAGE, one of: {', '.join(seen)})"
                )
        seen.append(stage)
    if seen[-1] != recipe.model:
        raise UserError(f"recipe {recipe.model}: its last stage must be named {recipe.model!r}, got {seen[-1]!r}")


def scaled(steps: int, scale: float) -> int:
    return max(1, round(steps * scale)) if steps else 0


def stage_overrides(cfg: RunConfig, runs: Path, scale: float) -> list[str]:
    """--set lines that point a stage's references into `runs` and scale its steps."""
    table, out = cfg.as_dict()["train"], []

    def moved(reference: str) -> str:
        return str(runs / reference[len(RUN_PREFIX) :])

    for key in REFERENCES:
        if table.get(key):
            out.append(f'train.{key}="{moved(table[key])}"')
    if table.get("parts"):
        out.append("train.parts=[" + ", ".join(f'"{moved(p)}"' for p in table["parts"]) + "]")
    if scale != 1:
        for key in ("steps", "stop_at", "kl_warmup_steps"):  # counts of steps
            if table.get(key):
                out.append(f"train.{key}={scaled(table[key], scale)}")
    return out


def _finished(run_dir: Path, cfg: RunConfig) -> bool:
    """The run holds its model at the step the stage ends on."""
    files = list(run_dir.glob(f"*{registry.SUFFIX}"))
    if len(files) != 1 or not (run_dir / "state.pt").exists():
        return False
    done = registry.inspect_file(files[0]).card.get("provenance", {}).get("steps")
    end = min(cfg.train.stop_at, cfg.train.steps) if cfg.train.stop_at else cfg.train.steps
    return done == end


def reproduce(
    model: str,
    scale: float = 1.0,
    runs: str | Path = "runs",
    evaluate: bool = True,
    progress: Callable[[str], None] = print,
) -> Path:
    """Train every stage of `model`'s recipe into `runs` (a finished stage is kept, a stopped one
    resumed), then promote the last stage's run to the shelf. With `evaluate`, the judge the
    evaluation needs is built first when the shelf lacks it. Returns the shelf checkpoint."""
    from genstudio.eval.evaluate import promote
    from genstudio.train.loop import train

    if not scale > 0:
        raise UserError(f"--scale must be above 0, got {scale}")
    recipe, runs = load_recipe(model), Path(runs)
    if evaluate and recipe.judge and recipe.judge not in registry.model_names():
        progress(f"{model} is judged by {recipe.judge}, which the shelf lacks: reproducing it first")
        reproduce(recipe.judge, scale, runs, evaluate, progress)
    for number, stage in enumerate(recipe.stages, 1):
        cfg = load_config(recipe.stage_path(stage), stage_overrides(load_config(recipe.stage_path(stage)), runs, scale))
        run_dir = runs / stage
        if _finished(run_dir, cfg):
            progress(f"stage {number}/{len(recipe.stages)} {stage}: done before, kept ({run_dir})")
            continue
        resume = (run_dir / "state.pt").exists()
        progress(f"stage {number}/{len(recipe.stages)} {stage}: {'resuming' if resume else 'training'} into {run_dir}")
        train(cfg, resume=resume, run_dir=run_dir)
    recipe_record = {"model": model, "stages": list(recipe.stages), "scale": scale}
    path, _ = promote(runs / recipe.model, progress=progress, evaluate=evaluate, recipe=recipe_record)
    return path
