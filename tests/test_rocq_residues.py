"""Remainders and divisibility as Rocq automation (coq_env.residues), on live coqtop: each tactic closes a congruence,
a divisibility or a remainder of a polynomial in one step, under a header that imports only Arith as under one that
imports ZArith, or fails and leaves no state; the search proves such theorems with no model at all."""
import time

import pytest

from coq_env.backend import default_automation
from coq_env.residues import DIV_MOD_EQUATIONS, POWER_INDUCTION, RESIDUE_CASES, RESIDUE_TACTICS, TIMEOUT
from prover.search import SearchConfig, Status, best_first_search
from prover.testing import ReplayGenerator
from prover.types import Advanced, Failed, Proved, TimedOut, Theorem

NATURALS = "Require Import Arith."
INTEGERS = "Require Import ZArith.\nOpen Scope Z_scope."
# Not from any benchmark: written for this test, one per shape the tactics are for.
NAT_CONGRUENCE = Theorem("nat_congruence", "Theorem nat_congruence (m : nat) : m mod 9 = 4 -> (2 * m + 3) mod 9 = 2.",
                         NATURALS, "rocq")
TWO_MODULI = Theorem("two_moduli", "Theorem two_moduli (a : Z) : a mod 4 = 3 -> a mod 2 = 1.", INTEGERS, "rocq")
DIVISIBILITY = Theorem("divisibility", "Theorem divisibility (x y : Z) : (5 | x) -> (5 | y) -> (5 | 3 * x - 2 * y).",
                       INTEGERS, "rocq")
QUOTIENT = Theorem("quotient", "Theorem quotient (n : nat) : n / 2 + n / 2 <= n.", NATURALS, "rocq")
SQUARE_PLUS = Theorem("square_plus", "Theorem square_plus (t : Z) : (t ^ 2 + t) mod 2 = 0.", INTEGERS, "rocq")
THREE_IN_A_ROW = Theorem("three_in_a_row", "Theorem three_in_a_row (t : nat) : (t * (t + 1) * (t + 2)) mod 3 = 0.",
                         NATURALS, "rocq")
CUBE_RESIDUE = Theorem("cube_residue", "Theorem cube_residue (u : Z) : (7 | u ^ 3 - u) \\/ (7 | u ^ 3 + 1) \\/ "
                       "(7 | u ^ 3 - 1).", INTEGERS, "rocq")
POWER_OF_THREE = Theorem("power_of_three", "Theorem power_of_three (k : Z) : 0 <= k -> 3 ^ (2 * k + 1) mod 8 = 3.",
                         INTEGERS, "rocq")
NAT_EXPONENT = Theorem("nat_exponent", "Theorem nat_exponent (n : nat) : (11 | 3 ^ (5 * Z.of_nat n) - 1).", INTEGERS,
                       "rocq")
FALSE_CONGRUENCE = Theorem("false_congruence", "Theorem false_congruence (a : Z) : a mod 5 = 2 -> a mod 7 = 2.",
                           INTEGERS, "rocq")
LARGE_MODULUS = Theorem("large_modulus", "Theorem large_modulus (n : Z) : n ^ 3 mod 997 <> 5.", INTEGERS, "rocq")


@pytest.mark.rocq
@pytest.mark.parametrize("theorem, tactic", [
    (NAT_CONGRUENCE, DIV_MOD_EQUATIONS), (TWO_MODULI, DIV_MOD_EQUATIONS), (DIVISIBILITY, DIV_MOD_EQUATIONS),
    (QUOTIENT, DIV_MOD_EQUATIONS), (SQUARE_PLUS, RESIDUE_CASES), (THREE_IN_A_ROW, RESIDUE_CASES),
    (CUBE_RESIDUE, RESIDUE_CASES), (POWER_OF_THREE, POWER_INDUCTION), (NAT_EXPONENT, POWER_INDUCTION),
])
def test_one_tactic_proves_each_shape_under_either_header_and_the_proof_checks(backend, theorem, tactic):
    result = backend.run_tactic(backend.open(theorem), tactic, 10)
    assert isinstance(result, Proved), result
    assert backend.verify(theorem, result.tactics).accepted


@pytest.mark.rocq
def test_where_the_remainders_do_not_give_the_goal_each_tactic_fails_and_leaves_no_state(backend):
    state = backend.open(FALSE_CONGRUENCE)
    for tactic in RESIDUE_TACTICS:
        assert isinstance(backend.run_tactic(state, tactic, 10), Failed)
    # nothing to turn into equations: the first fails at once rather than repeat lia
    assert isinstance(backend.run_tactic(backend.open(Theorem("plain", "Theorem plain (a : Z) : a + 1 > a.",
                                                               INTEGERS, "rocq")), DIV_MOD_EQUATIONS, 10), Failed)


@pytest.mark.rocq
def test_the_search_proves_a_remainder_of_a_polynomial_with_no_model(backend):
    assert set(RESIDUE_TACTICS) <= set(default_automation())
    result = best_first_search(THREE_IN_A_ROW, backend, ReplayGenerator([]),
                               SearchConfig(budget_seconds=60, hammer=False))
    assert result.status is Status.PROVED and result.verdict.accepted
    assert result.tactics[-1] == RESIDUE_CASES + "."
    assert [e.automation for e in result.tree.edges if e.on_proof] == [True] * len(result.tactics)


@pytest.mark.rocq
def test_a_residue_tactic_that_ran_out_of_time_is_not_run_again_on_that_theorem(backend):
    # 997 cases, each one nia on a cube: far beyond the tactic's limit
    state = backend.open(LARGE_MODULUS)
    t0 = time.monotonic()
    assert isinstance(backend.run_tactic(state, RESIDUE_CASES, 60), TimedOut)
    assert time.monotonic() - t0 < TIMEOUT + 5
    skipped = backend.run_tactic(state, RESIDUE_CASES, 60)
    assert isinstance(skipped, Failed) and "ran out of time earlier" in skipped.error
    assert isinstance(backend.run_tactic(state, "intros.", 5), Advanced)  # the rest of the automation still runs
    assert isinstance(backend.run_tactic(backend.open(SQUARE_PLUS), RESIDUE_CASES, 10), Proved)  # a new theorem
