"""Rocq proof sketches for Draft-Sketch-Prove: a tactic script whose `admit.` sentences are gaps.

A sketch runs sentence by sentence from the theorem's root state. At a gap, the goal `admit` would
close is the first goal (Rocq's default goal selector), and `{` focuses exactly that goal: so a gap is
closed by `{`, tactics that leave "This subproof is complete" (or no goals at all), `}`. Splicing
`{ TACTICS }` in place of `admit.` is valid wherever the `admit.` was, under bullets and braces too.
"""
from __future__ import annotations

import re

from coq_env.sentences import (
    as_single_tactic,
    is_bullet,
    normalize,
    split_sentences,
    strip_comments,
    tactic_problem,
)
from prover.sketches import SketchRefused
from prover.syntax import GapFocus, SketchSyntax
from prover.types import Theorem

GAP = "admit"
FOCUS, UNFOCUS = "{", "}"
_DECLARATION = re.compile(r"^(?:#\[[^\]]*\]\s*)?(?:Theorem|Lemma|Fact|Remark|Corollary|Proposition|Example)\s+([\w']+)")
_END = re.compile(r"^(Qed|Defined|Admitted|Abort|Save)\b")
_GAP_SENTENCE = re.compile(r"^(?:\d+\s*:\s*)?(admit|give_up)\s*\.$")
# `assert (h : P) by admit.`: the assertion, then a gap for P (assert leaves P as the first goal).
_BY_GAP = re.compile(r"^((?:assert|enough|cut|have)\b.*?)\s+by\s+(?:admit|give_up)\s*\.$", re.S)


def parse(text: str, theorem: Theorem) -> tuple[list[str], list[int]]:
    """The sketch's sentences (tactics, bullets, braces, `admit.` gaps) and the indices of its gaps.

    A restated theorem is dropped if it is the benchmark's statement, else the sketch is refused; `Proof.`
    is dropped; text stops at `Qed.`/`Admitted.`/`Defined.`; any other command refuses the sketch.
    """
    steps: list[str] = []
    for sentence in split_sentences(text):
        code = normalize(sentence)
        if not code:
            continue
        if _END.match(code):
            break
        if _DECLARATION.match(code):
            if code != normalize(theorem.statement):
                raise SketchRefused(f"the sketch restates {theorem.name} with a different statement")
            steps = []  # whatever came before the (unchanged) statement is not part of the proof
            continue
        if code == "Proof." or code.startswith("Proof "):
            continue
        if _GAP_SENTENCE.match(code):
            steps.append(f"{GAP}.")
            continue
        by_gap = _BY_GAP.match(code)
        if by_gap and not tactic_problem(by_gap.group(1) + "."):
            steps += [by_gap.group(1) + ".", f"{GAP}."]
            continue
        if not code.endswith(".") and not is_bullet(code):
            break  # an unterminated tail: the model ran out of tokens mid-sentence
        problem = tactic_problem(sentence)
        if problem:
            raise SketchRefused(f"sketch step {' '.join(sentence.split())[:60]!r} refused: {problem}")
        steps.append(" ".join(strip_comments(sentence).split()))
    if not steps:
        raise SketchRefused("the sketch has no proof steps")
    return steps, [i for i, s in enumerate(steps) if s == f"{GAP}."]


def normalize_tactic(tactic: str) -> str:
    sentence, _ = as_single_tactic(tactic)
    return sentence or tactic.strip()


def focus_closed(goals: str) -> bool:
    """After `{` and some tactics: is the focused goal proved?"""
    return "This subproof is complete" in goals or "No more goals" in goals


def render_sketch(steps: list[str], fills: dict[int, tuple[str, ...]]) -> str:
    """The sketch with gap i replaced by `{ fills[i] }` (unfilled gaps stay `admit.`), one step a line."""
    lines = []
    for i, step in enumerate(steps):
        lines.append(f"{{ {' '.join(fills[i])} }}" if i in fills else step)
    return "\n".join(lines)


_NAMED = re.compile(r"^\s*(?:Theorem|Lemma|Fact|Remark|Corollary|Proposition|Example)\s+([\w']+)")


def statement_name(formal: str) -> str:
    """The name a user's formal statement declares; ValueError unless it is one declaration ending with '.'."""
    sentences = split_sentences(formal)
    m = _NAMED.match(sentences[0]) if sentences else None
    if len(sentences) != 1 or not m or not sentences[0].endswith("."):
        raise ValueError("the formal statement must be one Rocq declaration ending with '.', "
                         "e.g. 'Theorem t (x : R) : x = x.'")
    return m.group(1)


SKETCH = SketchSyntax(
    gap_word=f"{GAP}.",
    stops=("Qed.", "Admitted.", "Defined.", "\nInformal:", "(*### Problem"),
    parse=parse,
    statement_name=statement_name,
    example_set=lambda name: "rocq",
    proof_opening="Proof.\n",
    proof_closing="\nQed.",
    default_header="Require Import Reals Arith ZArith.\nOpen Scope R_scope.",
    focus=GapFocus(open=FOCUS, close=UNFOCUS, closed=focus_closed, normalize=normalize_tactic),
)
