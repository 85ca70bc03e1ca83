"""Benchmark: HFGenerator's batched sampling throughput over raw `model.generate` with the same settings.

value = HFGenerator generated tokens/s / `model.generate` generated tokens/s, target >= 0.95, where both sample
N per state for the same STATES prompts (the root states of the first miniF2F-rocq valid theorems, rendered with
the default rocq-proofstep template), at the same temperature / top-p (top-k off), max_new_tokens, stop tokens
(every token holding a line break, and end-of-text) and first-token suppression:
  * HFGenerator: one `generate_batch` call over the states (n=N each);
  * raw: one `model.generate` call on a stock copy of the model (default sdpa attention) with the prompts
    left-padded, `num_return_sequences=N`, nothing else.
A generated token is one sampled up to and including a sample's stop token (or all of them if it never stops),
counted the same way for both. The two alternate (ours, raw, ours) so load from other processes hits both alike;
absolute rates go to stderr. Torch runs on one thread here: on a small shared machine more threads than free
cores make timings erratic, and both sides get the same. STATES is 4, not 8, only to keep the raw side's run
short (about a minute on 2 CPU cores).

Where the difference comes from: `generate` repeats each prompt N times before running it (N times the prompt
compute, which on a CPU is most of the work), runs the template's head again for every prompt, keeps finished
samples in the batch until the longest ends, and copies every row's prompt key/values at each step; HFGenerator
runs the head once per generator, each prompt once, and lets its N samples attend to that one copy.
"""
from __future__ import annotations

import sys
import time

TARGET = ">=0.95"
STATES = 4
N = 8


def sampling_vs_generate() -> tuple[float, str]:
    import torch
    from transformers import AutoModelForCausalLM

    from benchmarks.search_prompts import root_states
    from prover.generators import GenerationRequest
    from model_store import default_model_dir
    from prover.hf_generator import HFGenerator

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = HFGenerator(default_model_dir())
        raw = AutoModelForCausalLM.from_pretrained(default_model_dir(), dtype=generator.model.dtype).eval()
        states = root_states(STATES)
        requests = [GenerationRequest(t, s, N) for t, s in states]
        lm = generator.lm
        prompts = [lm.prompt_ids(generator.build_prompt(t, s)) for t, s in states]
        longest = max(map(len, prompts))
        pad = lm.pad_token_id
        input_ids = torch.tensor([[pad] * (longest - len(p)) + p for p in prompts])
        attention_mask = torch.tensor([[0] * (longest - len(p)) + [1] * len(p) for p in prompts])
        stop_ids = sorted(lm.stop_rules(generator.template.stop).token_ids)
        stops = set(stop_ids)

        def ours() -> int:
            before = generator.generated_tokens
            generator.generate_batch(requests)
            return generator.generated_tokens - before

        def theirs() -> int:
            with torch.inference_mode():
                out = raw.generate(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    do_sample=True,
                    temperature=generator.temperature,
                    top_p=generator.top_p,
                    top_k=0,
                    max_new_tokens=generator.max_new_tokens,
                    num_return_sequences=N,
                    eos_token_id=stop_ids,
                    pad_token_id=pad,
                    begin_suppress_tokens=lm.blank_start.tolist(),
                )
            count = 0
            for row in out[:, longest:].tolist():
                end = next((i for i, token in enumerate(row) if token in stops), None)
                count += len(row) if end is None else end + 1
            return count

        totals = {"ours": [0, 0.0], "raw": [0, 0.0]}
        for name, fn in (("ours", ours), ("raw", theirs), ("ours", ours)):
            started = time.perf_counter()
            tokens = fn()
            totals[name][0] += tokens
            totals[name][1] += time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)

    rate = {name: tokens / seconds for name, (tokens, seconds) in totals.items()}
    print(
        f"sampling_vs_generate: {STATES} states x n={N}, max_new_tokens={generator.max_new_tokens}, prompts "
        f"{min(map(len, prompts))}-{longest} tokens; HFGenerator.generate_batch {rate['ours']:.1f} tok/s "
        f"({totals['ours'][0]} tokens in {totals['ours'][1]:.1f}s over 2 runs), raw model.generate "
        f"{rate['raw']:.1f} tok/s ({totals['raw'][0]} tokens in {totals['raw'][1]:.1f}s); shared-prefix attention "
        f"{'on' if lm.shared_prefix else 'off'}",
        file=sys.stderr,
    )
    return rate["ours"] / rate["raw"], TARGET
