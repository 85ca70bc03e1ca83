"""Coalescing requests from concurrent searches into batched model calls, with a cache of answered requests.

Many searches running at once (threads, or asyncio tasks) each ask for one state's candidates at a time. A model
answers a batch of states much faster than it answers them one by one (on a GPU in little more time than one
state; on a CPU in about half the time), so `GeneratorService` has a single worker thread that
gathers the requests waiting (up to `max_batch`, waiting at most `max_wait_ms` for each next one to arrive) into
one `generate_batch` call, and hands each caller its own candidates. It is itself a TacticGenerator:

    with GeneratorService(HFGenerator(...)) as service:
        ... best_first_search(theorem, backend, service, config) in several threads ...

Repeated requests (same prompt inputs, n and generator settings) are answered from an LRU cache, and a request
identical to one already waiting or in the model joins it, without a model call. Note that for a sampling
generator this means a repeated request gets the same sample, not a fresh one.

Deadlines: each request may carry one (`deadline=`, a time.monotonic() value). It goes to the model with the
request: the batch's decoding drops a request's rows at its own deadline and goes on for the others, so a batch
ends by its latest deadline and no request's deadline shortens another's (see HFGenerator). A caller waits until
its deadline plus `LATE_ANSWER_GRACE_S` (for a batch stopping right at the deadline to hand over what is
complete) and then gets no candidates, even if the batch it is in is still running for later deadlines. An answer
that a deadline may have cut short is not cached, and a request joins an identical one in flight only if that one
has at least as much time.
"""
from __future__ import annotations

import asyncio
import collections
import queue
import threading
import time
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from prover.generators import Candidate, GenerationRequest, TacticGenerator, expired, generate_batch
from prover.types import Theorem

_STOP = object()  # tells the worker to finish
# How long past its deadline a caller still waits: a model stops within about one decoding step of the deadline.
LATE_ANSWER_GRACE_S = 0.5


class ServiceClosed(RuntimeError):
    """The service was closed: it takes no more requests."""


@dataclass
class _Pending:
    key: tuple
    request: GenerationRequest
    future: Future
    blocking: bool  # from a thread blocked in generate() until it is answered
    newcomer: bool  # from a thread asking for the first time (others may be about to start too)


