"""Lean 4 proof sketches for Draft-Sketch-Prove: a tactic block whose `sorry` tokens are gaps.

Text only (no Lean here): the sketch is cut into steps, one per line of tactic code, with each `sorry`
a step of its own (`have h : P := by sorry` is the step `have h : P := by` followed by a gap), so gap
positions can be reported and gaps filled by splicing text in their place.
"""
from __future__ import annotations

import re

from prover.sketches import SketchRefused, fill_gaps, split_at_gaps
from prover.syntax import SketchSyntax, keyword_declaration_name
from prover.types import Theorem

GAP = "sorry"
_TOKEN = re.compile(r"(?<![\w.'])sorry(?![\w'])")
_COMMENT = re.compile(r"--[^\n]*|/-.*?-/", re.S)
_DECLARATION = re.compile(r"^\s*(?:theorem|lemma|example)\b", re.M)


def _blank_comments(text: str) -> str:
    """The text with comments replaced by spaces (positions kept), so `sorry` in a comment is no gap."""
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def gap_positions(text: str) -> list[tuple[int, int]]:
    """(line, column), both from 0, of every `sorry` gap outside comments."""
    code = _blank_comments(text)
    out = []
    for m in _TOKEN.finditer(code):
        line = code.count("\n", 0, m.start())
        out.append((line, m.start() - (code.rfind("\n", 0, m.start()) + 1)))
    return out


def parse(text: str, statement: str = "") -> tuple[list[str], list[int]]:
    """Steps (code lines, gaps split out as `sorry` steps; comments dropped) and the gaps' step indices.

    A restated theorem differing from `statement` refuses the sketch; an identical one is dropped.
    """
    code = _blank_comments(text)
    m = _DECLARATION.search(code)
    if m:
        head_end = code.find(":= by", m.start())
        restated = code[m.start():head_end if head_end >= 0 else len(code)]
        if statement and " ".join(restated.split()) != " ".join(statement.split()).removesuffix(":= by").strip():
            raise SketchRefused("the sketch restates the theorem with a different statement")
        code = code[head_end + len(":= by"):] if head_end >= 0 else ""
    return split_at_gaps(code, _TOKEN, GAP)


def fill(text: str, fills: list[str]) -> str:
    """The sketch with its gaps, in order, replaced by `fills` (`(tac1; tac2)` style text)."""
    return fill_gaps(text, _blank_comments(text), _TOKEN, fills)


def formal_statement(theorem: Theorem) -> str:
    """The statement ending in `:= by`, where the tactics start (a benchmark's `:= by sorry` tail replaced)."""
    statement = theorem.statement.strip()
    if not statement.endswith(":= by"):
        statement = re.sub(r"\s*:=\s*(by\s*(sorry)?)?\s*$", "", statement) + " := by"
    return statement


SKETCH = SketchSyntax(
    gap_word=GAP,
    stops=("\nInformal:", "\ntheorem ", "/-### Problem"),
    parse=lambda text, theorem: parse(text, formal_statement(theorem)),
    statement_name=lambda formal: keyword_declaration_name(formal, "lean"),
    example_set=lambda name: "lean",
    comment=("/-", "-/"),
    formal_statement=formal_statement,
)
