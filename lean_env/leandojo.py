"""LeanDojo as a backend (name "leandojo"): one `Dojo` per opened theorem, tactics through `run_tac`.

`lean-dojo` is optional (`pip install 'llemma-prover[lean]'`) and imported only when a backend is made.
The mapping of its results onto ours, for both API generations:
  TacticState -> Advanced          ProofFinished -> Proved
  LeanError (TacticError in 1.x) -> Failed        ProofGivenUp -> Failed (the tactic gave up with sorry)
  TimeoutError result (1.x), DojoTacticTimeoutError, DojoHardTimeoutError -> TimedOut
  DojoCrashError -> Failed
A timeout or crash costs the Lean process: the next tactic starts a new Dojo on the same theorem and
replays the state's tactic path first.
"""
from __future__ import annotations

import inspect
from collections.abc import Iterable
from pathlib import Path

from lean_env.dojo_pointers import DojoPointer
from lean_env.minif2f import load_llemma_pointers
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

INSTALL_HINT = "pip install 'llemma-prover[lean]'"
# Tactics Mathlib has had since 2023 (Llemma's LeanDojo set pins Mathlib from August 2023).
AUTOMATION_TACTICS = ["norm_num", "linarith", "nlinarith", "simp", "ring", "positivity"]


def lean_dojo_module():
    """The installed `lean_dojo`, or BackendUnavailable with the one line that fixes it."""
    try:
        import lean_dojo
    except ImportError as exc:
        raise BackendUnavailable(f"the LeanDojo backend needs lean-dojo ({exc}): {INSTALL_HINT}") from None
    return lean_dojo


def _classes(module, *names: str) -> tuple[type, ...]:
    found = []
    for name in names:
        cls = getattr(module, name, None)
        if cls is None:
            cls = getattr(getattr(getattr(module, "interaction", None), "dojo", None), name, None)
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


