"""The one training loop, on tiny configs: every family, resume, and 2-process DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from genstudio import registry
from genstudio.errors import UserError
from genstudio.train.loop import train


@pytest.fixture(scope="module")
def folder_dataset(tmp_path_factory) -> Path:
    """A folder of images with two classes (subfolders): users' own data."""
    root = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(0)
    for label in ("disc", "bar"):
        (root / label).mkdir()
        for i in range(12):
            img = np.zeros((28, 28), np.uint8)
            c = rng.integers(8, 20, 2)
            if label == "disc":
                yy, xx = np.mgrid[:28, :28]
                img[(yy - c[0]) ** 2 + (xx - c[1]) ** 2 < 36] = 255
            else:
                img[c[0] - 2 : c[0] + 2, 4:24] = 255
            Image.fromarray(img).save(root / label / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    import skimage.data

    root = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "coffee"):
        Image.fromarray(getattr(skimage.data, name)()[::2, ::2]).save(root / f"{name}.png")
    return root


def _config(tmp_path: Path, name: str, family: str, data: dict, model: dict, train_cfg: dict) -> Path:
    def toml_value(v):
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

    lines = [f'name = "{name}"', f'family = "{family}"', "[data]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in data.items()]
    lines += ["[model]"] + [f"{k} = {toml_value(v)}" for k, v in model.items()]
    lines += ["[train]"] + [
        f"{k} = {toml_value(v)}"
        for k, v in {"log_every": 2, "sample_every": 4, "checkpoint_every": 4, **train_cfg}.items()
    ]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _families(folder: Path, photos: Path):
    tiny_gen = {"latent_dim": 8, "width": 4, "channels": 1, "image_size": 28}
    return {
        "t-cgan": (
            "gan",
            {"dataset": str(folder)},
            {"arch": "dcgan_generator", "num_classes": 2, **tiny_gen},
            {"batch_size": 4, "d_width": 4, "ema": 0.9, "aux_class_weight": 1.0},
            "conditional",
        ),
        "t-sgan": (
            "gan",
            {"dataset": str(folder)},
            {"arch": "clustered_dcgan_generator", "num_clusters": 3, **tiny_gen},
            {"batch_size": 4, "d_width": 4, "ema": 0.9, "loss": "bce", "d_norm": "batch"},
            "sample",
        ),
        "t-vae": (
            "vae",
            {"dataset": str(folder)},
            {"arch": "conv_vae", "latent_dim": 4, "width": 4, "blocks": 1},
            {"batch_size": 4, "kl_warmup_steps": 2},
            "sample",
        ),
        "t-clf": (
            "classifier",
            {"dataset": str(folder)},
            {"arch": "small_cnn_classifier", "num_classes": 2, "width": 4},
            {"batch_size": 4},
            "classify",
        ),
        "t-sr": (
            "sr",
            {"train": [str(photos)], "val": str(photos)},
            {"arch": "edsr", "scale": 2, "width": 4, "blocks": 1},
            {"batch_size": 2, "lr_patch": 16, "ema": 0.9},
            "upscale",
        ),
        "t-inpaint": (
            "inpaint",
            {"train": [str(photos)]},
            {"arch": "refine_unet", "channels": 3, "width": 4, "dilations": [1, 2]},
            {"batch_size": 2, "crop": 32},
            "inpaint",
        ),
    }


@pytest.mark.parametrize("name", ["t-cgan", "t-sgan", "t-vae", "t-clf", "t-sr", "t-inpaint"])
def test_every_family_trains_and_ships_a_self_describing_checkpoint(
    name, tmp_path, folder_dataset, photo_folder, monkeypatch
):
    family, data, model, train_cfg, task = _families(folder_dataset, photo_folder)[name]
    cfg = _config(tmp_path, name, family, data, model, {"steps": 4, **train_cfg})
    stale = tmp_path / "run" / "samples" / "step_009999.png"  # an earlier run's sheet in the same directory
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    path = train(cfg, run_dir=tmp_path / "run")
    assert not stale.exists()
    loaded = registry.load_file(path)
    assert path == tmp_path / "run" / f"{name}.safetensors" and loaded.task == task
    prov = loaded.card["provenance"]
    assert (
        prov["steps"] == 4
        and prov["config"]["name"] == name
        and "git_commit" in prov
        and prov["wall_time_minutes"] >= 0
    )
    assert [row["step"] for row in prov["curve"]] == [2, 4]
    assert (tmp_path / "run" / "samples" / "step_000004.png").exists()
    if task == "conditional":
        assert loaded.labels == ["bar", "disc"]
    if name == "t-sgan":  # trained on clusters of the images, shipped unconditional with the clusters' shares
        assert loaded.labels is None and loaded.net.latent_dim == 9
        shares = loaded.net.cluster_shares
        counts = shares * 24  # the 24 images' cluster sizes
        assert torch.allclose(counts, counts.round(), atol=1e-4) and counts.round().sum() == 24 and (counts >= 1).all()


def test_a_vae_stage_fits_a_flow_prior_and_keeps_the_vae(tmp_path, folder_dataset, photo_folder):
    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-vae"]
    base = train(_config(tmp_path, "t-vae", family, data, model, {"steps": 4, **train_cfg}), run_dir=tmp_path / "base")
    flow = {**model, "prior_layers": 2, "prior_hidden": 8}
    cfg = _config(
        tmp_path,
        "t-vae-prior",
        family,
        data,
        flow,
        {"steps": 6, "batch_size": 8, "lr": 1e-2, "fit_prior": True, "init_from": str(tmp_path / "base")},
    )
    before, after = registry.load_file(base), registry.load_file(train(cfg, run_dir=tmp_path / "prior"))
    kept = after.net.state_dict()
    assert all(torch.equal(v, kept[k]) for k, v in before.net.state_dict().items())  # encoder, decoder, Gaussian fit
    assert after.net.prior_flow.layers[-1].net[-1].weight.abs().sum() > 0  # the flow left its identity start
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(before.net.generate(z), after.net.generate(z))
    assert after.card["provenance"]["init_from"]["model"] == "t-vae"
    bad = _config(
        tmp_path,
        "t-vae-bad",
        family,
        data,
        {**flow, "width": 8},
        {"steps": 2, "fit_prior": True, "init_from": str(tmp_path / "base")},
    )
    with pytest.raises(UserError, match="init_from"):  # a stage may add a prior, not change the VAE
        train(bad, run_dir=tmp_path / "bad")
    no_flow = _config(tmp_path, "t-vae-none", family, data, model, {"steps": 2, "fit_prior": True})
    with pytest.raises(UserError, match="prior_layers"):
        train(no_flow, run_dir=tmp_path / "none")


@pytest.mark.parametrize("context", [0, 2])
def test_the_flow_prior_inverts_exactly_with_its_log_determinant(context):
    from genstudio.models.vae import FlowPrior

    torch.manual_seed(0)
    flow = FlowPrior(4, layers=3, hidden=8, context=context).double()
    for p in flow.parameters():
        p.data.normal_(0, 0.3)
    e = torch.randn(3, 4, dtype=torch.float64)
    c = torch.randn(3, context, dtype=torch.float64) if context else None
    u = flow(e, c)
    back, log_det = u, torch.zeros(3, dtype=torch.float64)
    for layer in reversed(flow.layers):
        back, step = layer.inverse(back, c)
        log_det = log_det + step
    assert torch.allclose(back, e, atol=1e-10)
    row_map = lambda i: lambda x: flow(x[None], None if c is None else c[i : i + 1])[0]
    jacobian = torch.stack([torch.autograd.functional.jacobian(row_map(i), row) for i, row in enumerate(e)])
    assert torch.allclose(log_det, -torch.logdet(jacobian), atol=1e-8)  # log |det d(inverse)/du| = -log |det J|
    if context:  # the condition changes the map
        assert not torch.allclose(flow(e, c), flow(e, -c))


def test_a_conditional_vae_stage_fits_a_flow_prior_per_condition(tmp_path):
    family, data, model, train_cfg, _ = EMOJI_VAE
    base = train(
        _config(tmp_path, "t-emoji-vae", family, data, model, {"steps": 4, **train_cfg}), run_dir=tmp_path / "base"
    )
    cfg = _config(
        tmp_path,
        "t-emoji-vae-prior",
        family,
        data,
        {**model, "prior_layers": 2, "prior_hidden": 8},
        {"steps": 6, "batch_size": 8, "lr": 1e-2, "fit_prior": True, "init_from": str(tmp_path / "base")},
    )
    before, after = registry.load_file(base), registry.load_file(train(cfg, run_dir=tmp_path / "prior"))
    kept = after.net.state_dict()
    assert all(torch.equal(v, kept[k]) for k, v in before.net.state_dict().items())  # encoder, decoder, prior means
    z = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    labels, styles = torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 0])
    assert not torch.allclose(before.net.generate(z, labels, styles), after.net.generate(z, labels, styles))
    x = before.net.generate(z, labels, styles)
    assert torch.equal(
        before.net.reconstruct(x, labels, styles), after.net.reconstruct(x, labels, styles)
    )  # no prior in it
    flow, c = after.net.prior_flow, torch.eye(12)[:2]
    assert not torch.allclose(flow(z[:2], c), flow(z[:2], c.flip(0)))  # each condition has its own map


