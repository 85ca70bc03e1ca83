"""Performance benchmarks: each one measures a ratio inside one run, so results compare across machines.

To add a benchmark, write a module here with a function returning (value, target) and list it in BENCHMARKS (benchmarks/registry.py).
A benchmark that cannot run on this machine (no Lean, no GPU) raises `Skipped(reason, target)`.
`python -m benchmarks [NAME...]` prints one JSON line per metric on stdout; details go to stderr.
"""
from __future__ import annotations


class Skipped(Exception):
    """The benchmark needs something this machine lacks; printed as value null with the reason."""

    def __init__(self, reason: str, target: str):
        super().__init__(reason)
        self.reason = reason
        self.target = target
