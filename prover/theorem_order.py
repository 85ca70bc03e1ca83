"""The order a batch proves its theorems in, and the theorems a stopped run left in flight (longest-first's hints).

Used by the in-process batch and by prover.distributed alike; imports no Ray.
"""
from __future__ import annotations

import json
from pathlib import Path

from prover.jsonl import write_atomic
from prover.types import Theorem

ORDERS = ("given", "longest-first")
# Theorems in flight when a job stopped, with how long they had run: the next longest-first run starts them first.
UNFINISHED = "unfinished.json"


def order_theorems(theorems: list[Theorem], order: str, seconds_hint: dict[str, float] | None = None) -> list[Theorem]:
    """`given`: as listed. `longest-first`: theorems known to take long (from the last run) first, longest first,
    then the rest by statement length, longest first: long searches started last would leave workers idle at the end."""
    if order == "given":
        return list(theorems)
    if order != "longest-first":
        raise ValueError(f"unknown order {order!r} (choose from {', '.join(ORDERS)})")
    hints = seconds_hint or {}
    known = sorted((t for t in theorems if t.name in hints), key=lambda t: -hints[t.name])
    rest = sorted((t for t in theorems if t.name not in hints), key=lambda t: -len(t.statement))
    return known + rest


def read_unfinished(out: Path) -> dict[str, float]:
    """out/unfinished.json's theorem -> seconds it had run; empty where there is none or it cannot be read."""
    path = out / UNFINISHED
    try:
        return {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def write_unfinished(out: Path, seconds: dict[str, float]) -> None:
    """Add theorems still running when a job stopped to out/unfinished.json, keeping each one's longest time."""
    merged = read_unfinished(out)
    for name, s in seconds.items():
        merged[name] = max(s, merged.get(name, 0.0))
    write_atomic(out / UNFINISHED, json.dumps({k: round(v, 3) for k, v in sorted(merged.items())}, indent=1))
