"""Benchmark: tactic throughput inside best-first search over raw RocqBackend tactic throughput.

value = search tactic throughput / raw backend tactic throughput, target >= 0.8, where
  search throughput = tactics_run / seconds of a `best_first_search` (replay generator: zero model
      cost; automation off; no final coqc check), so it pays for everything the search does besides
      running tactics: jumping between branches (BackTo + replaying the target's path), the queue,
      the search tree, duplicate detection;
  raw throughput = the same candidate tactics run by `RocqBackend.run_tactic` along linear paths (each
      success followed, so the backend never backs up or replays), timed per outcome kind (advanced or
      failed), then weighted by the search's own counts of each kind, since the two kinds cost coqtop
      differently and the search sees a different mix than a linear walk.

Search and linear runs alternate over ROUNDS rounds so that load from other processes hits both alike;
the value is the median of the per-round ratios. Where the search's extra time goes (backing up and
replaying to reach the node expanded, `Show` for goals coqtop did not print) goes to stderr.

Why it can miss: coqtop holds one linear document, so reaching a node on another branch means `BackTo` the
shared prefix and replaying the rest, each replayed sentence costing about what a tactic costs. Here the
scores interleave branches (nearly breadth-first), so about 3 sentences are replayed per expansion of 8.

The theorem is false, so neither run ever proves it. At each state the generator proposes 8 tactics as a
model might: 3 that advance while they apply (`intro`, two distinct `assert`s) and 5 that fail. The
states reachable are the interleavings of 5 intros with the 2 asserts (160 distinct goals, depth <= 7),
so the search keeps expanding new nodes and switches branch at almost every expansion.
"""
from __future__ import annotations

import statistics
import sys
import time

from coq_env.backend import RocqBackend
from prover.testing import ReplayGenerator
from prover.search import SearchConfig, Status, best_first_search
from prover.search_tree import Outcome
from prover.types import Advanced, Failed, Theorem

TARGET = ">=0.8"
ROUNDS = 11
EXPANSIONS = 60  # per search round: 480 tactics
LINEAR_TACTICS = 480  # per linear round, about the same
TACTIC_TIMEOUT = 5.0

THEOREM = Theorem(
    name="bench_search",
    statement="Theorem bench_search : forall a b c d e : nat, a + b + c + d + e = e + d + c + b + a + 1.",
    header="",
    backend="rocq",
)
CANDIDATES = [
    "intro.",
    "reflexivity.",
    "exact I.",
    "assert (H1 : 1 = 1) by reflexivity.",
    "apply foo.",
    "discriminate.",
    "assert (H2 : 2 = 2) by reflexivity.",
    "contradiction.",
]
CONFIG = SearchConfig(
    max_expansions=EXPANSIONS,
    budget_seconds=600.0,  # never the limit: the expansion count is
    tactic_timeout=TACTIC_TIMEOUT,
    num_candidates=len(CANDIDATES),
    automation=False,
)


class _CountingBackend(RocqBackend):
    """RocqBackend that tallies what it sends coqtop beyond the tactics themselves (diagnostics only: it
    hooks private methods, so if those are renamed the tallies read zero and the value is unaffected)."""

    def __init__(self):
        super().__init__()
        self.counting = False
        self.sent = {"BackTo": 0, "Show": 0, "replayed": 0, "Silent": 0}

    def _move_and_run(self, path, sentence, timeout):
        if self.counting:
            held = self._held
            common = 0
            while common < min(len(held), len(path)) and held[common] == path[common]:
                common += 1
            self.sent["BackTo"] += common < len(held)
            self.sent["replayed"] += len(path) - common
            self.sent["Silent"] += len(path) - common > 1
        return super()._move_and_run(path, sentence, timeout)

    def _send(self, sentence, timeout):
        if self.counting and sentence.startswith("Show"):
            self.sent["Show"] += 1
        return super()._send(sentence, timeout)