def test_a_configs_sampling_table_becomes_the_models_default(tmp_path, folder_dataset, photo_folder):
    from genstudio.kinds import kind_of
    from genstudio.train.config import ConfigError, parse_sampling

    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-cgan"]
    cfg = _config(tmp_path, "t-cgan", family, data, model, {"steps": 2, **train_cfg})
    loaded = registry.load_file(train(cfg, run_dir=tmp_path / "run", overrides=["sampling.truncation=1.5"]))
    assert loaded.card["sampling"] == {"truncation": 1.5}
    assert kind_of(loaded).latent_settings() == {"truncation": 1.5}
    assert kind_of(loaded).latent_settings(truncation=0) == {"truncation": 0.0}  # 0 is off, and a recipe says so
    assert parse_sampling(["temperature=0.9"]) == {"temperature": 0.9}
    with pytest.raises(ConfigError, match=r"--sampling: unknown key 'trunc'"):
        parse_sampling(["trunc=1"])
    with pytest.raises(ConfigError, match=r"--sampling\.truncation must be float"):
        parse_sampling(["truncation=high"])


def test_resume_continues_where_it_stopped(tmp_path, folder_dataset, photo_folder):
    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-clf"]
    run = tmp_path / "run"
    train(_config(tmp_path, "t-clf", family, data, model, {"steps": 4, **train_cfg}), run_dir=run)
    first = torch.load(run / "state.pt", weights_only=True)
    train(_config(tmp_path, "t-clf", family, data, model, {"steps": 8, **train_cfg}), resume=True, run_dir=run)
    state = torch.load(run / "state.pt", weights_only=True)
    assert first["step"] == 4 and state["step"] == 8
    assert state["schedulers"]["net"]["last_epoch"] == 8  # the LR schedule resumed too
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]


