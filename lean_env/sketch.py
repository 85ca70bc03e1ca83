"""Lean 4 proof sketches for Draft-Sketch-Prove: a tactic block whose `sorry` tokens are gaps.

Text only (no Lean here): the sketch is cut into steps, one per line of tactic code, with each `sorry`
a step of its own (`have h : P := by sorry` is the step `have h : P := by` followed by a gap), so gap
positions can be reported and gaps filled by splicing text in their place.
"""
from __future__ import annotations

import re

GAP = "sorry"
_TOKEN = re.compile(r"(?<![\w.'])sorry(?![\w'])")
_COMMENT = re.compile(r"--[^\n]*|/-.*?-/", re.S)
_DECLARATION = re.compile(r"^\s*(?:theorem|lemma|example)\b", re.M)


class SketchRefused(ValueError):
    """The sketch cannot be used as written."""


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
    steps: list[str] = []
    for line in code.splitlines():
        pos = 0
        for g in _TOKEN.finditer(line):
            before = line[pos:g.start()].rstrip()
            if before.strip():
                steps.append(before)
            steps.append(GAP)
            pos = g.end()
        rest = line[pos:].rstrip()
        if rest.strip():
            steps.append(rest)
    if not steps:
        raise SketchRefused("the sketch has no proof steps")
    return steps, [i for i, s in enumerate(steps) if s == GAP]


def fill(text: str, fills: list[str]) -> str:
    """The sketch with its gaps, in order, replaced by `fills` (`(tac1; tac2)` style text)."""
    code = _blank_comments(text)
    spans = [m.span() for m in _TOKEN.finditer(code)]
    if len(spans) != len(fills):
        raise ValueError(f"{len(spans)} gaps but {len(fills)} fills")
    out, pos = [], 0
    for (start, end), filler in zip(spans, fills):
        out += [text[pos:start], filler]
        pos = end
    return "".join(out) + text[pos:]
