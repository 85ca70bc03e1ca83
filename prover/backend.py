"""The backend protocol: what the search needs from any proof assistant (Gymnasium-style, tiny), its base class,
a wrapper for variants, the one timeout policy every backend takes, and the verifier protocol."""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

from prover.types import ProofState, TacticResult, Theorem, Verdict


@runtime_checkable
class Backend(Protocol):
    """One proof-assistant process (plus whatever it restarts) driven tactic by tactic.

    States returned since the last `open` stay valid until the next `open`: the search may run a
    tactic on any of them, in any order. BackendBase supplies every method but the first three.
    """

    name: str

    def open(self, theorem: Theorem) -> ProofState:
        """Start proving `theorem`; raises StatementError if the assistant rejects the statement."""
        ...

    def run_tactic(self, state: ProofState, tactic: str, timeout: float) -> TacticResult: ...

    def render_proof(self, theorem: Theorem, tactics: tuple[str, ...]) -> str:
        """The complete proof script/file for `tactics`."""
        ...

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        """Check the proof from scratch in a fresh process, refusing anything unsound (see Verifier)."""
        ...

    def automation_tactics(self) -> list[str]:
        """Cheap tactics worth trying at every node before any model candidate."""
        ...

    def hammer_tactics(self) -> list[str]:
        """Expensive automation (premise selection, external provers, reconstruction: CoqHammer, Sledgehammer),
        tried with its own time slice at the root and where nothing else is left. Its Proved/Advanced results
        record the reproducible step it found, never the hammer call itself. Empty where there is none."""
        ...

    def premise_tactics(self, state: ProofState, hints: Sequence[str], limit: int, timeout: float) -> list[str]:
        """Premise retrieval: up to `limit` tactics, best first, that use lemmas in scope the proof assistant's own
        search finds for `state` (`apply` a lemma whose conclusion fits the goal, `rewrite` with one about its
        terms), within about `timeout` seconds. `hints` are the model's candidates at the state: the names they
        make up help rank the lemmas. Empty where the backend has no such search."""
        ...

    def render_state(self, state: ProofState) -> str:
        """The state as a model prompt should show it."""
        ...

    def state_key(self, state: ProofState) -> str:
        """The text two states share when the search may treat them as one (the search merges them)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Verifier(Protocol):
    """The sound check of finished proofs, in a fresh process: what the search's final check and `prover check`
    share. A check that does not finish within `timeout` seconds (None: the verifier's own default) is a refusal;
    a verifier that cannot run at all (no proof assistant installed) raises BackendUnavailable."""

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        """The proof of `theorem` by `tactics`, rendered as the backend renders it, checked against the theorem."""
        ...

    def check_text(self, text: str, expected: Theorem | None = None, timeout: float | None = None) -> Verdict:
        """A whole proof file: with `expected`, it must be that theorem and its proof only; without, each theorem
        it declares must be proved."""
        ...


def check_file(verifier: Verifier, path: str | Path, expected: Theorem | None) -> Verdict:
    """`verifier.check_text` on a file's text (a BackendPlugin's `check_file`)."""
    return verifier.check_text(Path(path).read_text(encoding="utf-8"), expected)


@dataclass(frozen=True)
class Timeouts:
    """Every wait a backend makes besides a tactic's own limit (which the search passes per call), in seconds: one
    policy object, handed to each backend. A field left None takes that backend's default (its DEFAULT_TIMEOUTS),
    so `Timeouts(verify=30)` changes one wait and keeps the rest."""

    header: float | None = None  # loading a theorem's header (imports, definitions) in a new process
    statement: float | None = None  # stating the theorem on a loaded header, and the bookkeeping commands after it
    replay: float | None = None  # re-running one tactic of a path to re-create a state; None: replay_factor x limit
    replay_factor: float | None = None  # a replayed tactic gets this many times the tactic limit (at least 1 s)
    interrupt_grace: float | None = None  # how long a tactic past its limit may take to answer an interrupt
    verify: float | None = None  # checking a finished proof (or a proof file) in a fresh process

    def resolved(self, defaults: "Timeouts") -> "Timeouts":
        """These timeouts, each unset one taken from `defaults`."""
        return Timeouts(**{f.name: getattr(self, f.name) if getattr(self, f.name) is not None
                           else getattr(defaults, f.name) for f in fields(self)})

    def replay_limit(self, tactic_timeout: float) -> float:
        """The limit for a tactic replayed on the way to a state the search asks for: it succeeded once within
        `tactic_timeout`, so it gets room to spare (a replay that runs out costs the process, not the tactic)."""
        if self.replay is not None:
            return self.replay
        return max(tactic_timeout, 1.0) * (2.0 if self.replay_factor is None else self.replay_factor)


def known_prefix(path: tuple[str, ...], known: Callable[[tuple[str, ...]], bool]) -> int:
    """The length of the longest prefix of `path` that `known` accepts (0 if none): where a replay to `path`
    starts, the tactics after it being the ones to re-run."""
    for k in range(len(path), 0, -1):
        if known(path[:k]):
            return k
    return 0


class BackendBase:
    """Defaults for the Backend protocol: a subclass writes `open`, `run_tactic`, `render_proof` and `verify`,
    and overrides the rest only where it differs."""

    name: str = ""

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        raise NotImplementedError(f"{type(self).__name__} has no verifier")

    def automation_tactics(self) -> list[str]:
        return []

    def hammer_tactics(self) -> list[str]:
        return []

    def premise_tactics(self, state: ProofState, hints: Sequence[str], limit: int, timeout: float) -> list[str]:
        return []

    def render_state(self, state: ProofState) -> str:
        return state.goals

    def state_key(self, state: ProofState) -> str:
        """The goals up to whitespace."""
        return " ".join(state.goals.split())

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BackendWrapper(BackendBase):
    """A backend seen through a variant: every method and attribute is the wrapped backend's, except those a
    subclass overrides. Closing the wrapper closes the wrapped backend."""

    def __init__(self, inner: Backend):
        self.inner = inner

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.inner.name

    def open(self, theorem: Theorem) -> ProofState:
        return self.inner.open(theorem)

    def run_tactic(self, state: ProofState, tactic: str, timeout: float) -> TacticResult:
        return self.inner.run_tactic(state, tactic, timeout)

    def render_proof(self, theorem: Theorem, tactics: tuple[str, ...]) -> str:
        return self.inner.render_proof(theorem, tactics)

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        return self.inner.verify(theorem, tactics, timeout)

    def automation_tactics(self) -> list[str]:
        return self.inner.automation_tactics()

    def hammer_tactics(self) -> list[str]:
        return self.inner.hammer_tactics()

    def premise_tactics(self, state: ProofState, hints: Sequence[str], limit: int, timeout: float) -> list[str]:
        return self.inner.premise_tactics(state, hints, limit, timeout)

    def render_state(self, state: ProofState) -> str:
        return self.inner.render_state(state)

    def state_key(self, state: ProofState) -> str:
        return self.inner.state_key(state)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, attribute: str):
        # Only for what the class does not define (a backend's own extras: `restarts`, `limits`, ...).
        if attribute == "inner":
            raise AttributeError(attribute)  # not set yet: no recursion while constructing
        return getattr(self.inner, attribute)
