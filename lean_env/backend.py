"""The Lean 4 backend: a theorem elaborated as `statement := by sorry` in a header-keyed REPL process,
tactics run on the sorry's proof state and on any state reached since (the REPL branches natively)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

from lean_env.messages import ReplCrashed, ReplError, ReplTimeout, TacticReply
from lean_env.pool import DEFAULT_RECYCLE_AFTER, HeaderError, LeanPool, PooledRepl
from lean_env.repl import DEFAULT_TIMEOUTS, SETUP_HINT, LeanRepl, ReplLimits, default_repl_command, find_project
from lean_env.verify import LeanVerifier, render_proof, statement_without_proof
from prover.backend import BackendBase, Timeouts, known_prefix
from prover.errors import one_line
from prover.types import (
    Advanced,
    BackendUnavailable,
    Failed,
    ProofState,
    Proved,
    StatementError,
    TacticPaths,
    TacticResult,
    Theorem,
    TimedOut,
    Verdict,
)

AUTOMATION_TACTICS = [
    "omega", "simp", "norm_num", "linarith", "nlinarith", "positivity", "decide", "aesop", "ring_nf", "field_simp",
]
# A tactic that closes goals by assumption instead of proof: refused before it reaches Lean.
_ASSUMING = re.compile(r"(?<![\w.'])(sorry|admit)(?![\w'])")
# Headers that fail this way mean the project lacks its libraries (setup), not that the theorem is unsupported.
_MISSING_LIBRARY = re.compile(r"unknown module prefix|object file .* does not exist|unknown package", re.I)


def theorem_statement(theorem: Theorem) -> str:
    """The declaration without any proof tail, e.g. "theorem t (x : ℕ) : x = x"."""
    return statement_without_proof(theorem.statement)


def step_problem(reply: TacticReply) -> str | None:
    """Why a tactic reply is not progress, or None if it is (open goals left, or the proof complete).

    An elaboration error can come back as "Incomplete: contains sorry" with no goals and an error
    message: that is an error, not a finished proof. A sorry introduced by the tactic is refused.
    A REPL without proofStatus (before PR #63) is judged by goals, errors and sorries alone.
    """
    if reply.errors:
        return " | ".join(one_line(m.data) for m in reply.errors)
    status = reply.proof_status or ""
    if status.startswith("Error"):
        return status
    if reply.sorries or "sorry" in status:
        return "the tactic leaves a sorry"
    if not reply.goals and status and status != "Completed":
        return status  # e.g. "Incomplete: contains metavariable(s)"
    return None


class LeanBackend(BackendBase):
    """Drives the Lean REPL; native branching through proof-state ids, replay only after a process is lost.

    Every handle keeps its tactic path from the theorem's root. While the process lives, a handle's
    proof-state id is used directly. After a crash or a timeout kill the process is replaced and a state
    is re-created by re-opening the theorem and replaying its path (the longest prefix still known first).
    """

    name = "lean"

    def __init__(
        self,
        project: str | os.PathLike | None = None,
        *,
        repl_command: Sequence[str] | None = None,
        pool: LeanPool | None = None,
        limits: ReplLimits = ReplLimits(),
        max_processes: int = 1,
        recycle_after: int = DEFAULT_RECYCLE_AFTER,
        timeouts: Timeouts | None = None,
        automation: list[str] | None = None,
    ):
        """`project`: the Lake project (default: $LLEMMA_PROVER_LEAN_PROJECT, else what setup recorded).
        `repl_command`: how to start a REPL (default: the project's, via lake); runs in `project`.
        `timeouts`: unset ones from lean_env.repl.DEFAULT_TIMEOUTS (a pool passed in keeps its own header limit)."""
        if repl_command is None:
            project = Path(project) if project is not None else find_project()  # BackendUnavailable, with the hint
            repl_command = default_repl_command(project)
        self._project = None if project is None else Path(project)
        self._repl_command = list(repl_command)
        self._limits = limits
        self.timeouts = (timeouts or Timeouts()).resolved(DEFAULT_TIMEOUTS)
        self._owns_pool = pool is None
        self._pool = pool if pool is not None else LeanPool(
            self._new_repl, max_processes=max_processes, recycle_after=recycle_after, timeouts=self.timeouts
        )
        self.verifier = LeanVerifier(self._new_repl, timeout=self.timeouts.verify)
        self._automation = list(AUTOMATION_TACTICS if automation is None else automation)
        self._theorem: Theorem | None = None
        self._paths = TacticPaths()  # handles of the tactic paths since open()
        self._live: dict[tuple[str, ...], int] = {}  # tactic path -> proof-state id in process `_generation`
        self._generation = 0
        self.restarts = 0  # processes lost mid-proof (crash, timeout kill), for tests and diagnostics

    def _new_repl(self) -> LeanRepl:
        return LeanRepl(self._project, self._repl_command, limits=self._limits)

    # -- the protocol ---------------------------------------------------------------------------
    def open(self, theorem: Theorem) -> ProofState:
        self._theorem = theorem
        self._paths, self._live = TacticPaths(), {}
        for attempt in (1, 2):
            try:
                pooled = self._pool.get(theorem.header)  # between theorems: the pool may recycle here
                root, goals = self._open_root(pooled)
                break
            except HeaderError as exc:
                if _MISSING_LIBRARY.search(str(exc)):
                    raise BackendUnavailable(f"{exc}; {SETUP_HINT}") from exc
                raise StatementError(str(exc)) from exc
            except (ReplCrashed, ReplTimeout):
                self._pool.discard(theorem.header)
                if attempt == 2:
                    raise
        self._generation = pooled.generation
        self._live[()] = root
        return ProofState(handle=self._paths.handle(()), goals=goals, depth=0)

    def run_tactic(self, state: ProofState, tactic: str, timeout: float) -> TacticResult:
        if self._theorem is None or state.handle not in self._paths:
            return Failed("unknown proof state (not from the theorem opened last)")
        tactic = tactic.strip()
        if not tactic:
            return Failed("empty tactic")
        if _ASSUMING.search(tactic):
            return Failed("sorry/admit are not proofs")
        path = self._paths.path(state.handle)
        for attempt in (1, 2):
            try:
                pooled, proof_state = self._reach(path, timeout)
                reply = pooled.repl.tactic(tactic, proof_state, timeout=timeout)
            except _Unreachable as exc:
                return Failed(str(exc))
            except ReplTimeout:
                self._lose_process()
                return TimedOut(timeout)
            except ReplCrashed as exc:
                self._lose_process()
                if attempt == 2:
                    return Failed(f"the Lean REPL died: {exc}")
                continue
            except ReplError as exc:
                message = str(exc)
                if message.startswith("Unknown proof state") and attempt == 1:
                    self._live.clear()  # the process forgot our ids (should not happen): re-open and replay
                    continue
                return Failed(one_line(message.removeprefix("Lean error:")))
            return self._outcome(path, tactic, reply)
        return Failed("unreachable")  # pragma: no cover

    def render_proof(self, theorem: Theorem, tactics: tuple[str, ...]) -> str:
        return render_proof(theorem, tactics)

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        return self.verifier.verify(theorem, tactics, timeout)  # a fresh process: the search cannot leak into it

    def automation_tactics(self) -> list[str]:
        return list(self._automation)

    def close(self) -> None:
        if self._owns_pool:
            self._pool.close()

    # -- internals ------------------------------------------------------------------------------
    def _open_root(self, pooled: PooledRepl) -> tuple[int, str]:
        """Elaborate the statement with `:= by sorry`; the sorry's proof state is the root."""
        code = f"{theorem_statement(self._theorem)} := by sorry"
        try:
            reply = pooled.repl.command(code, env=pooled.base_env, timeout=self.timeouts.statement)
        except ReplError as exc:
            raise StatementError(f"statement rejected: {one_line(str(exc))}") from exc
        if reply.errors:
            raise StatementError("statement rejected: " + " | ".join(one_line(m.data) for m in reply.errors))
        roots = [s for s in reply.sorries if s.proof_state is not None]
        if not roots:
            raise StatementError("the REPL gave no proof state for the statement's sorry")
        return roots[-1].proof_state, roots[-1].goal  # the `by sorry` closes the text: its sorry comes last

    def _lose_process(self) -> None:
        self._pool.discard(self._theorem.header)
        self._live.clear()

    def _reach(self, path: tuple[str, ...], timeout: float) -> tuple[PooledRepl, int]:
        """The process and the proof-state id for `path`, re-created by replay if the process was replaced."""
        try:
            pooled = self._pool.get(self._theorem.header, recycle=False)  # mid-proof: ids must stay valid
        except HeaderError as exc:
            raise _Unreachable(f"cannot restart Lean: {exc}") from exc
        except ReplTimeout as exc:  # the header, not the tactic, ran out of time
            raise ReplCrashed(f"restarting Lean timed out: {exc}") from exc
        if pooled.generation != self._generation:
            self._live.clear()
            self._generation = pooled.generation
            self.restarts += 1
        if path in self._live:
            return pooled, self._live[path]
        if () not in self._live:
            try:
                self._live[()] = self._open_root(pooled)[0]
            except StatementError as exc:
                raise _Unreachable(f"cannot re-open the theorem: {exc}") from exc
            except ReplTimeout as exc:
                raise ReplCrashed("re-opening the theorem timed out") from exc
        known = known_prefix(path, self._live.__contains__)  # the root is always known by now
        proof_state = self._live[path[:known]]
        replay_timeout = self.timeouts.replay_limit(timeout)
        for depth in range(known, len(path)):
            try:
                reply = pooled.repl.tactic(path[depth], proof_state, timeout=replay_timeout)
            except ReplError as exc:
                raise _Unreachable(f"replaying {path[depth]!r} failed: {one_line(str(exc))}") from exc
            except ReplTimeout as exc:
                raise ReplCrashed(f"replaying {path[depth]!r} timed out") from exc
            problem = step_problem(reply)
            if problem or not reply.goals:
                raise _Unreachable(f"replaying {path[depth]!r} did not reach the same state: {problem or 'no goals'}")
            proof_state = reply.proof_state
            self._live[path[: depth + 1]] = proof_state
        return pooled, proof_state

    def _outcome(self, path: tuple[str, ...], tactic: str, reply: TacticReply) -> TacticResult:
        problem = step_problem(reply)
        if problem:
            return Failed(problem)
        new_path = path + (tactic,)
        self._live[new_path] = reply.proof_state
        if not reply.goals:
            return Proved(new_path)
        goals = "\n\n".join(reply.goals)  # Lean prints several goals separated by blank lines
        return Advanced(ProofState(handle=self._paths.handle(new_path), goals=goals, depth=len(new_path)))


class _Unreachable(Exception):
    """A state could not be re-created in a new process."""