class LeanDojoBackend(BackendBase):
    """The search's backend over LeanDojo. States are keyed by their tactic path from the theorem's root."""

    name = "leandojo"
    # LeanDojo has one limit for every interaction, opening the theorem and each tactic alike: `statement`.
    DEFAULT_TIMEOUTS = Timeouts(statement=600.0)

    def __init__(
        self,
        pointers: dict[str, DojoPointer] | Iterable[DojoPointer] | None = None,
        *,
        timeouts: Timeouts | None = None,
        additional_imports: tuple[str, ...] = (),
        automation: list[str] | None = None,
    ):
        """`pointers`: full name -> where the theorem is (default: Llemma's miniF2F set, both splits).
        `timeouts.statement`: LeanDojo's limit per interaction in seconds (its `Dojo(timeout=)`; `hard_timeout` in
        1.x)."""
        self._ld = lean_dojo_module()
        if pointers is None:
            pointers = [p for split in ("valid", "test") for p in load_llemma_pointers(split)]
        self._pointers = dict(pointers) if isinstance(pointers, dict) else {p.full_name: p for p in pointers}
        self.timeouts = (timeouts or Timeouts()).resolved(self.DEFAULT_TIMEOUTS)
        self._timeout = int(self.timeouts.statement)
        self._additional_imports = list(additional_imports)
        self._automation = list(AUTOMATION_TACTICS if automation is None else automation)
        ld = self._ld
        self._state_type = _classes(ld, "TacticState")
        self._finished = _classes(ld, "ProofFinished")
        self._given_up = _classes(ld, "ProofGivenUp")
        self._error_results = _classes(ld, "LeanError", "TacticError")
        self._timeout_results = _classes(ld, "TimeoutError")  # a returned result in lean-dojo 1.x
        self._timeout_errors = _classes(ld, "DojoTacticTimeoutError", "DojoHardTimeoutError")
        self._crash_errors = _classes(ld, "DojoCrashError")
        self._theorem: Theorem | None = None
        self._context = None  # the entered Dojo's context manager
        self._dojo = None
        self._paths = TacticPaths()  # handles of the tactic paths since open()
        self._live: dict[tuple[str, ...], object] = {}  # tactic path -> TacticState in the current Dojo
        self.restarts = 0

    # -- the protocol ---------------------------------------------------------------------------
    def open(self, theorem: Theorem) -> ProofState:
        self._exit_dojo()
        self._theorem = theorem
        self._paths, self._live = TacticPaths(), {}
        root = self._enter_dojo(theorem)
        self._live[()] = root
        return ProofState(handle=self._paths.handle(()), goals=root.pp, depth=0)

    def run_tactic(self, state: ProofState, tactic: str, timeout: float) -> TacticResult:
        if self._theorem is None or state.handle not in self._paths:
            return Failed("unknown proof state (not from the theorem opened last)")
        tactic = tactic.strip()
        if not tactic:
            return Failed("empty tactic")
        from lean_env.verify import tactic_problem

        problem = tactic_problem(tactic)
        if problem:
            return Failed(problem)
        path = self._paths.path(state.handle)
        try:
            before = self._reach(path)
        except _Unreachable as exc:
            return Failed(str(exc))
        return self._run(path, before, tactic)

    def render_proof(self, theorem: Theorem, tactics: tuple[str, ...]) -> str:
        from lean_env.verify import render_proof

        return render_proof(theorem, tactics)

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        """Static refusals on the rendered proof, then a check in a fresh Lean process: lean-dojo's
        `check_proof` (compiles the file with the proof in place, refusing sorry) where it has one, else a
        replay in a new Dojo that must end in ProofFinished. LeanDojo reports no axioms, so none are listed.
        `timeout` is not applied: lean-dojo's check takes no limit, and a replay runs under the Dojo's own."""
        from lean_env.verify import static_problem

        problem = static_problem(self.render_proof(theorem, tactics), theorem)
        if problem:
            return Verdict(False, problem)
        pointer = self._pointer_for(theorem)
        check_proof = getattr(self._ld, "check_proof", None)
        if check_proof is not None:
            proof = "by\n" + "\n".join("  " + t for t in tactics)
            try:
                ok = check_proof(self._dojo_theorem(pointer), proof)
            except Exception as exc:  # lean-dojo raises its own and subprocess errors here
                return Verdict(False, f"checker failed: {one_line(exc)}")
            return Verdict(True, "checked by LeanDojo") if ok else Verdict(False, "LeanDojo's check_proof refused the proof")
        return self._replay_verdict(theorem, tactics)

    def automation_tactics(self) -> list[str]:
        return list(self._automation)

    def close(self) -> None:
        self._exit_dojo()

    # -- internals ------------------------------------------------------------------------------
    def _pointer_for(self, theorem: Theorem) -> DojoPointer:
        pointer = self._pointers.get(theorem.name)
        if pointer is None:
            raise StatementError(f"no LeanDojo pointer (repo, commit, file) for {theorem.name}")
        return pointer

    def _dojo_theorem(self, pointer: DojoPointer):
        repo = self._ld.LeanGitRepo(pointer.url, pointer.commit)
        return self._ld.Theorem(repo, Path(pointer.file_path), pointer.full_name)

    def _new_dojo(self, pointer: DojoPointer):
        params = inspect.signature(self._ld.Dojo).parameters
        kwargs: dict = {}
        if "timeout" in params:
            kwargs["timeout"] = self._timeout
        elif "hard_timeout" in params:
            kwargs["hard_timeout"] = self._timeout
        if self._additional_imports and "additional_imports" in params:
            kwargs["additional_imports"] = self._additional_imports
        return self._ld.Dojo(self._dojo_theorem(pointer), **kwargs)

    def _enter_dojo(self, theorem: Theorem):
        context = self._new_dojo(self._pointer_for(theorem))
        try:
            dojo, root = context.__enter__()
        except Exception as exc:  # DojoInitError, and the assertions/OSErrors lean-dojo raises on a missing trace
            raise StatementError(f"LeanDojo cannot open {theorem.name}: {one_line(exc) or type(exc).__name__}") from exc
        self._context, self._dojo = context, dojo
        return root

    def _exit_dojo(self) -> None:
        context, self._context, self._dojo = self._context, None, None
        self._live = {}
        if context is not None:
            try:
                context.__exit__(None, None, None)
            except Exception:  # a dead process may fail to clean up; it is gone either way
                pass

    def _reach(self, path: tuple[str, ...]):
        """The TacticState for `path` in the current Dojo, replayed in a new one if the last one died."""
        if self._dojo is None:
            self.restarts += 1
            try:
                self._live = {(): self._enter_dojo(self._theorem)}
            except StatementError as exc:
                raise _Unreachable(f"cannot restart LeanDojo: {exc}") from exc
        if path in self._live:
            return self._live[path]
        known = known_prefix(path, self._live.__contains__)  # the root is always known here
        state = self._live[path[:known]]
        for depth in range(known, len(path)):
            try:
                result = self._step(state, path[depth])
            except self._timeout_errors + self._crash_errors as exc:
                raise _Unreachable(f"replaying {path[depth]!r} failed: {type(exc).__name__}") from exc
            if not isinstance(result, self._state_type):
                raise _Unreachable(f"replaying {path[depth]!r} did not reach the same state")
            state = result
            self._live[path[: depth + 1]] = state
        return state

    def _step(self, state, tactic: str):
        """run_tac; a timeout or crash ends this Dojo (the next call starts a new one) and is re-raised."""
        try:
            return self._dojo.run_tac(state, tactic)
        except self._timeout_errors + self._crash_errors:
            self._exit_dojo()
            raise

    def _run(self, path: tuple[str, ...], before, tactic: str) -> TacticResult:
        try:
            result = self._step(before, tactic)
        except self._timeout_errors:
            return TimedOut(float(self._timeout))
        except self._crash_errors as exc:
            return Failed(f"LeanDojo crashed: {one_line(exc) or type(exc).__name__}")
        new_path = path + (tactic,)
        if isinstance(result, self._finished):
            return Proved(new_path)
        if isinstance(result, self._state_type):
            self._live[new_path] = result
            return Advanced(ProofState(handle=self._paths.handle(new_path), goals=result.pp, depth=len(new_path)))
        if isinstance(result, self._given_up):
            return Failed("the tactic gave up the proof (sorry)")
        if isinstance(result, self._timeout_results):
            return TimedOut(float(self._timeout))
        if isinstance(result, self._error_results):
            return Failed(one_line(getattr(result, "error", result)))
        return Failed(f"unexpected LeanDojo result: {type(result).__name__}")

    def _replay_verdict(self, theorem: Theorem, tactics: tuple[str, ...]) -> Verdict:
        context = self._new_dojo(self._pointer_for(theorem))
        try:
            dojo, state = context.__enter__()
        except Exception as exc:
            return Verdict(False, f"checker failed: {one_line(exc)}")
        try:
            for i, tactic in enumerate(tactics):
                try:
                    result = dojo.run_tac(state, tactic)
                except Exception as exc:
                    return Verdict(False, f"replaying {tactic!r} failed: {one_line(exc) or type(exc).__name__}")
                if isinstance(result, self._finished):
                    if i == len(tactics) - 1:
                        return Verdict(True, "replayed by LeanDojo in a fresh process")
                    return Verdict(False, "the proof finishes before its last tactic")
                if not isinstance(result, self._state_type):
                    return Verdict(False, f"replaying {tactic!r} failed: {one_line(getattr(result, 'error', type(result).__name__))}")
                state = result
            return Verdict(False, "the tactics leave goals open")
        finally:
            try:
                context.__exit__(None, None, None)
            except Exception:
                pass


class _Unreachable(Exception):
    """A state could not be re-created in a new Dojo."""
