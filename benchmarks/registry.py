"""The benchmarks by metric name: what `python -m benchmarks` runs."""
from __future__ import annotations

from typing import Callable

from benchmarks.budget_overrun import budget_overrun
from benchmarks.coalescing_speedup import coalescing_speedup
from benchmarks.contention_slowdown import contention_slowdown
from benchmarks.hammer_share import hammer_share
from benchmarks.lean_replay_step_us import lean_replay_step_us
from benchmarks.model_share import model_share
from benchmarks.editor_speedup import editor_speedup
from benchmarks.lean_reuse_speedup import lean_reuse_speedup
from benchmarks.prefix_scoring_speedup import prefix_scoring_speedup
from benchmarks.ray_2v1_speedup import ray_2v1_speedup
from benchmarks.ray_overhead_ms import ray_overhead_ms
from benchmarks.rocq_step_overhead import rocq_step_overhead
from benchmarks.sampling_vs_generate import sampling_vs_generate
from benchmarks.sampling_speedups import editor_sampling_speedup, search_sampling_speedup
from benchmarks.search_overhead import search_overhead
from benchmarks.serve_latency import serve_p50_ms, serve_p95_ms
from benchmarks.serve_throughput import serve_16v1_throughput
from benchmarks.tokenize_mb_per_s import tokenize_mb_per_s
from benchmarks.train_loop_efficiency import train_loop_efficiency

# name -> function returning (value, target), target a comparison string such as ">=0.8"
BENCHMARKS: dict[str, Callable[[], tuple[float, str]]] = {
    "rocq_step_overhead": rocq_step_overhead,
    "search_overhead": search_overhead,
    "sampling_vs_generate": sampling_vs_generate,
    "prefix_scoring_speedup": prefix_scoring_speedup,
    "coalescing_speedup": coalescing_speedup,
    "lean_reuse_speedup": lean_reuse_speedup,
    "lean_replay_step_us": lean_replay_step_us,
    "ray_2v1_speedup": ray_2v1_speedup,
    "ray_overhead_ms": ray_overhead_ms,
    "serve_p50_ms": serve_p50_ms,
    "serve_p95_ms": serve_p95_ms,
    "serve_16v1_throughput": serve_16v1_throughput,
    "train_loop_efficiency": train_loop_efficiency,
    "tokenize_mb_per_s": tokenize_mb_per_s,
    "budget_overrun": budget_overrun,
    "hammer_share": hammer_share,
    "contention_slowdown": contention_slowdown,
    "model_share": model_share,
    "editor_speedup": editor_speedup,
    "editor_sampling_speedup": editor_sampling_speedup,
    "search_sampling_speedup": search_sampling_speedup,
}
