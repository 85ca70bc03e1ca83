"""The backend protocol: what the search needs from any proof assistant (Gymnasium-style, tiny)."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from prover.types import ProofState, TacticResult, Theorem, Verdict


@runtime_checkable
class Backend(Protocol):
    """One proof-assistant process (plus whatever it restarts) driven tactic by tactic.

    States returned since the last `open` stay valid until the next `open`: the search may run a
    tactic on any of them, in any order.
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
        """Check the proof from scratch in a fresh process, refusing anything unsound.

        `timeout`: seconds the whole check may take (None: the backend's own default); a check that does not
        finish in time is a refusal. Optional for a backend to take: the search passes it only where `verify`
        has the parameter (see prover.search.verify_within)."""
        ...

    def automation_tactics(self) -> list[str]:
        """Cheap tactics worth trying at every node before any model candidate."""
        ...

    def render_state(self, state: ProofState) -> str:
        """The state as a model prompt should show it."""
        ...

    def close(self) -> None: ...

    # Optional: `state_key(state) -> str`, the text two states share when the search may treat them as one (the
    # search merges them). Without it, the goals text up to whitespace.
