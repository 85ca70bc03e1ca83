"""How many threads a model in this process runs on, and how its OpenMP threads wait.

On a small CPU machine a model's threads must follow the cores this process may actually use: torch's OpenMP
threads spin on a core while they wait for each other, so two threads on two cores beside one other busy process
(a coqtop, another prover, a server) stall each other (measured: one model call 19x slower). Two fixes:

  * `model_threads()`: the thread count comes from, in order, `--threads`, the CPUs Ray assigned to this actor,
    OMP_NUM_THREADS when someone set it, and otherwise the cores this process may run on (its CPU affinity, capped
    by a cgroup CPU quota), never from the machine's core count alone;
  * `passive_openmp()`: OpenMP's idle threads sleep instead of spinning (OMP_WAIT_POLICY=PASSIVE). OpenMP reads
    this once, when the runtime loads with torch, so `prover` sets it on import, before anything imports torch.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "QUOTA PERIOD" or "max PERIOD"


def passive_openmp() -> bool:
    """Ask OpenMP's waiting threads to sleep rather than spin, unless the user chose a policy. True if it can still
    take effect here (torch not imported yet, or the policy already passive)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return "torch" not in sys.modules or os.environ["OMP_WAIT_POLICY"].upper() == "PASSIVE"


def cgroup_cpu_limit(cpu_max: Path = CGROUP_CPU_MAX) -> int | None:
    """Whole cores a cgroup CPU quota allows this process (rounded up), or None where no quota is set."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity on this platform
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    return max(1, min(cores, limit) if limit else cores)


def ray_assigned_cpus() -> int | None:
    """The CPUs Ray assigned to the actor or task running here (at least 1), or None outside a Ray worker."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    try:
        context = ray.get_runtime_context()
        if context.worker.mode != ray._private.worker.WORKER_MODE:
            return None  # the driver: its cores are its own
        cpus = context.get_assigned_resources().get("CPU")
    except Exception:  # noqa: BLE001 - an older or newer Ray without these: fall back to the process's cores
        return None
    return None if cpus is None else max(1, math.floor(cpus))


def model_threads(requested: int | None = None) -> int:
    """Threads for a model in this process: `requested` (--threads), else Ray's CPUs for this actor, else
    OMP_NUM_THREADS when set, else the usable cores."""
    if requested:
        return max(1, int(requested))
    assigned = ray_assigned_cpus()
    if assigned:
        return assigned
    try:
        from_env = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        from_env = 0
    return from_env if from_env > 0 else usable_cores()


def set_torch_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads as `model_threads` says, and return that number."""
    import torch

    threads = model_threads(requested)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
