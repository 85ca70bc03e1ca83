"""Benchmark: scoring given candidate tactics with the prompt run once and shared, over a naive batched forward.

value = time of `prover.testing.score_tactics` / time of `score_shared` (here), target >= 5, both scoring the same
CANDIDATES (8 tactics) at the root state of a miniF2F-rocq valid theorem with the default model (HFGenerator):
  * score_shared: the prompt's own tokens run once after the template head's cached key/values; the 8 candidates'
    tokens then go through the model as one batch of 8 rows attending to that single prompt cache (cascade
    attention, prover.cascade_attention);
  * score_tactics: one plain batched forward over prompt + candidate for each of the 8 (left-padded), no cache.
Both give the same log-probs (checked here to 1e-3). The two alternate over ROUNDS rounds; the value is the
ratio of their total times. Torch runs on one thread (see sampling_vs_generate).
"""
from __future__ import annotations

import copy
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


def score_shared(generator, theorem, state_text: str, tactics: list[str], chunk: int = 32):
    """What `prover.testing.score_tactics` gives (in the order given), with the prompt run once: its key/values are
    shared by all the candidates, whose own tokens go through the model in one batch (of at most `chunk`)."""
    import torch
    from transformers import DynamicCache

    from prover.cascade_attention import SharedPrefix
    from prover.generators import Candidate, candidate_score

    if not tactics:
        return []
    lm, stop = generator.lm, generator.template.stop
    suffix = "\n" if any(s.strip("\r\n") == "" for s in stop) else "\n" + next(s for s in stop if s.strip("\r\n"))
    continuations = [lm.tokenizer(t.strip() + suffix, add_special_tokens=False)["input_ids"] for t in tactics]
    with torch.inference_mode():
        cache, valid, last_logits, lengths = lm.prefill([lm.encode(generator.build_prompt(theorem, state_text))])
        first = torch.log_softmax(last_logits[0].float(), dim=-1)
        logprobs: list[float] = []
        for at in range(0, len(continuations), chunk):
            group = continuations[at: at + chunk]
            k, longest = len(group), max(len(c) for c in group)
            ids = torch.tensor([c + [lm.pad_token_id] * (longest - len(c)) for c in group], device=lm.device)
            positions = (lengths[0] + torch.arange(longest, device=lm.device)).expand(k, -1)
            if lm.shared_prefix:
                output = lm.model(input_ids=ids, position_ids=positions, past_key_values=DynamicCache(), use_cache=True,
                                  llemma_prefix=SharedPrefix(cache, valid, [0] * k))
            else:
                repeated = copy.deepcopy(cache)
                repeated.batch_repeat_interleave(k)
                mask = torch.cat([valid.expand(k, -1), torch.ones_like(ids, dtype=torch.bool)], dim=1)
                output = lm.model(input_ids=ids, attention_mask=mask.long(), position_ids=positions,
                                  past_key_values=repeated, use_cache=True)
            # A continuation's first token comes from the prompt's last logits, token j > 0 from its own at j - 1.
            following = torch.log_softmax(output.logits[:, :-1].float(), dim=-1) if longest > 1 else None
            for i, c in enumerate(group):
                total = first[c[0]]
                if len(c) > 1:
                    index = torch.tensor(c[1:], device=lm.device)
                    total = total + following[i, : len(c) - 1].gather(1, index[:, None]).sum()
                logprobs.append(float(total))
    return [Candidate(t.strip(), candidate_score(lp, len(c), generator.scoring), lp, len(c))
            for t, c, lp in zip(tactics, continuations, logprobs)]


def prefix_scoring_speedup() -> tuple[float, str]:
    import torch

    from benchmarks.search_prompts import root_states
    from prover.testing import score_tactics
    from model_store import default_model_dir
    from prover.hf_generator import HFGenerator

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # LLEMMA_BENCH_DTYPE=float32 measures the float32 path on a machine whose default is bfloat16 (AMX).
        generator = HFGenerator(default_model_dir(), dtype=os.environ.get("LLEMMA_BENCH_DTYPE") or None)
        theorem, state = root_states(1)[0]
        timings = {"shared": 0.0, "naive": 0.0}
        for i in range(ROUNDS):
            for kind in ("shared", "naive") if i % 2 == 0 else ("naive", "shared"):
                started = time.perf_counter()
                scored = (score_shared if kind == "shared" else score_tactics)(generator, theorem, state, CANDIDATES)
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
        prompt_tokens = len(generator.lm.prompt_ids(generator.build_prompt(theorem, state)))
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