EMOJI_GAN = (
    "gan",
    {"dataset": "emoji"},
    {
        "arch": "styled_dcgan_generator",
        "latent_dim": 8,
        "width": 4,
        "num_classes": 9,
        "num_styles": 3,
        "channels": 4,
        "image_size": 8,
    },
    {
        "batch_size": 4,
        "d_width": 4,
        "ema": 0.9,
        "loss": "bce",
        "diffaugment": "color,translation,cutout",
        "aux_class_weight": 0.5,
        "precision": "bf16",
    },
    "conditional",
)


def unwrap_d_classes(run: Path) -> int:
    """Outputs of a run's discriminator's auxiliary head (its classes and styles)."""
    return torch.load(run / "state.pt", weights_only=True)["modules"]["d"]["classify.weight"].shape[0]


def test_a_subcategory_generator_starts_as_the_category_generator_and_samples_by_category(tmp_path):
    """Trained on emoji subcategories, asked for categories: started from a category-conditional
    generator (lr 0) it makes exactly that generator's images, and every subcategory it draws
    lies in the asked category, as often as in the data."""
    family, data, model, train_cfg, _ = EMOJI_GAN
    base = registry.load_file(
        train(_config(tmp_path, "t-cat", family, data, model, {"steps": 2, **train_cfg}), run_dir=tmp_path / "a")
    )
    fine_model = {**model, "arch": "subcategory_styled_dcgan_generator", "num_subcategories": 98}
    fine_cfg = {"steps": 2, **train_cfg, "init_from": str(tmp_path / "a")}
    trained = registry.load_file(
        train(_config(tmp_path, "t-sub", family, data, fine_model, fine_cfg), run_dir=tmp_path / "b")
    )
    assert (
        trained.net.num_classes == 9 and unwrap_d_classes(tmp_path / "b") == 98 + 3
    )  # its critic judges subcategories
    fine = registry.load_file(
        train(_config(tmp_path, "t-sub0", family, data, fine_model, {**fine_cfg, "steps": 0}), run_dir=tmp_path / "c")
    )
    assert fine.card["labels"] == base.card["labels"] and fine.net.latent_dim == base.net.latent_dim + 1
    z, categories, styles = torch.randn(4000, fine.net.latent_dim), torch.arange(4000) % 9, torch.arange(4000) % 3
    with torch.no_grad():
        assert torch.allclose(
            fine.net.generate(z[:16], categories[:16], styles[:16]),
            base.net.generate(z[:16, :-1], categories[:16], styles[:16]),
            atol=1e-5,
        )
        weights = fine.net.subcategory_weights(F.one_hot(categories, 9).float(), z[:, -1])
    drawn = weights.argmax(1)
    assert torch.equal(fine.net.category_of[drawn], categories)
    in_animals = fine.net.category_of == 2  # Animals & Nature's 8 subcategories
    shares = torch.bincount(drawn[categories == 2], minlength=98)[in_animals] / (categories == 2).sum()
    assert torch.allclose(shares, fine.net.subcategory_shares[in_animals], atol=0.04)


EMOJI_VAE = (
    "vae",
    {"dataset": "emoji"},
    {"arch": "styled_conv_vae", "latent_dim": 4, "width": 4, "hidden": 8, "image_size": 8},
    {"batch_size": 4, "kl_warmup_steps": 2},
    "conditional",
)


