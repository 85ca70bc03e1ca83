"""The pieces of Lean's scanner that both the proof checker (lean_env.verify) and the hole finder (lean_env.holes)
read files with: identifier characters, character literals, and where a nested block comment ends."""
from __future__ import annotations

import re

IDENT_CHAR = re.compile(r"[\w'!?]")
CHAR_LITERAL = re.compile(r"'(?:\\(?:[\\'\"ntr0]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})|[^\\'\n])'")


def block_comment_end(text: str, start: int) -> int | None:
    """Where the block comment opening at `start` (`/-`, `/--`, `/-!`) ends, just after its `-/`; comments nest.
    None if it is never closed. A doc comment's marker is not read as the start of its close (`/--/` stays open)."""
    i, depth = start + 2, 1
    if i < len(text) and text[i] in "-!":
        i += 1
    while i < len(text) and depth:
        if text.startswith("/-", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("-/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return None if depth else i
