"""Links: a recipe as a query string and back, and what a link with bad values becomes."""

from __future__ import annotations

from genstudio.tasks.io import make_recipe, recipe_from_query, recipe_to_query
from genstudio.ui import links


def test_a_recipe_round_trips_through_a_link():
    recipe = make_recipe(
        "walk",
        model="emoji-gan",
        seeds="1,5,9-12",
        labels=["Food & Drink", "Flags"],
        styles=["noto"],
        frames_per_transition=24,
        loop=True,
        grid=[2, 1],
        truncation=0.7,
        background="white",
    )
    query = recipe_to_query(recipe)
    back = recipe_from_query("https://example.org/space/?" + query)
    assert "app" not in back and "id" not in back  # provenance stays out of links
    assert back == {k: v for k, v in recipe.items() if k not in ("app", "id")}


def test_a_link_keeps_good_values_and_names_the_bad_ones(tiny):
    clean, notes = links.checked(
        {
            "task": "sample",
            "model": "tiny-emoji",
            "seed": -5,
            "n": "abc",
            "label": "Flags",
            "style": 7,
            "truncation": 0.5,
            "bogus": 1,
        }
    )
    assert clean == {"task": "sample", "model": "tiny-emoji", "label": "Flags", "truncation": 0.5}
    assert len(notes) == 4 and any("seed" in n for n in notes) and any("'bogus'" in n for n in notes)
    assert (
        links.checked({"task": "sample", "model": "tiny-emoji", "style": 1})[0]["style"] == "twemoji"
    )  # index -> name
    for bad in (
        {"task": "inpaint", "model": "tiny-inpaint"},
        {"task": "sample", "model": "no-such"},
        {"task": "sample", "model": "tiny-sr2"},
        {},
    ):
        clean, notes = links.checked(bad)
        assert clean is None and len(notes) == 1