@pytest.mark.parametrize(
    "name",
    [
        "t-cgan",
        "t-vae",
        "t-clf",
        "t-sr",
        "t-inpaint",
        "t-inpaint-critic",
        "t-inpaint-bf16",
        "t-emoji-gan",
        "t-emoji-vae",
    ],
)
def test_resume_is_exact(name, tmp_path, folder_dataset, photo_folder):
    """N steps in one go and N/2 steps, stopped, then resumed to N end with identical weights."""
    families = _families(folder_dataset, photo_folder)
    family, data, model, train_cfg, task = families["t-inpaint"]
    families.update(
        {
            "t-emoji-gan": EMOJI_GAN,
            "t-emoji-vae": EMOJI_VAE,
            "t-inpaint-critic": (family, data, model, {**train_cfg, "adversarial_weight": 0.1, "d_width": 4}, task),
            "t-inpaint-bf16": (family, data, {**model, "fourier_units": 1}, {**train_cfg, "precision": "bf16"}, task),
        }
    )
    family, data, model, train_cfg, _ = families[name]
    cfg = _config(tmp_path, name, family, data, model, {"steps": 6, "log_every": 3, "sample_every": 3, **train_cfg})
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(cfg, run_dir=straight)
    torch.manual_seed(123)  # whatever ran in between must not matter
    np.random.seed(123)
    train(cfg, run_dir=resumed, overrides=["train.stop_at=3"])
    assert torch.load(resumed / "state.pt", weights_only=True)["step"] == 3
    train(cfg, run_dir=resumed, resume=True)
    a, b = (torch.load(run / "state.pt", weights_only=True) for run in (straight, resumed))
    assert a["step"] == b["step"] == 6
    for part in ("modules", "ema"):
        for key, tensors in a[part].items() if part == "modules" else [("ema", a.get("ema", {}))]:
            other = b[part][key] if part == "modules" else b.get("ema", {})
            for k, v in tensors.items():
                assert torch.equal(v, other[k]), f"{part} {key} {k}"
    losses = lambda run: [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "minutes"} for r in rows]
    assert strip(losses(straight)) == strip(losses(resumed))


def test_training_leaves_the_shelf_alone_until_promoted(tmp_path, folder_dataset, photo_folder, monkeypatch):
    from genstudio.eval.evaluate import evaluate, promote

    shelf = tmp_path / "checkpoints"
    shelf.mkdir()
    (shelf / "MANIFEST.json").write_text("{}\n")
    monkeypatch.setenv("GENSTUDIO_CHECKPOINTS", str(shelf))
    monkeypatch.chdir(tmp_path)  # the default run directory is runs/NAME under the working directory
    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-sr"]
    path = train(_config(tmp_path, "t-sr", family, data, model, {"steps": 4, **train_cfg}))
    assert path == Path("runs") / "t-sr" / "t-sr.safetensors" and path.exists()
    assert sorted(p.name for p in shelf.iterdir()) == ["MANIFEST.json"]
    assert (shelf / "MANIFEST.json").read_text() == "{}\n"
    registry.clear_cache()
    measured = evaluate(str(path.parent), progress=lambda m: None)  # a run is measured, not shipped
    assert measured["set5_psnr_y_model"] > 0
    assert sorted(p.name for p in shelf.iterdir()) == ["MANIFEST.json"]
    shipped, metrics = promote(path.parent, progress=lambda m: None)
    assert metrics == measured  # the same evaluation
    assert shipped == shelf / "t-sr.safetensors"
    loaded = registry.load("t-sr", "cpu")  # manifest entry and hash written
    assert loaded.card["metrics"] == metrics
    assert loaded.card["provenance"]["steps"] == 4


def test_config_mistakes_name_the_key_and_the_file(tmp_path, folder_dataset, photo_folder):
    from genstudio.train.config import ConfigError, load_config

    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-clf"]
    cfg = _config(tmp_path, "t-clf", family, data, model, {"steps": 4, "bacth_size": 4})
    with pytest.raises(ConfigError, match=r"t-clf\.toml \[train\]: 'bacth_size' is not a key of family 'classifier'"):
        load_config(cfg)
    cfg = _config(tmp_path, "t-clf", family, data, model, {"steps": 4, "beta": 0.5})  # a VAE's key
    with pytest.raises(
        ConfigError, match=r"'beta' is not a key of family 'classifier'; its own keys: balanced, mirror"
    ):
        load_config(cfg)
    cfg = _config(tmp_path, "t-clf", family, data, model, {"steps": "many"})
    with pytest.raises(ConfigError, match=r"t-clf\.toml \[train\]\.steps must be int"):
        load_config(cfg)
    cfg = _config(tmp_path, "t-clf", family, data, {**model, "widht": 4}, {"steps": 4})
    with pytest.raises(ConfigError, match="'widht' is not an argument of small_cnn_classifier"):
        load_config(cfg)
    cfg = _config(tmp_path, "t-clf", family, data, model, {"steps": 4, "weights": "int8"})
    with pytest.raises(ConfigError, match=r"\[train\]: weights must be one of float32, float16, got 'int8'"):
        load_config(cfg)
    cfg = _config(tmp_path, "t-clf", family, data, model, {"steps": 4, "precision": "fp16"})
    with pytest.raises(UserError, match="train.precision must be 'fp32' or 'bf16'"):
        train(cfg, run_dir=tmp_path / "run")
    cfg = _config(tmp_path, "t-clf", family, data, model, {"steps": 4, **train_cfg})
    parsed = load_config(cfg, ["train.steps=8", "train.batch_size=16", "train.lr=1e-3"])
    assert (parsed.train.steps, parsed.train.batch_size, parsed.train.lr) == (8, 16, 1e-3)
    with pytest.raises(ConfigError, match="'stpes' is not a key of family"):
        load_config(cfg, ["train.stpes=8"])
    with pytest.raises(ConfigError, match=r"steps must be int, got 'eight'"):
        load_config(cfg, ["train.steps=eight"])


