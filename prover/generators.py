"""Tactic generators: proof-state text in, scored candidate tactics out. The search knows only this."""
from __future__ import annotations

import functools
import inspect
import re
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol, runtime_checkable

from prover.lm import expired
from prover.types import Theorem

__all__ = [
    "AutomationOnly", "CHEAT_TACTICS", "Candidate", "GenerationRequest", "SCORINGS", "TacticGenerator",
    "candidate_score", "clean_candidates", "expired", "forbidden_pattern", "generate_batch", "generate_within",
    "goals_split_after",
    "latest_deadline", "seconds_left", "takes_keyword",
]


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


def forbidden_pattern(words: Iterable[str]) -> re.Pattern:
    """A pattern for any of `words` as a whole word: `.match` finds one that starts a tactic, `.search` one
    anywhere in it. No words: a pattern that matches nothing."""
    words = sorted(set(words))
    return re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b") if words else re.compile(r"(?!)")


def goals_split_after(separator: str) -> Callable[[str], str]:
    """A `first_goal` (BackendPlugin.first_goal) for a state layout where each goal's hypotheses end at a line
    matching `separator` (a regex) and the goal at the next blank line: the text up to that blank line."""
    pattern = re.compile(separator, re.MULTILINE)

    def first_goal(goals: str) -> str:
        found = pattern.search(goals)
        if found is None:
            return goals
        end = goals.find("\n\n", found.end())
        return goals if end < 0 else goals[:end]

    return first_goal


# Tactics that close a goal without proving it in the languages the prover ships with: what a generator drops when
# it is not told its backend's words (BackendPlugin.forbidden_tactics).
CHEAT_TACTICS = ("sorry", "admit", "Admitted", "give_up", "oops")
_CHEATS = forbidden_pattern(CHEAT_TACTICS)


def clean_candidates(raw: Iterable[Candidate], n: int, forbidden: re.Pattern = _CHEATS) -> list[Candidate]:
    """Strip, drop empty ones and those starting with a `forbidden` word, merge duplicates keeping the best
    score, best first."""
    best: dict[str, Candidate] = {}
    for cand in raw:
        tactic = cand.tactic.strip()
        if not tactic or forbidden.match(tactic):
            continue
        if tactic not in best or cand.score > best[tactic].score:
            best[tactic] = Candidate(tactic, cand.score, cand.logprob, cand.num_tokens)
    return sorted(best.values(), key=lambda c: -c.score)[:n]


class AutomationOnly:
    """No model: the search tries only the backend's automation tactics."""

    name = "none"

    def generate(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> list[Candidate]:
        return []
