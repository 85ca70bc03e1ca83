"""Batch proving on a Ray cluster: prover actors search whole theorems, model actors serve them candidates.

    driver (prover prove --workers N)          prover actor x N                 model actor x R
    reads results.jsonl, hands out theorems -> one proof-assistant process  ->  one model replica behind a
    one at a time, appends each row it gets     runs prove_one per theorem       GeneratorService: concurrent
    back (only the driver writes)               with a proxy generator          requests from all provers go
                                                                                 to the model as one batch
The rows, proof files, search trees and resume rules are those of the in-process batch (prover.batch): a run can be
started in-process and finished on a cluster, or the other way round. Ray is imported only here and in the actors'
module (prover.cluster_actors), and only when a job starts: `prover prove` without `--workers` never imports it. The
order theorems are handed out in: prover.theorem_order.

Faults: Ray restarts a prover actor whose process dies (`max_restarts`); the theorem it was proving is tried once
more, then recorded as `error` with the reason. A model actor is restarted too, and its callers' requests are
resent (`max_task_retries`). A late or repeated result for a theorem that already has a row is dropped, so every
theorem gets exactly one row.
"""
from __future__ import annotations

import collections
import math
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from prover.backend import Backend
from prover.batch import RESULTS, BatchProgress, error_row, finished_names, read_rows
from prover.cluster_actors import remote_actor_classes
from prover.generators import AutomationOnly, TacticGenerator
from prover.search import SearchConfig
from prover.theorem_order import ORDERS, order_theorems, read_unfinished, write_unfinished
from prover.types import BackendUnavailable, Theorem


class ClusterError(RuntimeError):
    """The job could not start on the cluster (cannot connect, an actor cannot start); one printable message."""


@dataclass(frozen=True)
class ClusterSettings:
    workers: int = 2  # prover actors, each with its own proof-assistant process
    address: str | None = None  # None: start a local Ray for this job; else "auto", "HOST:PORT" or "ray://HOST:PORT"
    cpus_per_worker: float = 1.0  # Ray CPUs each prover actor reserves
    model_replicas: int = 1  # model actors (ignored without a model)
    model_gpus: float | None = None  # GPUs per model actor; None: 1 where the cluster has a GPU, else 0
    model_cpus: float = 1.0  # CPUs per model actor
    model_max_batch: int | None = None  # None: the provers one replica serves (each has one request in flight)
    model_max_wait_ms: float = 10.0  # how long a batch waits for its next request (GeneratorService)
    order: str = "given"
    max_restarts: int = 3  # per prover actor; past that the driver starts a fresh actor in its place
    object_store_mb: int = 100  # local Ray only: rows and theorems are small


