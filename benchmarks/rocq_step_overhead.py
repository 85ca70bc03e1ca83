"""Benchmark: RocqBackend.run_tactic round-trip time over a raw coqtop round-trip for the same tactics.

value = median over steps of (backend step time / raw step time), target <= 1.15.

Raw: a bare `Coqtop` sent the plain tactic sentence (no `Timeout` wrapper), waiting for its prompt.
Backend: `RocqBackend.run_tactic` along a linear path, each tactic applied to the state the previous
one returned, so the backend never backs up or replays: what is measured is its per-step cost
(sentence checks, `Timeout N` wrapper, path bookkeeping, goal cleaning).

The two run in separate coqtop processes, interleaved step by step: each backend step is paired with the
raw step of the same tactic run right beside it, so load from other processes hits both alike, and the
median of the paired ratios ignores the steps a busy machine stalls. Each block is one linear path from
the theorem's root, BLOCK_DEPTH steps deep (a deep search path). The total-time ratio goes to stderr.
"""
from __future__ import annotations

import statistics
import sys
import time

import psutil

from coq_env.backend import AUTOMATION_IMPORT, RocqBackend
from coq_env.coqtop import Coqtop
from prover.sandbox import payload_pid
from prover.types import Advanced, Theorem

TARGET = "<=1.15"
BLOCKS = 20
BLOCK_DEPTH = 100
TACTIC_TIMEOUT = 5.0  # the search's default per-tactic limit, so the backend wraps as it does in search

THEOREM = Theorem(
    name="bench_steps",
    statement="Theorem bench_steps : forall n : nat, n + 0 = n.",
    header="",
    backend="rocq",
)
# Cheap tactics that all succeed and change the goal; the cycle returns to the root goal.
CYCLE = ["intros n.", "assert (H : n = n) by reflexivity.", "clear H.", "revert n."]


def _coqtop_cpu_seconds(pid: int | None) -> float:
    """CPU time a process has used; NaN where unavailable. Diagnostics only."""
    if pid is None:
        return float("nan")
    try:
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    except psutil.Error:
        return float("nan")


def rocq_step_overhead() -> tuple[float, str]:
    raw = Coqtop()
    backend = RocqBackend()
    try:
        # The raw process loads what the backend loads, so both coqtops hold the same environment.
        for sentence in [AUTOMATION_IMPORT, THEOREM.statement, "Proof."]:
            reply = raw.send(sentence, 120.0)
            if reply.error:
                raise RuntimeError(f"raw coqtop refused {sentence!r}: {reply.error}")
        raw_root = raw.state_id

        raw_times, backend_times = [], []
        # CPU split (stderr only), to tell the Python side's cost from coqtop's: process time around each call,
        # and each coqtop's CPU over the timed steps of a block.
        raw_python_cpu = backend_python_cpu = 0.0
        raw_coqtop_cpu = backend_coqtop_cpu = 0.0
        for _ in range(BLOCKS):
            raw.send(f"BackTo {raw_root}.", 60.0)
            state = backend.open(THEOREM)
            backend_proc = getattr(getattr(backend, "_coq", None), "proc", None)  # private: diagnostics only
            pids = (payload_pid(raw.proc), payload_pid(backend_proc) if backend_proc else None)  # coqtop, not bwrap
            coqtop_cpu0 = [_coqtop_cpu_seconds(pid) for pid in pids]
            for step in range(BLOCK_DEPTH):
                tactic = CYCLE[step % len(CYCLE)]
                # Alternate which side goes first, so neither always runs right after the other.
                for side in ("raw", "backend") if step % 2 == 0 else ("backend", "raw"):
                    if side == "raw":
                        t0, c0 = time.perf_counter(), time.process_time()
                        reply = raw.send(tactic, 60.0)
                        raw_times.append(time.perf_counter() - t0)
                        raw_python_cpu += time.process_time() - c0
                        if reply.error:
                            raise RuntimeError(f"raw coqtop refused {tactic!r}: {reply.error}")
                    else:
                        t0, c0 = time.perf_counter(), time.process_time()
                        outcome = backend.run_tactic(state, tactic, TACTIC_TIMEOUT)
                        backend_times.append(time.perf_counter() - t0)
                        backend_python_cpu += time.process_time() - c0
                        if not isinstance(outcome, Advanced):
                            raise RuntimeError(f"backend did not advance on {tactic!r}: {outcome}")
                        state = outcome.state
            raw_coqtop_cpu += _coqtop_cpu_seconds(pids[0]) - coqtop_cpu0[0]
            backend_coqtop_cpu += _coqtop_cpu_seconds(pids[1]) - coqtop_cpu0[1]
    finally:
        raw.close()
        backend.close()

    value = statistics.median([b / r for b, r in zip(backend_times, raw_times)])
    raw_median, backend_median = statistics.median(raw_times), statistics.median(backend_times)
    n = len(raw_times)
    print(
        f"rocq_step_overhead: {n} steps each; median raw {raw_median * 1e6:.0f} us/step, "
        f"backend {backend_median * 1e6:.0f} us/step (+{(backend_median - raw_median) * 1e6:.0f} us); "
        f"total-time ratio {sum(backend_times) / sum(raw_times):.3f}; median paired ratio {value:.3f}; "
        f"CPU per step: python raw {raw_python_cpu / n * 1e6:.0f} us, backend {backend_python_cpu / n * 1e6:.0f} us; "
        f"coqtop raw {raw_coqtop_cpu / n * 1e6:.0f} us, backend {backend_coqtop_cpu / n * 1e6:.0f} us",
        file=sys.stderr,
    )
    return value, TARGET
