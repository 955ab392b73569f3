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


def test_a_walk_link_with_bad_values_keeps_the_tabs_defaults(tiny):
    """?task=walk&seeds=1-99999&fps=9999: the bad values go, the seeds box keeps its default and truncation its
    model's own setting (it was left empty and at 0)."""
    from genstudio.ui import common
    from genstudio.ui.tabs import walk

    clean, notes = links.checked(recipe_from_query("?task=walk&seeds=1-99999&fps=9999&model=tiny-emoji"))
    assert {"seeds", "fps"}.isdisjoint(clean) and len(notes) == 2
    restored = walk.restore(clean)
    assert restored[1] == walk.DEFAULT_SEEDS and restored[5] == 24
    assert restored[12] == common.latent_default("tiny-emoji", "truncation")


def test_a_link_that_opens_nothing_says_what_was_wrong(tiny):
    for query, said in (("?tab=sample", "names no tab"), ("?%%%%", "names no tab"), ("?task=models", "cannot open")):
        clean, notes = links.checked(recipe_from_query(query))
        assert clean is None and said in notes[0] and "None" not in notes[0], notes
    clean, notes = links.checked(recipe_from_query("?model=banana&n=-3&seed=abc&task=sample"))
    assert clean is None and "banana" in notes[0]


def test_the_start_page_keeps_its_results_when_a_link_opens_nothing(tiny):
    from types import SimpleNamespace

    request = lambda query: SimpleNamespace(query_params=query)
    assert links.query_task(request("model=banana&n=-3&seed=abc&task=sample")) is None  # the openings are shown
    assert links.query_task(request("task=sample&model=tiny-emoji&seed=3")) == "sample"  # the link's own result


def test_label_conditioned_offers_only_its_models_modes():
    import gradio as gr

    from genstudio.ui.tabs import conditional

    with gr.Blocks():
        tab = conditional.build(["cgan-fmnist", "emoji-gan"])
    modes, count, blend_label, blend_style, weight = tab.mode_controls("cgan-fmnist", "all styles")
    assert "all styles" not in modes["choices"] and modes["value"] == "one class"  # no styles: not offered
    modes, count, blend_label, blend_style, weight = tab.mode_controls("emoji-gan", "all classes")
    assert count["maximum"] == 32 and not blend_label["visible"] and not weight["visible"]
    _, count, blend_label, blend_style, weight = tab.mode_controls("emoji-gan", "blend styles")
    assert count["maximum"] == 64 and blend_style["visible"] and not blend_label["visible"] and weight["visible"]