class GeneratorService:
    """Thread-safe front for a TacticGenerator that batches concurrent requests and caches answers.

    The worker takes the first waiting request, then keeps adding requests while each next one arrives within
    `max_wait_ms` of the previous (those already queued join at once), up to `max_batch`: a lone request waits
    `max_wait_ms` at most; a burst of requests arriving close together goes as one batch. It does not wait when
    every live thread that has used `generate` before is already blocked in it on this batch: nobody else can ask.
    """

    def __init__(self, generator: TacticGenerator, max_batch: int = 8, max_wait_ms: float = 10.0, cache_size: int = 4096):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.generator = generator
        self.name = generator.name
        self.max_batch = max_batch
        self.max_wait = max(0.0, max_wait_ms) / 1000.0
        self.cache_size = max(0, cache_size)
        # Counters (read them any time; `stats()` gives a consistent copy).
        self.requests = 0  # generate calls
        self.cache_hits = 0  # answered from the cache
        self.joined = 0  # answered by an identical request already waiting or in the model
        self.batches = 0  # generate_batch calls
        self.batched_requests = 0  # requests those calls carried
        self.model_seconds = 0.0  # wall time inside generate_batch
        self.batch_sizes: collections.Counter[int] = collections.Counter()  # batch size -> how many batches

        self._lock = threading.Lock()
        self._cache: collections.OrderedDict[tuple, list[Candidate]] = collections.OrderedDict()
        self._inflight: dict[tuple, tuple[Future, float | None]] = {}  # key -> (its future, its deadline)
        self._clients: dict[int, threading.Thread] = {}  # threads that have called generate(), by ident
        self._blocked: set[int] = set()  # those of them waiting in generate() now
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name=f"generator-service[{self.name}]", daemon=True)
        self._worker.start()

    # ---- callers ----------------------------------------------------------------------------------------------

    def _key(self, theorem: Theorem, state_text: str, n: int) -> tuple:
        params = getattr(self.generator, "cache_params", None)
        params = params() if callable(params) else (self.generator.name,)
        return (theorem.backend, theorem.statement, state_text, n, params)

    def submit(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> Future:
        """A Future of the state's candidates (already done when the cache has them). With a `deadline`, the model
        stops sampling for it then (the Future gets the candidates complete by then); it does not time out itself."""
        return self._submit(theorem, state_text, n, None, deadline)

    def _submit(self, theorem: Theorem, state_text: str, n: int, client: threading.Thread | None,
                deadline: float | None = None) -> Future:
        future: Future = Future()
        key = self._key(theorem, state_text, n)
        with self._lock:
            if self._closed:
                raise ServiceClosed("generator service is closed")
            self.requests += 1
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.cache_hits += 1
                future.set_result(list(cached))
                return future
            newcomer = client is not None and self._clients.get(client.ident) is not client
            if client is not None:
                self._clients[client.ident] = client
                self._blocked.add(client.ident)
            running = self._inflight.get(key)
            # Joining is only safe with a request that has at least as much time: an earlier deadline may cut its
            # answer short.
            if running is not None and (running[1] is None or (deadline is not None and running[1] >= deadline)):
                self.joined += 1
                return _copying(running[0])
            self._inflight[key] = (future, deadline)
            request = GenerationRequest(theorem, state_text, n, deadline)
            self._queue.put(_Pending(key, request, future, client is not None, newcomer))
        return _copying(future)

    def generate(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> list[Candidate]:
        """Up to `n` candidates for the state, best first (blocks until the batch holding it is done, or until
        `deadline` + LATE_ANSWER_GRACE_S: then none)."""
        client = threading.current_thread()
        try:
            return _result_by(self._submit(theorem, state_text, n, client, deadline), deadline)
        finally:
            with self._lock:
                self._blocked.discard(client.ident)

    def generate_batch(self, requests: list[GenerationRequest]) -> list[list[Candidate]]:
        """Several states at once (they may share a model call with other callers' requests), each waited for
        until its own deadline."""
        futures = [self.submit(r.theorem, r.state_text, r.n, r.deadline) for r in requests]
        return [_result_by(f, r.deadline) for f, r in zip(futures, requests)]

    async def agenerate(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> list[Candidate]:
        """`generate` for asyncio callers: awaits without blocking the event loop."""
        future = self.submit(theorem, state_text, n, deadline)
        if deadline is None:
            return await asyncio.wrap_future(future)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), _wait_for(deadline))
        except asyncio.TimeoutError:  # the batch holding it runs on for later deadlines: stop waiting
            return []

    # ---- the worker -------------------------------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()  # whatever is already waiting joins at once
                except queue.Empty:
                    if self._everyone_waiting(batch):
                        break  # nobody else can be about to ask
                    try:  # each arrival gives the next one max_wait to come
                        item = self._queue.get(timeout=self.max_wait)
                    except queue.Empty:
                        break
                if item is _STOP:
                    stopping = True  # answer this batch, then finish (close() queued _STOP after every request)
                    break
                batch.append(item)
            self._answer(batch)

    def _everyone_waiting(self, batch: list[_Pending]) -> bool:
        """Whether every live thread that uses this service is blocked in generate() on this batch (then waiting
        for more is pointless). Unknown for asyncio and submit() callers, and for a thread's first request (more
        new threads may be starting): then the batch waits as usual."""
        with self._lock:
            for ident, thread in list(self._clients.items()):
                if not thread.is_alive():
                    del self._clients[ident]
            if not all(p.blocking and not p.newcomer for p in batch):
                return False
            return all(ident in self._blocked for ident in self._clients)

    def _answer(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            results = generate_batch(self.generator, [p.request for p in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: generate_batch gave {len(results)} answers for {len(batch)} requests")
            error = None
        except BaseException as exc:  # noqa: BLE001 - every waiting caller gets it, the worker carries on
            results, error = None, exc
        if error is not None and len(batch) > 1 and isinstance(error, Exception):
            # One bad request must not fail the others that shared its call: each is asked again on its own, so
            # only a request that fails alone gets an error.
            for pending in batch:
                self._answer([pending])
            return
        with self._lock:
            self.batches += 1
            self.batched_requests += len(batch)
            self.batch_sizes[len(batch)] += 1
            self.model_seconds += time.perf_counter() - started
            answered = time.monotonic()
            for i, pending in enumerate(batch):
                if self._inflight.get(pending.key, (None,))[0] is pending.future:  # not a later one's, same key
                    del self._inflight[pending.key]
                # An answer its deadline may have cut short is not one to give a later caller with more time.
                if error is None and self.cache_size and not expired(pending.request.deadline, answered):
                    self._cache[pending.key] = list(results[i])
                    self._cache.move_to_end(pending.key)
                    while len(self._cache) > self.cache_size:
                        self._cache.popitem(last=False)
        for i, pending in enumerate(batch):
            if error is None:
                pending.future.set_result(list(results[i]))
            else:
                pending.future.set_exception(error)

    # ---- life cycle and counters ------------------------------------------------------------------------------

    @property
    def mean_batch_size(self) -> float:
        return self.batched_requests / self.batches if self.batches else 0.0

    def stats(self) -> dict:
        with self._lock:
            return {
                "requests": self.requests,
                "cache_hits": self.cache_hits,
                "joined": self.joined,
                "batches": self.batches,
                "batched_requests": self.batched_requests,
                "mean_batch_size": self.mean_batch_size,
                "batch_sizes": dict(sorted(self.batch_sizes.items())),
                "model_seconds": self.model_seconds,
            }

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def close(self, timeout: float | None = None) -> None:
        """Answer the requests already submitted, then stop the worker; later requests raise ServiceClosed."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        if threading.current_thread() is not self._worker:
            self._worker.join(timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "GeneratorService":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _wait_for(deadline: float) -> float:
    return max(0.0, deadline + LATE_ANSWER_GRACE_S - time.monotonic())


def _result_by(future: Future, deadline: float | None) -> list[Candidate]:
    """The future's candidates, or none if they are not there by `deadline` (+ the grace)."""
    if deadline is None:
        return future.result()
    try:
        return future.result(timeout=_wait_for(deadline))
    except FutureTimeout:
        future.cancel()  # this caller's copy only (see _copying): the batch goes on for the others
        return []


def _copying(source: Future) -> Future:
    """A future of a fresh copy of `source`'s list, so that no caller can change another's (or the cache's)."""
    future: Future = Future()

    def relay(done: Future) -> None:
        if future.cancelled():  # its caller gave up (an asyncio task cancelled, say)
            return
        error = done.exception()
        try:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(list(done.result()))
        except InvalidStateError:  # cancelled just now
            pass

    source.add_done_callback(relay)
    return future
