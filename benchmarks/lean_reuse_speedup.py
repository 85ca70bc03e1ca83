"""Benchmark: header-keyed process reuse over a fresh REPL process per theorem, in proof-state steps per second.

value = reuse steps/s / fresh steps/s, target >= 1.4. Needs a real Lean (`lake`, `lean`, a configured
project); raises Skipped where there is none.

Both arms run the same THEOREMS theorems through LeanBackend, each opened and walked STEPS tactic steps
down one path (cheap `have`s that each leave a goal, then `omega`), and count steps over the arm's whole
wall time, opening included:
  reuse: the default pool, one process per header: the header (`import Mathlib` and the rest of the
         DeepSeek-Prover miniF2F header, or a core-only header where the project has no Mathlib) is
         elaborated once, every theorem on its env;
  fresh: a pool that recycles on every open without pickling: a new process, and the header elaborated
         again, per theorem.
The arms alternate ROUNDS times; the value is the median of the per-round ratios.
"""
from __future__ import annotations

import shutil
import statistics
import sys
import time

from benchmarks import Skipped
from prover.types import Advanced, BackendUnavailable, Proved, StatementError, Theorem

TARGET = ">=1.4"
ROUNDS = 3
THEOREMS = 4
STEPS = 8
STEP_TIMEOUT = 60.0
MATHLIB_HEADER = "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n\n"
CORE_HEADER = "import Lean\n\nset_option maxHeartbeats 400000\n\nopen Nat\n\n"


def _theorems(header: str) -> list[Theorem]:
    return [
        Theorem(name=f"reuse_{i}", statement=f"theorem reuse_{i} (a b : Nat) (h : a = b) : a + {i} = b + {i}",
                header=header, backend="lean")
        for i in range(THEOREMS)
    ]


def _steps_per_second(backend, theorems: list[Theorem]) -> float:
    steps = 0
    t0 = time.perf_counter()
    for theorem in theorems:
        state = backend.open(theorem)
        for j in range(STEPS):
            outcome = backend.run_tactic(state, f"have h{j} : a = a := rfl", STEP_TIMEOUT)
            if not isinstance(outcome, Advanced):
                raise RuntimeError(f"{theorem.name}: step {j} did not advance: {outcome}")
            state, steps = outcome.state, steps + 1
        if not isinstance(backend.run_tactic(state, "omega", STEP_TIMEOUT), Proved):
            raise RuntimeError(f"{theorem.name}: omega did not close it")
        steps += 1
    return steps / (time.perf_counter() - t0)


def lean_reuse_speedup() -> tuple[float, str]:
    missing = [tool for tool in ("lake", "lean") if shutil.which(tool) is None]
    if missing:
        raise Skipped(f"no lean/lake on PATH ({', '.join(missing)} missing): run `prover setup lean`", TARGET)
    from lean_env.backend import LeanBackend
    from lean_env.pool import LeanPool
    from lean_env.repl import LeanRepl, find_project

    try:
        find_project()
    except BackendUnavailable as exc:
        raise Skipped(f"no Lean project: {exc}", TARGET) from exc

    header = MATHLIB_HEADER
    with LeanBackend() as probe:
        try:
            probe.open(_theorems(header)[0])
        except (StatementError, BackendUnavailable) as exc:
            print(f"lean_reuse_speedup: no Mathlib in the project ({exc}); core-only header", file=sys.stderr)
            header = CORE_HEADER
    theorems = _theorems(header)

    ratios = []
    for round_ in range(ROUNDS):
        rates = {}
        for arm in ("reuse", "fresh") if round_ % 2 == 0 else ("fresh", "reuse"):
            if arm == "reuse":
                pool = LeanPool(LeanRepl)
            else:
                pool = LeanPool(LeanRepl, recycle_after=0, pickle_headers=False)
            with pool, LeanBackend(pool=pool) as backend:
                rates[arm] = _steps_per_second(backend, theorems)
                starts = pool.starts
            print(f"lean_reuse_speedup: round {round_} {arm}: {rates[arm]:.2f} steps/s, {starts} processes", file=sys.stderr)
        ratios.append(rates["reuse"] / rates["fresh"])
    value = statistics.median(ratios)
    print(f"lean_reuse_speedup: ratios {[round(r, 2) for r in ratios]}, median {value:.2f}", file=sys.stderr)
    return value, TARGET


if __name__ == "__main__":
    print(lean_reuse_speedup())
