"""Architectures by name, self-describing checkpoints, lazy cached loading.

A checkpoint is one `.safetensors` file in `checkpoints/`. Its header metadata holds
`arch` (a name in ARCHITECTURES), `kwargs` (JSON constructor arguments) and `card`
(task, dataset, labels, image size, metrics, provenance), so `load(name)` needs
nothing else. safetensors holds only tensors, so loading never executes pickled
code. `checkpoints/MANIFEST.json` lists each file's SHA-256; a file that is
missing from it or does not match it is refused with the reason.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from genstudio import paths
from genstudio.card import check_card
from genstudio.errors import ModelUnavailableError, UnknownModelError, UserError

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {}
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MANIFEST = "MANIFEST.json"
SUFFIX = ".safetensors"


def register(name: str):
    """Class decorator: make an architecture constructible by name."""

    def wrap(cls):
        if name in ARCHITECTURES:
            raise UserError(f"architecture {name!r} registered twice")
        ARCHITECTURES[name] = cls
        return cls

    return wrap


def build(arch: str, kwargs: dict[str, Any]) -> nn.Module:
    _import_architectures()
    if arch not in ARCHITECTURES:
        raise UserError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    net = ARCHITECTURES[arch](**kwargs)
    # the weight layout the architecture runs fastest in (a class attribute); .to(device) keeps it
    return net.to(memory_format=getattr(net, "memory_format", torch.contiguous_format))


def _import_architectures() -> None:
    import genstudio.models  # noqa: F401  (registers every family)


def checkpoint_dir() -> Path:
    """`GENSTUDIO_CHECKPOINTS`, else the shipped `checkpoints/` (see genstudio.paths)."""
    return paths.checkpoints()


def checkpoint_path(name: str, directory: Path | None = None) -> Path:
    """The file for `name`, refusing any name that could address a file elsewhere."""
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise UserError(f"invalid model name {name!r}: use letters, digits, '-' and '_' (at most 64)")
    directory = (directory or checkpoint_dir()).resolve()
    path = (directory / f"{name}{SUFFIX}").resolve()
    if path.parent != directory:  # belt and braces: the pattern already forbids separators
        raise UserError(f"model name {name!r} escapes {directory}")
    return path


class _CardFields:
    """What both a header-only ModelInfo and a LoadedModel read off their card."""

    card: dict[str, Any]

    @property
    def task(self) -> str | None:
        return self.card.get("task")

    @property
    def labels(self) -> list[str] | None:
        return self.card.get("labels")

    @property
    def styles(self) -> list[str] | None:
        return self.card.get("styles")


@dataclass
class ModelInfo(_CardFields):
    """What a checkpoint says about itself, read from its header only."""

    name: str
    arch: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # why the model is unavailable, if it is

    def summary(self) -> dict[str, Any]:
        """The `genstudio models --json` entry."""
        c = self.card
        return {
            "name": self.name,
            "task": c.get("task"),
            "arch": self.arch or None,
            "dataset": c.get("dataset"),
            "labels": c.get("labels"),
            "styles": c.get("styles"),
            "image_size": c.get("image_size"),
            "channels": c.get("channels"),
            "scale": c.get("scale"),
            "metrics": c.get("metrics", {}),
            "available": self.error is None,
            "error": self.error,
        }


@dataclass
class LoadedModel(_CardFields):
    """A built, weight-loaded network in eval mode on its device, with its card."""

    name: str
    net: nn.Module
    card: dict[str, Any]
    arch: str
    device: torch.device
    kwargs: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- manifest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_hash_cache: dict[tuple[str, int, int], str] = {}


def _verified_sha256(path: Path) -> str:
    """file_sha256, remembered per (path, mtime, size): listing models stays cheap, and any
    rewrite of the file changes the key, so a tampered file is always hashed afresh."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _hash_cache:
        _hash_cache[key] = file_sha256(path)
    return _hash_cache[key]


