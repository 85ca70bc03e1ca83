"""Tactic generators: proof-state text in, scored candidate tactics out. The search knows only this."""
from __future__ import annotations

import functools
import inspect
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

    def generate(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> list[Candidate]:
        """Up to `n` distinct candidates for the state, best first.

        `deadline` (a `time.monotonic()` value, None: none) is when the caller stops waiting: a model stops working
        on the request then and returns the candidates already complete (possibly none). A generator written
        before deadlines existed may leave the parameter out; call it through `generate_within`."""
        ...


@dataclass(frozen=True)
class GenerationRequest:
    """One state's request, as a batching service hands several to `generate_batch` at once."""

    theorem: Theorem
    state_text: str
    n: int
    deadline: float | None = None  # time.monotonic() after which the answer is no use; None: no limit


def expired(deadline: float | None, now: float | None = None) -> bool:
    """Whether `deadline` (time.monotonic(), None: never) has passed."""
    return deadline is not None and (time.monotonic() if now is None else now) >= deadline


def seconds_left(deadline: float | None, default: float) -> float:
    """Time until `deadline`, at most `default` (the whole of `default` when there is no deadline); 0 if passed."""
    if deadline is None:
        return default
    return max(0.0, min(default, deadline - time.monotonic()))


def latest_deadline(deadlines: Iterable[float | None]) -> float | None:
    """The last of several requests' deadlines: None (no limit) if any of them has none."""
    deadlines = list(deadlines)
    return None if not deadlines or None in deadlines else max(deadlines)


def takes_keyword(method, name: str) -> bool:
    """Whether `method` (a function or bound method) accepts the keyword argument `name`: lets callers pass a
    newer optional argument (`deadline=`, `timeout=`) to implementations written before it existed."""
    return _takes_keyword(getattr(method, "__func__", method), name)


@functools.lru_cache(maxsize=256)
def _takes_keyword(function, name: str) -> bool:
    # Looked up once per function (the search calls it at every expansion).
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin or an odd callable: assume the old signature
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def generate_within(
    generator: "TacticGenerator", theorem: Theorem, state_text: str, n: int, deadline: float | None
) -> list[Candidate]:
    """`generator.generate`, given the deadline where it takes one. A request already past its deadline is not
    sent at all; a generator without a deadline parameter is called plainly (it may then overrun)."""
    if expired(deadline):
        return []
    generate = generator.generate
    if deadline is not None and takes_keyword(generate, "deadline"):
        return generate(theorem, state_text, n, deadline=deadline)
    return generate(theorem, state_text, n)


def generate_batch(generator: "TacticGenerator", requests: list[GenerationRequest]) -> list[list[Candidate]]:
    """Candidates for several states: one batched model call where the generator has one, else one by one
    (each with its own deadline)."""
    batched = getattr(generator, "generate_batch", None)
    if batched is not None:
        return batched(requests)
    return [generate_within(generator, r.theorem, r.state_text, r.n, r.deadline) for r in requests]


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
    (n > 0) and still have time (deadline not passed) and returns raw candidates for each; every request gets its
    own cleaned, best-first list (empty for the others). The call's wall time and count go to
    `generator.model_seconds` / `generator.calls`."""
    now = time.monotonic()
    live = [i for i, r in enumerate(requests) if r.n > 0 and not expired(r.deadline, now)]
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

    def generate(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> list[Candidate]:
        return []


class ReplayGenerator:
    """Test/benchmark double: proposes fixed tactics (per theorem name, or for every theorem) at zero model cost."""

    name = "replay"

    def __init__(self, tactics: list[str] | dict[str, list[str]], score: float = -1.0):
        self._tactics = tactics
        self._score = score

    def generate(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> list[Candidate]:
        tactics = self._tactics.get(theorem.name, []) if isinstance(self._tactics, dict) else self._tactics
        return [Candidate(t, self._score - 1e-3 * i) for i, t in enumerate(tactics[:n])]
