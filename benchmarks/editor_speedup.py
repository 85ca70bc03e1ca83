"""Benchmark: how much sooner an editor gets its suggestions from the shipped engine than from today's path.

value = p50 of one llmstep request (`POST /`, n = 8) to a `prover serve` server on `--engine torch` / the same
p50 on `--engine auto` (what `--model default` runs), target >= 3.33 (the shipped engine's p50 at most 0.3x
today's). Two SuggestionServers on loopback, each over the default model with the CLI's settings, answer the same
REQUESTS distinct goals (miniF2F-rocq valid opening goals, so no answer comes from a cache), one request to each in
turn, after WARMUP requests each; wall time at the client. Both p50s go to stderr.
"""
from __future__ import annotations

import statistics
import sys
import time

TARGET = ">=3.33"
REQUESTS = 16
WARMUP = 2
N = 8


def editor_speedup() -> tuple[float, str]:
    import prover  # noqa: F401  (before torch: OpenMP's wait policy)
    import contextlib

    import httpx

    from benchmarks.serve_latency import running_server
    from prover.models import ModelSettings, load_generator
    from prover.serve import ServeConfig

    goals = _valid_goals(WARMUP + REQUESTS)
    config = ServeConfig(backend="rocq", num_candidates=N, request_timeout=600)
    times: dict[str, list[float]] = {"torch": [], "auto": []}
    with contextlib.ExitStack() as stack:
        clients = {}
        for engine in times:
            generator = load_generator("default", settings=ModelSettings(engine=engine))
            url, _ = stack.enter_context(running_server(generator, config))
            clients[engine] = stack.enter_context(httpx.Client(base_url=url, timeout=600))
        for i, goal in enumerate(goals):
            for engine, client in clients.items():
                started = time.perf_counter()
                reply = client.post("/", json={"tactic_state": goal, "prefix": ""})
                elapsed = time.perf_counter() - started
                reply.raise_for_status()
                if i >= WARMUP:
                    times[engine].append(elapsed)
    p50 = {engine: statistics.median(got) for engine, got in times.items()}
    print(f"editor_speedup: llmstep request p50 {p50['torch'] * 1000:.0f} ms on torch, {p50['auto'] * 1000:.0f} ms "
          f"on the shipped engine ({REQUESTS} requests each, n={N})", file=sys.stderr)
    return p50["torch"] / p50["auto"], TARGET


def _valid_goals(count: int) -> list[str]:
    """Opening goals of the first `count` miniF2F-rocq valid theorems, as coqtop shows them."""
    from benchmarks.search_prompts import root_states

    return [state for _, state in root_states(count)]
