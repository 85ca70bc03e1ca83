"""Square roots as Rocq automation (coq_env.square_roots), on live coqtop: the sentence closes an equation, a nested
root and a value under a root in one step, fails where the facts of the roots do not give the goal, and the search
proves such a theorem with no model at all."""
import pytest

from coq_env.square_roots import SQUARE_ROOTS
from prover.search import SearchConfig, Status, best_first_search
from prover.testing import ReplayGenerator
from prover.types import Failed, Proved, Theorem

REALS = "Require Import Reals.\nOpen Scope R_scope."
# Not from any benchmark: written for this test, one per shape the sentence is for; the last under a header that
# imports Nat (whose `sqrt` is the natural number one) as well as Reals.
ROOT_EQUATION = Theorem("root_equation", "Theorem root_equation (y : R) : 0 <= y -> sqrt (2 * y + 1) = 3 -> y = 4.",
                        REALS, "rocq")
NESTED_ROOT = Theorem("nested_root", "Theorem nested_root : sqrt (4 + 2 * sqrt 3) = 1 + sqrt 3.", REALS, "rocq")
ROOT_OF_A_SUM = Theorem("root_of_a_sum", "Theorem root_of_a_sum (a b : R) : a - b = 1 -> a * b = 12 ->\n"
                        "  sqrt (a ^ 2 + b ^ 2) = 5.", "Require Import Nat.\n" + REALS, "rocq")
NOT_FROM_THE_FACTS = Theorem("not_from_the_facts", "Theorem not_from_the_facts (x : R) : sqrt x = x.", REALS, "rocq")


@pytest.mark.rocq
@pytest.mark.parametrize("theorem", [ROOT_EQUATION, NESTED_ROOT, ROOT_OF_A_SUM])
def test_one_sentence_proves_each_shape_and_the_proof_checks(backend, theorem):
    result = backend.run_tactic(backend.open(theorem), SQUARE_ROOTS, 10)
    assert isinstance(result, Proved), result
    assert backend.verify(theorem, result.tactics).accepted


@pytest.mark.rocq
def test_where_the_roots_facts_do_not_give_the_goal_it_fails(backend):
    assert isinstance(backend.run_tactic(backend.open(NOT_FROM_THE_FACTS), SQUARE_ROOTS, 10), Failed)
    # without Reals, Coq refuses the sentence as it reads it
    nat_only = Theorem("nat_only", "Theorem nat_only (n : nat) : n + 0 = n.", "Require Import Arith.", "rocq")
    assert isinstance(backend.run_tactic(backend.open(nat_only), SQUARE_ROOTS, 10), Failed)


@pytest.mark.rocq
def test_the_search_proves_a_root_equation_with_no_model(backend):
    result = best_first_search(ROOT_EQUATION, backend, ReplayGenerator([]), SearchConfig(budget_seconds=60, hammer=False))
    assert result.status is Status.PROVED and result.verdict.accepted
    assert result.tactics[-1] == SQUARE_ROOTS + "."
    assert [e.automation for e in result.tree.edges if e.on_proof] == [True] * len(result.tactics)
