"""Isabelle proof sketches for Draft-Sketch-Prove: an Isar proof whose `sledgehammer` calls are gaps.

Text only: gap positions, steps (one per line of Isar, each `sledgehammer` a step of its own) and filling
gaps by splicing proof methods (`by auto`, a Sledgehammer-found `by (smt ...)`) in their place.
"""
from __future__ import annotations

import re

GAP = "sledgehammer"
_TOKEN = re.compile(r"(?<![\w.'])sledgehammer(?![\w'])")
_COMMENT = re.compile(r"\(\*.*?\*\)", re.S)
_CARTOUCHE_TEXT = re.compile(r"\btext\s*\\<open>.*?\\<close>", re.S)
_DECLARATION = re.compile(r"^\s*(?:theorem|lemma)\b", re.M)
_PROOF_START = re.compile(r"^\s*(proof\b|by\b|using\b|unfolding\b|apply\b|sledgehammer\b)", re.M)


class SketchRefused(ValueError):
    """The sketch cannot be used as written."""


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
    """The sketch with its gaps, in order, replaced by `fills` (e.g. "by auto")."""
    code = _blank(text)
    spans = [m.span() for m in _TOKEN.finditer(code)]
    if len(spans) != len(fills):
        raise ValueError(f"{len(spans)} gaps but {len(fills)} fills")
    out, pos = [], 0
    for (start, end), filler in zip(spans, fills):
        out += [text[pos:start], filler]
        pos = end
    return "".join(out) + text[pos:]
