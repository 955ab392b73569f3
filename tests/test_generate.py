import numpy as np
import pytest
import torch

from genstudio import registry
from genstudio.tasks import generate
from genstudio.tasks.images import grid
from genstudio.tasks.io import read_recipe, save_png


def test_same_seed_same_images(tiny):
    model = tiny("tiny-gan")
    a = generate.sample(model, 6, seed=42)
    b = generate.sample(model, 6, seed=42)
    assert a.shape == (6, 28, 28, 1) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, generate.sample(model, 6, seed=43))


def test_seed_names_one_image(tiny):
    """Image i of a grid with seed S is the image of seed S + i on its own."""
    model = tiny("tiny-vae")
    grid_images = generate.sample(model, 4, seed=10)
    assert np.array_equal(grid_images[2], generate.sample(model, 1, seed=12)[0])


@pytest.mark.parametrize("seed", [-1, 2**32, 2**40, 1.5, "abc", None, True])
def test_bad_seeds_rejected(tiny, seed):
    with pytest.raises(ValueError, match="seed must be a whole number"):
        generate.sample(tiny("tiny-gan"), 2, seed=seed)


def test_parse_seeds():
    assert generate.parse_seeds("1,5,9-12") == [1, 5, 9, 10, 11, 12]
    assert generate.parse_seeds(" 3 ") == [3]
    for bad in ["", "a", "-3", "5-2", "1,,x", "1-99999999"]:
        with pytest.raises(ValueError):
            generate.parse_seeds(bad)


def test_labels_by_index_and_name(tiny):
    model = tiny("tiny-cgan")
    by_index = generate.sample(model, 3, seed=1, label=7)
    by_name = generate.sample(model, 3, seed=1, label="sneaker")
    by_digit = generate.sample(model, 3, seed=1, label="7")
    assert np.array_equal(by_index, by_name) and np.array_equal(by_index, by_digit)
    assert not np.array_equal(by_index, generate.sample(model, 3, seed=1, label="Bag"))


def test_no_label_draws_one_per_image_from_its_seed(tiny):
    model = tiny("tiny-cgan")
    grid_images = generate.sample(model, 6, seed=20)
    assert np.array_equal(grid_images, generate.sample(model, 6, seed=20))
    drawn = [generate.seeded_choice(s, 10, generate.LABEL_STREAM) for s in range(20, 26)]
    assert len(set(drawn)) > 1  # not one class for every image
    for i, label in enumerate(drawn):
        assert np.array_equal(grid_images[i], generate.sample(model, 1, seed=20 + i, label=label)[0])


def test_styles_by_index_and_name_and_alpha_kept(tiny):
    model = tiny("tiny-emoji")
    by_name = generate.sample(model, 3, seed=1, label="Food & Drink", style="twemoji")
    by_index = generate.sample(model, 3, seed=1, label=3, style=1)
    by_digit = generate.sample(model, 3, seed=1, label="3", style="1")
    assert by_name.shape == (3, 8, 8, 4) and by_name.dtype == np.uint8
    assert np.array_equal(by_name, by_index) and np.array_equal(by_name, by_digit)
    assert not np.array_equal(by_name, generate.sample(model, 3, seed=1, label=3, style="noto"))
    drawn = generate.sample(model, 4, seed=5)  # category and style drawn per image from the seed
    for i in range(4):
        label, style = (
            generate.seeded_choice(5 + i, 9, generate.LABEL_STREAM),
            generate.seeded_choice(5 + i, 3, generate.STYLE_STREAM),
        )
        assert np.array_equal(drawn[i], generate.sample(model, 1, seed=5 + i, label=label, style=style)[0])


@pytest.mark.parametrize("style", [3, -1, "apple", 1.5])
def test_bad_styles_rejected(tiny, style):
    with pytest.raises(ValueError, match="style"):
        generate.sample(tiny("tiny-emoji"), 2, seed=0, label=0, style=style)


