"""Proofstep rows (their format lives in model_store.proofsteps, which training reads too) and the options
of `prover extract`, which makes them from a backend's real proof scripts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model_store.proofsteps import (  # the row format, for the prover's modules and backends
    GOAL_MARK,
    STEP_MARK,
    ProofStep,
    ProofStepFormatError,
    deduplicate,
    proofstep_prompt,
    read_proofsteps,
    split_of,
    write_proofsteps,
)

__all__ = ["ExtractOptions", "GOAL_MARK", "STEP_MARK", "ProofStep", "ProofStepFormatError", "deduplicate",
           "proofstep_prompt", "read_proofsteps", "split_of", "write_proofsteps"]


@dataclass(frozen=True)
class ExtractOptions:
    """How `prover extract` turns a backend's real proof scripts into rows: the same options for every backend's
    `extract_proofsteps(source, out, options)`; one with nothing to act on an option ignores it (says so in its doc)."""

    workers: int | None = None  # source files replayed in parallel (None: the CPU count)
    valid_fraction: float = 0.02  # share of source files (never rows) in the valid split
    test_fraction: float = 0.02  # share of source files in the test split
    guard: Any = None  # a prover.contamination.NgramGuard: drops rows sharing an n-gram with a benchmark statement
    sentence_timeout: float | None = None  # seconds per sentence or command (None: the backend's default)
    file_timeout: float | None = None  # seconds per source file (None: the backend's default)
    limit: int | None = None  # only the first N source files (or theorems)
    fresh: bool = False  # start over instead of resuming from what an earlier run logged
    progress: bool = False  # a progress bar on stderr

    def __post_init__(self) -> None:
        if self.valid_fraction < 0 or self.test_fraction < 0 or self.valid_fraction + self.test_fraction > 1:
            raise ValueError("--valid-fraction and --test-fraction must be >= 0 and add up to at most 1")
