"""Benchmark: wall time of a prover-bound batch on 1 Ray prover actor over the same batch on 2 actors.

value = median over paired rounds of (1-worker wall / 2-worker wall), target >= 1.6 (2 cores; 2.0 is perfect).

The batch: miniF2F-rocq valid theorems that automation alone (`--model none`) fails on after real coqtop work
(0.4-3.3 s each, the queue exhausted, never the time budget), all with one header, so the work is the search
itself and each theorem's work is the same in both arms (the rows' tactic counts are compared on stderr).
Both arms run in one local Ray session, each on its own cluster of actors started once; Ray's start-up and the
actors' start-up and warm-up (their coqtop loading the header) are left out of the timing. The arms alternate,
ROUNDS times each; the value is the median of the paired rounds' ratios, so a slow spell of other processes'
load moves one pair, not the result. The load average and the cores each arm's provers got (their CPU time over
the wall time) go to stderr: with other work on the two cores, the 2-worker arm cannot have both.
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import Skipped

TARGET = ">=1.6"
ROUNDS = 3
# Same header ("Require Import Reals. Open Scope R_scope."), longest first by their in-process seconds measured
# here (warm, automation only: 3.3 s down to 0.4 s, about 18 s in all), so the queue ends with short ones and
# both workers finish close together.
THEOREMS = ["amc12a_2009_p25", "amc12a_2008_p8", "amc12b_2002_p6", "mathd_algebra_140", "imo_1966_p5",
            "mathd_algebra_206", "mathd_algebra_547", "mathd_algebra_421", "aime_1983_p9",
            "algebra_amgm_sumasqdivbsqgeqsumbdiva", "algebra_apb4leq8ta4pb4", "amc12b_2003_p17", "mathd_algebra_323",
            "mathd_algebra_116", "mathd_algebra_214", "mathd_algebra_28", "amc12b_2003_p6", "mathd_algebra_267",
            "aime_1988_p4", "mathd_algebra_131", "imo_1973_p3", "amc12_2000_p11", "mathd_algebra_410",
            "mathd_algebra_510"]


def _prover_cpu_seconds(cluster) -> float:
    """CPU time the cluster's prover actors and their coqtops have used so far: over a run's wall time, how many
    cores they got (on an idle 2-core machine, about 1 for one worker and 2 for two)."""
    return sum(u["cpu_seconds"] + u["children_cpu_seconds"] for u in cluster.usage()["provers"])


def ray_2v1_speedup() -> tuple[float, str]:
    try:
        import ray
    except ImportError:
        raise Skipped("ray is not installed (pip install ray)", TARGET) from None
    if shutil.which("coqtop") is None:
        raise Skipped("coqtop is not installed", TARGET)
    from coq_env.minif2f import load_split
    from prover.batch import prepare_run_dir
    from prover.distributed import ClusterSettings, ProverCluster
    from prover.search import SearchConfig

    by_name = {t.name: t for t in load_split("valid")}
    theorems = [by_name[n] for n in THEOREMS]
    # A budget far beyond any of these searches, and a tactic limit no tactic here reaches: the same work either way.
    config = SearchConfig(budget_seconds=300, tactic_timeout=30)
    # 3 CPUs: a 1-actor and a 2-actor cluster side by side, started once (only one of them works at a time).
    ray.init(address="local", num_cpus=3, include_dashboard=False, object_store_memory=100 * 2**20, log_to_driver=False)
    walls: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}  # CPU seconds the provers and their coqtops used per run
    tactics: dict[int, dict[str, int]] = {}
    print(f"load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    try:
        with ProverCluster("rocq", ClusterSettings(workers=1)) as single, \
                ProverCluster("rocq", ClusterSettings(workers=2)) as double:
            clusters = {1: single, 2: double}
            for cluster in clusters.values():
                cluster.warm_up(theorems[0])
            for round_ in range(ROUNDS):
                for workers, cluster in clusters.items():
                    with tempfile.TemporaryDirectory() as tmp:
                        out = Path(tmp)
                        prepare_run_dir(out, {})
                        cpu_before = _prover_cpu_seconds(cluster)
                        started = time.perf_counter()
                        rows = list(cluster.run(theorems, config, out, progress=False))
                        walls[workers].append(time.perf_counter() - started)
                        cpu[workers].append(_prover_cpu_seconds(cluster) - cpu_before)
                        cores = cpu[workers][-1] / walls[workers][-1]
                    tactics[workers] = {r["name"]: r.get("tactics_run", -1) for r in rows}
                    print(f"round {round_ + 1}: {workers} worker(s) {walls[workers][-1]:.2f}s for {len(rows)} theorems "
                          f"(statuses {sorted({r['status'] for r in rows})}, {sum(tactics[workers].values())} tactics; "
                          f"the provers and their coqtops got {cores:.2f} cores)",
                          file=sys.stderr)
    finally:
        ray.shutdown()
    print(f"load average after: {os.getloadavg()[0]:.2f} (other processes' load slows the 2-worker arm most)",
          file=sys.stderr)
    if tactics[1] != tactics[2]:
        print(f"note: the arms ran different tactic counts: {tactics}", file=sys.stderr)
    ratios = [a / b for a, b in zip(walls[1], walls[2])]
    one, two = min(walls[1]), min(walls[2])
    print(f"paired ratios {[round(r, 2) for r in ratios]}; best: 1 worker {one:.2f}s, 2 workers {two:.2f}s "
          f"({one / two:.2f})", file=sys.stderr)
    one_cpu, two_cpu = statistics.median(cpu[1]), statistics.median(cpu[2])
    # An estimate only, not the value: the same CPU work spread over 1 core and over 2 cores.
    print(f"CPU work: 1 worker {one_cpu:.1f} s, 2 workers {two_cpu:.1f} s; with 1 and 2 cores to themselves the "
          f"arms would give about {2 * one_cpu / two_cpu:.2f}", file=sys.stderr)
    return statistics.median(ratios), TARGET
