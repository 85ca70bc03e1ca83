"""Isabelle proof sketches for Draft-Sketch-Prove: an Isar proof whose `sledgehammer` calls are gaps.

Text only: gap positions, steps (one per line of Isar, each `sledgehammer` a step of its own) and filling
gaps by splicing proof methods (`by auto`, a Sledgehammer-found `by (smt ...)`) in their place.
"""
from __future__ import annotations

import re

from prover.sketches import SketchRefused, fill_gaps, split_at_gaps
from prover.syntax import SketchSyntax, keyword_declaration_name

GAP = "sledgehammer"
_TOKEN = re.compile(r"(?<![\w.'])sledgehammer(?![\w'])")
_COMMENT = re.compile(r"\(\*.*?\*\)", re.S)
_CARTOUCHE_TEXT = re.compile(r"\btext\s*\\<open>.*?\\<close>", re.S)
_DECLARATION = re.compile(r"^\s*(?:theorem|lemma)\b", re.M)
_PROOF_START = re.compile(r"^\s*(proof\b|by\b|using\b|unfolding\b|apply\b|sledgehammer\b)", re.M)


def _blank(text: str) -> str:
    blank = lambda m: re.sub(r"[^\n]", " ", m.group(0))  # noqa: E731
    return _CARTOUCHE_TEXT.sub(blank, _COMMENT.sub(blank, text))


def gap_positions(text: str) -> list[tuple[int, int]]:
    """(line, column), both from 0, of every `sledgehammer` gap outside comments."""
    code = _blank(text)
    return [(code.count("\n", 0, m.start()), m.start() - (code.rfind("\n", 0, m.start()) + 1))
            for m in _TOKEN.finditer(code)]


def parse(text: str, statement: str = "") -> tuple[list[str], list[int]]:
    """Steps (Isar lines, gaps split out; comments dropped) and the gaps' step indices.

    A restated theorem differing from `statement` refuses the sketch; an identical one is dropped.
    """
    code = _blank(text)
    m = _DECLARATION.search(code)
    if m:
        start = _PROOF_START.search(code, m.end())
        restated = code[m.start():start.start() if start else len(code)]
        if statement and " ".join(restated.split()) != " ".join(_blank(statement).split()):
            raise SketchRefused("the sketch restates the theorem with a different statement")
        code = code[start.start():] if start else ""
    return split_at_gaps(code, _TOKEN, GAP)


def fill(text: str, fills: list[str]) -> str:
    """The sketch with its gaps, in order, replaced by `fills` (e.g. "by auto")."""
    return fill_gaps(text, _blank(text), _TOKEN, fills)


def example_set(name: str) -> str:
    """The few-shot set a problem's prompt uses: number theory apart from the rest, as Draft-Sketch-Prove and Llemma."""
    return "isabelle_numbertheory" if "numbertheory" in name.lower() else "isabelle_other"


SKETCH = SketchSyntax(
    gap_word=GAP,
    stops=("\nInformal:", "(*### Problem"),
    parse=lambda text, theorem: parse(text, theorem.statement),
    statement_name=lambda formal: keyword_declaration_name(formal, "isabelle"),
    example_set=example_set,
)
