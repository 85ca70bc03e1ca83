"""Benchmark: the suggestion server's throughput with 16 concurrent clients over its throughput with 1 client.

value = (requests per second with CLIENTS clients, each sending PER_CLIENT requests one after another) /
(requests per second with one client sending SINGLE requests one after another, a spread sample of the same
states; the cache is cleared between arms), target >= 2. Both arms: the
same server (`prover serve`'s SuggestionServer on uvicorn, loopback; its GeneratorService coalesces concurrent
requests into one batched model call, up to 16 states), the default model (SmolLM2-135M, seeded, the CLI's
defaults), POST /suggest with n = 8, every request for a different state so that the cache never answers. The
arms run single, concurrent, single, and the single arm's rate is the mean of its two runs, so that load from
other processes hits both alike. What concurrency buys is the model's batching: 16 states' samples decode as one
batch (on a small CPU a batched call costs about half of the calls it replaces, on a GPU little more than one).
"""
from __future__ import annotations

import asyncio
import sys
import time

TARGET = ">=2"
CLIENTS = 16
PER_CLIENT = 2
SINGLE = 8  # every (CLIENTS * PER_CLIENT / SINGLE)-th state of the concurrent arm's, so both arms see alike states
N = 8


def serve_16v1_throughput() -> tuple[float, str]:
    import httpx

    from benchmarks.serve_latency import default_generator, rocq_goals, running_server
    from prover.serve import ServeConfig

    generator = default_generator()
    pool = rocq_goals(CLIENTS * PER_CLIENT + 2)
    warmup, pool = pool[:2], pool[2:]
    spread = pool[:: max(1, len(pool) // SINGLE)][:SINGLE]
    config = ServeConfig(backend="rocq", num_candidates=N, request_timeout=600, max_batch=CLIENTS)

    async def client_run(client, goals, count):
        for _ in range(count):
            r = await client.post("/suggest", json={"backend": "rocq", "state": next(goals), "prefix": "", "n": N})
            r.raise_for_status()

    async def arm(url, states, clients, count):
        goals = iter(states)
        limits = httpx.Limits(max_connections=clients + 4)
        async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
            started = time.perf_counter()
            await asyncio.gather(*(client_run(client, goals, count) for _ in range(clients)))
            return clients * count / (time.perf_counter() - started)

    with running_server(generator, config) as (url, server):
        asyncio.run(arm(url, warmup, 1, 2))
        single_a = asyncio.run(arm(url, spread, 1, SINGLE))
        server.service.clear_cache()
        before = server.service.stats()
        concurrent = asyncio.run(arm(url, pool, CLIENTS, PER_CLIENT))
        after = server.service.stats()
        server.service.clear_cache()
        single_b = asyncio.run(arm(url, spread, 1, SINGLE))
        if server.service.stats()["cache_hits"]:
            raise RuntimeError("the cache answered a request: the arms must each run the model")
    single = (single_a + single_b) / 2
    batches = after["batches"] - before["batches"]
    print(f"serve throughput: 1 client {single_a:.2f} and {single_b:.2f} req/s ({SINGLE} requests each), "
          f"{CLIENTS} clients {concurrent:.2f} req/s ({CLIENTS}x{PER_CLIENT} requests in {batches} model calls, "
          f"mean batch {(after['batched_requests'] - before['batched_requests']) / max(1, batches):.1f}); "
          f"n={N}, dtype {generator.model.dtype}", file=sys.stderr)
    return concurrent / single, TARGET