def test_models_without_styles_refuse_a_style(tiny):
    with pytest.raises(ValueError, match="has no styles"):
        generate.sample(tiny("tiny-cgan"), 2, seed=0, label=1, style="noto")
    with pytest.raises(ValueError, match="has no styles"):
        generate.sample_all_styles(tiny("tiny-cgan"), 2, seed=0)


def test_all_styles_shows_the_same_seed_in_every_style(tiny):
    model = tiny("tiny-emoji")
    out = generate.sample_all_styles(model, 2, seed=4, label="Flags")
    assert out.shape == (6, 8, 8, 4)
    for s in range(3):
        assert np.array_equal(out[2 * s : 2 * s + 2], generate.sample(model, 2, seed=4, label="Flags", style=s))


def test_style_blend_ends_are_the_styles(tiny):
    model = tiny("tiny-emoji")
    fluent = generate.sample(model, 2, seed=3, label=0, style="fluent")
    assert np.array_equal(
        generate.sample(model, 2, seed=3, label=0, style="noto", blend_style="fluent", style_weight=1.0), fluent
    )
    mid = generate.sample(model, 2, seed=3, label=0, style="noto", blend_style="fluent", style_weight=0.5)
    assert not np.array_equal(mid, fluent)


@pytest.mark.parametrize("label", [10, -1, "Sneakers", 3.5])
def test_bad_labels_rejected(tiny, label):
    with pytest.raises(ValueError, match="label|conditional"):
        generate.sample(tiny("tiny-cgan"), 2, seed=0, label=label)


def test_unconditional_model_refuses_label(tiny):
    with pytest.raises(ValueError, match="unconditional"):
        generate.resolve_label(tiny("tiny-gan"), 3)


def test_wrong_task_refused(tiny):
    with pytest.raises(ValueError, match="not|choose a sampling"):
        generate.sample(tiny("tiny-sr2"), 2, seed=0)


@pytest.mark.parametrize("n", [0, -1, 10_000, 2.5])
def test_bad_counts(tiny, n):
    with pytest.raises(ValueError, match="number of images"):
        generate.sample(tiny("tiny-gan"), n, seed=0)


def test_truncation_bounds_latents_deterministically():
    z = generate.latent(5, 4096, truncation=0.5)
    assert z.abs().max() <= 0.5
    assert torch.equal(z, generate.latent(5, 4096, truncation=0.5))
    assert not torch.equal(z, generate.latent(5, 4096))


def test_temperature_scales_vae_prior(tiny):
    model = tiny("tiny-vae")
    cold = generate.sample(model, 8, seed=0, temperature=0.01)
    warm = generate.sample(model, 8, seed=0, temperature=2.0)
    assert cold.astype(float).std(axis=0).mean() < warm.astype(float).std(axis=0).mean()
    with pytest.raises(ValueError, match="temperature"):
        generate.sample(model, 2, seed=0, temperature=0)


def test_blend_endpoints_are_the_classes(tiny):
    model = tiny("tiny-cgan")
    bag = generate.sample(model, 2, seed=3, label="Bag")
    assert np.array_equal(generate.sample(model, 2, seed=3, label="Sneaker", blend_label="Bag", blend_weight=1.0), bag)
    mid = generate.sample(model, 2, seed=3, label="Sneaker", blend_label="Bag", blend_weight=0.5)
    assert not np.array_equal(mid, bag)


def test_all_classes_rows(tiny):
    out = generate.sample_all_classes(tiny("tiny-cgan"), 3, seed=0)
    assert out.shape == (30, 28, 28, 1)
    assert np.array_equal(out[7 * 3], generate.sample(tiny("tiny-cgan"), 1, seed=0, label=7)[0])


def test_png_carries_recipe(tmp_path, tiny):
    images = generate.sample(tiny("tiny-gan"), 4, seed=9)
    recipe = {"model": "tiny-gan", "seed": 9, "n": 4}
    path = save_png(grid(images), tmp_path / "g.png", recipe)
    assert read_recipe(path) == recipe


