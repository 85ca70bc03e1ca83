"""miniF2F in Lean 4 as shipped in the package: the yangky11 set (Lean/Mathlib v4.24.0, the default),
DeepSeek-Prover-V1.5's set (Lean v4.9.0), and Llemma's LeanDojo pointer set, as Theorems.

A Theorem's `statement` is the declaration without its proof tail ("theorem t (x : ℕ) : x = 1"): the
rows end in ':= by sorry' (yangky11) or ':= by\n' (DeepSeek); both are stripped the same way, and a proof
file is `header`, the statement, then ` := by` and the tactics.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lean_env.dojo_pointers import DojoPointer, load_leandojo_benchmark
from lean_env.verify import statement_without_proof
from prover.informal import with_informal
from prover.jsonl import read_rows
from prover.types import Theorem

DATA = Path(__file__).parent / "data" / "minif2f-lean4"
SPLITS = ("valid", "test")


@dataclass(frozen=True)
class Variant:
    """One Lean 4 formalisation of miniF2F and the Lean/Mathlib it was written for."""

    benchmark: str
    file: str
    toolchain: str  # what `prover setup lean --toolchain` takes
    mathlib_git: str
    mathlib_rev: str


MATHLIB_GIT = "https://github.com/leanprover-community/mathlib4"
VARIANTS = {
    "yangky11-v4.24": Variant("minif2f-lean4", "minif2f_yangky11_lean4_v4.24.0.jsonl", "v4.24.0", MATHLIB_GIT, "v4.24.0"),
    # DeepSeek-Prover-V1.5 pins a Mathlib fork (its repo's submodule), on Lean v4.9.0.
    "deepseek-v4.9": Variant("minif2f-lean4-deepseek", "minif2f_deepseek_prover_v1.5.jsonl", "v4.9.0",
                             "https://github.com/xinhjBrant/mathlib4", "2f65ba7f1a9144b20c8e7358513548e317d26de1"),
}
DEFAULT_VARIANT = "yangky11-v4.24"
LLEMMA_POINTERS = "minif2f_llemma_formal2formal_leandojo.jsonl"
DEEPSEEK_FEW_SHOT = "minif2f_valid_few_shot_deepseek_prover_v1.5.jsonl"


def _rows(file: str) -> list[dict]:
    return read_rows(DATA / file, strict=True)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (choose from {', '.join(SPLITS)})")


@cache
def load_split(split: str, variant: str = DEFAULT_VARIANT) -> tuple[Theorem, ...]:
    """The theorems of one split of a miniF2F variant, in file order."""
    _check_split(split)
    if variant not in VARIANTS:
        raise ValueError(f"unknown miniF2F variant {variant!r} (choose from {', '.join(VARIANTS)})")
    chosen = VARIANTS[variant]
    return with_informal(
        Theorem(
            name=row["name"],
            statement=statement_without_proof(row["formal_statement"]),
            header=row["header"].strip(),
            backend="lean",
            split=split,
            benchmark=chosen.benchmark,
        )
        for row in _rows(chosen.file)
        if row["split"] == split
    )


def load_deepseek_split(split: str) -> tuple[Theorem, ...]:
    """DeepSeek-Prover-V1.5's miniF2F (Lean v4.9.0, `import Mathlib` + `import Aesop` header)."""
    return load_split(split, "deepseek-v4.9")


def load_llemma_pointers(split: str) -> tuple[DojoPointer, ...]:
    """Llemma's miniF2F (wellecks/llemma_formal2formal): pointers into rah4927/lean-dojo-mew."""
    _check_split(split)
    return tuple(p for p in load_leandojo_benchmark(DATA / LLEMMA_POINTERS) if p.split == split)


@cache
def load_llemma_split(split: str) -> tuple[Theorem, ...]:
    """Llemma's exact miniF2F set: LeanDojo pointers into rah4927/lean-dojo-mew. The header lives in that
    repository's file, so `header` is empty: only the LeanDojo backend (which opens the file) can run these."""
    return with_informal(
        Theorem(name=p.full_name, statement=p.statement, header="", backend="lean", split=split,
                benchmark="minif2f-lean4-llemma")
        for p in load_llemma_pointers(split)
    )


@cache
def load_deepseek_few_shot() -> tuple[tuple[Theorem, str], ...]:
    """DeepSeek-Prover-V1.5's 67 solved valid-split examples: (theorem, proof body after ':= by')."""
    by_name = {t.name: t for t in load_deepseek_split("valid")}
    return tuple((by_name[row["name"]], row["formal_proof"]) for row in _rows(DEEPSEEK_FEW_SHOT))
