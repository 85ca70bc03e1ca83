"""miniF2F's informal statements and proofs by problem name, for every backend's benchmark loader.

miniF2F names a problem the same way in each formal language (aime_1983_p1, mathd_algebra_37, ...), so one
table serves the Rocq, Lean 4 and Isabelle loaders: each fills `Theorem.informal_statement`/`informal_proof`
with `with_informal`, and Draft-Sketch-Prove translation reads them from there. The data ships in
prover/data/minif2f-informal (see its PROVENANCE.txt): miniF2F's informal/ folder (one file per problem, all
488) and Draft-Sketch-Prove's aligned rows (another wording for most of them).
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from prover.jsonl import read_rows
from prover.types import Theorem

DATA = Path(__file__).parent / "data" / "minif2f-informal"
SPLITS = ("valid", "test")
DSP_FILE = "new_complete_mini_dsp.jsonl"


@dataclass(frozen=True)
class InformalProblem:
    """A problem's informal statement and proof (LaTeX-ish text), for Draft-Sketch-Prove prompts."""

    name: str  # the miniF2F problem name
    split: str
    statement: str
    proof: str
    source: str  # "minif2f-informal" or "draft-sketch-prove"


# The theorem's name in a formal statement, e.g. Draft-Sketch-Prove's Isabelle `theorem imo_1992_p1:`.
_FORMAL_NAME = re.compile(r"^\s*(?:theorem|lemma)\s+([^\s:]+)\s*:", re.M)


@lru_cache(maxsize=1)
def informal_problems() -> dict[str, InformalProblem]:
    """Every problem with informal data, keyed by miniF2F problem name.

    miniF2F's informal/ files come first (one per problem: all 488); a problem they lacked would be filled in
    from Draft-Sketch-Prove's rows.
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
    """Draft-Sketch-Prove's aligned rows, keyed by miniF2F problem name: matched by the theorem name in their
    formal_statement, since their problem_name is sometimes another spelling (imo_1992_1 for imo_1992_p1). Rows
    whose theorem is not one of miniF2F's 488 problems are left out."""
    split_of = {path.stem: split for split in SPLITS for path in (DATA / "informal" / split).glob("*.json")}
    problems: dict[str, InformalProblem] = {}
    for row in read_rows(DATA / DSP_FILE, strict=True):
        m = _FORMAL_NAME.search(row.get("formal_statement", ""))
        name = m.group(1) if m and m.group(1) in split_of else row["problem_name"]
        if name in split_of and name not in problems:
            problems[name] = InformalProblem(name, split_of[name], row["informal_statement"], row["informal_proof"],
                                             "draft-sketch-prove")
    return problems


def load_informal(name: str, *, prefer: str = "minif2f-informal") -> InformalProblem:
    """The informal statement and proof of miniF2F problem `name`, as any backend's benchmark spells it.

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


def with_informal(theorems: Iterable[Theorem]) -> tuple[Theorem, ...]:
    """The theorems, each with its problem's informal statement and proof where miniF2F has them (else as given)."""
    out = []
    for theorem in theorems:
        try:
            informal = load_informal(theorem.name)
        except KeyError:
            out.append(theorem)
            continue
        out.append(dataclasses.replace(theorem, informal_statement=informal.statement,
                                       informal_proof=informal.proof))
    return tuple(out)
