"""Proving a hole in its own file's context (coq_env.file_context), on copies of tests/data/coq-project.

The search opens a hole's theorem with the project's load paths, so the file's imports of the project's libraries
load; the check compiles the proof in the file's context with the same flags and audits what it rests on: the
file's earlier open lemmas are allowed but named, an axiom the file declares is not.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

from coq_env.backend import RocqBackend
from coq_env.file_context import (OPEN_LEMMA, CannotProveHole, check_in_context, depends_on_open_lemmas,
                                  hole_theorem)
from coq_env.holes import find_holes
from coq_env.project import project_for
from coq_env.verify import RocqVerifier
from prover.types import Proved

PROJECT = Path(__file__).parents[1] / "tests" / "data" / "coq-project"
# A file of the project written for the checks of what a proof rests on: an open lemma in a module (the checker
# names it Facts.double_is_plus) and an axiom, both before the hole.
EXTRA = """From Foo Require Import Base.

Module Facts.
  Lemma double_is_plus : forall n, double n = n + n.
  Admitted.
End Facts.

Axiom double_2_is_4 : double 2 = 4.

Lemma double_2 : double 2 = 4.
Admitted.
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the test project with Base.v compiled (Lemmas.v requires it), and Extra.v added."""
    folder = tmp_path_factory.mktemp("context") / "project"
    shutil.copytree(PROJECT, folder)
    base = folder / "theories" / "Base.v"
    done = subprocess.run(["coqc", "-q", *project_for(base).flags(), str(base)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (folder / "theories" / "Extra.v").write_text(EXTRA)
    return folder


def hole_of(path: Path, label: str):
    return next(hole for hole in find_holes(path.read_text()) if hole.label == label)


def check(project: Path, file: str, label: str, *tactics: str):
    path = project / "theories" / file
    return check_in_context(path, hole_of(path, label), tactics, project_for(path), timeout=120)


@pytest.mark.rocq
def test_the_backend_opens_a_hole_with_the_projects_load_paths_and_a_tactic_proves_it(project):
    path = project / "theories" / "Lemmas.v"
    flags = tuple(project_for(path).flags())
    theorem = hole_theorem(path, hole_of(path, "double_plus"), project_for(path))
    with RocqBackend(automation=[], hammer_limits=None, load_flags=flags) as backend:
        state = backend.open(theorem)  # its header requires Foo.Base, bound by the project's -R
        # Base's own notation prints the goal: the file's context is what Coq holds
        assert "double (n + m) = double n +++ m" in " ".join(state.goals.split())
        result = backend.run_tactic(state, "intros n m; unfold double; lia.", timeout=30)
    assert isinstance(result, Proved)


@pytest.mark.rocq
def test_the_verifier_checks_a_theorem_that_requires_the_project_given_its_flags(project):
    path = project / "theories" / "Lemmas.v"
    theorem = hole_theorem(path, hole_of(path, "double_plus"), project_for(path))
    verifier = RocqVerifier(load_flags=tuple(project_for(path).flags()), timeout=120)
    assert verifier.verify(theorem, ("intros n m; unfold double; lia.",)).accepted
    assert "Foo" in RocqVerifier(timeout=120).verify(theorem, ("intros n m; unfold double; lia.",)).reason


@pytest.mark.rocq
def test_a_right_proof_is_accepted_clean(project):
    verdict = check(project, "Lemmas.v", "double_plus", "intros n m.", "unfold double.", "lia.")
    assert verdict.accepted and verdict.reason == "" and depends_on_open_lemmas(verdict) == ()


@pytest.mark.rocq
def test_a_wrong_proof_is_rejected(project):
    verdict = check(project, "Lemmas.v", "double_plus", "intros n m.", "reflexivity.")
    assert not verdict.accepted and "does not compile" in verdict.reason


@pytest.mark.rocq
def test_a_hole_in_a_module_after_a_proof_with_admits_is_checked_in_its_scopes(project):
    # iter_f_id's proof holds admits and ends in Qed: the context admits it; Evens is closed after the proof.
    verdict = check(project, "Lemmas.v", "Evens.even_4", "reflexivity.")
    assert verdict.accepted and verdict.reason == "", verdict.reason


@pytest.mark.rocq
def test_a_proof_that_uses_an_earlier_open_lemma_is_accepted_but_says_so(project):
    verdict = check(project, "Extra.v", "double_2", "rewrite Facts.double_is_plus.", "reflexivity.")
    assert verdict.accepted
    assert verdict.reason == f"{OPEN_LEMMA} Facts.double_is_plus"
    assert depends_on_open_lemmas(verdict) == ("Facts.double_is_plus",)


@pytest.mark.rocq
def test_a_proof_that_uses_an_axiom_of_the_context_is_rejected(project):
    verdict = check(project, "Extra.v", "double_2", "exact double_2_is_4.")
    assert not verdict.accepted and "double_2_is_4" in verdict.reason


def test_a_proof_that_is_not_only_tactics_is_refused_before_anything_runs(project):
    for smuggled in (("Admitted.",), ("intros n m.", "Qed.", "Axiom x : False.")):
        verdict = check(project, "Lemmas.v", "double_plus", *smuggled)
        assert not verdict.accepted and "command" in verdict.reason, verdict.reason


def test_an_admit_step_is_the_lemma_of_the_goal_it_gives_up_and_its_proof_is_checked_in_the_proof(project):
    path = project / "theories" / "Lemmas.v"
    hole = hole_of(path, "iter_f_id#admit1")
    theorem = hole_theorem(path, hole, project_for(path))
    # The context reverted into the goal: the section's variable and hypothesis, then the induction's n, x, IH.
    assert theorem.statement.startswith("Lemma iter_f_id_admit1 : forall f : nat -> nat, (forall n : nat, f n = n) ->")
    right = check_in_context(path, hole, ("intros ? ? n x IH.", "exact IH."), project_for(path), timeout=120,
                             theorem=theorem)
    assert right.accepted and right.reason == "", right
    wrong = check_in_context(path, hole, ("intros.", "reflexivity."), project_for(path), timeout=120)
    assert not wrong.accepted


def test_an_admitted_goal_that_no_lemma_states_is_unsupported_with_a_reason(tmp_path):
    path = tmp_path / "Evar.v"
    path.write_text("Lemma e : exists n : nat, n = 0.\nProof.\n  eexists.\n  admit.\nQed.\n")
    with pytest.raises(CannotProveHole, match="existential"):
        hole_theorem(path, hole_of(path, "e#admit1"), project_for(path))


def test_a_context_whose_project_library_is_not_compiled_says_which_vo_is_missing(tmp_path):
    shutil.copytree(PROJECT, tmp_path / "project")
    path = tmp_path / "project" / "theories" / "Lemmas.v"
    with pytest.raises(CannotProveHole, match=r"Base\.vo is missing"):
        hole_theorem(path, hole_of(path, "double_plus"), project_for(path))


def test_a_hole_in_a_module_with_a_type_is_checked_without_the_rest_of_the_module(tmp_path):
    # Cut at the hole, `M` lacks `x`: checked against `WS` it would fail (MSetWeakList's MakeRaw <: WRawSets).
    path = tmp_path / "Typed.v"
    path.write_text("Module Type WS.\n  Parameter t : Type.\n  Parameter x : t.\nEnd WS.\n"
                    "Module M <: WS.\n  Definition t := nat.\n  Lemma two : 1 + 1 = 2.\n  Proof.\n  Admitted.\n"
                    "  Definition x : t := 0.\nEnd M.\n")
    verdict = check_in_context(path, hole_of(path, "M.two"), ("reflexivity.",), project_for(path), timeout=120)
    assert verdict.accepted and verdict.reason == "", verdict


def test_a_proof_is_checked_with_the_imports_its_tactics_need(tmp_path):
    path = tmp_path / "NoLia.v"
    path.write_text("Lemma z (n : nat) : n + 0 = n.\nAdmitted.\n")
    verdict = check_in_context(path, hole_of(path, "z"), ("lia.",), project_for(path), timeout=120)
    assert verdict.accepted, verdict


def test_a_proof_the_file_cannot_check_is_refused_and_the_search_goes_on_to_one_it_can(tmp_path):
    # The search's coqtop loads the automation libraries, which bring the `sets` hint database; this file imports
    # nothing, so its check refuses `auto with sets.` (a default-model proof of a stdlib hole did this), and the
    # search then takes the next candidate instead of giving up on the hole.
    from coq_env.user_files import open_user_files
    from prover.prove_files import InContextBackend
    from prover.search import SearchConfig, Status, best_first_search
    from prover.testing import ReplayGenerator

    path = tmp_path / "Keep.v"
    path.write_text("Lemma keep (P : Prop) (p : P) : P.\nAdmitted.\n")
    files = open_user_files([path])
    [hole] = files.holes
    with InContextBackend(files.make_backend(), files) as backend:
        result = best_first_search(hole.theorem, backend, ReplayGenerator(["auto with sets.", "exact p."]),
                                   SearchConfig(automation=False, premises=0))
    assert result.status is Status.PROVED and result.tactics == ("exact p.",) and result.refused == 1
    refused = next(e for e in result.tree.edges if e.tactic == "auto with sets.")
    assert "No such Hint database: sets" in refused.error and not refused.on_proof


FUNCTOR = """Module Type S.
  Parameter t : Type.
  Parameter x : t.
  Axiom ax : forall a b : t, a = b.