def test_two_process_ddp(tmp_path, folder_dataset, photo_folder):
    """`torchrun --nproc_per_node 2 -m genstudio train CONFIG` with gloo on the CPU."""
    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-cgan"]
    cfg = _config(tmp_path, "t-ddp", family, data, model, {"steps": 3, "time_limit_minutes": 30, **train_cfg})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29533",
            "-m",
            "genstudio",
            "train",
            str(cfg),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    from safetensors import safe_open

    with safe_open(str(tmp_path / "runs" / "t-ddp" / "t-ddp.safetensors"), "pt") as f:
        card = json.loads(f.metadata()["genstudio"])["card"]
    assert card["provenance"]["processes"] == 2 and card["provenance"]["steps"] == 3


def test_init_from_starts_at_an_earlier_stage_and_records_it(tmp_path, folder_dataset, photo_folder):
    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-inpaint"]
    train(_config(tmp_path, "t-stage1", family, data, model, {"steps": 4, **train_cfg}), run_dir=tmp_path / "r1")
    # lr 0: the second stage must hold exactly the first stage's weights
    stage2 = {"steps": 2, "init_from": str(tmp_path / "r1"), "lr": 0.0, "loss": "l2", **train_cfg}
    path = train(_config(tmp_path, "t-stage2", family, data, model, stage2), run_dir=tmp_path / "r2")
    first, second = registry.load_file(tmp_path / "r1" / "t-stage1.safetensors"), registry.load_file(path)
    for (key, a), b in zip(first.net.state_dict().items(), second.net.state_dict().values()):
        assert torch.equal(a, b), key
    record = second.card["provenance"]["init_from"]
    assert record["model"] == "t-stage1" and record["steps"] == 4
    assert record["config"]["train"]["steps"] == 4 and record["last_log"]["step"] == 4
    assert "hole_l2" in json.loads((tmp_path / "r2" / "log.jsonl").read_text().splitlines()[0])

    # stage 1 trained on while stage 2 was stopped: stage 2, resumed, still records the stage it began from
    cfg2 = _config(tmp_path, "t-stage2b", family, data, model, {**stage2, "steps": 4})
    train(cfg2, run_dir=tmp_path / "r2b", overrides=["train.stop_at=2"])
    train(
        _config(tmp_path, "t-stage1", family, data, model, {"steps": 6, **train_cfg}),
        run_dir=tmp_path / "r1",
        resume=True,
    )
    resumed = registry.load_file(train(cfg2, run_dir=tmp_path / "r2b", resume=True))
    assert resumed.card["provenance"]["steps"] == 4 and resumed.card["provenance"]["init_from"]["steps"] == 4

    # a stage may add Fourier units: they start at zero, so the net starts as stage 1 left it
    fourier = registry.load_file(
        train(
            _config(tmp_path, "t-fourier", family, data, {**model, "fourier_units": 1}, stage2), run_dir=tmp_path / "r5"
        )
    )
    image, hole = torch.rand(1, 3, 16, 16), (torch.rand(1, 1, 16, 16) > 0.5).float()
    stage1_now = registry.load_file(tmp_path / "r1" / "t-stage1.safetensors")  # trained on to step 6 above
    assert torch.equal(fourier.net(image, hole), stage1_now.net(image, hole))
    assert any("mid.%d.spectral" % len(model["dilations"]) in k for k in fourier.net.state_dict())

    wider = {**model, "width": 8}
    with pytest.raises(ValueError, match="init_from"):
        train(_config(tmp_path, "t-wide", family, data, wider, stage2), run_dir=tmp_path / "r3")
    with pytest.raises(ValueError, match="no such run directory"):
        train(
            _config(tmp_path, "t-x", family, data, model, {**stage2, "init_from": str(tmp_path / "missing")}),
            run_dir=tmp_path / "r4",
        )


def test_resume_with_more_steps_stretches_the_decay():
    from genstudio.train.loop import stretch_schedule

    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 4, eta_min=0.05)
    rates = []
    for step in range(1, 9):
        if step == 3:
            stretch_schedule(sched, 8)  # resumed at step 2 of 4 with steps = 8
        opt.step()
        sched.step()
        rates.append(opt.param_groups[0]["lr"])
    assert all(a > b for a, b in zip(rates, rates[1:]))  # still falling, never restarting
    assert rates[3] > 0.2  # the 4-step curve would be at its floor (0.05) at step 4
    assert rates[-1] == pytest.approx(0.05)  # the floor, at the new last step


