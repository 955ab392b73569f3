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
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from genstudio import registry
from genstudio.devices import default_device
from genstudio.errors import UserError
from genstudio.tasks.io import to_pil
from genstudio.train.config import RunConfig, load_config
from genstudio.train.ddp import unwrap
from genstudio.train.stages import read_part


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


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


def _rng_state() -> dict[str, Any]:
    """Every process-wide RNG a run may draw from (dropout, reparameterisation, ...)."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": json.dumps([v.tolist() if isinstance(v, np.ndarray) else v for v in np.random.get_state()]),
        "python": json.dumps(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = json.loads(state["numpy"])
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = json.loads(state["python"])
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _start_weights(
    start_spec: tuple[str, dict], spec: tuple[str, dict], start_net: nn.Module, net: nn.Module
) -> dict | None:
    """The weights a network starts from when an earlier stage's fit it: the same architecture
    and arguments, except that it may add the parts its class lists in `added_parts` (a VAE's
    flow prior, an inpainter's Fourier units); or what its `adapt_from` makes of another
    architecture's (a generator that splits categories into subcategories). None if neither."""
    (start_arch, start_kwargs), (arch, kwargs) = start_spec, spec
    added = getattr(registry.ARCHITECTURES.get(arch), "added_parts", ())
    kept = lambda kw: {k: v for k, v in kw.items() if k not in added}
    weights, target = start_net.state_dict(), net.state_dict()
    if start_arch != arch or kept(start_kwargs) != kept(kwargs):
        weights = net.adapt_from(start_arch, start_kwargs, weights) if hasattr(net, "adapt_from") else None
    if weights is None or not all(k in target and target[k].shape == v.shape for k, v in weights.items()):
        return None
    return weights


def train(
    config: str | Path | RunConfig,
    resume: bool = False,
    run_dir: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> Path:
    """Train the model a config describes into its run directory (`runs/NAME` by default):
    `NAME.safetensors` with its card, `state.pt` for resuming, `log.jsonl`, `samples/`.
    The shelf (`checkpoints/`) is never touched: `genstudio promote RUN_DIR` ships a run.
    Returns the path of the run's checkpoint."""
    from genstudio.train.families import make_family

    cfg = config if isinstance(config, RunConfig) else load_config(config, overrides)
    t = cfg.train
    time_limit = t.time_limit_minutes * 60
    last_step = min(t.stop_at, t.steps) if t.stop_at else t.steps

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
    if t.threads and device.type == "cpu":
        torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed + rank)
    np.random.seed(t.seed + rank)
    random.seed(t.seed + rank)

    run_dir = Path(run_dir or Path("runs") / cfg.name)
    out_path = run_dir / f"{cfg.name}{registry.SUFFIX}"
    state_path = run_dir / "state.pt"
    log_path = run_dir / "log.jsonl"
    family = make_family(cfg, device, rank=rank, world=world)

    if distributed:
        for key, module in family.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                family.modules[key] = nn.parallel.DistributedDataParallel(
                    module, device_ids=[device.index] if device.type == "cuda" else None
                )
    shipped = unwrap(family.modules[family.shipped])
    init_record = None  # a later stage of a curriculum starts from an earlier stage's weights
    if t.init_from:
        if Path(t.init_from).resolve() in (run_dir.resolve(), out_path.resolve()):
            raise UserError("init_from must name another run: this run overwrites its own checkpoint")
        spec, start_net, init_record = read_part(t.init_from + (f"#{t.init_part}" if t.init_part else ""))
        start_weights = _start_weights(spec, family.arch_spec(), start_net, shipped)
        if start_weights is None:
            raise UserError(
                f"init_from {t.init_from!r} is a {spec[0]} {spec[1]}, this config builds {family.arch_spec()}"
            )
        if not (resume and state_path.exists()):
            shipped.load_state_dict(start_weights, strict=False)  # parts this stage adds start fresh
        elif (
            out_path.exists()
        ):  # record the stage this run began from, not what init_from names now (a re-promoted shelf model)
            init_record = registry.inspect_file(out_path).card.get("provenance", {}).get("init_from", init_record)
    ema = copy.deepcopy(shipped).eval().requires_grad_(False) if t.ema else None

    start_step, elapsed = 0, 0.0
    if resume and state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=True)
        for key, module in family.modules.items():
            unwrap(module).load_state_dict(state["modules"][key])
        for key, opt in family.optimizers.items():
            opt.load_state_dict(state["optimizers"][key])
        for key, saved in state.get("schedulers", {}).items():
            family.schedulers[key].load_state_dict(saved)
            stretch_schedule(family.schedulers[key], t.steps)
        if ema is not None and "ema" in state:
            ema.load_state_dict(state["ema"])
        start_step, elapsed = state["step"], state["elapsed"]
        if rank == 0 and log_path.exists():  # rows logged after the saved state are logged again as the run goes on
            rows = [line for line in log_path.read_text().splitlines() if json.loads(line)["step"] <= start_step]
            log_path.write_text("".join(row + "\n" for row in rows))
        if "rng" in state:  # runs saved before exact resume lack these and continue approximately
            _set_rng_state(state["rng"])
            family.load_state_dict(state["family"])
        else:
            torch.manual_seed(t.seed + rank + start_step)
    elif resume:
        raise UserError(f"--resume: no {state_path} to resume from")
    elif rank == 0:  # a fresh run in an old run's directory starts a fresh log and fresh sample sheets
        log_path.unlink(missing_ok=True)
        for stale in run_dir.glob("samples/step_*.png"):
            stale.unlink()

    def save_all(step: int, seconds: float) -> None:
        if rank != 0:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "modules": {k: unwrap(m).state_dict() for k, m in family.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in family.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in family.schedulers.items()},
            "step": step,
            "elapsed": seconds,
            "rng": _rng_state(),
            "family": family.state_dict(),
        }
        if ema is not None:
            state["ema"] = ema.state_dict()
        tmp = state_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, state_path)
        rows = [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.exists() else []
        card = family.card()
        card["provenance"] = {
            **card.get("provenance", {}),  # what the family records of its own sources (a distillation's teacher)
            "config": cfg.as_dict(),
            "steps": step,
            "wall_time_minutes": round(seconds / 60, 2),
            "processes": world,
            "device": str(device),
            "torch_threads": torch.get_num_threads(),
            "precision": family.precision,  # what ran: bf16 falls back to fp32 where it would be emulated
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "git_commit": _git_commit(),
            "ema": t.ema or None,
            "curve": _downsample_curve(rows),
        }
        if init_record:
            card["provenance"]["init_from"] = init_record
        sampling = cfg.sampling.as_card()
        if sampling:
            card["sampling"] = sampling
        net = ema if ema is not None else shipped
        family.before_save(net)
        arch, kwargs = family.arch_spec()
        registry.write_checkpoint(out_path, net, arch, kwargs, card, weights=t.weights)

    from tqdm import tqdm

    batches = family.batches() if last_step > start_step else iter(())
    bar = tqdm(total=last_step, initial=start_step, disable=rank != 0, desc=cfg.name, dynamic_ncols=True)
    began = time.time() - elapsed
    step = start_step
    running: dict[str, float] = {}
    while step < last_step:
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
            ema_update(ema, shipped, min(t.ema, (1 + step) / (10 + step)))
        for k, v in losses.items():
            running[k] = running.get(k, 0.0) + float(v)
        bar.update(1)
        if rank == 0 and step % t.log_every == 0:
            row = {"step": step, "minutes": round((time.time() - began) / 60, 3)}
            row.update({k: round(v / t.log_every, 5) for k, v in running.items()})
            running = {}
            if step % t.sample_every == 0 or step == t.steps:
                row.update(family.validate(ema if ema is not None else shipped))
            run_dir.mkdir(parents=True, exist_ok=True)
            with open(log_path, "a") as f:
                f.write(json.dumps(row) + "\n")
            bar.set_postfix({k: v for k, v in row.items() if k != "step"})
        if rank == 0 and step % t.sample_every == 0:
            grid = family.preview(ema if ema is not None else shipped)
            (run_dir / "samples").mkdir(parents=True, exist_ok=True)
            to_pil(grid).save(run_dir / "samples" / f"step_{step:06d}.png")
        if step % t.checkpoint_every == 0:
            save_all(step, time.time() - began)
    bar.close()
    save_all(step, time.time() - began)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return out_path
