"""Benchmark: 8 concurrent searches sharing one GeneratorService over the same 8 searches run one after another.

value = wall time of the 8 searches run sequentially with the plain HFGenerator / mean wall time of the same 8
run concurrently (one thread each) through one GeneratorService over that generator, target >= 2.

Both arms: the default model (SmolLM2-135M, seeded so that both arms see the same candidates and walk the same
search trees), the first THEOREMS miniF2F-rocq valid theorems (it proves one of them, by automation at the root),
each search with its own RocqBackend (started and warmed up before timing), the same SearchConfig:
MAX_EXPANSIONS expansions, a budget in seconds far above what is needed, automation tactics on. The arms run
concurrent, sequential, concurrent so that load from other processes hits both alike. What concurrency buys:
the service coalesces the states the searches ask about into one call (up to 8 states x 8 samples decoding as
one batch), and one search's proof-assistant work overlaps the others' model time. The service waits up to
MAX_WAIT_MS for each next request: the searches' first requests come after their root's automation tactics,
spread over about a second; later, a batch goes as soon as every search is waiting on it. Torch runs on one
thread (see sampling_vs_generate). Per-arm details (expansions, tactics, batch sizes) go to stderr.

Why it can miss on a small CPU: running each state's prompt (about half of a batched call's time) is
compute-bound, so batching does not make it cheaper, and decoding 64 rows at once is compute-bound in float32
too; a batch of 8 states then costs about half of 8 single-state calls, not an eighth. With
LLEMMA_BENCH_DTYPE=bfloat16 (a CPU with AMX, or a GPU) the batched call is relatively cheaper.
"""
from __future__ import annotations

import os
import sys
import threading
import time

TARGET = ">=2"
THEOREMS = 8
MAX_EXPANSIONS = 2
MAX_NEW_TOKENS = 24  # tactics are short; a rambling sample is cut (and dropped) sooner
MAX_WAIT_MS = 1000.0  # the spread of the searches' first requests (each after its root's automation tactics)
DTYPE = os.environ.get("LLEMMA_BENCH_DTYPE") or None  # None: the generator's default (float32 on a CPU)


def coalescing_speedup() -> tuple[float, str]:
    import torch

    from coq_env.backend import RocqBackend
    from coq_env.minif2f import load_split
    from prover.batching import GeneratorService
    from model_store import default_model_dir
    from prover.hf_generator import HFGenerator
    from prover.search import SearchConfig, best_first_search

    config = SearchConfig(max_expansions=MAX_EXPANSIONS, budget_seconds=3600.0, tactic_timeout=2.0, automation=True)
    theorems = list(load_split("valid")[:THEOREMS])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    backends = [RocqBackend() for _ in theorems]
    try:
        generator = HFGenerator(default_model_dir(), seed=0, max_new_tokens=MAX_NEW_TOKENS, dtype=DTYPE)
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

        # Concurrent, sequential, concurrent: load from other processes hits both arms alike.
        con_seconds, con_stats = [], []
        for arm in ("concurrent", "sequential", "concurrent"):
            started = time.perf_counter()
            if arm == "sequential":
                seq_results = sequential()
                seq_seconds = time.perf_counter() - started
            else:
                con_results, stats = concurrent()
                con_seconds.append(time.perf_counter() - started)
                con_stats.append(stats)
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

    mean_con = sum(con_seconds) / len(con_seconds)
    batches = [
        f"{st['batches']} batches (size: count {st['batch_sizes']}), model {st['model_seconds']:.1f}s" for st in con_stats
    ]
    print(
        f"coalescing_speedup: {len(theorems)} searches x {MAX_EXPANSIONS} expansions (max_new_tokens "
        f"{MAX_NEW_TOKENS}, dtype {generator.model.dtype}); sequential {seq_seconds:.1f}s: {summary(seq_results)}; "
        f"concurrent {' and '.join(f'{c:.1f}s' for c in con_seconds)}: {summary(con_results)}; service: "
        f"{'; '.join(batches)}",
        file=sys.stderr,
    )
    return seq_seconds / mean_con, TARGET
