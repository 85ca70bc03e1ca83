"""Benchmarks: the shipped engine's sampling throughput over today's transformers path, side by side with every
other engine that loads here.

editor_sampling_speedup = tokens/s of `--engine auto` (what `--model default` runs) / tokens/s of `--engine torch`,
for one state x 8 samples (an editor's request), target >= 3; search_sampling_speedup: the same for 8 states x 8
samples (a batched search step), target >= 2. The states are miniF2F-rocq valid root states rendered with the
default model's template; both calls use the default generator's settings (temperature 0.8, top-p 0.95, up to its
max tokens, stop at the line break, first token not blank). One process holds every engine that loads and calls
them in turn, ROUNDS times, so load from other processes hits them alike; each engine's rates go to stderr (the
README's side-by-side table). A generated token is one sampled up to and including its stop token.
"""
from __future__ import annotations

import json
import sys
import time

TARGETS = {"1x8": ">=3", "8x8": ">=2"}
ROUNDS = 3
N = 8

_measured: dict[str, dict[str, float]] = {}


def _measure() -> dict[str, dict[str, float]]:
    if _measured:
        return _measured
    import prover  # noqa: F401  (before torch: OpenMP's wait policy)
    from benchmarks.search_prompts import root_state_prompts
    from model_store import ModelLoadError
    from prover.engines import AUTO_ORDER, ENGINES, load_language_model
    from prover.adapters import default_model_for
    from prover.models import load_generator

    generator = load_generator("default")
    folder = default_model_for("rocq")
    engines = {"torch": load_language_model(folder, "torch")}
    for name in ENGINES:
        if name != "torch":
            try:
                engines[name] = load_language_model(folder, name)
            except (ModelLoadError, ImportError) as error:
                print(f"sampling speedups: engine {name} not measured: {str(error).splitlines()[0]}", file=sys.stderr)
    for lm in engines.values():
        lm.share_prefix(generator.template.prefix)
    prompts = root_state_prompts(generator, N)
    cases = {"1x8": prompts[:1], "8x8": prompts}
    totals = {(engine, case): [0, 0.0] for engine in engines for case in cases}
    for round_ in range(ROUNDS + 1):  # the first round warms every engine up and is not counted
        for case, batch in cases.items():
            for name, lm in engines.items():
                before, started = lm.generated_tokens, time.perf_counter()
                lm.complete(batch, N, generator.max_tokens, generator.temperature, generator.template.stop,
                            top_p=generator.top_p, nonblank_start=True)
                if round_:
                    totals[name, case][0] += lm.generated_tokens - before
                    totals[name, case][1] += time.perf_counter() - started
    rates = {case: {name: totals[name, case][0] / totals[name, case][1] for name in engines} for case in cases}
    shipped = next(name for name in AUTO_ORDER if name in engines)
    for (name, case), (tokens, seconds) in totals.items():
        print(json.dumps({"engine": name, "case": case, "s_per_call": round(seconds / ROUNDS, 3),
                          "tok_per_s": round(tokens / seconds, 1)}), file=sys.stderr)
    _measured.update({case: {"shipped": rates[case][shipped], "torch": rates[case]["torch"]} for case in cases})
    return _measured


def editor_sampling_speedup() -> tuple[float, str]:
    rates = _measure()["1x8"]
    return rates["shipped"] / rates["torch"], TARGETS["1x8"]


def search_sampling_speedup() -> tuple[float, str]:
    rates = _measure()["8x8"]
    return rates["shipped"] / rates["torch"], TARGETS["8x8"]
