"""The one training loop, for every family.

It owns everything that is not the loss: steps and time budget, device and
DistributedDataParallel, EMA of the shipped network, JSONL logging, a tqdm bar,
periodic sample grids and validation, resumable state and the final
self-describing checkpoint. A family only supplies `step(batch)`.

Run distributed with `torchrun --nproc_per_node N -m genstudio train CONFIG`
(gloo on CPU, nccl on GPU).
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from genstudio import registry
from genstudio.devices import default_device
from genstudio.tasks.io import to_pil


def load_config(path: str | Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
    for key in ("name", "family"):
        if key not in cfg:
            raise ValueError(f"{path}: config needs a top-level {key!r}")
    registry.checkpoint_path(cfg["name"])  # validates the name early
    cfg.setdefault("train", {})
    return cfg


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


@torch.no_grad()
def ema_update(ema: nn.Module, net: nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), net.parameters()):
        e.lerp_(p, 1 - decay)
    for e, b in zip(ema.buffers(), net.buffers()):
        e.copy_(b)


def stretch_schedule(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> None:
    """On a resume with a new step count, a cosine decay keeps falling from the current rate
    and reaches its floor at the new last step (its recursive form allows changing T_max)."""
    if isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
        scheduler.T_max = steps


def _downsample_curve(rows: list[dict], keep: int = 200) -> list[dict]:
    """At most `keep` evenly spaced log rows, so the card stays small."""
    if len(rows) <= keep:
        return rows
    idx = np.linspace(0, len(rows) - 1, keep).round().astype(int)
    return [rows[i] for i in idx]


def train(config_path: str | Path, resume: bool = False, run_dir: str | Path | None = None,
          checkpoint_dir: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Path:
    """Train the model a config describes; returns the path of the checkpoint written."""
    from genstudio.train.families import make_family

    cfg = load_config(config_path)
    for key, value in (overrides or {}).items():
        cfg["train"][key] = value
    t = cfg["train"]
    steps = int(t.get("steps", 1000))
    time_limit = float(t.get("time_limit_minutes", 0)) * 60  # 0 = no limit; a budget for a CPU
    log_every, sample_every = int(t.get("log_every", 50)), int(t.get("sample_every", 500))
    save_every = int(t.get("checkpoint_every", 500))
    ema_decay = float(t.get("ema", 0.0))

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        if torch.cuda.is_available():
            device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")
            torch.cuda.set_device(device)  # nccl needs each process on its own GPU before init
        else:
            device = torch.device("cpu")
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world, device = 0, 1, default_device()
    if t.get("threads") and device.type == "cpu":
        torch.set_num_threads(int(t["threads"]))
    seed = int(t.get("seed", 0))
    torch.manual_seed(seed + rank)

    run_dir = Path(run_dir or Path("runs") / cfg["name"])
    out_path = registry.checkpoint_path(cfg["name"], Path(checkpoint_dir) if checkpoint_dir else None)
    state_path = run_dir / "state.pt"
    log_path = run_dir / "log.jsonl"
    family = make_family(cfg, device, rank=rank, world=world)

    if distributed:
        for key, module in family.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                family.modules[key] = nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)
    shipped = unwrap(family.modules[family.shipped])
    init_from, init_record = t.get("init_from"), None  # fine-tune a shipped model (a later stage of a curriculum)
    if init_from:
        if init_from == cfg["name"]:
            raise ValueError("init_from must name another model: this run overwrites its own checkpoint")
        start = registry.inspect(init_from)
        if (start.arch, start.kwargs) != family.arch_spec():
            raise ValueError(f"init_from {init_from!r} is a {start.arch} {start.kwargs}, this config builds {family.arch_spec()}")
        before = start.card.get("provenance", {})  # its cost belongs to this model's cost too
        init_record = {"model": init_from, **{k: before.get(k) for k in ("steps", "wall_time_minutes", "git_commit")}}
        if not (resume and state_path.exists()):
            shipped.load_state_dict(registry.load(init_from, device="cpu").net.state_dict())
    ema = copy.deepcopy(shipped).eval().requires_grad_(False) if ema_decay else None

    start_step, elapsed = 0, 0.0
    if resume and state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=True)
        for key, module in family.modules.items():
            unwrap(module).load_state_dict(state["modules"][key])
        for key, opt in family.optimizers.items():
            opt.load_state_dict(state["optimizers"][key])
        for key, saved in state.get("schedulers", {}).items():
            family.schedulers[key].load_state_dict(saved)
            stretch_schedule(family.schedulers[key], steps)
        if ema is not None and "ema" in state:
            ema.load_state_dict(state["ema"])
        start_step, elapsed = state["step"], state["elapsed"]
        torch.manual_seed(seed + rank + start_step)
    elif not resume and rank == 0 and log_path.exists():
        log_path.unlink()  # a fresh run starts a fresh log

    def save_all(step: int, seconds: float) -> Path | None:
        if rank != 0:
            return None
        run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "modules": {k: unwrap(m).state_dict() for k, m in family.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in family.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in family.schedulers.items()},
            "step": step,
            "elapsed": seconds,
        }
        if ema is not None:
            state["ema"] = ema.state_dict()
        tmp = state_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, state_path)
        rows = [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.exists() else []
        card = family.card()
        card["provenance"] = {
            "config": cfg,
            "steps": step,
            "wall_time_minutes": round(seconds / 60, 2),
            "processes": world,
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "git_commit": _git_commit(),
            "ema": ema_decay or None,
            "curve": _downsample_curve(rows),
        }
        if init_record:
            card["provenance"]["init_from"] = init_record
        net = ema if ema is not None else shipped
        arch, kwargs = family.arch_spec()
        return registry.save_checkpoint(out_path, net, arch, kwargs, card)

    from tqdm import tqdm

    batches = family.batches()
    bar = tqdm(total=steps, initial=start_step, disable=rank != 0, desc=cfg["name"], dynamic_ncols=True)
    began = time.time() - elapsed
    step = start_step
    running: dict[str, float] = {}
    while step < steps:
        over_budget = bool(time_limit) and time.time() - began > time_limit
        if distributed and time_limit:  # every process must stop at the same step, or the others hang
            flag = torch.tensor([float(over_budget)], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            over_budget = bool(flag.item())
        if over_budget:
            if rank == 0:
                bar.write(f"time budget of {time_limit / 60:.0f} min reached at step {step}")
            break
        for module in family.modules.values():
            module.train()
        losses = family.step(next(batches))
        step += 1
        if ema is not None:
            ema_update(ema, shipped, min(ema_decay, (1 + step) / (10 + step)))
        for k, v in losses.items():
            running[k] = running.get(k, 0.0) + float(v)
        bar.update(1)
        if rank == 0 and step % log_every == 0:
            row = {"step": step, "minutes": round((time.time() - began) / 60, 3)}
            row.update({k: round(v / log_every, 5) for k, v in running.items()})
            running = {}
            if step % sample_every == 0 or step == steps:
                row.update(family.validate(ema if ema is not None else shipped))
            run_dir.mkdir(parents=True, exist_ok=True)
            with open(log_path, "a") as f:
                f.write(json.dumps(row) + "\n")
            bar.set_postfix({k: v for k, v in row.items() if k != "step"})
        if rank == 0 and step % sample_every == 0:
            grid = family.preview(ema if ema is not None else shipped)
            (run_dir / "samples").mkdir(parents=True, exist_ok=True)
            to_pil(grid).save(run_dir / "samples" / f"step_{step:06d}.png")
        if step % save_every == 0:
            save_all(step, time.time() - began)
    bar.close()
    path = save_all(step, time.time() - began)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return path or out_path
