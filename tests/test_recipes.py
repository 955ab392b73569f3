"""Recipes: every shipped model rebuilds from the repository, stage by stage, on an empty shelf."""

from __future__ import annotations

import pytest

from genstudio import registry
from genstudio.errors import UserError
from genstudio.train import recipes
from genstudio.train.config import load_config

SHIPPED = registry.model_names()
TINY = 1e-4  # every stage runs 1-6 steps: the chain is checked, not the figures


def test_every_shipped_model_has_a_recipe_and_nothing_else_does():
    assert sorted(SHIPPED) == recipes.recipe_names()
    for name in SHIPPED:
        recipe = recipes.load_recipe(name)  # checks every stage
        assert recipe.stages[-1] == name
        assert registry.inspect(name).card["recipe"]["stages"] == list(recipe.stages)


def test_every_stage_config_belongs_to_a_recipe():
    used = {stage for name in SHIPPED for stage in recipes.load_recipe(name).stages}
    assert {p.stem for p in (recipes.CONFIGS / "stages").glob("*.toml")} == used


@pytest.fixture
def recipe_dir(tmp_path, monkeypatch):
    (tmp_path / "stages").mkdir()
    monkeypatch.setattr(recipes, "CONFIGS", tmp_path)
    base = (recipes.paths.REPOSITORY / "configs" / "stages" / "sr-x2.toml").read_text()

    def write(stages: dict[str, str], model: str = "m"):
        for name, extra in stages.items():
            text = base.replace('name = "sr-x2"', f'name = "{name}"').replace("[train]", "[train]\n" + extra)
            (tmp_path / "stages" / f"{name}.toml").write_text(text)
        (tmp_path / f"{model}.toml").write_text(f'model = "{model}"\nstages = {list(stages)!r}\n'.replace("'", '"'))
        return model

    return write


@pytest.mark.parametrize(
    "stages, message",
    [
        ({"a": "", "m": 'init_from = "sr-x4"'}, "not an earlier stage's run"),  # a shelf model
        ({"m": 'init_from = "runs/a"', "a": ""}, "not an earlier stage's run"),  # a later stage
        ({"a": "time_limit_minutes = 30", "m": ""}, "not a time limit"),
        ({"a": "", "b": ""}, "must be named 'm'"),
    ],
)
def test_a_broken_chain_is_refused_before_anything_trains(recipe_dir, stages, message):
    model = recipe_dir(stages)
    with pytest.raises(UserError, match=message):
        recipes.load_recipe(model)


def test_a_recipe_is_not_a_stage_config():
    with pytest.raises(UserError, match="genstudio reproduce sr-x4"):
        load_config(recipes.CONFIGS / "sr-x4.toml")


def test_scale_shrinks_steps_and_points_references_into_the_runs(tmp_path):
    cfg = load_config(recipes.CONFIGS / "stages" / "emoji-gan-32-student.toml")
    sets = recipes.stage_overrides(cfg, tmp_path, 0.01)
    assert f'train.init_from="{tmp_path / "emoji-gan-32-gaux3"}"' in sets and "train.steps=80" in sets
    cfg = load_config(recipes.CONFIGS / "stages" / "emoji-gan.toml")
    assert f'train.parts=["{tmp_path / "emoji-gan-32-student"}", "{tmp_path / "emoji-x2"}"]' in recipes.stage_overrides(
        cfg, tmp_path, 1
    )


@pytest.fixture(scope="module")
def empty_shelf(tmp_path_factory):
    shelf = tmp_path_factory.mktemp("shelf")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENSTUDIO_CHECKPOINTS", str(shelf))
        registry.clear_cache()
        yield shelf, tmp_path_factory.mktemp("runs")
    registry.clear_cache()


@pytest.mark.parametrize("name", SHIPPED)
def test_reproduce_rebuilds_every_shipped_model_on_an_empty_shelf(empty_shelf, name):
    """The whole chain, each stage at a few steps; shared stages (emoji-x2) train once per runs dir."""
    shelf, runs = empty_shelf
    path = recipes.reproduce(name, scale=TINY, runs=runs, evaluate=False, progress=lambda m: None)
    assert path == shelf / f"{name}.safetensors"
    loaded = registry.load(name, device="cpu")
    shipped = registry.inspect_file(recipes.paths.shipped("checkpoints") / f"{name}.safetensors")
    assert (loaded.arch, loaded.card["task"]) == (shipped.arch, shipped.card["task"])
    assert loaded.card["recipe"] == {"model": name, "stages": list(recipes.load_recipe(name).stages), "scale": TINY}
