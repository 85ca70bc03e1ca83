"""Benchmark: how much slower the default model's calls get when one other process keeps a core busy.

value = model time per call with one competing busy process / model time per call on a quiet machine, target
<= 2.5. The calls are the editor's and the search's unit: one miniF2F-rocq valid root state (rendered with the
default template), n = 8, the default generator's settings, seeded, so the quiet and the busy calls sample exactly
the same tokens. The measurement runs in a fresh process started as `prover` starts (`python -m
benchmarks.contention_slowdown`: prover imported before torch, the model on the threads and engine it picks
itself), alternating quiet and busy calls; the busy neighbour is a Python loop the benchmark starts before each
busy call and kills after it (it also ends by itself after NEIGHBOUR_S seconds).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

TARGET = "<=2.5"
ROUNDS = 4
WARMUP = 2
NEIGHBOUR_S = 120  # a neighbour left behind by a killed benchmark stops by itself


def contention_slowdown() -> tuple[float, str]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.contention_slowdown"], capture_output=True, text=True,
                          timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"contention_slowdown's measuring process failed: {done.stderr.strip()[-400:]}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"contention_slowdown: {measured}", file=sys.stderr)
    return measured["busy_s"] / measured["quiet_s"], TARGET


def _busy_neighbour() -> subprocess.Popen:
    loop = f"import time\nend = time.monotonic() + {NEIGHBOUR_S}\nwhile time.monotonic() < end:\n    pass\n"
    return subprocess.Popen([sys.executable, "-c", loop])


def _measure() -> dict:
    import prover  # noqa: F401  (first, as the `prover` command: OpenMP's wait policy is set before torch loads)
    from benchmarks.search_prompts import root_state_prompts
    from prover.models import load_generator

    generator = load_generator("default")
    lm = generator.lm
    prompt = root_state_prompts(generator, 1)

    def call() -> float:
        started = time.perf_counter()
        lm.complete(prompt, 8, generator.max_tokens, generator.temperature, generator.template.stop,
                    top_p=generator.top_p, seed=1, nonblank_start=True)
        return time.perf_counter() - started

    for _ in range(WARMUP):
        call()
    quiet = busy = 0.0
    for _ in range(ROUNDS):
        quiet += call()
        neighbour = _busy_neighbour()
        try:
            time.sleep(0.3)  # let it take its core
            busy += call()
        finally:
            neighbour.kill()
            neighbour.wait()
    return {"engine": lm.name, "threads": getattr(lm, "threads", None), "calls": ROUNDS,
            "quiet_s": round(quiet / ROUNDS, 3), "busy_s": round(busy / ROUNDS, 3)}


if __name__ == "__main__":
    print(json.dumps(_measure()))
