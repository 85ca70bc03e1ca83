"""Benchmarks: the editor suggestion server's latency for one request (p50 and p95, milliseconds).

serve_p50_ms / serve_p95_ms: `prover serve`'s server (SuggestionServer on uvicorn, loopback) over the default
model (SmolLM2-135M, seeded; the CLI's defaults: temperature 0.8, up to 48 new tokens, the rocq-proofstep
prompt), one client sending REQUESTS requests one after another to POST /suggest with n = 8, each for a
different state (so the cache never answers): the opening goals of the miniF2F-rocq valid theorems, written as
coqtop shows them. Wall time per request at the client, after WARMUP requests. Target "report": the numbers are
what an editor user waits, there is no threshold. The two metrics share one measurement (run once per process).
"""
from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time

TARGET = "report"
REQUESTS = 20
WARMUP = 2
N = 8
DTYPE = os.environ.get("LLEMMA_BENCH_DTYPE") or None

_measured: dict[str, float] = {}


def rocq_goals(count: int, offset: int = 0) -> list[str]:
    """Distinct, realistic Rocq goal texts: miniF2F-rocq valid statements as opening goals."""
    import re

    from coq_env.minif2f import load_split

    goals = []
    theorems = list(load_split("valid")) + list(load_split("test"))
    for theorem in theorems[offset:]:
        body = re.sub(r"^\s*(Theorem|Lemma)\s+\S+\s*", "", " ".join(theorem.statement.split()))
        goals.append(f"1 goal\n  \n  ============================\n  {body.rstrip('.').lstrip(':').strip()}")
        if len(goals) == count:
            break
    while len(goals) < count:  # more than the benchmark has: vary the last ones
        goals.append(goals[len(goals) % max(1, len(theorems))] + f" (* {len(goals)} *)")
    return goals


def default_generator():
    from model_store import default_model_dir
    from prover.hf_generator import HFGenerator
    from prover.models import ModelSettings

    settings = ModelSettings()
    return HFGenerator(default_model_dir(), seed=0, max_new_tokens=settings.max_tokens,
                       temperature=settings.temperature, dtype=DTYPE)


@contextlib.contextmanager
def running_server(generator, config):
    """A SuggestionServer on uvicorn on a free loopback port, in a thread; yields its base URL and the server."""
    from prover.serve import SuggestionServer
    from prover.serve_runners import serve_in_thread

    server = SuggestionServer(generator, config)
    with serve_in_thread(server) as port:
        yield f"http://127.0.0.1:{port}", server


def _measure() -> dict[str, float]:
    if _measured:
        return _measured
    import httpx

    from prover.serve import ServeConfig

    generator = default_generator()
    goals = rocq_goals(WARMUP + REQUESTS)
    times = []
    suggestions = []
    with running_server(generator, ServeConfig(backend="rocq", num_candidates=N, request_timeout=600)) as (url, server):
        with httpx.Client(base_url=url, timeout=600) as client:
            for i, goal in enumerate(goals):
                started = time.perf_counter()
                r = client.post("/suggest", json={"backend": "rocq", "state": goal, "prefix": "", "n": N})
                elapsed = time.perf_counter() - started
                r.raise_for_status()
                if i >= WARMUP:
                    times.append(elapsed * 1000)
                    suggestions.append(len(r.json()["suggestions"]))
        stats = server.service.stats()
    times.sort()
    p50 = statistics.median(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(f"serve latency: {len(times)} requests (n={N}, dtype {generator.model.dtype}, max_new_tokens "
          f"{generator.max_new_tokens}): p50 {p50:.0f} ms, p95 {p95:.0f} ms, min {times[0]:.0f} ms, max "
          f"{times[-1]:.0f} ms; mean suggestions {statistics.mean(suggestions):.1f}; service {stats}", file=sys.stderr)
    _measured.update(p50=p50, p95=p95)
    return _measured


def serve_p50_ms() -> tuple[float, str]:
    return _measure()["p50"], TARGET


def serve_p95_ms() -> tuple[float, str]:
    return _measure()["p95"], TARGET
