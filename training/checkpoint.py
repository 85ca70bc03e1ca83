"""Checkpoints: model and optimizer through torch.distributed.checkpoint (sharded under FSDP, plain on one
process), plus the scheduler, step and every rank's RNG, in `OUT/checkpoints/step_NNNNNNNN/`.

A checkpoint folder is written under a temporary name and renamed once complete, so the latest folder
with a `COMPLETE` marker is always loadable, whatever killed the run.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

MARKER = "COMPLETE"


@contextlib.contextmanager
def _single_process_ok():
    """One process saving or loading without a process group is intended here (a CPU run, an export)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled", category=UserWarning)
        yield


class CheckpointError(ValueError):
    pass


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save_checkpoint(run_dir: Path, step: int, model, optimizer, scheduler, keep: int) -> Path:
    folder = run_dir / "checkpoints" / f"step_{step:08d}"
    tmp = run_dir / "checkpoints" / f".step_{step:08d}.tmp"
    if _rank() == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    model_state, optim_state = get_state_dict(model, optimizer)
    with _single_process_ok():
        dcp.save({"model": model_state, "optim": optim_state}, checkpoint_id=str(tmp))
    torch.save(rng_state(), tmp / f"rng_rank{_rank()}.pt")
    _barrier()
    if _rank() == 0:
        torch.save({"step": step, "scheduler": scheduler.state_dict()}, tmp / "train_state.pt")
        (tmp / MARKER).write_text(json.dumps({"step": step}))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        for old in complete_checkpoints(run_dir)[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    _barrier()
    return folder


def complete_checkpoints(run_dir: Path) -> list[Path]:
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("step_*") if (p / MARKER).is_file())


def latest_checkpoint(path: Path) -> Path:
    """The checkpoint a path names: itself if it is one, else the run folder's latest complete one."""
    path = Path(path)
    if (path / MARKER).is_file():
        return path
    found = complete_checkpoints(path)
    if not found:
        raise CheckpointError(f"no complete checkpoint in {path}")
    return found[-1]


def load_checkpoint(folder: Path, model, optimizer, scheduler) -> int:
    """Restore model, optimizer, scheduler and this rank's RNG; returns the step the checkpoint was taken at."""
    model_state, optim_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "optim": optim_state}
    with _single_process_ok():
        dcp.load(state, checkpoint_id=str(folder))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    train_state = torch.load(folder / "train_state.pt", weights_only=False)
    scheduler.load_state_dict(train_state["scheduler"])
    rng_file = folder / f"rng_rank{_rank()}.pt"
    if rng_file.is_file():  # absent when resuming on more ranks than saved: the data needs no RNG anyway
        set_rng_state(torch.load(rng_file, weights_only=False))
    return int(train_state["step"])


def load_model_weights(folder: Path, model) -> None:
    """Only the model's weights (export, eval): DCP reshards whatever world size wrote them."""
    from torch.distributed.checkpoint.state_dict import (
        get_model_state_dict,
        set_model_state_dict,
    )

    state = {"model": get_model_state_dict(model)}
    with _single_process_ok():
        dcp.load(state, checkpoint_id=str(folder))
    set_model_state_dict(model, state["model"])