def _short(exc: BaseException) -> str:
    """The telling line of a Ray error (they carry whole remote tracebacks)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        if ("Error" in line or "Unavailable" in line) and ":" in line and not line.startswith("File "):
            return line[:300]
    return (lines[-1] if lines else type(exc).__name__)[:300]


# ---- the driver ------------------------------------------------------------------------------------------------


class ProverCluster:
    """A Ray job: connects (or starts a local Ray), starts the actors, proves batches, and cleans up on exit.

        with ProverCluster(DEFAULT_BACKEND, ClusterSettings(workers=4), model=None) as cluster:
            for row in cluster.run(theorems, config, out):
                ...
    """

    def __init__(self, backend: str | Callable[[], Backend], settings: ClusterSettings,
                 model: Callable[[], TacticGenerator] | None = None):
        if settings.workers < 1 or settings.model_replicas < 1:
            raise ValueError("workers and model_replicas must be at least 1")
        if settings.order not in ORDERS:
            raise ValueError(f"unknown order {settings.order!r} (choose from {', '.join(ORDERS)})")
        self.backend = backend
        self.settings = settings
        self.make_model = model
        self.model_name = AutomationOnly.name
        self.provers: list = []
        self.model_actors: list = []
        self.model_actor_names: list[str] = []
        self._untried: set[int] = set()  # prover slots holding a replacement actor that has not answered yet
        self.retried: list[str] = []  # theorems whose prover died under them (once per death)
        self.dropped: list[str] = []  # results for theorems that already had a row
        self._owns_ray = False

    # ---- life cycle --------------------------------------------------------------------------------------------

    def __enter__(self) -> "ProverCluster":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self) -> None:
        try:
            import ray
        except ImportError:
            raise ClusterError("Ray is not installed: pip install 'llemma-prover[ray]' (or: pip install ray)") from None
        self._connect(ray)
        s = self.settings
        prover_cls, model_cls = remote_actor_classes()
        if self.make_model is not None:
            gpus = s.model_gpus if s.model_gpus is not None else (1 if ray.cluster_resources().get("GPU", 0) > 0 else 0)
            per_replica = math.ceil(s.workers / s.model_replicas)
            options = dict(num_cpus=s.model_cpus, num_gpus=gpus, max_concurrency=per_replica + 4,
                           max_restarts=s.max_restarts, max_task_retries=2)  # generate is safe to resend
            job = uuid.uuid4().hex[:8]
            self.model_actor_names = [f"prover-model-{job}-{i}" for i in range(s.model_replicas)]
            self.model_actors = [
                model_cls.options(name=name, **options).remote(self.make_model, s.model_max_batch or per_replica,
                                                               s.model_max_wait_ms)
                for name in self.model_actor_names
            ]
            self._await(self.model_actors, "model")
            self.model_name = ray.get(self.model_actors[0].name.remote())
        self.provers = [self._new_prover(slot) for slot in range(s.workers)]
        self._await(self.provers, "prover")

    def _connect(self, ray) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report from a proving job
        if ray.is_initialized():  # the caller's own session (tests, notebooks): use it, leave it running
            return
        import logging

        quiet = dict(log_to_driver=False, logging_level=logging.WARNING)
        s = self.settings
        try:
            if s.address:
                ray.init(address=s.address, **quiet)
            else:
                # A local cluster gets token authentication by default; the notice about it is noise here.
                logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
                model_cpus = s.model_replicas * s.model_cpus if self.make_model is not None else 0
                # Exactly what this job reserves, so it fits whatever the machine's core count; small footprint.
                ray.init(address="local", num_cpus=math.ceil(s.workers * s.cpus_per_worker + model_cpus),
                         include_dashboard=False, object_store_memory=s.object_store_mb * 2**20, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterError(f"cannot start Ray at {s.address or 'local'}: {_short(exc)}") from None
        self._owns_ray = True

    def _new_prover(self, slot: int):
        prover_cls, _ = remote_actor_classes()
        model = self.model_actor_names[slot % len(self.model_actor_names)] if self.model_actor_names else None
        # max_task_retries=0: the driver decides about retrying a theorem (once), not Ray.
        # max_concurrency=2: info()/usage() answer while a proof runs; the driver sends one proof at a time.
        return prover_cls.options(num_cpus=self.settings.cpus_per_worker, max_restarts=self.settings.max_restarts,
                                  max_task_retries=0, max_concurrency=2).remote(self.backend, model, self.model_name)

    def _await(self, actors: list, kind: str) -> None:
        """Wait until the actors have started (a cluster short of CPUs/GPUs keeps them pending: say so)."""
        import ray

        refs = [a.info.remote() for a in actors]
        warned = False
        while True:
            ready, pending = ray.wait(refs, num_returns=len(refs), timeout=60)
            if not pending:
                break
            if not warned:  # still starting (a model loading), or the cluster lacks what they ask for
                print(f"still waiting for {len(pending)} {kind} actor(s) to start after 60 s; the cluster has free "
                      f"{ray.available_resources()} (Ctrl-C to stop)", file=sys.stderr, flush=True)
                warned = True
        try:
            ray.get(refs)
        except ray.exceptions.RayError as exc:  # its constructor raised: the message carries the reason
            if "BackendUnavailable" in str(exc):
                raise BackendUnavailable(_short(exc).split("BackendUnavailable: ", 1)[-1]) from None
            raise ClusterError(f"a {kind} actor could not start: {_short(exc)}") from None

    def close(self) -> None:
        ray = sys.modules.get("ray")
        if ray is None or not ray.is_initialized():
            return
        for actor in [*self.provers, *self.model_actors]:
            try:
                ray.kill(actor)  # no_restart: their proof-assistant processes go with them
            except Exception:  # noqa: BLE001 - already gone, or the cluster is going down
                pass
        self.provers, self.model_actors = [], []
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False

    # ---- work --------------------------------------------------------------------------------------------------

    def warm_up(self, theorem: Theorem) -> None:
        """Every prover starts its proof assistant on the theorem's header (timings then leave start-up out)."""
        import ray

        ray.get([p.warm_up.remote(theorem) for p in self.provers])

    def model_stats(self) -> list[dict]:
        import ray

        return ray.get([m.stats.remote() for m in self.model_actors])

    def usage(self) -> dict:
        """Each actor's process_usage(): memory and CPU time of its process and of its proof assistant."""
        import ray

        return {"provers": ray.get([p.usage.remote() for p in self.provers]),
                "models": ray.get([m.usage.remote() for m in self.model_actors])}

    def run(
        self,
        theorems: list[Theorem],
        config: SearchConfig,
        out: Path,
        suffix: str = ".v",
        progress: bool = True,
        on_dispatch: Callable[[Theorem, object], None] | None = None,
        trees: bool = True,
    ) -> Iterator[dict]:
        """Prove each theorem not already finished in out/results.jsonl (as prove_batch: an `error` row is retried);
        yield each row once it is appended.

        A dynamic queue: each prover that comes free gets the next theorem. `on_dispatch(theorem, actor)` is
        called after each theorem is handed to an actor (tests use it to kill one mid-proof).
        """
        import ray

        rows = read_rows(out / RESULTS)
        written = finished_names(rows)  # a theorem whose last row is `error` is tried again
        todo = collections.deque(order_theorems([t for t in theorems if t.name not in written], self.settings.order,
                                                read_unfinished(out)))
        deaths: collections.Counter[str] = collections.Counter()  # theorem -> prover deaths while proving it
        # object ref -> (slot, theorem, started); theorem None: a probe waiting for a restarted prover to be back
        running: dict = {}
        idle = collections.deque(range(len(self.provers)))
        bar = BatchProgress(theorems, rows, progress, desc=f"{len(self.provers)} provers")
        try:
            while todo or running:  # running probes too: the run ends with every prover back
                while idle and todo:
                    slot, theorem = idle.popleft(), todo.popleft()
                    ref = self.provers[slot].prove.remote(theorem, config, trees)
                    running[ref] = (slot, theorem, time.monotonic())
                    if on_dispatch is not None:
                        on_dispatch(theorem, self.provers[slot])
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    slot, theorem, _ = running.pop(ref)
                    if theorem is None:
                        self._probed(ray, ref, slot, idle, running)
                        continue
                    try:
                        row, script, tree = ray.get(ref)
                        idle.append(slot)
                    except ray.exceptions.RayActorError as exc:
                        # Ray restarts the prover; calls to it fail until it is back, so it gets work again only
                        # once a probe comes back from it.
                        self._probe(slot, running)
                        deaths[theorem.name] += 1
                        self.retried.append(theorem.name)
                        if deaths[theorem.name] < 2:
                            todo.appendleft(theorem)  # tried again first thing
                            continue
                        reason = f"prover actor died twice while proving it: {_short(exc)}"
                        row, script, tree = error_row(theorem, self.model_name, reason), None, None
                    except BackendUnavailable as exc:  # no proof assistant there: every theorem would fail the same
                        raise BackendUnavailable(_short(exc).split("BackendUnavailable: ", 1)[-1]) from None
                    except ray.exceptions.RayError as exc:  # anything else on Ray's side: this theorem's row says what
                        idle.append(slot)
                        row, script, tree = error_row(theorem, self.model_name,
                                                      f"{type(exc).__name__}: {_short(exc)}"), None, None
                    if row["name"] in written:
                        self.dropped.append(row["name"])
                        continue
                    bar.record(out, row, script, suffix, tree)
                    written.add(row["name"])
                    yield row
        finally:
            bar.close()
            in_flight = {t.name: time.monotonic() - started for _, t, started in running.values() if t is not None}
            if in_flight:  # stopped (Ctrl-C, an error): remember what was running, for longest-first next time
                write_unfinished(out, in_flight)

    def _probe(self, slot: int, running: dict) -> None:
        """A call that waits through the prover's restart (Ray retries it) and answers once the actor is back."""
        ref = self.provers[slot].info.options(max_task_retries=-1).remote()
        running[ref] = (slot, None, time.monotonic())

    def _probed(self, ray, ref, slot: int, idle, running: dict) -> None:
        try:
            ray.get(ref)
        except ray.exceptions.RayActorError as exc:  # past max_restarts (or cannot start again): dead for good
            if slot in self._untried:  # a fresh one failed too: it would go on failing
                raise ClusterError(f"prover actor {slot} cannot be started again: {_short(exc)}") from None
            self.provers[slot] = self._new_prover(slot)
            self._untried.add(slot)
            self._probe(slot, running)
            return
        self._untried.discard(slot)
        idle.append(slot)
