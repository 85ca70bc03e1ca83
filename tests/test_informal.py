"""miniF2F's informal statements and proofs (prover.informal): one table, by problem name, for every backend's
miniF2F loader, which hands them on in Theorem.informal_statement / informal_proof."""
from __future__ import annotations

import pytest

from coq_env.minif2f import load_split as load_rocq_split
from isabelle_env.minif2f import load_split as load_isabelle_split
from lean_env.minif2f import load_split as load_lean_split
from prover.informal import DATA, dsp_problems, informal_problems, load_informal
from prover.types import Theorem

SPLITS = ("valid", "test")


def test_shipped_licences_and_provenance():
    for name in ("LICENSE", "LICENSE_draft_sketch_prove", "PROVENANCE.txt", "new_complete_mini_dsp.jsonl"):
        assert (DATA / name).is_file(), name
    assert "Apache License" in (DATA / "LICENSE").read_text()


def test_every_minif2f_problem_has_informal_text_in_its_split():
    problems = informal_problems()
    names = {t.name: t.split for split in SPLITS for t in load_isabelle_split(split)}
    assert set(problems) == set(names) and len(names) == 488
    for name, problem in problems.items():
        assert problem.split == names[name]
        assert problem.statement.strip() and problem.proof.strip()
    assert load_informal("aime_1983_p1").statement.startswith("Let $x$, $y$ and $z$ all exceed $1$")


def test_the_lookup_serves_lean_and_rocq_names():
    rocq = [t.name for split in SPLITS for t in load_rocq_split(split)]
    assert all(load_informal(name).name for name in rocq)
    # Lean 4 miniF2F spells one name with a capital: matched ignoring case
    assert load_informal("numbertheory_notEquiv2i2jasqbsqdiv8").name == "numbertheory_notequiv2i2jasqbsqdiv8"
    with pytest.raises(KeyError):
        load_informal("no_such_problem")


def test_draft_sketch_prove_rows_are_aligned_by_theorem_name():
    dsp = dsp_problems()
    assert len(dsp) == 483  # 5 of its 488 rows are theorems miniF2F does not have
    assert dsp["imo_1992_p1"].source == "draft-sketch-prove"  # its problem_name is imo_1992_1
    assert load_informal("imo_1992_p1", prefer="draft-sketch-prove").source == "draft-sketch-prove"
    assert load_informal("imo_1992_p1").source == "minif2f-informal"
    assert load_informal("aimeII_2001_p3", prefer="draft-sketch-prove").source == "minif2f-informal"  # no DSP row


@pytest.mark.parametrize("load", [load_rocq_split, load_lean_split, load_isabelle_split])
def test_every_backends_minif2f_theorems_carry_their_informal_text(load):
    for split in SPLITS:
        for theorem in load(split):
            informal = load_informal(theorem.name)
            assert (theorem.informal_statement, theorem.informal_proof) == (informal.statement, informal.proof)


def test_informal_text_is_not_part_of_a_theorems_identity():
    bare = Theorem("t", "Theorem t : True.", "", "rocq")
    worded = Theorem("t", "Theorem t : True.", "", "rocq", informal_statement="True holds.", informal_proof="Trivial.")
    assert bare == worded and hash(bare) == hash(worded) and "True holds" not in repr(worded)
