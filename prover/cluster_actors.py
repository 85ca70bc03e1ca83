"""The Ray actors of prover.distributed: provers that search whole theorems, model replicas that serve candidates.

Plain classes, wrapped by ray.remote only when a job starts (remote_actor_classes), so importing this needs no Ray.
"""
from __future__ import annotations

import functools
import os
import time
from typing import Callable

import psutil

from prover.backend import Backend
from prover.batch import attempt_one
from prover.batching import LATE_ANSWER_GRACE_S
from prover.generators import AutomationOnly, Candidate, TacticGenerator
from prover.search import SearchConfig
from prover.types import StatementError, Theorem


def _usage(process: psutil.Process) -> tuple[float, float]:
    """(resident MB, CPU seconds) of one process; zeros for one that is gone or cannot be read."""
    try:
        with process.oneshot():
            times = process.cpu_times()
            return process.memory_info().rss / 2**20, times.user + times.system
    except psutil.Error:
        return 0.0, 0.0


def process_usage() -> dict:
    """This process's resident memory (MB) and CPU time (s), and its live children's (a prover's proof-assistant
    processes): what the docs' memory table and the benchmarks' CPU diagnostics read."""
    me = psutil.Process()
    rss_mb, cpu_seconds = _usage(me)
    children = [_usage(child) for child in me.children(recursive=True)]
    return {"pid": me.pid, "rss_mb": rss_mb, "children_rss_mb": sum(rss for rss, _ in children),
            "cpu_seconds": cpu_seconds, "children_cpu_seconds": sum(cpu for _, cpu in children)}


class ModelActorClient:
    """The TacticGenerator a prover actor searches with: each request goes to its model actor and waits there."""

    def __init__(self, actor, name: str):
        self.actor = actor
        self.name = name

    def generate(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> list[Candidate]:
        """A deadline crosses to the model actor as seconds left: monotonic clocks are per machine."""
        import ray

        if deadline is None:
            return ray.get(self.actor.generate.remote(theorem, state_text, n))
        left = deadline - time.monotonic()
        if left <= 0:
            return []
        try:
            return ray.get(self.actor.generate.remote(theorem, state_text, n, left), timeout=left + LATE_ANSWER_GRACE_S)
        except ray.exceptions.GetTimeoutError:
            return []


class ProverActor:
    """Owns one proof-assistant process of the chosen backend and proves whole theorems, one at a time."""

    def __init__(self, backend: str | Callable[[], Backend], model_actor: str | None = None,
                 model_name: str = "none"):
        """`backend`: a backend's name, or a picklable callable that makes the backend here (the holes of a user's
        files: prover.prove_files.MakeInContextBackend). `model_actor`: the name of the model actor to ask for
        candidates (None: automation only). A name, not a handle: Ray restarts an actor from its constructor
        arguments, and a handle among them is an object it may lose."""
        from prover.plugins import load_plugin

        # BackendUnavailable here: the actor cannot start
        self.backend = load_plugin(backend).make_backend() if isinstance(backend, str) else backend()
        self.generator: TacticGenerator = AutomationOnly()
        if model_actor is not None:
            import ray

            self.generator = ModelActorClient(ray.get_actor(model_actor), model_name)

    def info(self) -> dict:
        import ray

        return {"pid": os.getpid(), "node": ray.util.get_node_ip_address()}

    def usage(self) -> dict:
        return process_usage()

    def warm_up(self, theorem: Theorem) -> None:
        """Start the proof assistant on the theorem's header, as the first theorem of a batch would."""
        try:
            self.backend.open(theorem)
        except StatementError:
            pass

    def prove(self, theorem: Theorem, config: SearchConfig, trees: bool = True) -> tuple[dict, str | None, dict | None]:
        """The row, proof text and search tree, returned as data: only the driver writes the run folder. A backend
        with `annotate_row` (InContextBackend) adds to the row what only it knows (what its check said)."""
        attempt = attempt_one(theorem, self.backend, self.generator, config, trees)
        annotate = getattr(self.backend, "annotate_row", None)
        return attempt if annotate is None else attempt._replace(row=annotate(theorem, attempt.row))


class ModelActor:
    """One model replica behind a GeneratorService; a threaded actor, so requests from many provers are in
    flight at once and the service coalesces them into batched model calls."""

    def __init__(self, make_generator: Callable[[], TacticGenerator], max_batch: int, max_wait_ms: float):
        from prover.batching import GeneratorService

        self.service = GeneratorService(make_generator(), max_batch=max_batch, max_wait_ms=max_wait_ms)

    def name(self) -> str:
        return self.service.name

    def generate(self, theorem: Theorem, state_text: str, n: int, seconds_left: float | None = None) -> list[Candidate]:
        deadline = None if seconds_left is None else time.monotonic() + seconds_left
        return self.service.generate(theorem, state_text, n, deadline=deadline)

    def stats(self) -> dict:
        return self.service.stats()

    def info(self) -> dict:
        import ray

        return {"pid": os.getpid(), "node": ray.util.get_node_ip_address()}

    def usage(self) -> dict:
        return process_usage()


@functools.lru_cache(maxsize=None)
def remote_actor_classes():
    """(ProverActor, ModelActor) as Ray actor classes, made once Ray is imported."""
    import ray

    return ray.remote(ProverActor), ray.remote(ModelActor)
