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
from PIL import Image

from genstudio import registry
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
    lines += ["[train]"] + [f"{k} = {toml_value(v)}" for k, v in {"log_every": 2, "sample_every": 4, "checkpoint_every": 4, **train_cfg}.items()]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _families(folder: Path, photos: Path):
    tiny_gen = {"latent_dim": 8, "width": 4, "channels": 1, "image_size": 28}
    return {
        "t-cgan": ("gan", {"dataset": str(folder)}, {"arch": "dcgan_generator", "num_classes": 2, **tiny_gen},
                   {"batch_size": 4, "d_width": 4, "ema": 0.9, "aux_class_weight": 1.0}, "conditional"),
        "t-vae": ("vae", {"dataset": str(folder)}, {"arch": "conv_vae", "latent_dim": 4, "width": 4},
                  {"batch_size": 4, "kl_warmup_steps": 2}, "sample"),
        "t-clf": ("classifier", {"dataset": str(folder)}, {"arch": "small_cnn_classifier", "num_classes": 2, "width": 4},
                  {"batch_size": 4}, "classify"),
        "t-sr": ("sr", {"train": [str(photos)], "val": str(photos)}, {"arch": "edsr", "scale": 2, "width": 4, "blocks": 1},
                 {"batch_size": 2, "lr_patch": 16, "ema": 0.9}, "upscale"),
        "t-inpaint": ("inpaint", {"train": [str(photos)]}, {"arch": "refine_unet", "channels": 3, "width": 4, "dilations": [1, 2]},
                      {"batch_size": 2, "crop": 32}, "inpaint"),
    }


@pytest.mark.parametrize("name", ["t-cgan", "t-vae", "t-clf", "t-sr", "t-inpaint"])
def test_every_family_trains_and_ships_a_self_describing_checkpoint(name, tmp_path, folder_dataset, photo_folder, monkeypatch):
    family, data, model, train_cfg, task = _families(folder_dataset, photo_folder)[name]
    cfg = _config(tmp_path, name, family, data, model, {"steps": 4, **train_cfg})
    ckpts = tmp_path / "checkpoints"
    path = train(cfg, run_dir=tmp_path / "run", checkpoint_dir=ckpts)
    monkeypatch.setenv("GENSTUDIO_CHECKPOINTS", str(ckpts))
    registry.clear_cache()
    loaded = registry.load(name, "cpu")
    assert path.name == f"{name}.safetensors" and loaded.task == task
    prov = loaded.card["provenance"]
    assert prov["steps"] == 4 and prov["config"]["name"] == name and "git_commit" in prov and prov["wall_time_minutes"] >= 0
    assert [row["step"] for row in prov["curve"]] == [2, 4]
    assert (tmp_path / "run" / "samples" / "step_000004.png").exists()
    if task == "conditional":
        assert loaded.labels == ["bar", "disc"]


def test_resume_continues_where_it_stopped(tmp_path, folder_dataset, photo_folder):
    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-clf"]
    run = tmp_path / "run"
    train(_config(tmp_path, "t-clf", family, data, model, {"steps": 4, **train_cfg}), run_dir=run, checkpoint_dir=tmp_path)
    first = torch.load(run / "state.pt", weights_only=True)
    train(_config(tmp_path, "t-clf", family, data, model, {"steps": 8, **train_cfg}), resume=True, run_dir=run, checkpoint_dir=tmp_path)
    state = torch.load(run / "state.pt", weights_only=True)
    assert first["step"] == 4 and state["step"] == 8
    assert state["schedulers"]["net"]["last_epoch"] == 8  # the LR schedule resumed too
    steps = [json.loads(l)["step"] for l in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]


def test_two_process_ddp(tmp_path, folder_dataset, photo_folder):
    """`torchrun --nproc_per_node 2 -m genstudio train CONFIG` with gloo on the CPU."""
    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-cgan"]
    cfg = _config(tmp_path, "t-ddp", family, data, model, {"steps": 3, "time_limit_minutes": 30, **train_cfg})
    env = {**os.environ, "GENSTUDIO_CHECKPOINTS": str(tmp_path / "ck"), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                          "-m", "genstudio", "train", str(cfg)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    from safetensors import safe_open

    with safe_open(str(tmp_path / "ck" / "t-ddp.safetensors"), "pt") as f:
        card = json.loads(f.metadata()["genstudio"])["card"]
    assert card["provenance"]["processes"] == 2 and card["provenance"]["steps"] == 3


def test_init_from_starts_at_a_shipped_model_and_records_it(tmp_path, folder_dataset, photo_folder, monkeypatch):
    family, data, model, train_cfg, _ = _families(folder_dataset, photo_folder)["t-inpaint"]
    ckpts = tmp_path / "checkpoints"
    monkeypatch.setenv("GENSTUDIO_CHECKPOINTS", str(ckpts))
    train(_config(tmp_path, "t-stage1", family, data, model, {"steps": 4, **train_cfg}), run_dir=tmp_path / "r1", checkpoint_dir=ckpts)
    # lr 0: the second stage must hold exactly the first stage's weights
    stage2 = {"steps": 2, "init_from": "t-stage1", "lr": 0.0, "loss": "l2", **train_cfg}
    train(_config(tmp_path, "t-stage2", family, data, model, stage2), run_dir=tmp_path / "r2", checkpoint_dir=ckpts)
    registry.clear_cache()
    first, second = registry.load("t-stage1", "cpu"), registry.load("t-stage2", "cpu")
    for (key, a), b in zip(first.net.state_dict().items(), second.net.state_dict().values()):
        assert torch.equal(a, b), key
    assert second.card["provenance"]["init_from"]["model"] == "t-stage1"
    assert second.card["provenance"]["init_from"]["steps"] == 4
    assert "hole_l2" in json.loads((tmp_path / "r2" / "log.jsonl").read_text().splitlines()[0])

    wider = {**model, "width": 8}
    with pytest.raises(ValueError, match="init_from"):
        train(_config(tmp_path, "t-wide", family, data, wider, stage2), run_dir=tmp_path / "r3", checkpoint_dir=ckpts)


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
