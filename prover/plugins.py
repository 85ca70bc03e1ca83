"""Finding backends by name: each backend package registers a BackendPlugin under an entry point."""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable

from prover.backend import Backend
from prover.types import Theorem, Verdict

ENTRY_POINT_GROUP = "llemma_prover.backends"


@dataclass(frozen=True)
class BackendPlugin:
    """What the CLI needs to know about one backend, without the prover core importing it."""

    name: str
    make_backend: Callable[..., Backend]
    benchmarks: dict[str, Callable[[str], tuple[Theorem, ...]]]  # benchmark name -> load(split)
    check_file: Callable[[Path, Theorem | None], Verdict]  # sound check of a proof file on its own
    file_suffix: str = ""
    splits: tuple[str, ...] = field(default=("valid", "test"))
    # real proof scripts -> proofstep rows; None where the backend has no extractor
    extract_proofsteps: Callable[..., Any] | None = None
    # `--model hints`: a rule-based TacticGenerator (expert iteration's teacher); None where the backend has none
    hint_generator: Callable[[], Any] | None = None
    # (ProofStep, random.Random) -> the step with its hypotheses and variables renamed, or None (`--renamed-copies`)
    rename_proofstep: Callable[..., Any] | None = None
    # (path, split) -> the held-out theorems `extract_proofsteps` wrote next to its rows (`iterate --corpus-theorems`)
    heldout_theorems: Callable[..., tuple[Theorem, ...]] | None = None
    # synthetic theorems with scripted proofs -> proofstep rows (`prover synth`); None where the backend has none
    synthesize_proofsteps: Callable[..., dict] | None = None
    synthetic_kinds: tuple[str, ...] = ()


class UnknownBackend(LookupError):
    pass


def available_backends() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def load_plugin(name: str) -> BackendPlugin:
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(available_backends()) or "none installed"
        raise UnknownBackend(f"unknown backend {name!r} (available: {known})")
    return matches[0].load()