def _search_round(backend: RocqBackend) -> tuple[float, int, int]:
    """(seconds, tactics advanced or proving, tactics failed) of one search."""
    result = best_first_search(THEOREM, backend, ReplayGenerator(CANDIDATES), CONFIG, verify=False)
    if result.status is not Status.FAILED or result.expansions != EXPANSIONS:  # the set-up is broken
        raise RuntimeError(f"search ended {result.status.value} after {result.expansions} expansions")
    failed = sum(edge.outcome in (Outcome.FAILED, Outcome.TIMEOUT) for edge in result.tree.edges)
    return result.seconds, result.tactics_run - failed, failed


def _linear_round(backend: RocqBackend) -> tuple[float, int, float, int]:
    """(seconds on advancing tactics, how many, seconds on failing tactics, how many) along linear paths."""
    advanced_s = failed_s = 0.0
    advanced = failed = 0
    state = backend.open(THEOREM)
    while advanced + failed < LINEAR_TACTICS:
        moved = False
        for tactic in CANDIDATES:
            t0 = time.perf_counter()
            outcome = backend.run_tactic(state, tactic, TACTIC_TIMEOUT)
            seconds = time.perf_counter() - t0
            if isinstance(outcome, Advanced):
                advanced_s, advanced, state, moved = advanced_s + seconds, advanced + 1, outcome.state, True
            else:
                if not isinstance(outcome, Failed):
                    raise RuntimeError(f"{tactic!r} neither advanced nor failed: {outcome}")
                failed_s, failed = failed_s + seconds, failed + 1
        if not moved:  # a leaf: every candidate failed; start the next path (untimed)
            state = backend.open(THEOREM)
    return advanced_s, advanced, failed_s, failed


def search_overhead() -> tuple[float, str]:
    ratios = []
    search_s = raw_s = 0.0
    search_tactics = 0
    with _CountingBackend() as backend:
        _linear_round(backend)  # warm-up: coqtop started, libraries loaded
        for i in range(ROUNDS):
            for kind in ("search", "linear") if i % 2 == 0 else ("linear", "search"):
                if kind == "search":
                    backend.counting = True
                    seconds, s_advanced, s_failed = _search_round(backend)
                    backend.counting = False
                else:
                    advanced_s, advanced, failed_s, failed = _linear_round(backend)
            # The time the linear runs would need for the search's mix of advancing and failing tactics.
            raw_seconds = s_advanced * advanced_s / advanced + s_failed * failed_s / failed
            ratios.append(raw_seconds / seconds)  # = (tactics/seconds) / (tactics/raw_seconds)
            search_s, raw_s, search_tactics = search_s + seconds, raw_s + raw_seconds, search_tactics + s_advanced + s_failed
        restarts, sent = backend.restarts, backend.sent

    value = statistics.median(ratios)
    print(
        f"search_overhead: {ROUNDS} rounds of {EXPANSIONS} expansions; search {search_tactics / search_s:.0f} tactics/s, "
        f"raw backend {search_tactics / raw_s:.0f} tactics/s (last round: search {s_advanced} advanced + "
        f"{s_failed} failed; linear {advanced_s / advanced * 1e6:.0f} us/advanced, {failed_s / failed * 1e6:.0f} us/failed); "
        f"total ratio {raw_s / search_s:.3f}, round ratios min {min(ratios):.3f} median {value:.3f} "
        f"max {max(ratios):.3f}; coqtop restarts {restarts}. Per search expansion: "
        f"{sent['BackTo'] / ROUNDS / EXPANSIONS:.2f} BackTo, {sent['replayed'] / ROUNDS / EXPANSIONS:.2f} sentences "
        f"replayed, {sent['Silent'] / ROUNDS / EXPANSIONS:.2f} silent replays, {sent['Show'] / ROUNDS / EXPANSIONS:.2f} Show",
        file=sys.stderr,
    )
    return value, TARGET