End S.
Module F (Import X : S) <: S.
  Definition t := X.t.
  Axiom cheat : forall a : t, a = x.
  Lemma early : x = x.
  Admitted.
  Lemma eq_x : forall a : t, a = x.
  Proof.
  Admitted.
  Definition x := X.x.
  Definition ax := X.ax.
End F.
"""


@pytest.mark.parametrize("tactics, accepted, reason", [
    (("intros a.", "apply ax."), True, ""),  # X.ax is the functor's parameter: no axiom of the proof
    (("intros a.", "rewrite (ax a x).", "apply early."), True, "depends on open lemma F.early"),
    (("exact cheat.",), False, "relies on an assumption the file declares itself: F.cheat"),
])
def test_a_hole_in_a_functor_has_its_assumptions_read_inside_it_with_its_parameters_fields_as_parameters(
        tmp_path, tactics, accepted, reason):
    path = tmp_path / "Functor.v"
    path.write_text(FUNCTOR)
    verdict = check_in_context(path, hole_of(path, "F.eq_x"), tactics, project_for(path), timeout=120)
    assert (verdict.accepted, verdict.reason) == (accepted, reason), verdict


SECTION_IN_FUNCTOR = """Module Type S.
  Parameter t : Type.
End S.
Module F (Import X : S).
  Section Fixed.
  Variable init : t.
  Hypothesis initial : forall a : t, a = init.
  Lemma two_equal (a b : t) : a = b.
  Proof.
  Admitted.
  End Fixed.
End F.
"""


def test_a_proof_in_a_section_of_a_functor_may_use_the_sections_variables(tmp_path):
    # Asked inside the functor, Print Assumptions lists the section's variables (a name alone on its line, its type
    # on the next after a colon): they become the lemma's hypotheses when the section closes, so they are no axioms.
    path = tmp_path / "SectionFunctor.v"
    path.write_text(SECTION_IN_FUNCTOR)
    tactics = ("rewrite (initial a), (initial b).", "reflexivity.")
    verdict = check_in_context(path, hole_of(path, "F.two_equal"), tactics, project_for(path), timeout=120)
    assert verdict.accepted and verdict.reason == "", verdict