def test_cascade_joins_a_generator_run_and_an_upscaler_run(tmp_path):
    """family = "cascade": no optimisation, the two runs' weights in one self-describing model
    whose card records both stages."""
    from genstudio.tasks import generate

    family, data, model, train_cfg, _ = EMOJI_GAN
    train(_config(tmp_path, "t-gen", family, data, model, {"steps": 2, **train_cfg}), run_dir=tmp_path / "gen")
    train(
        _config(
            tmp_path,
            "t-x2",
            "sr",
            {"dataset": "emoji", "split": "train"},
            {"arch": "edsr", "scale": 2, "width": 4, "blocks": 1, "channels": 4},
            {"steps": 2, "batch_size": 2},
        ),
        run_dir=tmp_path / "x2",
    )
    cfg = tmp_path / "t-cascade.toml"
    cfg.write_text(
        f'name = "t-cascade"\nfamily = "cascade"\n[model]\narch = "cascade_generator"\n[train]\nsteps = 0\n'
        f'parts = ["{tmp_path / "gen"}", "{tmp_path / "x2"}"]\n'
    )
    joined = registry.load_file(train(cfg, run_dir=tmp_path / "cascade"))
    gen = registry.load_file(tmp_path / "gen" / "t-gen.safetensors")
    assert joined.card["image_size"] == 16 and joined.card["styles"] == ["noto", "twemoji", "fluent"]
    assert [stage["model"] for stage in joined.card["stages"]] == ["t-gen", "t-x2"]
    for key, value in gen.net.state_dict().items():
        assert torch.equal(joined.net.generator.state_dict()[key], value)
    images = generate.sample(joined, 3, seed=1, label="Flags", style="noto")
    assert images.shape == (3, 16, 16, 4)
    with pytest.raises(ValueError, match="generator, then an upscaler"):
        cfg.write_text(
            cfg.read_text().replace(
                f'"{tmp_path / "gen"}", "{tmp_path / "x2"}"', f'"{tmp_path / "x2"}", "{tmp_path / "gen"}"'
            )
        )
        train(cfg, run_dir=tmp_path / "wrong")

    # a later stage goes on training the cascade's generator from the assembled checkpoint
    cascade_file = str(tmp_path / "cascade" / "t-cascade.safetensors")
    later = {"steps": 1, "init_from": cascade_file, "init_part": "generator", "lr": 0.0, "d_lr": 0.0, **train_cfg}
    again = registry.load_file(
        train(_config(tmp_path, "t-gen2", family, data, model, later), run_dir=tmp_path / "gen2")
    )
    for (key, value), started in zip(gen.net.named_parameters(), again.net.parameters()):  # lr 0: unchanged
        assert torch.equal(started, value), key
    record = again.card["provenance"]["init_from"]
    assert record["part"] == "generator" and record["model"] == "t-gen" and record["steps"] == 2  # the part's own stage
    with pytest.raises(ValueError, match="no such part .*generator, upscaler"):
        train(
            _config(tmp_path, "t-gen3", family, data, model, {**later, "init_part": "decoder"}),
            run_dir=tmp_path / "gen3",
        )

    # a second cascade shares the first one's upscaler, named as a part of it
    cfg.write_text(
        f'name = "t-cascade2"\nfamily = "cascade"\n[model]\narch = "cascade_generator"\n[train]\nsteps = 0\n'
        f'parts = ["{tmp_path / "gen2"}", "{cascade_file}#upscaler"]\n'
    )
    second = registry.load_file(train(cfg, run_dir=tmp_path / "cascade2"))
    for key, value in joined.net.upscaler.state_dict().items():
        assert torch.equal(second.net.upscaler.state_dict()[key], value)
    assert [stage["model"] for stage in second.card["stages"]] == ["t-gen2", "t-x2"]  # the upscaler's own stage
    assert second.card["stages"][1]["part"] == "upscaler" and second.card["stages"][1]["steps"] == 2


def test_balanced_batches_draw_every_label_equally_often(tmp_path):
    from genstudio.train.config import load_config
    from genstudio.train.families import make_family

    family, data, model, train_cfg, _ = EMOJI_GAN
    counts = {}
    for balanced in (False, True):
        cfg = load_config(
            _config(tmp_path, "t-balanced", family, data, model, {**train_cfg, "batch_size": 512, "balanced": balanced})
        )
        fam = make_family(cfg, torch.device("cpu"))
        _, (labels, _styles) = next(fam.batches())
        counts[balanced] = torch.bincount(labels, minlength=9).double() / 512
    assert counts[False].max() > 0.17  # People & Body: 1,114 of 5,406 emoji
    assert (counts[True] - 1 / 9).abs().max() < 0.05


