import json
import pickle

import pytest
import torch

from genstudio import registry
from genstudio.devices import default_device


def test_round_trip_same_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("GENSTUDIO_CHECKPOINTS", str(tmp_path))
    registry.clear_cache()
    net = registry.build("dcgan_generator", {"latent_dim": 8, "width": 4}).eval()
    card = {
        "task": "sample",
        "dataset": "x",
        "labels": None,
        "image_size": 28,
        "channels": 1,
        "scale": None,
        "metrics": {},
    }
    registry.save_checkpoint(
        registry.checkpoint_path("rt"), net, "dcgan_generator", {"latent_dim": 8, "width": 4}, card
    )
    loaded = registry.load("rt", "cpu")
    z = torch.randn(3, 8)
    assert torch.equal(net.generate(z), loaded.net.generate(z))
    assert loaded.card["task"] == "sample" and not loaded.net.training
    assert registry.load("rt", "cpu") is loaded  # cached
    assert json.loads((tmp_path / "MANIFEST.json").read_text())["rt.safetensors"] == registry.file_sha256(
        tmp_path / "rt.safetensors"
    )


def test_unknown_name_lists_known(tiny):
    with pytest.raises(KeyError, match="known models: .*tiny-gan"):
        registry.load("no-such-model")


@pytest.mark.parametrize("name", ["../secret", "a/b", "..", "/etc/passwd", "x" * 65, "", ".hidden", "a\\b", "nul\x00"])
def test_names_cannot_escape(name, tiny):
    with pytest.raises(ValueError, match="invalid model name"):
        registry.load(name)


def test_pickle_checkpoint_refused(tmp_path, monkeypatch):
    """A file that would run code on load (a crafted pickle) is never unpickled."""

    class Evil:
        def __reduce__(self):
            return (exec, ("open('%s', 'w').write('pwned')" % (tmp_path / "pwned").as_posix(),))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"state": Evil()}))
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"evil.safetensors": registry.file_sha256(path)}))
    monkeypatch.setenv("GENSTUDIO_CHECKPOINTS", str(tmp_path))
    registry.clear_cache()
    info = registry.inspect("evil")
    assert info.error and "unreadable" in info.error
    with pytest.raises(RuntimeError, match="unavailable"):
        registry.load("evil")
    assert not (tmp_path / "pwned").exists()


