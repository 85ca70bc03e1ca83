"""Suggestions that start with what the user has typed: a generator wrapper that puts a request's prefix first.

The prefix travels through the GeneratorService inside the state text (`encode_state`), so its cache key holds the
prefix too. The generator's prompt gets the prefix up to its last whitespace appended, and the model's completions
are joined to it; a partial last word ("exa") is then matched against the completions' starts (a stripped
completion cannot tell "exact" from "exa ct", so the word is not put in the prompt).
"""
from __future__ import annotations

import dataclasses
import re
from functools import lru_cache

from prover.generators import Candidate, GenerationRequest, clean_candidates, forbidden_pattern, generate_batch
from prover.plugins import available_backends, cached_plugin
from prover.prompts import PromptTemplate
from prover.types import Theorem

_PREFIX_MARK = "\x1f\x1fllemma-serve-prefix\x1f\x1f"  # joins a state and its prefix into one cache key
MAX_N = 64  # the most suggestions one request may ask for


@lru_cache(maxsize=1)
def _cheats() -> re.Pattern:
    """Every installed backend's forbidden words, anywhere in a suggestion (not only first): a model trained on
    one language's proofs proposes that language's cheats in another."""
    return forbidden_pattern(w for name in available_backends() for w in cached_plugin(name).forbidden_tactics)


def encode_state(state: str, prefix: str) -> str:
    """The state text a request carries through the GeneratorService (its cache key holds the prefix too)."""
    return f"{state}{_PREFIX_MARK}{prefix}" if prefix else state


def decode_state(state_text: str) -> tuple[str, str]:
    state, _, prefix = state_text.partition(_PREFIX_MARK)
    return state, prefix


def split_prefix(prefix: str) -> tuple[str, str]:
    """(head, tail): the prefix up to and including its last whitespace, and the partial word after it."""
    cut = max((i for i, c in enumerate(prefix) if c.isspace()), default=-1) + 1
    return prefix[:cut], prefix[cut:]


def _extended(template: PromptTemplate, head: str) -> PromptTemplate:
    if "{goals}" in head or "{statement}" in head:
        raise ValueError("a prefix may not contain '{goals}' or '{statement}'")
    return PromptTemplate(f"{template.name}+prefix", template.text + head, template.stop)


class PrefixingGenerator:
    """Wraps a TacticGenerator so that each request's prefix (encoded in its state text) starts its candidates.

    Generators with a prompt template (a `template` attribute, as prover.model_generator.ModelGenerator's) get the
    prefix's head appended to the prompt for the call; the others are asked plainly and their candidates that do
    not start with the prefix dropped. Only the GeneratorService's worker thread calls `generate_batch`, so
    swapping the template for a call is safe.
    """

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        params = getattr(inner, "cache_params", None)
        self._params = ("prefixing", *(params() if callable(params) else (inner.name,)))

    def cache_params(self) -> tuple:
        return self._params

    def generate(self, theorem: Theorem, state_text: str, n: int) -> list[Candidate]:
        return self.generate_batch([GenerationRequest(theorem, state_text, n)])[0]

    def generate_batch(self, requests: list[GenerationRequest]) -> list[list[Candidate]]:
        results: list[list[Candidate]] = [[] for _ in requests]
        groups: dict[tuple[str, str], list[int]] = {}
        for i, r in enumerate(requests):
            _, prefix = decode_state(r.state_text)
            groups.setdefault((split_prefix(prefix)[0], r.theorem.backend), []).append(i)
        for (head, _), members in groups.items():
            asks = []
            for i in members:
                state, prefix = decode_state(requests[i].state_text)
                n = requests[i].n if prefix == head else min(MAX_N, 2 * requests[i].n)  # some will not match
                asks.append(GenerationRequest(requests[i].theorem, state, n, requests[i].deadline))
            raw = self._call(asks, head)
            for i, candidates in zip(members, raw):
                _, prefix = decode_state(requests[i].state_text)
                results[i] = self._join(candidates, prefix, head, requests[i].n)
        return results

    def _call(self, asks: list[GenerationRequest], head: str) -> list[list[Candidate]]:
        inner = self.inner
        template = getattr(inner, "template", None)
        if not head or not isinstance(template, PromptTemplate):
            return generate_batch(inner, asks)  # no prompt to extend: filtered by the whole prefix below
        inner.template = _extended(template, head)  # the generator's public setting, for this call only
        try:
            return generate_batch(inner, asks)
        finally:
            inner.template = template

    def _join(self, candidates: list[Candidate], prefix: str, head: str, n: int) -> list[Candidate]:
        template_aware = bool(head) and isinstance(getattr(self.inner, "template", None), PromptTemplate)
        joined = []
        for c in candidates:
            tactic = head + c.tactic.lstrip() if template_aware else c.tactic.strip()
            if tactic.startswith(prefix) and not _cheats().search(tactic):
                joined.append(dataclasses.replace(c, tactic=tactic))
        return clean_candidates(joined, n)