def test_mirror_flips_about_half_of_each_batch_left_right(tmp_path, folder_dataset, photo_folder):
    from genstudio.train.config import load_config
    from genstudio.train.families import make_family

    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-cgan"]
    batches = {}
    for mirror in (False, True):
        cfg = load_config(
            _config(tmp_path, "t-mirror", family, data, model, {**train_cfg, "batch_size": 400, "mirror": mirror})
        )
        batches[mirror] = next(make_family(cfg, torch.device("cpu")).batches())
    (plain, plain_labels), (mirrored, labels) = batches[False], batches[True]
    assert torch.equal(plain_labels[0], labels[0])  # the same draw of images, some of them flipped
    same, flipped = (mirrored == plain).flatten(1).all(1), (mirrored == plain.flip(-1)).flatten(1).all(1)
    asymmetric = ~(plain == plain.flip(-1)).flatten(1).all(1)  # the bars are their own mirror images
    assert bool((same | flipped).all()) and 0.4 < float(flipped[asymmetric].float().mean()) < 0.6


def test_the_generator_alone_can_weigh_the_auxiliary_term_more(tmp_path, folder_dataset, photo_folder):
    """g_aux_class_weight changes G's loss by exactly the extra weight on its auxiliary term
    and leaves D's step as it was."""
    from genstudio.train.config import load_config
    from genstudio.train.families import make_family

    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-cgan"]
    losses = {}
    for g_weight in (None, 4.0):
        extra = {} if g_weight is None else {"g_aux_class_weight": g_weight}
        cfg = load_config(_config(tmp_path, "t-gaux", family, data, model, {**train_cfg, **extra}))
        torch.manual_seed(0)
        fam = make_family(cfg, torch.device("cpu"))
        losses[g_weight] = fam.step(next(fam.batches()))
    plain, heavy = losses[None], losses[4.0]
    assert heavy["loss_d"] == plain["loss_d"] and heavy["aux_g"] == pytest.approx(plain["aux_g"], rel=1e-5)
    assert heavy["loss_g"] - plain["loss_g"] == pytest.approx(3.0 * plain["aux_g"], rel=1e-4)
    no_head = load_config(
        _config(
            tmp_path, "t-gaux", family, data, model, {**train_cfg, "aux_class_weight": 0.0, "g_aux_class_weight": 3.0}
        )
    )
    with pytest.raises(UserError, match="aux_class_weight > 0"):
        make_family(no_head, torch.device("cpu"))


def test_a_teacher_adds_its_l1_distance_to_the_generators_loss_alone(tmp_path, folder_dataset, photo_folder):
    """Distillation: G's loss gains distill_weight x the L1 distance to the teacher's image for
    the same z and labels; D's step is untouched; the card names the teacher."""
    from genstudio.train.config import load_config
    from genstudio.train.families import make_family

    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-cgan"]
    teacher_dir = tmp_path / "teacher"
    train(
        _config(tmp_path, "t-teacher", family, data, model, {**train_cfg, "steps": 2, "seed": 3}), run_dir=teacher_dir
    )
    losses = {}
    for teacher in (None, teacher_dir):
        extra = {} if teacher is None else {"teacher": str(teacher), "distill_weight": 2.0}
        cfg = load_config(_config(tmp_path, "t-student", family, data, model, {**train_cfg, **extra}))
        torch.manual_seed(0)
        fam = make_family(cfg, torch.device("cpu"))
        losses[teacher] = fam.step(next(fam.batches()))
    plain, taught = losses[None], losses[teacher_dir]
    assert taught["loss_d"] == plain["loss_d"] and taught["distill_l1"] > 0
    assert taught["loss_g"] - plain["loss_g"] == pytest.approx(2.0 * taught["distill_l1"], rel=1e-4)
    assert fam.card()["provenance"]["teacher"]["model"] == "t-teacher"
    for bad in ({"teacher": str(teacher_dir)}, {"distill_weight": 1.0}):
        with pytest.raises(UserError, match="go together"):
            make_family(
                load_config(_config(tmp_path, "t-student", family, data, model, {**train_cfg, **bad})),
                torch.device("cpu"),
            )
    # the student's critic may start as the teacher run's discriminator
    warm = make_family(
        load_config(
            _config(tmp_path, "t-student", family, data, model, {**train_cfg, "init_discriminator": str(teacher_dir)})
        ),
        torch.device("cpu"),
    )
    saved = torch.load(teacher_dir / "state.pt", weights_only=True)["modules"]["d"]
    assert all(torch.equal(v, saved[k]) for k, v in warm.modules["d"].state_dict().items())
    with pytest.raises(UserError, match="state.pt"):
        make_family(
            load_config(
                _config(tmp_path, "t-student", family, data, model, {**train_cfg, "init_discriminator": str(tmp_path)})
            ),
            torch.device("cpu"),
        )


