"""Benchmark: RocqBackend.run_tactic round-trip time over a raw coqtop round-trip for the same tactics.

value = total backend time / total raw time (median over blocks), target <= 1.15.

Raw: a bare `Coqtop` sent the plain tactic sentence (no `Timeout` wrapper), waiting for its prompt.
Backend: `RocqBackend.run_tactic` along a linear path, each tactic applied to the state the previous
one returned, so the backend never backs up or replays: what is measured is its per-step cost
(sentence checks, `Timeout N` wrapper, path bookkeeping, goal cleaning).

The two run in separate coqtop processes, interleaved step by step so that load from other processes
hits both alike. Each block is one linear path from the theorem's root, BLOCK_DEPTH steps deep (a deep
search path); the value is the median of the per-block time ratios.
"""
from __future__ import annotations

import statistics
import sys
import time

from coq_env.backend import AUTOMATION_IMPORT, RocqBackend
from coq_env.coqtop import Coqtop
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


def rocq_step_overhead() -> tuple[float, str]:
    raw = Coqtop()
    backend = RocqBackend()
    try:
        # The raw process loads what the backend loads, so both coqtops hold the same environment.
        for sentence in [AUTOMATION_IMPORT, THEOREM.statement, "Proof."]:
            reply = raw.send(sentence, 120.0)
            assert reply.error is None, reply.error
        raw_root = raw.state_id

        ratios, raw_total, backend_total = [], 0.0, 0.0
        for _ in range(BLOCKS):
            raw.send(f"BackTo {raw_root}.", 60.0)
            state = backend.open(THEOREM)
            raw_block = backend_block = 0.0
            for step in range(BLOCK_DEPTH):
                tactic = CYCLE[step % len(CYCLE)]
                # Alternate which side goes first, so neither always runs right after the other.
                for side in ("raw", "backend") if step % 2 == 0 else ("backend", "raw"):
                    if side == "raw":
                        t0 = time.perf_counter()
                        reply = raw.send(tactic, 60.0)
                        raw_block += time.perf_counter() - t0
                        assert reply.error is None, reply.error
                    else:
                        t0 = time.perf_counter()
                        outcome = backend.run_tactic(state, tactic, TACTIC_TIMEOUT)
                        backend_block += time.perf_counter() - t0
                        assert isinstance(outcome, Advanced), outcome
                        state = outcome.state
            ratios.append(backend_block / raw_block)
            raw_total += raw_block
            backend_total += backend_block
    finally:
        raw.close()
        backend.close()

    steps = BLOCKS * BLOCK_DEPTH
    value = statistics.median(ratios)
    print(
        f"rocq_step_overhead: {steps} steps each; raw {raw_total / steps * 1e6:.0f} us/step, "
        f"backend {backend_total / steps * 1e6:.0f} us/step; total ratio {backend_total / raw_total:.3f}, "
        f"block ratios min {min(ratios):.3f} median {value:.3f} max {max(ratios):.3f}",
        file=sys.stderr,
    )
    return value, TARGET