def read_manifest(directory: Path | None = None) -> dict[str, str]:
    path = (directory or checkpoint_dir()) / MANIFEST
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def _write_manifest_entry(path: Path) -> None:
    directory = path.parent
    manifest = read_manifest(directory)
    manifest[path.name] = file_sha256(path)
    _atomic_write_bytes(directory / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; checkpoints are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------- save / inspect / load


STORED_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def write_checkpoint(path: Path, net: nn.Module, arch: str, kwargs: dict, card: dict, weights: str = "float32") -> Path:
    """Write `net` with its description atomically (a run's file: no manifest entry).

    weights="float16" stores floating-point tensors in half precision: half the file, and
    loading needs nothing else (load_state_dict casts them back into the float32 network)."""
    from safetensors.torch import save

    card = check_card(card)
    stored = STORED_DTYPES[weights]
    state = {
        k: v.detach().to("cpu", stored if v.is_floating_point() else v.dtype).contiguous()
        for k, v in net.state_dict().items()
    }
    meta = {"genstudio": json.dumps({"arch": arch, "kwargs": kwargs, "card": card})}
    _atomic_write_bytes(Path(path), save(state, metadata=meta))
    return Path(path)


def save_checkpoint(path: Path, net: nn.Module, arch: str, kwargs: dict, card: dict) -> Path:
    """write_checkpoint, then record the file's hash in its folder's manifest (the shelf)."""
    write_checkpoint(path, net, arch, kwargs, card)
    _write_manifest_entry(Path(path))
    return Path(path)


def inspect_file(path: Path) -> ModelInfo:
    """A checkpoint file outside the shelf (a training run's), described from its header."""
    path = Path(path)
    header = _read_header(path)
    return ModelInfo(name=path.name[: -len(SUFFIX)], arch=header["arch"], kwargs=header["kwargs"], card=header["card"])


def load_file(path: Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Build a model from a checkpoint file outside the shelf (not cached, no manifest)."""
    from safetensors.torch import load_file as read_tensors

    info = inspect_file(path)
    net = build(info.arch, info.kwargs)
    net.load_state_dict(read_tensors(str(path), device="cpu"))
    net.to(device).eval().requires_grad_(False)
    return LoadedModel(
        name=info.name, net=net, card=info.card, arch=info.arch, device=torch.device(device), kwargs=info.kwargs
    )


def _read_header(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if "genstudio" not in meta:
        raise UserError("file has no genstudio metadata")
    header = json.loads(meta["genstudio"])
    header["card"] = check_card(header.get("card"))
    return header


def inspect(name: str) -> ModelInfo:
    """Read a checkpoint's description without loading weights; errors become `error`."""
    path = checkpoint_path(name)
    info = ModelInfo(name=name)
    if not path.exists():
        info.error = "checkpoint file is missing"
        return info
    expected = read_manifest(path.parent).get(path.name)
    if expected is None:
        info.error = f"{path.name} is not listed in {MANIFEST}"
        return info
    if _verified_sha256(path) != expected:
        info.error = f"SHA-256 of {path.name} does not match {MANIFEST} (truncated or tampered)"
        return info
    try:
        header = _read_header(path)
        info.arch, info.kwargs, info.card = header["arch"], header["kwargs"], header["card"]
    except Exception as exc:  # corrupt header: report, don't crash the listing
        info.error = f"unreadable checkpoint: {exc}"
    return info


def parameter_count(name: str) -> int:
    """Number of weights in a checkpoint, from its header alone (no load)."""
    from safetensors import safe_open

    with safe_open(str(checkpoint_path(name)), framework="pt") as f:
        return sum(
            math.prod(f.get_slice(key).get_shape())
            for key in f.keys()
            if not key.endswith(("running_mean", "running_var", "num_batches_tracked", "_u", "_v"))
        )


def model_names(directory: Path | None = None) -> list[str]:
    directory = directory or checkpoint_dir()
    names = {p.name[: -len(SUFFIX)] for p in directory.glob(f"*{SUFFIX}")}
    names |= {n[: -len(SUFFIX)] for n in read_manifest(directory) if n.endswith(SUFFIX)}
    return sorted(n for n in names if _NAME_PATTERN.match(n))


def list_models(task: str | tuple[str, ...] | None = None, include_unavailable: bool = False) -> list[ModelInfo]:
    tasks = (task,) if isinstance(task, str) else task
    infos = [inspect(n) for n in model_names()]
    if not include_unavailable:
        infos = [i for i in infos if i.error is None]
    return [i for i in infos if tasks is None or i.error or i.task in tasks]


_cache: dict[tuple[str, str], LoadedModel] = {}
_cache_lock = threading.Lock()


def load(name: str, device: torch.device | str | None = None) -> LoadedModel:
    """Build and load a model by name, once per device; later calls return the cached one."""
    from genstudio.devices import default_device

    device = torch.device(device) if device is not None else default_device()
    key = (name, str(device))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        info = inspect(name)
        if info.error:
            known = ", ".join(m.name for m in list_models()) or "none"
            if info.error == "checkpoint file is missing":
                raise UnknownModelError(f"unknown model {name!r}; known models: {known}")
            raise ModelUnavailableError(f"model {name!r} is unavailable: {info.error}")
        model = load_file(checkpoint_path(name), device)
        _cache[key] = model
        return model


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _merged(card: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    card = dict(card)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(card.get(key), dict):
            card[key] = {**card[key], **value}
        else:
            card[key] = value
    return card


def _rewrite(source: Path, target: Path, changes: dict[str, Any]) -> None:
    """Copy a checkpoint to `target` (the shelf) with `changes` merged into its card."""
    from safetensors.torch import load_file as read_tensors
    from safetensors.torch import save

    header = _read_header(source)
    state = read_tensors(str(source))
    meta = {"genstudio": json.dumps({**header, "card": check_card(_merged(header["card"], changes))})}
    _atomic_write_bytes(target, save(state, metadata=meta))
    _write_manifest_entry(target)
    clear_cache()


def update_card(name: str, **changes: Any) -> ModelInfo:
    """Merge `changes` into a shelf checkpoint's card (e.g. metrics from eval), atomically."""
    info = inspect(name)
    if info.error:
        raise ModelUnavailableError(f"model {name!r} is unavailable: {info.error}")
    _rewrite(checkpoint_path(name), checkpoint_path(name), changes)
    return inspect(name)


def publish(source: Path, **changes: Any) -> ModelInfo:
    """Put a run's checkpoint on the shelf under its own name, with `changes` in its card."""
    info = inspect_file(source)
    _rewrite(Path(source), checkpoint_path(info.name), changes)
    return inspect(info.name)
