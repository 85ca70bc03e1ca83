"""miniF2F-isabelle as shipped in the package: each .thy file parsed into a Theorem (header + statement), with
its problem's informal statement and proof (prover.informal) for Draft-Sketch-Prove.

The header is everything before the `theorem` command (the author comment, `theory NAME imports ...
begin`, and the one benchmark definition some files have); the statement runs from `theorem` up to its
proof, which is dropped (the file's `sorry`, or a human proof: never shown to the prover).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from isabelle_env.outer_syntax import STATEMENT_COMMANDS, code_tokens, statement_end
from prover.informal import with_informal
from prover.types import Theorem

DATA = Path(__file__).parent / "data" / "minif2f-isabelle"
SPLITS = ("valid", "test")
BENCHMARK = "minif2f-isabelle"


def parse_theory_file(text: str, name: str, **fields) -> Theorem:
    """Split a benchmark theory into what precedes the theorem `name` and its statement (proof dropped)."""
    tokens = code_tokens(text)
    for i, token in enumerate(tokens):
        if token.kind == "word" and token.text in STATEMENT_COMMANDS and i + 1 < len(tokens) \
                and tokens[i + 1].text == name:
            end = statement_end(tokens, i)
            if end >= len(tokens):
                raise ValueError(f"theorem {name} has no proof or `sorry` after its statement")
            statement = text[token.start:tokens[end - 1].end]
            return Theorem(name=name, statement=statement, header=text[:token.start].rstrip(), backend="isabelle",
                           **fields)
    raise ValueError(f"no theorem named {name} in its file")


@lru_cache(maxsize=None)
def load_split(split: str) -> tuple[Theorem, ...]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (choose from {', '.join(SPLITS)})")
    return with_informal(
        parse_theory_file(path.read_text(encoding="utf-8"), path.stem, split=split, benchmark=BENCHMARK)
        for path in sorted((DATA / split).glob("*.thy"))
    )