def test_ui_png_keeps_recipe_through_gradio(tiny, tmp_path):
    """The Sample tab's PIL output keeps its recipe when Gradio writes the PNG."""
    from gradio.processing_utils import save_pil_to_cache

    from genstudio.ui.tabs import sample as sample_tab

    shown, raw, seeds = sample_tab.sample("tiny-gan", 4, 4, None, None, 0, 1, "white", 2, False)
    path = save_pil_to_cache(shown, str(tmp_path), format="png")
    recipe = read_recipe(path)
    assert recipe["seed"] == 4 and recipe["model"] == "tiny-gan" and recipe["n"] == 4
    assert seeds == "4-7" and shown.size == (raw.shape[1] * 2, raw.shape[0] * 2)


def test_conditional_vae_prior_moves_z_with_the_class():
    """The emoji VAE's learned prior: the same z gives another image for another class even
    if the decoder ignored the condition, because z is shifted to the class's prior mean."""
    import torch

    from genstudio import registry

    torch.manual_seed(0)
    net = registry.build("styled_conv_vae", {"latent_dim": 4, "width": 4, "hidden": 8, "image_size": 8}).eval()
    with torch.no_grad():
        net.prior_mean.weight.normal_()
        z = torch.zeros(1, 4)
        a, b = (
            net.generate(z, torch.tensor([0]), torch.tensor([0])),
            net.generate(z, torch.tensor([5]), torch.tensor([0])),
        )
        assert not torch.equal(a, b)
        x = torch.rand(2, 4, 8, 8)
        _, relative, _ = net(x, torch.tensor([1, 2]), torch.tensor([0, 1]))
        mu, _ = net.encode(x, torch.tensor([1, 2]), torch.tensor([0, 1]))
        prior = net.prior_mean(torch.cat([torch.eye(9)[[1, 2]], torch.eye(3)[[0, 1]]], 1))
        assert torch.allclose(relative, mu - prior)  # the KL is taken against the class's prior


