"""Tactic generators: proof-state text in, scored candidate tactics out. The search knows only this."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol, runtime_checkable

from prover.types import Theorem


@dataclass(frozen=True)
class Candidate:
    """A proposed tactic and its model score (log-probability normalised per token, Llemma's)."""

    tactic: str
    score: float  # what the search ranks by
    logprob: float = 0.0  # summed token log-probability
    num_tokens: int = 0


@runtime_checkable
class TacticGenerator(Protocol):
    name: str

    def generate(self, theorem: Theorem, state_text: str, n: int) -> list[Candidate]:
        """Up to `n` distinct candidates for the state, best first."""
        ...


@dataclass(frozen=True)
class GenerationRequest:
    """One state's request, as a batching service hands several to `generate_batch` at once."""

    theorem: Theorem
    state_text: str
    n: int


def generate_batch(generator: "TacticGenerator", requests: list[GenerationRequest]) -> list[list[Candidate]]:
    """Candidates for several states: one batched model call where the generator has one, else one by one."""
    batched = getattr(generator, "generate_batch", None)
    if batched is not None:
        return batched(requests)
    return [generator.generate(r.theorem, r.state_text, r.n) for r in requests]


SCORINGS = ("mean", "sum")  # per-token normalised log-probability (Llemma) or summed (ReProver)


def candidate_score(logprob: float, num_tokens: int, scoring: str = "mean") -> float:
    if scoring == "sum":
        return logprob
    if scoring == "mean":
        return logprob / max(1, num_tokens)
    raise ValueError(f"unknown scoring {scoring!r} (choose from {', '.join(SCORINGS)})")


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """The completion up to the first stop sequence, and whether one was found (else it ran out of tokens)."""
    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


# Tactics a model must never be allowed to propose: they close a goal without proving it.
_FORBIDDEN = re.compile(r"^\s*(sorry|admit|Admitted|give_up|oops)\b")


def clean_candidates(raw: Iterable[Candidate], n: int) -> list[Candidate]:
    """Strip, drop empty/cheating ones, merge duplicates keeping the best score, best first."""
    best: dict[str, Candidate] = {}
    for cand in raw:
        tactic = cand.tactic.strip()
        if not tactic or _FORBIDDEN.match(tactic):
            continue
        if tactic not in best or cand.score > best[tactic].score:
            best[tactic] = Candidate(tactic, cand.score, cand.logprob, cand.num_tokens)
    return sorted(best.values(), key=lambda c: -c.score)[:n]


def answer_requests(
    generator, requests: list[GenerationRequest], compute: Callable[[list[GenerationRequest]], list[list[Candidate]]]
) -> list[list[Candidate]]:
    """The common frame of a batched `generate_batch`: `compute` gets only the requests that want candidates
    (n > 0) and returns raw candidates for each; every request gets its own cleaned, best-first list (empty for
    n = 0). The call's wall time and count go to `generator.model_seconds` / `generator.calls`."""
    live = [i for i, r in enumerate(requests) if r.n > 0]
    results: list[list[Candidate]] = [[] for _ in requests]
    if not live:
        return results
    started = time.perf_counter()
    try:
        raw = compute([requests[i] for i in live])
        for i, candidates in zip(live, raw):
            results[i] = clean_candidates(candidates, requests[i].n)
        return results
    finally:
        generator.model_seconds += time.perf_counter() - started
        generator.calls += 1


class AutomationOnly:
    """No model: the search tries only the backend's automation tactics."""

    name = "none"

    def generate(self, theorem: Theorem, state_text: str, n: int) -> list[Candidate]:
        return []


class ReplayGenerator:
    """Test/benchmark double: proposes fixed tactics (per theorem name, or for every theorem) at zero model cost."""

    name = "replay"

    def __init__(self, tactics: list[str] | dict[str, list[str]], score: float = -1.0):
        self._tactics = tactics
        self._score = score

    def generate(self, theorem: Theorem, state_text: str, n: int) -> list[Candidate]:
        tactics = self._tactics.get(theorem.name, []) if isinstance(self._tactics, dict) else self._tactics
        return [Candidate(t, self._score - 1e-3 * i) for i, t in enumerate(tactics[:n])]