def test_a_narrower_styled_generator_starts_as_the_wider_one_cut_to_its_most_used_channels():
    """adapt_from keeps, at each level, the channels the next layer leans on: when the dropped
    ones are unused (zero outgoing weights), the narrower net makes exactly the wider one's images."""
    from genstudio.models.gan import StyledGenerator

    wide_kwargs = {"latent_dim": 8, "width": 8, "num_classes": 3, "num_styles": 2, "channels": 4, "image_size": 16}
    torch.manual_seed(0)
    wide, narrow = StyledGenerator(**wide_kwargs), StyledGenerator(**{**wide_kwargs, "width": 6})
    assert [n.bn.num_features for n in wide.norms] == [32, 16, 8] and [n.bn.num_features for n in narrow.norms] == [
        24,
        12,
        6,
    ]
    with torch.no_grad():
        for layer, unused in (
            (wide.convs[0], [1, 5, 9, 11, 17, 20, 26, 30]),
            (wide.convs[1], [0, 3, 7, 12]),
            (wide.out, [2, 6]),
        ):
            layer.weight[:, unused] = 0
        for norm in wide.norms:  # trained-looking statistics and conditional gains
            norm.bn.running_mean.uniform_(-1, 1), norm.bn.running_var.uniform_(0.5, 2)
            norm.gain.weight.normal_(0, 0.3), norm.bias.weight.normal_(0, 0.3)
    narrow.load_state_dict(narrow.adapt_from("styled_dcgan_generator", wide_kwargs, wide.state_dict()))
    z, labels, styles = torch.randn(5, 8), torch.tensor([0, 1, 2, 0, 1]), torch.tensor([0, 1, 0, 1, 0])
    assert torch.allclose(narrow.eval()(z, labels, styles), wide.eval()(z, labels, styles), atol=1e-6)
    assert narrow.adapt_from("styled_dcgan_generator", {**wide_kwargs, "num_classes": 4}, wide.state_dict()) is None
    assert (
        StyledGenerator(**{**wide_kwargs, "width": 10}).adapt_from(
            "styled_dcgan_generator", wide_kwargs, wide.state_dict()
        )
        is None
    )


def test_interpolation_blends_two_stages_weights(tmp_path, folder_dataset, photo_folder):
    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-inpaint"]
    for name, seed in (("a", 0), ("b", 1)):
        train(
            _config(tmp_path, f"t-{name}", family, data, model, {"steps": 2, "seed": seed, **train_cfg}),
            run_dir=tmp_path / name,
        )
    model_toml = "\n".join(f"{k} = {json.dumps(v)}" for k, v in model.items())
    cfg = tmp_path / "t-blend.toml"
    write = lambda blend, parts=(tmp_path / "a", tmp_path / "b"): cfg.write_text(
        f'name = "t-blend"\nfamily = "interpolate"\n[model]\n{model_toml}\n[train]\nsteps = 0\n'
        f"parts = {json.dumps([str(p) for p in parts])}\nblend = {blend}\n"
    )
    write(0.25)
    blended = registry.load_file(train(cfg, run_dir=tmp_path / "blend"))
    a, b = (registry.load_file(tmp_path / n / f"t-{n}.safetensors").net.state_dict() for n in ("a", "b"))
    for key, value in blended.net.state_dict().items():
        assert torch.allclose(value, 0.75 * a[key] + 0.25 * b[key], atol=1e-6), key
    assert blended.task == "inpaint" and [s["model"] for s in blended.card["stages"]] == ["t-a", "t-b"]
    write(1.5)
    with pytest.raises(UserError, match="blend"):
        train(cfg, run_dir=tmp_path / "bad")
    train(
        _config(tmp_path, "t-wide", family, data, {**model, "width": 8}, {"steps": 1, **train_cfg}),
        run_dir=tmp_path / "wide",
    )
    write(0.5, (tmp_path / "a", tmp_path / "wide"))
    with pytest.raises(UserError, match="both be the"):
        train(cfg, run_dir=tmp_path / "bad2")


def test_zoomed_crops_are_the_photo_scaled_by_a_factor_from_the_range():
    """train.zoom: a crop of a photo scaled up is smoother than a crop at its own scale (the look of a
    higher-resolution photo); unzoomed crops keep the photo's own texture."""
    from genstudio.train.families.base import random_crop

    rng = np.random.default_rng(0)
    noise = np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8)  # pixel-scale texture
    as_is = random_crop([noise], 64, rng)
    assert as_is.shape == (64, 64, 3)
    roughness = lambda crop: np.abs(np.diff(crop.astype(float), axis=1)).mean()
    zoomed = [random_crop([noise], 64, rng, (2.0, 3.0)) for _ in range(8)]
    assert all(z.shape == (64, 64, 3) for z in zoomed)
    assert abs(roughness(as_is) / roughness(noise) - 1) < 0.1
    assert max(map(roughness, zoomed)) < 0.6 * roughness(as_is)
    with pytest.raises(UserError, match="zoom"):  # no photo is large enough for a crop zoomed out this far
        random_crop([noise], 64, rng, (0.1, 0.2))