def test_all_classes_grid_names_its_rows(tiny):
    """The Label-conditioned tab's 'all classes' picture writes each class's name beside its row."""
    from genstudio.ui.tabs.conditional import conditional

    picture, raw = conditional(
        "tiny-cgan", None, None, "all classes", None, None, 0.5, 0, 3, None, None, "white", 1, False
    )
    shown = np.asarray(picture)
    margin = shown.shape[1] - raw.shape[1]
    assert margin > 0 and shown.shape[0] == raw.shape[0]
    names = shown[:, :margin]
    assert (names < 128).any()  # dark text on white
    first_row = names[: raw.shape[0] // 10]
    assert (first_row < 128).any() and (
        names[-(raw.shape[0] // 10) :] < 128
    ).any()  # the first and the last class are named


def test_vae_samples_from_a_gaussian_fitted_to_its_aggregate_posterior():
    torch.manual_seed(0)
    vae = registry.build("conv_vae", {"latent_dim": 4, "width": 4})
    x = torch.rand(64, 1, 28, 28)
    vae.train()
    vae.moment_momentum = 0.1  # converge fast; training uses 0.01
    with torch.no_grad():
        for _ in range(100):  # training passes keep running moments of q(z | x), like BatchNorm
            vae(x)
    vae.eval()
    with torch.no_grad():
        mu, logvar = vae.encode(x)
        covariance = torch.cov(mu.T, correction=0) + torch.diag(logvar.exp().mean(0))
        scale = vae.prior_scale()
        assert torch.allclose(vae.posterior_mean, mu.mean(0), atol=1e-3)
        assert torch.allclose(scale @ scale.T, covariance, atol=1e-3)
        # z = 0 is the aggregate posterior's mean; a unit step along z moves one prior standard deviation
        assert torch.allclose(
            vae.generate(torch.zeros(1, 4)), torch.sigmoid(vae.decode_logits(mu.mean(0, keepdim=True))), atol=1e-5
        )


def test_kmeans_finds_separated_groups_the_same_way_every_time():
    from genstudio.data import kmeans

    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    truth = np.repeat(np.arange(3), 40)
    points = centres[truth] + rng.normal(0, 0.5, (120, 2))
    ids = kmeans(points, 3, seed=1)
    assert np.array_equal(ids, kmeans(points, 3, seed=1))
    # each found cluster is exactly one true group (ids may be permuted)
    assert sorted({(t, i) for t, i in zip(truth, ids)}) == sorted(
        set(zip(range(3), [ids[truth == t][0] for t in range(3)]))
    )
    assert len(set(ids)) == 3
    with pytest.raises(ValueError, match="k-means needs"):
        kmeans(points, 121)


def test_a_clustered_generator_draws_clusters_from_its_latent_in_their_shares():
    from genstudio.models.gan import ClusteredGenerator

    g = ClusteredGenerator(latent_dim=8, width=4, num_clusters=3).eval()
    g.cluster_shares.copy_(torch.tensor([0.2, 0.5, 0.3]))
    assert g.latent_dim == 9  # the network's 8, then the cluster's coordinate
    z_last = torch.randn(20000, generator=torch.Generator().manual_seed(0))
    weights = g.cluster_weights(z_last)
    assert torch.allclose(weights.sum(1), torch.ones(len(weights)), atol=1e-5)
    hard = weights.max(1).values > 0.99
    assert hard.float().mean() > 0.99  # one cluster per sample except within the narrow band at a boundary
    shares = torch.bincount(weights.argmax(1), minlength=3).float() / len(weights)
    assert torch.allclose(shares, torch.tensor([0.2, 0.5, 0.3]), atol=0.015)
    # across a boundary the weights move smoothly (a walk morphs, never jumps)
    edge = torch.erfinv(torch.tensor(2 * 0.2 - 1)) * 2**0.5
    path = g.cluster_weights(edge + torch.linspace(-0.05, 0.05, 201))
    assert (path[1:] - path[:-1]).abs().max() < 0.2 and path[0, 0] > 0.99 and path[-1, 1] > 0.99
    # no labels needed to sample; a given cluster decides the image whatever the last coordinate says
    z = torch.randn(4, 9)
    assert g.generate(z).shape == (4, 1, 28, 28)
    other = z.clone()
    other[:, -1] += 1.0
    labels = torch.tensor([0, 1, 2, 1])
    assert torch.equal(g.generate(z, labels), g.generate(other, labels))


def test_a_vae_draws_the_same_images_in_the_sample_and_label_conditioned_tabs():
    """The same seed, category and style at each tab's default settings: the model's own temperature in both."""
    from genstudio.ui.tabs.conditional import conditional
    from genstudio.ui.tabs.sample import sample

    _, from_sample, _ = sample("emoji-vae", 5, 4, "Animals & Nature", "fluent", None, None, "white", 1, False)
    _, from_conditional = conditional(
        "emoji-vae", "Animals & Nature", "fluent", "one class", None, None, 0.5, 5, 4, None, None, "white", 1, False
    )
    assert np.array_equal(np.asarray(from_sample), np.asarray(from_conditional))


def test_the_atomic_image_cache_reaches_what_gradio_calls(tmp_path, monkeypatch):
    """The app swaps Gradio's internal `processing_utils.save_pil_to_cache` (Gradio has no public
    hook for how it writes result images) for one that writes each file once, atomically. This
    fails if Gradio renames it, changes its arguments, or stops calling it for a result image."""
    import inspect

    import gradio as gr
    from gradio import processing_utils
    from PIL import Image

    from genstudio.ui.app import make_gradio_image_cache_atomic

    make_gradio_image_cache_atomic()
    atomic = processing_utils.save_pil_to_cache
    assert atomic.atomic and list(inspect.signature(atomic).parameters) == ["img", "cache_dir", "name", "format"]
    calls = []
    monkeypatch.setattr(processing_utils, "save_pil_to_cache", lambda *a, **k: calls.append(1) or atomic(*a, **k))
    image = gr.Image(type="pil", format="png")
    monkeypatch.setattr(image, "GRADIO_CACHE", str(tmp_path))
    shown = image.postprocess(Image.new("RGB", (4, 4), (200, 30, 30)))
    assert calls and Image.open(shown.path).getpixel((0, 0)) == (200, 30, 30)
    assert not list(tmp_path.rglob("*.tmp"))
