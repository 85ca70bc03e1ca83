"""Benchmark: scoring given candidate tactics with the prompt run once and shared, over a naive batched forward.

value = time of `HFGenerator.score_naive` / time of `HFGenerator.score`, target >= 5, both scoring the same
CANDIDATES (8 tactics) at the root state of a miniF2F-rocq valid theorem with the default model:
  * score: the prompt's own tokens run once after the template head's cached key/values; the 8 candidates'
    tokens then go through the model as one batch of 8 rows attending to that single prompt cache;
  * score_naive: one plain batched forward over prompt + candidate for each of the 8 (left-padded), no cache.
Both give the same log-probs (checked here to 1e-3). The two alternate over ROUNDS rounds; the value is the
ratio of their total times. Torch runs on one thread (see sampling_vs_generate).
"""
from __future__ import annotations

import os
import sys
import time

TARGET = ">=5"
ROUNDS = 4
CANDIDATES = [
    "intros x Hx.",
    "lia.",
    "nlinarith [sq_nonneg (x - 1)].",
    "unfold logb; field_simplify.",
    "rewrite Rmult_comm.",
    "apply Rle_antisym; lra.",
    "simpl. reflexivity.",
    "destruct (Rle_dec x 0) as [H|H]; nra.",
]


def prefix_scoring_speedup() -> tuple[float, str]:
    import torch

    from benchmarks.sampling_vs_generate import _root_states
    from prover.hf_generator import HFGenerator, default_model_dir

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # LLEMMA_BENCH_DTYPE=float32 measures the float32 path on a machine whose default is bfloat16 (AMX).
        generator = HFGenerator(default_model_dir(), dtype=os.environ.get("LLEMMA_BENCH_DTYPE") or None)
        theorem, state = _root_states(1)[0]
        timings = {"shared": 0.0, "naive": 0.0}
        for i in range(ROUNDS):
            for kind in ("shared", "naive") if i % 2 == 0 else ("naive", "shared"):
                started = time.perf_counter()
                scored = (generator.score if kind == "shared" else generator.score_naive)(theorem, state, CANDIDATES)
                timings[kind] += time.perf_counter() - started
                if kind == "shared":
                    shared = scored
                else:
                    naive = scored
        worst = max(abs(a.logprob - b.logprob) for a, b in zip(shared, naive))
        # bfloat16 keeps about 3 significant digits: two computation orders of a ~10-token log-prob sum differ by
        # tenths; float32 agrees to 1e-3.
        tolerance = 1e-3 if generator.model.dtype == torch.float32 else 0.5
        if worst > tolerance:
            raise RuntimeError(f"shared-prefix scores differ from the naive ones by {worst:g}")
        prompt_tokens = len(generator._head_ids) + len(generator._prompt_ids(theorem, state))
        tactic_tokens = sum(c.num_tokens for c in shared)
    finally:
        torch.set_num_threads(threads)
    print(
        f"prefix_scoring_speedup: {len(CANDIDATES)} candidates ({tactic_tokens} tokens) after a {prompt_tokens}-token "
        f"prompt, {ROUNDS} rounds: shared prompt cache {timings['shared'] / ROUNDS:.2f}s per scoring, naive batched "
        f"forward {timings['naive'] / ROUNDS:.2f}s; max |log-prob difference| {worst:.2e} ({generator.model.dtype})",
        file=sys.stderr,
    )
    return timings["naive"] / timings["shared"], TARGET
