"""competition-rocq as shipped in the package: our own Coq statements of textbook and competition-style problems
from sources miniF2F does not draw on (data/competition-rocq: PROVENANCE.txt, sources.json), one split `all`.
For choosing settings away from miniF2F test; each problem's family is in sources.json."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from coq_env.minif2f import split_theorems
from prover.types import Theorem

DATA = Path(__file__).parent / "data" / "competition-rocq"
SPLITS = ("all",)


@lru_cache(maxsize=None)
def load_competition(split: str) -> tuple[Theorem, ...]:
    return split_theorems(DATA, SPLITS, split, "competition-rocq")


@lru_cache(maxsize=None)
def families() -> dict[str, str]:
    """Each theorem's family (equations, polynomials, inequalities, induction, ...), from sources.json."""
    sources = json.loads((DATA / "sources.json").read_text(encoding="utf-8"))
    return {name: entry["family"] for name, entry in sources.items()}
