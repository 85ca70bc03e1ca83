"""Benchmark: 8 concurrent searches sharing one GeneratorService over the same 8 searches run one after another.

value = wall time of the 8 searches run sequentially with the plain HFGenerator / wall time of the same 8 run
concurrently (one thread each) through one GeneratorService over that generator, target >= 2.

Both arms: the default model (SmolLM2-135M, seeded so that both arms see the same candidates and walk the same
search trees), THEOREMS miniF2F-rocq valid theorems it does not prove, each search with its own RocqBackend
(started and warmed up before timing), the same SearchConfig: MAX_EXPANSIONS expansions, a budget in seconds
far above what is needed, automation tactics on. What concurrency buys: the service coalesces the states that
the searches ask about at the same time into one batched model call (up to 8 states x 8 samples), and one
search's proof-assistant work overlaps the others' model time. Torch runs on one thread (see
sampling_vs_generate). Per-arm details (expansions, tactics, batch sizes) go to stderr.
"""
from __future__ import annotations

import sys
import threading
import time

TARGET = ">=2"
THEOREMS = 8
MAX_EXPANSIONS = int(__import__("os").environ.get("E", 2))
MAX_NEW_TOKENS = int(__import__("os").environ.get("M", 48))
MAX_WAIT_MS = float(__import__('os').environ.get('W', 10))


def coalescing_speedup() -> tuple[float, str]:
    import torch

    from coq_env.backend import RocqBackend
    from coq_env.minif2f import load_split
    from prover.batching import GeneratorService
    from prover.hf_generator import HFGenerator, default_model_dir
    from prover.search import SearchConfig, best_first_search

    config = SearchConfig(max_expansions=MAX_EXPANSIONS, budget_seconds=3600.0, tactic_timeout=2.0, automation=True)
    theorems = list(load_split("valid")[:THEOREMS])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    backends = [RocqBackend() for _ in theorems]
    try:
        generator = HFGenerator(default_model_dir(), seed=0, max_new_tokens=MAX_NEW_TOKENS, dtype=__import__("os").environ.get("D"))
        for theorem, backend in zip(theorems, backends):
            backend.open(theorem)  # coqtop started, the theorem's libraries loaded: not what is measured

        def sequential():
            return [best_first_search(t, b, generator, config, verify=False) for t, b in zip(theorems, backends)]

        def concurrent():
            results: list = [None] * len(theorems)
            with GeneratorService(generator, max_batch=8, max_wait_ms=MAX_WAIT_MS) as service:

                def search(i):
                    try:
                        results[i] = best_first_search(theorems[i], backends[i], service, config, verify=False)
                    except BaseException as exc:  # noqa: BLE001 - re-raised below, in the caller's thread
                        results[i] = exc

                workers = [threading.Thread(target=search, args=(i,)) for i in range(len(theorems))]
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
                stats = service.stats()
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            return results, stats

        started = time.perf_counter()
        seq_results = sequential()
        seq_seconds = time.perf_counter() - started
        started = time.perf_counter()
        con_results, stats = concurrent()
        con_seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
        for backend in backends:
            backend.close()

    def summary(results):
        return (
            f"{sum(r.expansions for r in results)} expansions, {sum(r.tactics_run for r in results)} tactics, "
            f"model {sum(r.model_seconds for r in results):.1f}s, proof assistant {sum(r.env_seconds for r in results):.1f}s "
            f"(summed over searches), statuses {sorted(r.status.value for r in results)}"
        )

    print(
        f"coalescing_speedup: {len(theorems)} searches x {MAX_EXPANSIONS} expansions; sequential {seq_seconds:.1f}s: "
        f"{summary(seq_results)}; concurrent {con_seconds:.1f}s: {summary(con_results)}; service: "
        f"{stats['batches']} batches, mean batch {stats['mean_batch_size']:.2f} states (size: count "
        f"{stats['batch_sizes']}), {stats['cache_hits']} cache hits, "
        f"model {stats['model_seconds']:.1f}s",
        file=sys.stderr,
    )
    return seq_seconds / con_seconds, TARGET
