"""Induction as Rocq automation (coq_env.induction), on live coqtop: each tactic closes a sum, a power bound or a
recurrence in one step, or fails and leaves no state; the search proves such theorems with no model at all. (Its
time limit, shared with the other closing sentences, is tested in test_rocq_closers.py.)"""
import pytest

from coq_env.backend import default_automation
from coq_env.induction import INDUCTION_TACTICS, INTEGER_INDUCTION, REAL_AND_NAT_INDUCTION
from prover.search import SearchConfig, Status, best_first_search
from prover.testing import ReplayGenerator
from prover.types import Failed, Proved, Theorem

REALS = "Require Import Reals.\nOpen Scope R_scope."
INTEGERS = "Require Import ZArith.\nOpen Scope Z_scope."
# Not from any benchmark: written for this test, one per shape the tactics are for.
GAUSS = Theorem("gauss", "Theorem gauss : forall n : nat,\n  sum_f_R0 (fun k => INR k) n = INR n * (INR n + 1) / 2.",
                REALS, "rocq")
GEOMETRIC = Theorem("geometric", "Theorem geometric (m : nat) :\n  sum_f_R0 (fun i => 3 ^ i) m = (3 ^ (m + 1) - 1) / 2.",
                    REALS, "rocq")
POWER_BOUND = Theorem("power_bound", "Theorem power_bound (k : nat) : 3 ^ k >= 2 * k + 1.", "Require Import Arith.",
                      "rocq")
RECURRENCE = Theorem(
    "recurrence",
    "Theorem recurrence (u : nat -> Z) (h0 : u 0%nat = 1) (h1 : forall k, u (S k) = u k + 4) :\n"
    "  forall k, u k = 1 + 4 * Z.of_nat k.", INTEGERS, "rocq")
DOUBLING = Theorem(
    "doubling",
    "Theorem doubling (u : nat -> Z) (h0 : u 0%nat = 3) (h1 : forall k, u (S k) = 2 * u k) :\n"
    "  forall k, u k = 3 * 2 ^ Z.of_nat k.", INTEGERS, "rocq")
NOT_BY_INDUCTION = Theorem("not_by_induction", "Theorem not_by_induction (n : nat) : Nat.Even n \\/ Nat.Odd n.",
                           "Require Import Arith.", "rocq")


@pytest.mark.rocq
@pytest.mark.parametrize("theorem, tactic", [(GAUSS, REAL_AND_NAT_INDUCTION), (GEOMETRIC, REAL_AND_NAT_INDUCTION),
                                             (POWER_BOUND, REAL_AND_NAT_INDUCTION), (RECURRENCE, INTEGER_INDUCTION),
                                             (DOUBLING, INTEGER_INDUCTION)])
def test_one_induction_tactic_proves_each_shape_and_the_proof_checks(backend, theorem, tactic):
    result = backend.run_tactic(backend.open(theorem), tactic, 10)
    assert isinstance(result, Proved), result
    assert backend.verify(theorem, result.tactics).accepted


@pytest.mark.rocq
def test_where_induction_does_not_close_the_goal_each_tactic_fails_and_leaves_no_state(backend):
    state = backend.open(NOT_BY_INDUCTION)
    for tactic in INDUCTION_TACTICS:
        assert isinstance(backend.run_tactic(state, tactic, 10), Failed)
    # the integer tactic names lemmas of ZArith: without it loaded, Coq refuses the tactic as it reads it
    refused = backend.run_tactic(backend.open(POWER_BOUND), INTEGER_INDUCTION, 10)
    assert isinstance(refused, Failed) and "Nat2Z.inj_succ" in refused.error


@pytest.mark.rocq
def test_the_search_proves_a_sum_by_induction_with_no_model(backend):
    assert default_automation()[-len(INDUCTION_TACTICS):] == INDUCTION_TACTICS
    result = best_first_search(GAUSS, backend, ReplayGenerator([]), SearchConfig(budget_seconds=60, hammer=False))
    assert result.status is Status.PROVED and result.verdict.accepted
    assert result.tactics[-1] == REAL_AND_NAT_INDUCTION + "."
    assert [e.automation for e in result.tree.edges if e.on_proof] == [True] * len(result.tactics)

