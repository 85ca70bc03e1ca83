"""Finding the holes of a Rocq file (coq_env.holes), on the test project in tests/data/coq-project.

A hole is a lemma whose proof ends in `Admitted.` or an `admit.`/`give_up.` step of a finished proof. Each comes
with its statement as written, the text before it, the sections and modules open around it, the lemmas still open
before it, and the exact span a proof replaces: filling holes changes nothing else in the file, and the filled
project compiles with the flags its `_CoqProject` gives.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

from coq_env.holes import ADMIT, ADMITTED, fill_hole, find_holes
from coq_env.project import project_for

PROJECT = Path(__file__).parent / "data" / "coq-project"
LEMMAS = PROJECT / "theories" / "Lemmas.v"

# Proofs for the holes of Lemmas.v, by label: with them every proof of the file is finished.
PROOFS = {
    "double_plus": "\nProof.\n  intros n m. unfold double. lia.\nQed.",
    "iter_f_id#admit1": "exact IH.",
    "iter_f_id#admit2": "apply f_id.",
}


@pytest.fixture
def text():
    return LEMMAS.read_text()


@pytest.fixture
def holes(text):
    return {hole.label: hole for hole in find_holes(text)}


def test_the_holes_of_a_file_are_found_in_order_with_their_kinds_and_lines(text):
    found = [(h.label, h.kind, h.line, h.statement_line) for h in find_holes(text)]
    assert found == [
        ("double_plus", ADMITTED, 13, 8),
        ("plus3_double", ADMITTED, 19, 18),
        ("iter_f_id#admit1", ADMIT, 30, 25),
        ("iter_f_id#admit2", ADMIT, 31, 25),
        ("Evens.even_4", ADMITTED, 37, 36),
        ("double_even", ADMITTED, 44, 40),
    ]
    assert all(h.unsupported is None for h in find_holes(text))


def test_a_lemma_admitted_inside_a_comment_is_no_hole(holes, text):
    assert "Lemma forgotten : False.\n   Admitted." in text
    assert "double_0" not in holes and not any("forgotten" in label for label in holes)


def test_every_span_slices_the_original_text_exactly(text):
    for hole in find_holes(text):
        assert text[hole.start:hole.end] == hole.replaced
        if hole.kind == ADMITTED:
            assert text[:hole.start] == hole.context + hole.statement  # the span starts right after the statement
            assert hole.replaced.endswith("Admitted.")
        else:
            assert hole.replaced == "admit."
        keyword = "Admitted" if hole.kind == ADMITTED else "admit"
        line_text = text.splitlines()[hole.line - 1]
        assert keyword in line_text
        assert text.splitlines()[hole.statement_line - 1].lstrip().startswith(hole.statement.split()[0])


def test_a_multi_line_statement_is_kept_as_written(holes):
    hole = holes["double_plus"]
    assert hole.statement == "Lemma double_plus : forall n m,\n    double (n + m) =\n    double n + double m."
    assert hole.statement_line == 8 and hole.line == 13


def test_the_proof_opening_and_partial_steps_before_admitted_are_recorded(holes):
    assert holes["double_plus"].proof_opening == "Proof."
    assert holes["double_plus"].steps_before == ("intros n m.", "unfold double.")
    assert holes["plus3_double"].proof_opening == "" and holes["plus3_double"].steps_before == ()
    assert holes["Evens.even_4"].proof_opening == "Proof." and holes["Evens.even_4"].steps_before == ()


def test_an_admit_step_records_the_steps_before_it_with_bullets(holes):
    first = holes["iter_f_id#admit1"]
    assert first.steps_before == ("intros n x.", "split.", "-", "induction n as [|n IH].", "+", "reflexivity.", "+",
                                  "simpl.", "rewrite f_id.")
    assert holes["iter_f_id#admit2"].steps_before[-1] == "-"
    assert first.statement == "Lemma iter_f_id : forall n x, iter nat f n x = x /\\ f x = x."


def test_the_sections_and_modules_around_a_hole_qualify_its_name(holes):
    assert holes["iter_f_id#admit1"].scopes == (("Section", "WithStep"),)
    assert holes["iter_f_id#admit1"].qualified_name == "iter_f_id"  # sections do not qualify names
    even_4 = holes["Evens.even_4"]
    assert even_4.scopes == (("Module", "Evens"),) and even_4.name == "even_4"
    assert even_4.statement.startswith("#[local] Lemma even_4")


def test_the_context_is_the_file_before_the_statement(holes, text):
    hole = holes["plus3_double"]
    assert hole.context == text[:text.index("Lemma plus3_double")]
    assert "From Foo Require Import Base." in hole.context and "Lemma double_plus" in hole.context


def test_each_hole_names_the_lemmas_still_open_before_it(holes):
    assert holes["double_plus"].open_before == ()
    assert holes["iter_f_id#admit2"].open_before == ("double_plus", "plus3_double")  # not itself
    assert holes["double_even"].open_before == ("double_plus", "plus3_double", "iter_f_id", "Evens.even_4")


def test_filling_a_hole_changes_nothing_else_in_the_file(holes, text):
    hole = holes["double_plus"]
    filled = fill_hole(text, hole, PROOFS["double_plus"])
    assert filled == text[:hole.start] + PROOFS["double_plus"] + text[hole.end:]
    assert filled.endswith(text[hole.end:]) and filled.startswith(text[:hole.start])
    left = [h.label for h in find_holes(filled)]
    assert left == ["plus3_double", "iter_f_id#admit1", "iter_f_id#admit2", "Evens.even_4", "double_even"]
    assert find_holes(filled)[-1].open_before[0] == "plus3_double"


def test_filling_refuses_a_file_changed_since_its_holes_were_read(holes, text):
    hole = holes["plus3_double"]
    with pytest.raises(ValueError, match="changed"):
        fill_hole(text.replace("Lemma double_0", "Lemma double_zero"), hole, "\nProof. Qed.")


@pytest.mark.rocq
def test_filled_holes_compile_with_the_flags_of_the_project_file(tmp_path, text):
    copy = tmp_path / "project"
    shutil.copytree(PROJECT, copy)
    filled = text
    for hole in reversed(find_holes(text)):  # from the end, so earlier spans stay where they were
        if hole.label in PROOFS:
            filled = fill_hole(filled, hole, PROOFS[hole.label])
    (copy / "theories" / "Lemmas.v").write_text(filled)
    flags = project_for(copy / "theories" / "Lemmas.v").flags()
    assert flags[:3] == ["-R", str(copy / "theories"), "Foo"]
    for name in ("Base.v", "Lemmas.v"):
        done = subprocess.run(["coqc", *flags, f"theories/{name}"], cwd=copy, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    assert (copy / "theories" / "Lemmas.vo").exists()
    assert [h.label for h in find_holes(filled)] == ["plus3_double", "Evens.even_4", "double_even"]


def test_a_hole_inside_a_module_type_is_flagged_unsupported_and_not_counted_as_open():
    text = (
        "Module Type Monoid.\n"
        "  Parameter t : Type.\n"
        "  Lemma trivial : True.\n"
        "  Admitted.\n"
        "End Monoid.\n"
        "Lemma later : True.\n"
        "Admitted.\n"
    )
    inside, later = find_holes(text)
    assert inside.scopes == (("Module Type", "Monoid"),)
    assert inside.unsupported and "Module Type Monoid" in inside.unsupported and "\n" not in inside.unsupported
    assert later.unsupported is None and later.open_before == ()


def test_give_up_and_an_admit_after_a_goal_selector_are_holes_and_an_admit_inside_a_tactic_is_unsupported():
    text = (
        "Lemma three : True /\\ True /\\ True.\n"
        "Proof.\n"
        "  split; [| split].\n"
        "  { give_up. }\n"
        "  2: admit.\n"
        "  try admit.\n"
        "Qed.\n"
    )
    holes = find_holes(text)
    assert [(h.label, h.replaced, h.line) for h in holes] == [
        ("three#admit1", "give_up.", 4), ("three#admit2", "2: admit.", 5), ("three#admit3", "try admit.", 6)]
    assert holes[0].unsupported is None and holes[1].unsupported is None
    assert "larger tactic" in holes[2].unsupported


def test_aborted_unfinished_and_finished_proofs_hold_no_hole():
    text = (
        "Lemma aborted : False.\nProof. admit. Abort.\n"
        "Lemma finished : True.\nProof. exact I. Qed.\n"
        "Definition d : nat.\nAdmitted.\n"  # a definition is not a lemma to prove
        "Lemma unfinished : True.\nProof. admit.\n"
    )
    assert find_holes(text) == []


def test_locality_words_and_attributes_in_front_of_a_lemma_are_part_of_its_statement():
    text = "Local Theorem t : True.\nAdmitted.\n#[program] Fact f : True.\nProof. Admitted.\n"
    assert [(h.name, h.statement) for h in find_holes(text)] == [
        ("t", "Local Theorem t : True."), ("f", "#[program] Fact f : True.")]


def test_line_numbers_count_comments_strings_and_attributes_before_a_hole():
    text = (
        '(* A header comment\n   Lemma fake : False. Admitted.\n   "a string *) in a comment" *)\n'  # lines 1-3
        'Definition msg := "Lemma s : False.\nAdmitted.".\n'  # lines 4-5
        "(** The lemma: *)\n"  # line 6
        "#[global]\nLemma real :\n  True.\n"  # lines 7-9
        "Proof. (* a comment Qed. *)\n"  # line 10
        "  (* still to do *) Admitted.\n"  # line 11
    )
    (hole,) = find_holes(text)
    assert (hole.name, hole.statement_line, hole.line) == ("real", 7, 11)
    assert hole.statement == "#[global]\nLemma real :\n  True."
    assert hole.context.endswith("(** The lemma: *)\n")  # a comment leading into the statement stays context
    assert text[hole.start:hole.end] == hole.replaced and hole.replaced.endswith("(* still to do *) Admitted.")


def test_a_module_with_a_with_constraint_on_its_type_qualifies_its_holes():
    # The `:=` of `with Module E := N` constrains the type; the module is opened, not defined as N (FMapPositive).
    text = ("Module Type S. Parameter t : Type. End S.\nModule E. Definition t := nat. End E.\n"
            "Module M <: S with Definition t := nat.\n  Definition t := nat.\n"
            "  Lemma inside : True.\n  Proof.\n  Admitted.\nEnd M.\n")
    [hole] = find_holes(text)
    assert hole.qualified_name == "M.inside" and hole.scopes == (("Module", "M"),)
