"""The shipped miniF2F-isabelle data: 244 + 244 theories parsed into Theorems, and the informal statements
and proofs keyed by problem name (also for Lean 4 and Rocq names)."""
from __future__ import annotations

import pytest

from coq_env.minif2f import load_split as load_rocq_split
from isabelle_env.minif2f import DATA, informal_problems, load_informal, load_split
from isabelle_env.verify import code_tokens, static_problem


@pytest.fixture(scope="module")
def splits():
    return {split: load_split(split) for split in ("valid", "test")}


def test_counts_and_fields(splits):
    assert len(splits["valid"]) == 244 and len(splits["test"]) == 244
    for split, theorems in splits.items():
        for t in theorems:
            assert (t.backend, t.split, t.benchmark) == ("isabelle", split, "minif2f-isabelle")
            assert t.statement.startswith(f"theorem {t.name}")
            assert "sorry" not in t.statement and not t.statement.rstrip().endswith(("by", "proof"))
            header = [tok.text for tok in code_tokens(t.header)]
            assert header[:2] == ["theory", t.name] and "begin" in header
            assert "theorem" not in header


def test_names_are_unique_across_splits(splits):
    names = [t.name for theorems in splits.values() for t in theorems]
    assert len(set(names)) == len(names) == 488


def test_shipped_licence_and_provenance():
    for name in ("LICENSE", "LICENSE_draft_sketch_prove", "PROVENANCE.txt", "new_complete_mini_dsp.jsonl"):
        assert (DATA / name).is_file(), name
    assert "Apache License" in (DATA / "LICENSE").read_text()


def test_each_statement_with_a_proof_passes_the_static_checks(splits):
    for theorems in splits.values():
        for t in theorems:
            text = f"{t.header}\n\n{t.statement}\n  by simp\n\nend\n"
            assert static_problem(text, t) is None, t.name


def test_header_keeps_the_benchmark_definition(splits):
    t = {t.name: t for t in splits["test"]}["mathd_numbertheory_764"]
    assert "definition inv_mod" in t.header and t.statement.startswith("theorem mathd_numbertheory_764:")


def test_informal_coverage_and_alignment(splits):
    problems = informal_problems()
    names = {t.name: t.split for theorems in splits.values() for t in theorems}
    assert set(problems) == set(names)
    for name, problem in problems.items():
        assert problem.split == names[name]
        assert problem.statement.strip() and problem.proof.strip()
    assert load_informal("aime_1983_p1").statement.startswith("Let $x$, $y$ and $z$ all exceed $1$")


def test_informal_lookup_serves_lean_and_rocq_names():
    rocq = [t.name for split in ("valid", "test") for t in load_rocq_split(split)]
    assert all(load_informal(name).name for name in rocq)
    # Lean 4 miniF2F spells one name with a capital: matched ignoring case
    assert load_informal("numbertheory_notEquiv2i2jasqbsqdiv8").name == "numbertheory_notequiv2i2jasqbsqdiv8"
    with pytest.raises(KeyError):
        load_informal("no_such_problem")


def test_unknown_split():
    with pytest.raises(ValueError, match="unknown split"):
        load_split("train")


def test_draft_sketch_prove_rows_aligned_by_theorem_name():
    from isabelle_env.minif2f import dsp_problems

    dsp = dsp_problems()
    assert len(dsp) == 483  # 5 of its 488 rows are theorems miniF2F-isabelle does not have
    assert dsp["imo_1992_p1"].source == "draft-sketch-prove"  # its problem_name is imo_1992_1
    assert load_informal("imo_1992_p1", prefer="draft-sketch-prove").source == "draft-sketch-prove"
    assert load_informal("imo_1992_p1").source == "minif2f-informal"
    assert load_informal("aimeII_2001_p3", prefer="draft-sketch-prove").source == "minif2f-informal"  # no DSP row
