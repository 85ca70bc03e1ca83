"""Checking suggestions against an editor's file: replay it in the proof assistant, then run each suggestion there."""
from __future__ import annotations

import threading
import time
from typing import Callable

from prover.generators import Candidate
from prover.search_types import HAMMER_MIN_SECONDS
from prover.syntax import CheckingBackend, DeadlinePassed
from prover.types import Advanced, Proved, StatementError, Theorem, TimedOut


class CheckError(Exception):
    """The file up to the cursor does not reach a proof state (its statement or one of its tactics fails): the
    request's fault, not the server's."""


class EditorChecker:
    """One proof-assistant backend (the editor syntax's checking backend), used by one request at a time from
    worker threads.

    A request's deadline bounds its proof-assistant work: a header or tactic still running when it passes is stopped
    and DeadlinePassed raised, so the caller lets the lock go at once and the next request finds the proof assistant
    idle, or starts a fresh one."""

    def __init__(self, make_backend: Callable[[], CheckingBackend], tactic_timeout: float = 5.0):
        self.tactic_timeout = tactic_timeout
        self._factory = make_backend
        self._backend: CheckingBackend | None = None
        self.lock = threading.Lock()  # held by the caller around reach + classify

    def _get(self) -> CheckingBackend:
        if self._backend is None:
            self._backend = self._factory()
        return self._backend

    def _time_for_tactic(self, deadline: float | None) -> float:
        if deadline is None:
            return self.tactic_timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed()
        return min(self.tactic_timeout, left)

    def reach(self, theorem: Theorem, tactics: list[str], deadline: float | None = None):
        """Open the theorem and run the tactics: the state reached and its goals text."""
        backend = self._get()
        backend.deadline = deadline
        try:
            state = backend.open(theorem)
        except StatementError as exc:
            raise CheckError(f"check: {exc}") from None
        for tactic in tactics:
            result = backend.run_tactic(state, tactic, self._time_for_tactic(deadline))
            if isinstance(result, Advanced):
                state = result.state
            elif isinstance(result, Proved):
                raise CheckError(f"check: the proof is already complete after {tactic!r}")
            elif isinstance(result, TimedOut):
                if deadline is not None and time.monotonic() >= deadline:
                    raise DeadlinePassed()  # cut short by the request's deadline, not by its own timeout
                raise CheckError(f"check: {tactic!r} timed out after {result.seconds:g}s")
            else:
                raise CheckError(f"check: {tactic!r} fails: {' '.join(result.error.split())[:500]}")
        return state, backend.render_state(state)

    def classify(self, state, candidates: list[Candidate],
                 deadline: float | None = None) -> list[tuple[Candidate, str]]:
        """Each candidate with its status where the state is: "proves-goal", "valid" or "invalid"."""
        backend = self._get()
        backend.deadline = deadline
        marked = []
        for c in candidates:
            result = backend.run_tactic(state, c.tactic, self._time_for_tactic(deadline))
            status = "proves-goal" if isinstance(result, Proved) else "valid" if isinstance(result, Advanced) else "invalid"
            marked.append((c, status))
        return marked

    def hammer(self, state, limit: float, deadline: float | None = None) -> tuple[Candidate, str] | None:
        """The step the backend's hammer finds on `state` within `limit` seconds (and the deadline), as a suggestion
        with its status; None where the backend has no hammer, it finds nothing, or too little time is left."""
        backend = self._get()
        backend.deadline = deadline
        for tactic in backend.hammer_tactics():
            left = limit if deadline is None else min(limit, deadline - time.monotonic())
            if left < HAMMER_MIN_SECONDS:
                return None
            result = backend.run_tactic(state, tactic, left)
            if isinstance(result, (Proved, Advanced)) and result.step:
                return Candidate(result.step, 0.0), "proves-goal" if isinstance(result, Proved) else "valid"
        return None

    def close(self) -> None:
        with self.lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None
