"""Proofstep augmentation for Rocq: the same step with its hypotheses and number variables renamed.

A few dozen proofs on the valid split are too few for a model to learn `rewrite h0 in *.` as "rewrite with the
hypothesis that defines the function" rather than as the string `h0`. Consistent renaming (in the state and
the tactic alike) turns each step into several that differ only in names, so the model learns to copy names
from the goal (data augmentation in the spirit of AlphaGeometry's and Lean-Copilot's name-agnostic steps).
"""
from __future__ import annotations

import random
import re
from dataclasses import replace

from coq_env.hints import parse_context
from prover.proofsteps import ProofStep

HYPOTHESIS_NAMES = ("H", "H0", "H1", "H2", "h", "h0", "h1", "h2", "h3", "h₀", "h₁", "h₂", "hx", "hy", "hf", "Hf")
VARIABLE_NAMES = tuple("abcdefklmnpqrstuvwxyz")
_RELATIONS = ("=", "<", ">", "/\\", "\\/", "~")
_IDENT_CHARS = r"\w'₀-₉"


def _is_proposition(typ: str) -> bool:
    """A hypothesis (h : a < b), not a function or object variable (f : R -> R): has a relation or connective."""
    return any(r in typ.replace("<->", "=").replace("->", " ") for r in _RELATIONS)


def rename_text(text: str, mapping: dict[str, str]) -> str:
    """Every whole-identifier occurrence of a key replaced by its value, all at once (a swap stays a swap)."""
    if not mapping:
        return text
    names = "|".join(map(re.escape, sorted(mapping, key=len, reverse=True)))
    pattern = re.compile(rf"(?<![{_IDENT_CHARS}.])({names})(?![{_IDENT_CHARS}])")
    return pattern.sub(lambda m: mapping[m.group(1)], text)


def rename_step(step: ProofStep, rng: random.Random) -> ProofStep | None:
    """A copy of `step` with its hypotheses and number variables renamed; None if it has none to rename."""
    hyps, variables, _ = parse_context(step.state)
    hypotheses = [name for name, typ in hyps if _is_proposition(typ)]
    numbers = list(variables)
    if not hypotheses and not numbers or len(hypotheses) > len(HYPOTHESIS_NAMES) or len(numbers) > len(VARIABLE_NAMES):
        return None
    taken = set(re.findall(rf"[A-Za-z_][{_IDENT_CHARS}]*", step.state + " " + step.tactic)) - set(hypotheses) - set(numbers)
    hypothesis_pool = [n for n in HYPOTHESIS_NAMES if n not in taken]
    variable_pool = [n for n in VARIABLE_NAMES if n not in taken]
    if len(hypothesis_pool) < len(hypotheses) or len(variable_pool) < len(numbers):
        return None
    mapping = dict(zip(hypotheses, rng.sample(hypothesis_pool, len(hypotheses))))
    mapping.update(zip(numbers, rng.sample(variable_pool, len(numbers))))
    return replace(step, state=rename_text(step.state, mapping), tactic=rename_text(step.tactic, mapping))
