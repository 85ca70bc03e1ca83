"""miniF2F-isabelle as shipped in the package: each .thy file parsed into a Theorem (header + statement),
and the informal statements and proofs (for Draft-Sketch-Prove) looked up by problem name.

The header is everything before the `theorem` command (the author comment, `theory NAME imports ...
begin`, and the one benchmark definition some files have); the statement runs from `theorem` up to its
proof, which is dropped (the file's `sorry`, or a human proof: never shown to the prover).
Informal data is keyed by miniF2F problem name, which Lean 4 and Rocq miniF2F use too, so the lookup
serves all three backends (names compare case-insensitively when no exact match exists).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from isabelle_env.verify import STATEMENT_COMMANDS, code_tokens, statement_end
from prover.types import Theorem

DATA = Path(__file__).parent / "data" / "minif2f-isabelle"
SPLITS = ("valid", "test")
BENCHMARK = "minif2f-isabelle"
DSP_FILE = "new_complete_mini_dsp.jsonl"


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
    return tuple(
        parse_theory_file(path.read_text(encoding="utf-8"), path.stem, split=split, benchmark=BENCHMARK)
        for path in sorted((DATA / split).glob("*.thy"))
    )


# -- informal statements and proofs ------------------------------------------------------------------------
@dataclass(frozen=True)
class InformalProblem:
    """A problem's informal statement and proof (LaTeX-ish text), for Draft-Sketch-Prove prompts."""

    name: str  # the miniF2F problem name (= the .thy file's and theorem's name)
    split: str
    statement: str
    proof: str
    source: str  # "minif2f-informal" or "draft-sketch-prove"


_FORMAL_NAME = re.compile(r"^\s*(?:theorem|lemma)\s+([^\s:]+)\s*:", re.M)


@lru_cache(maxsize=1)
def informal_problems() -> dict[str, InformalProblem]:
    """Every problem with informal data, keyed by miniF2F problem name.

    miniF2F's informal/ files come first (one per problem, named like the .thy files: all 488); a problem
    they lacked would be filled in from Draft-Sketch-Prove's rows.
    """
    problems: dict[str, InformalProblem] = {}
    for split in SPLITS:
        for path in sorted((DATA / "informal" / split).glob("*.json")):
            row = json.loads(path.read_text(encoding="utf-8"))
            problems[path.stem] = InformalProblem(path.stem, split, row["informal_statement"], row["informal_proof"],
                                                  "minif2f-informal")
    for name, problem in dsp_problems().items():
        problems.setdefault(name, problem)
    return problems


@lru_cache(maxsize=1)
def dsp_problems() -> dict[str, InformalProblem]:
    """Draft-Sketch-Prove's aligned rows, keyed by miniF2F problem name: matched by the theorem name in
    their formal_statement, since their problem_name is sometimes another spelling (imo_1992_1 for
    imo_1992_p1). Rows whose theorem is not among the 488 are left out."""
    split_of = {t.name: t.split for split in SPLITS for t in load_split(split)}
    problems: dict[str, InformalProblem] = {}
    for line in (DATA / DSP_FILE).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        m = _FORMAL_NAME.search(row.get("formal_statement", ""))
        name = m.group(1) if m and m.group(1) in split_of else row["problem_name"]
        if name in split_of and name not in problems:
            problems[name] = InformalProblem(name, split_of[name], row["informal_statement"], row["informal_proof"],
                                             "draft-sketch-prove")
    return problems


def load_informal(name: str, *, prefer: str = "minif2f-informal") -> InformalProblem:
    """The informal statement and proof of miniF2F problem `name` (an Isabelle, Lean 4 or Rocq name).

    KeyError when there is none. An exact name wins; otherwise the name is matched ignoring case (Lean's
    numbertheory_notEquiv2i2jasqbsqdiv8 is Isabelle's numbertheory_notequiv2i2jasqbsqdiv8).
    prefer="draft-sketch-prove" gives Draft-Sketch-Prove's text where it has the problem.
    """
    problems = informal_problems()
    if name not in problems:
        folded = _casefolded()
        if name.casefold() not in folded:
            raise KeyError(f"no informal statement for {name!r} in miniF2F")
        name = folded[name.casefold()]
    if prefer == "draft-sketch-prove" and name in dsp_problems():
        return dsp_problems()[name]
    return problems[name]


@lru_cache(maxsize=1)
def _casefolded() -> dict[str, str]:
    return {name.casefold(): name for name in informal_problems()}
