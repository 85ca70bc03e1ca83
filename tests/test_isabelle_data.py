"""The shipped miniF2F-isabelle data: 244 + 244 theories parsed into Theorems, with their informal text."""
from __future__ import annotations

import pytest

from isabelle_env.minif2f import DATA, load_split
from isabelle_env.outer_syntax import code_tokens
from isabelle_env.verify import static_problem


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
    for name in ("LICENSE", "PROVENANCE.txt"):
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


def test_unknown_split():
    with pytest.raises(ValueError, match="unknown split"):
        load_split("train")


def test_each_theorem_carries_its_informal_statement_and_proof(splits):
    assert all(t.informal_statement.strip() and t.informal_proof.strip() for ts in splits.values() for t in ts)
