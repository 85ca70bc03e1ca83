"""Text helpers shared by the backends' sketch parsers (Draft-Sketch-Prove): steps split around gap tokens,
and gaps filled back in. Each backend says what its gap is (`admit`, `sorry`, `sledgehammer`) and how to
blank out its comments; these helpers do the rest."""
from __future__ import annotations

import re


class SketchRefused(ValueError):
    """A sketch that cannot be used: it changes the statement, has no steps, or holds forbidden commands."""


def split_at_gaps(code: str, token: re.Pattern, gap: str) -> tuple[list[str], list[int]]:
    """(steps, indices of the gap steps): each line's text around the gap tokens, gaps as `gap` steps."""
    steps: list[str] = []
    for line in code.splitlines():
        pos = 0
        for g in token.finditer(line):
            before = line[pos:g.start()].rstrip()
            if before.strip():
                steps.append(before)
            steps.append(gap)
            pos = g.end()
        rest = line[pos:].rstrip()
        if rest.strip():
            steps.append(rest)
    if not steps:
        raise SketchRefused("the sketch has no proof steps")
    return steps, [i for i, s in enumerate(steps) if s == gap]


def fill_gaps(text: str, blanked: str, token: re.Pattern, fills: list[str]) -> str:
    """`text` with its gaps (found in `blanked`, the same text with comments blanked out) replaced by `fills`."""
    spans = [m.span() for m in token.finditer(blanked)]
    if len(spans) != len(fills):
        raise ValueError(f"{len(spans)} gaps but {len(fills)} fills")
    out, pos = [], 0
    for (start, end), filler in zip(spans, fills):
        out += [text[pos:start], filler]
        pos = end
    return "".join(out) + text[pos:]
