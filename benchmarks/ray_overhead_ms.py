"""Benchmark: what running a batch through one Ray prover actor costs per theorem over running it in-process.

value = median over paired rounds of (1-worker Ray wall - in-process wall) / theorems, in ms, target <= 50.

The same quick theorems (automation alone fails on each in 0.1-0.5 s; one header) go through `prove_batch`
with a warm in-process RocqBackend and through a warm 1-actor ProverCluster; both write the same rows and
fsync each. What differs is Ray's part: the task round trip, the theorem and row crossing processes, and the
driver's dispatch loop. Ray's and the actor's start-up and warm-up are not timed. The arms alternate, ROUNDS
times each; the value is the median over the paired rounds (a batch takes seconds, so the noise of other
processes' load on each arm is tens of ms per theorem: the median of pairs keeps it out).
"""
from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import Skipped

TARGET = "<=50"
ROUNDS = 5
THEOREMS = ["aime_1984_p5", "aime_1988_p4", "algebra_amgm_faxinrrp2msqrt2geq2mxm1div2x",
            "algebra_amgm_sqrtxymulxmyeqxpy_xpygeq4", "algebra_binomnegdiscrineq_10alt28asqp1",
            "algebra_sqineq_2at2pclta2c2p41pc", "algebra_sqineq_2unitcircatblt1", "algebra_sqineq_36azm9asqle36zsq",
            "algebra_sqineq_4bap1lt4bsqpap1sq", "amc12_2000_p5", "amc12a_2009_p9", "amc12a_2010_p11",
            "amc12a_2011_p18", "amc12a_2013_p7", "amc12a_2013_p8", "amc12a_2017_p2", "amc12b_2003_p9",
            "imo_2006_p3", "mathd_algebra_10", "mathd_algebra_11"]


def ray_overhead_ms() -> tuple[float, str]:
    try:
        import ray
    except ImportError:
        raise Skipped("ray is not installed (pip install ray)", TARGET) from None
    if shutil.which("coqtop") is None:
        raise Skipped("coqtop is not installed", TARGET)
    from coq_env.backend import RocqBackend
    from coq_env.minif2f import load_split
    from prover.batch import prepare_run_dir, prove_batch
    from prover.distributed import ClusterSettings, ProverCluster
    from prover.generators import AutomationOnly
    from prover.search import SearchConfig

    by_name = {t.name: t for t in load_split("valid")}
    theorems = [by_name[n] for n in THEOREMS]
    config = SearchConfig(budget_seconds=300, tactic_timeout=30)
    walls: dict[str, list[float]] = {"in-process": [], "ray": []}

    def timed(arm: str, run) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            prepare_run_dir(out, {})
            started = time.perf_counter()
            rows = list(run(out))
            walls[arm].append(time.perf_counter() - started)
        assert len(rows) == len(theorems), rows
        print(f"{arm}: {walls[arm][-1]:.3f}s for {len(rows)} theorems", file=sys.stderr)

    ray.init(address="local", num_cpus=1, include_dashboard=False, object_store_memory=100 * 2**20, log_to_driver=False)
    try:
        with RocqBackend() as backend, ProverCluster("rocq", ClusterSettings(workers=1)) as cluster:
            backend.open(theorems[0])  # warm: coqtop up with the header loaded, as the actor's is
            cluster.warm_up(theorems[0])
            for _ in range(ROUNDS):
                timed("in-process", lambda out: prove_batch(theorems, backend, AutomationOnly(), config, out, progress=False))
                timed("ray", lambda out: cluster.run(theorems, config, out, progress=False))
    finally:
        ray.shutdown()
    differences = [(r - i) / len(theorems) * 1000 for i, r in zip(walls["in-process"], walls["ray"])]
    local, remote = min(walls["in-process"]), min(walls["ray"])
    print(f"paired rounds' ms per theorem {[round(d, 1) for d in differences]}; best: in-process {local:.3f}s, "
          f"1 Ray worker {remote:.3f}s ({(remote - local) / len(theorems) * 1000:.1f} ms per theorem)", file=sys.stderr)
    return statistics.median(differences), TARGET
