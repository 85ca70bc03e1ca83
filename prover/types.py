"""The data every backend and the search share: theorems, proof states, tactic results, proofs, verdicts."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Theorem:
    """One statement to prove, exactly as its benchmark gives it."""

    name: str
    statement: str  # the declaration up to and including its final '.', e.g. "Theorem t (x : R) : x = x."
    header: str  # everything the statement needs before it: imports, definitions, scopes
    backend: str  # the name of the backend's plugin
    split: str | None = None  # "valid" / "test" for benchmark theorems
    benchmark: str | None = None
    # The problem in words, where its benchmark has it (filled by the loader, e.g. prover.informal for miniF2F):
    # what Draft-Sketch-Prove translates. Not part of the theorem's identity, and left out of its repr (pages long).
    informal_statement: str = field(default="", compare=False, repr=False)
    informal_proof: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class ProofState:
    """An open proof state. `handle` is the backend's; `goals` is what the prover shows for it."""

    handle: int
    goals: str
    depth: int = 0  # tactics applied since the theorem was opened


@dataclass(frozen=True)
class Advanced:
    """The tactic ran and left goals: the new state."""

    state: ProofState
    # The step recorded in place of the tactic asked for, where they differ: a hammer call records the
    # reproducible tactic it found (None: the tactic itself).
    step: str | None = None


@dataclass(frozen=True)
class Proved:
    """The tactic closed the last goal."""

    tactics: tuple[str, ...]  # the whole tactic path from the opened theorem
    step: str | None = None  # as Advanced.step: the step recorded for the tactic asked for, where they differ


@dataclass(frozen=True)
class Failed:
    """The proof assistant refused the tactic (or we refused it before sending)."""

    error: str


@dataclass(frozen=True)
class TimedOut:
    """The tactic ran past its time limit and was interrupted."""

    seconds: float


TacticResult = Union[Advanced, Proved, Failed, TimedOut]


@dataclass(frozen=True)
class Proof:
    """A finished proof: its tactics and the complete file/script a checker accepts."""

    tactics: tuple[str, ...]
    script: str


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a proof from scratch in a fresh process."""

    accepted: bool
    reason: str = ""  # why rejected, or a note
    axioms: tuple[str, ...] = field(default_factory=tuple)  # fully qualified axioms the proof relies on

    def __bool__(self) -> bool:
        return self.accepted


class StatementError(Exception):
    """The proof assistant cannot even state the theorem (unsupported by this version)."""


class BackendUnavailable(Exception):
    """The proof assistant is not installed or cannot be started."""


class TacticPaths:
    """Integer handles (`ProofState.handle`) for tactic paths from a theorem's root: one handle per distinct
    path, so a backend can keep whatever it needs per state (a replay path, a live state id) keyed by path."""

    def __init__(self) -> None:
        self._paths: list[tuple[str, ...]] = []  # handle -> path
        self._handles: dict[tuple[str, ...], int] = {}

    def handle(self, path: tuple[str, ...]) -> int:
        """The path's handle, made on first use."""
        if path not in self._handles:
            self._handles[path] = len(self._paths)
            self._paths.append(path)
        return self._handles[path]

    def get(self, path: tuple[str, ...]) -> int | None:
        """The path's handle, or None if it has none yet."""
        return self._handles.get(path)

    def path(self, handle: int) -> tuple[str, ...]:
        return self._paths[handle]

    def __contains__(self, handle: int) -> bool:
        return 0 <= handle < len(self._paths)