def test_tampered_and_truncated_checkpoints_unavailable(tmp_path, monkeypatch, tiny_dir):
    import shutil

    for f in tiny_dir.iterdir():
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setenv("GENSTUDIO_CHECKPOINTS", str(tmp_path))
    registry.clear_cache()
    data = (tmp_path / "tiny-gan.safetensors").read_bytes()
    (tmp_path / "tiny-gan.safetensors").write_bytes(data[: len(data) // 2])
    tampered = bytearray((tmp_path / "tiny-vae.safetensors").read_bytes())
    tampered[-1] ^= 1
    (tmp_path / "tiny-vae.safetensors").write_bytes(bytes(tampered))
    (tmp_path / "tiny-sr2.safetensors").unlink()
    infos = {i.name: i for i in registry.list_models(include_unavailable=True)}
    assert "does not match" in infos["tiny-gan"].error
    assert "does not match" in infos["tiny-vae"].error
    assert infos["tiny-sr2"].error == "checkpoint file is missing"
    assert infos["tiny-cgan"].error is None  # the others still work
    assert registry.load("tiny-cgan", "cpu").task == "conditional"
    assert {i.name for i in registry.list_models()} >= {"tiny-cgan", "tiny-sr4"}
    assert "tiny-gan" not in {i.name for i in registry.list_models()}


def test_unlisted_file_refused(tmp_path, monkeypatch, tiny_dir):
    import shutil

    shutil.copy(tiny_dir / "tiny-gan.safetensors", tmp_path / "stray.safetensors")
    monkeypatch.setenv("GENSTUDIO_CHECKPOINTS", str(tmp_path))
    assert "not listed" in registry.inspect("stray").error


def test_atomic_write_leaves_no_temp_files(tmp_path):
    net = registry.build("edsr", {"scale": 2, "width": 4, "blocks": 1})
    card = {"task": "upscale", "scale": 2}
    registry.save_checkpoint(tmp_path / "a.safetensors", net, "edsr", {"scale": 2, "width": 4, "blocks": 1}, card)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MANIFEST.json", "a.safetensors"]


def test_update_card_merges_metrics(tiny_dir, tmp_path, monkeypatch):
    import shutil

    for f in tiny_dir.iterdir():
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setenv("GENSTUDIO_CHECKPOINTS", str(tmp_path))
    registry.update_card("tiny-gan", metrics={"a": 1})
    registry.update_card("tiny-gan", metrics={"b": 2})
    info = registry.inspect("tiny-gan")
    assert info.error is None and info.card["metrics"] == {"a": 1, "b": 2}


def test_device_override(monkeypatch):
    monkeypatch.setenv("GENSTUDIO_DEVICE", "cpu")
    assert default_device() == torch.device("cpu")
    monkeypatch.setenv("GENSTUDIO_DEVICE", "cuda:0")
    if torch.cuda.is_available():
        assert default_device().type == "cuda"
    else:
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            default_device()
    monkeypatch.delenv("GENSTUDIO_DEVICE")
    assert default_device().type == ("cuda" if torch.cuda.is_available() else default_device().type)


def test_cpu_bfloat16_only_for_networks_that_ask_and_cpus_that_have_it(monkeypatch):
    from genstudio import devices

    cpu = torch.device("cpu")
    monkeypatch.setattr(devices, "has_fast_bfloat16", lambda device: True)
    with devices.autocast(cpu, cpu_bfloat16=True):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    with devices.autocast(cpu):
        assert not torch.is_autocast_enabled("cpu")
    monkeypatch.setattr(devices, "has_fast_bfloat16", lambda device: False)  # emulated: far slower than float32
    with devices.autocast(cpu, cpu_bfloat16=True):
        assert not torch.is_autocast_enabled("cpu")
    assert registry.build(
        "cascade_generator",
        {
            "generator": {"arch": "dcgan_generator", "kwargs": {"latent_dim": 8, "width": 4}},
            "upscaler": {"arch": "edsr", "kwargs": {"scale": 2, "width": 4, "blocks": 1, "channels": 1}},
        },
    ).cpu_bfloat16


def test_loads_onto_requested_device(tiny):
    model = registry.load("tiny-gan", "cpu")
    assert model.device == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in model.net.parameters())


def test_nothing_loads_at_import():
    import subprocess
    import sys

    code = "import genstudio.registry as r, genstudio.ui.app, genstudio.ui.tabs.sample; print(len(r._cache))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "0", out.stderr


def test_bad_checkpoint_shown_in_models_tab_and_cli_while_others_work(tmp_path, monkeypatch, tiny_dir):
    import shutil
    import subprocess
    import sys

    from genstudio.ui import common
    from genstudio.ui.tabs import models, sample

    for f in tiny_dir.iterdir():
        shutil.copy(f, tmp_path / f.name)
    data = (tmp_path / "tiny-cgan.safetensors").read_bytes()
    (tmp_path / "tiny-cgan.safetensors").write_bytes(data[:-100])  # truncated
    monkeypatch.setenv("GENSTUDIO_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("GENSTUDIO_DEVICE", "cpu")
    registry.clear_cache()
    rows = {r[0]: r for r in models.models_table()}
    assert rows["tiny-cgan"][4].startswith("UNAVAILABLE: SHA-256")
    assert "Unavailable" in models.model_card_markdown("tiny-cgan")
    assert "tiny-cgan" not in common.model_choices("sample", "conditional")
    from genstudio.ui.app import build_demo

    build_demo()  # the app still starts
    shown, raw, seeds = sample.sample("tiny-gan", 0, 4, None, None, 0, 1, "white", 1, False)  # the others still work
    assert raw.shape[0] > 28
    out = subprocess.run(
        [sys.executable, "-m", "genstudio", "models"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ},
    )
    assert "tiny-cgan" in out.stdout and "UNAVAILABLE" in out.stdout and out.returncode == 0


def test_half_precision_weights_halve_the_file_and_load_as_float32(tmp_path):
    net = registry.build("dcgan_generator", {"latent_dim": 8, "width": 8}).eval()
    card = {
        "task": "sample",
        "dataset": "x",
        "labels": None,
        "image_size": 28,
        "channels": 1,
        "scale": None,
        "metrics": {},
    }
    full = registry.write_checkpoint(
        tmp_path / "full.safetensors", net, "dcgan_generator", {"latent_dim": 8, "width": 8}, card
    )
    half = registry.write_checkpoint(
        tmp_path / "half.safetensors", net, "dcgan_generator", {"latent_dim": 8, "width": 8}, card, weights="float16"
    )
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = registry.load_file(half)
    assert all(p.dtype == torch.float32 for p in loaded.net.parameters())
    z = torch.randn(4, 8)
    with torch.no_grad():
        assert (net.generate(z) - loaded.net.generate(z)).abs().max() < 5e-3  # rounding, not a different model


def test_cards_are_typed_and_versioned(tmp_path):
    from genstudio.errors import UserError

    net = registry.build("edsr", {"scale": 2, "width": 4, "blocks": 1})
    card = {"task": "upscale", "channels": 3, "scale": 2, "metrics": {}}  # a version-1 card: no version field
    path = registry.write_checkpoint(
        tmp_path / "old.safetensors", net, "edsr", {"scale": 2, "width": 4, "blocks": 1}, card
    )
    read = registry.inspect_file(path).card
    assert read["version"] == 2 and read["styles"] is None and read["stages"] == []
    with pytest.raises(UserError, match="unknown field 'colour'"):
        registry.write_checkpoint(tmp_path / "bad.safetensors", net, "edsr", {"scale": 2}, {**card, "colour": "red"})
    with pytest.raises(UserError, match="card field 'scale' must be"):
        registry.write_checkpoint(tmp_path / "bad.safetensors", net, "edsr", {"scale": 2}, {**card, "scale": "two"})
    with pytest.raises(UserError, match="card task must be one of"):
        registry.write_checkpoint(tmp_path / "bad.safetensors", net, "edsr", {"scale": 2}, {**card, "task": "dream"})


def test_a_bug_shows_internal_error_with_an_id_that_is_in_the_log(tiny, monkeypatch, caplog):
    import re

    import gradio as gr

    from genstudio.tasks import generate
    from genstudio.ui.tabs import sample

    def broken(*args, **kwargs):
        return 1 / 0

    monkeypatch.setattr(generate, "sample", broken)
    with caplog.at_level("ERROR", logger="genstudio.ui"), pytest.raises(gr.Error) as raised:
        sample.sample("tiny-gan", 0, 4, None, None, 0, 1, "white", 1, False)
    error_id = re.search(r"internal error \(id ([0-9a-f]{8})\)", str(raised.value.message)).group(1)
    assert "ZeroDivisionError" not in raised.value.message  # the user is not shown the bug's text
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info[0] is ZeroDivisionError  # the traceback is in the log under that id
    with pytest.raises(gr.Error, match="seed must be a whole number"):  # bad input still reads as itself
        sample.sample("tiny-gan", -1, 4, None, None, 0, 1, "white", 1, False)


def test_earlier_stages_walk_the_whole_chain_and_count_shared_stages_once():
    from genstudio.card import earlier_stages

    stage = lambda name, minutes, **more: {
        "model": name,
        "git_commit": "abc",
        "steps": 10,
        "wall_time_minutes": minutes,
        **more,
    }
    first = stage("s1", 1.0)
    second = stage("s2", 2.0, init_from=first)
    curriculum = {"task": "inpaint", "stages": [first], "provenance": {"init_from": second}}
    assert [s["model"] for s in earlier_stages(curriculum)] == ["s1", "s2"]
    # a blend of the curriculum's result and a model tuned from it: s1 and s2 once each
    result = stage("result", 4.0, init_from=second, stages=[first])
    tuned = stage("tuned", 8.0, init_from=result)
    blend = {"task": "inpaint", "stages": [result, tuned], "provenance": {}}
    assert [s["model"] for s in earlier_stages(blend)] == ["s1", "s2", "result", "tuned"]
    assert earlier_stages({"task": "sample"}) == []
