"""Rocq's closing automation sentences, on live coqtop: remainders and divisibility (coq_env.residues), square roots
(coq_env.square_roots), reciprocals (coq_env.reciprocals), absolute values (coq_env.absolute_values), the roots of a
polynomial (coq_env.roots) and the equal arguments of a function (coq_env.function_arguments). Each closes
the shapes it is for in one step, under a header that imports little as under one that imports much, or fails and
leaves no state; the search proves such theorems with no model at all; one that ran out of time is not run again on
that theorem (induction's limit too). (Induction, the last of them, has its own tests: test_rocq_induction.py.)"""
import time

import pytest

from coq_env import induction, residues
from coq_env.absolute_values import ABSOLUTE_VALUES
from coq_env.backend import default_automation
from coq_env.function_arguments import EQUAL_ARGUMENTS
from coq_env.induction import REAL_AND_NAT_INDUCTION
from coq_env.reciprocals import RECIPROCALS
from coq_env.roots import INTEGER_ROOTS, REAL_ROOTS
from coq_env.residues import DIV_MOD_EQUATIONS, POWER_INDUCTION, RESIDUE_CASES, RESIDUE_TACTICS
from coq_env.square_roots import SQUARE_ROOTS
from prover.search import SearchConfig, Status, best_first_search
from prover.testing import ReplayGenerator
from prover.types import Advanced, Failed, Proved, TimedOut, Theorem

NATURALS = "Require Import Arith."
INTEGERS = "Require Import ZArith.\nOpen Scope Z_scope."
REALS = "Require Import Reals.\nOpen Scope R_scope."


def theorem(name: str, statement: str, header: str) -> Theorem:
    return Theorem(name, f"Theorem {name} {statement}", header, "rocq")


# Not from any benchmark: written for these tests, one per shape each sentence is for.
NAT_CONGRUENCE = theorem("nat_congruence", "(m : nat) : m mod 9 = 4 -> (2 * m + 3) mod 9 = 2.", NATURALS)
TWO_MODULI = theorem("two_moduli", "(a : Z) : a mod 4 = 3 -> a mod 2 = 1.", INTEGERS)
DIVISIBILITY = theorem("divisibility", "(x y : Z) : (5 | x) -> (5 | y) -> (5 | 3 * x - 2 * y).", INTEGERS)
QUOTIENT = theorem("quotient", "(n : nat) : n / 2 + n / 2 <= n.", NATURALS)
SQUARE_PLUS = theorem("square_plus", "(t : Z) : (t ^ 2 + t) mod 2 = 0.", INTEGERS)
THREE_IN_A_ROW = theorem("three_in_a_row", "(t : nat) : (t * (t + 1) * (t + 2)) mod 3 = 0.", NATURALS)
CUBE_RESIDUE = theorem("cube_residue", "(u : Z) : (7 | u ^ 3 - u) \\/ (7 | u ^ 3 + 1) \\/ (7 | u ^ 3 - 1).", INTEGERS)
POWER_OF_THREE = theorem("power_of_three", "(k : Z) : 0 <= k -> 3 ^ (2 * k + 1) mod 8 = 3.", INTEGERS)
NAT_EXPONENT = theorem("nat_exponent", "(n : nat) : (11 | 3 ^ (5 * Z.of_nat n) - 1).", INTEGERS)
ROOT_EQUATION = theorem("root_equation", "(y : R) : 0 <= y -> sqrt (2 * y + 1) = 3 -> y = 4.", REALS)
NESTED_ROOT = theorem("nested_root", ": sqrt (4 + 2 * sqrt 3) = 1 + sqrt 3.", REALS)
# Nat imported as well: its `sqrt` is the natural number one
ROOT_OF_A_SUM = theorem("root_of_a_sum", "(a b : R) : a - b = 1 -> a * b = 12 -> sqrt (a ^ 2 + b ^ 2) = 5.",
                        "Require Import Nat.\n" + REALS)
RECIPROCAL_SQUARES = theorem("reciprocal_squares", "(t : R) : t <> 0 -> t + 1 / t = 4 -> t ^ 2 + 1 / t ^ 2 = 14.",
                             REALS)
TWO_RECIPROCALS = theorem("two_reciprocals", "(a b : R) : a <> 0 -> b <> 0 -> 1 / a + 1 / b = 3 -> 1 / a - 1 / b = 1 ->\n"
                          "  a = 1 / 2.", REALS)
POSITIVE_RATIO = theorem("positive_ratio", "(u v : R) : 0 < u -> 0 < v -> u / v = 2 -> u = 2 * v.", REALS)
ABSOLUTE_EQUATION = theorem("absolute_equation", "(y : R) : Rabs (2 * y + 1) = 7 -> y = 3 \\/ y = -4.", REALS)
ABSOLUTE_BOUND = theorem("absolute_bound", "(a b : R) : Rabs (a - 1) < 2 -> Rabs b <= 1 -> -2 < a + b < 4.", REALS)
REAL_ROOTS_OF_A_CUBIC = theorem("real_roots_of_a_cubic", "(w : R) : w ^ 3 - 2 * w ^ 2 - w + 2 = 0 ->\n"
                                "  w = 1 \\/ w = -1 \\/ w = 2.", REALS)
# (nia and psatz prove the cubics by themselves; a quartic is beyond them)
REAL_ROOTS_OF_A_QUARTIC = theorem("real_roots_of_a_quartic", "(w : R) : w ^ 4 - 13 * w ^ 2 + 36 = 0 ->\n"
                                  "  w = 2 \\/ w = -2 \\/ w = 3 \\/ w = -3.", REALS)
INTEGER_ROOTS_OF_A_CUBIC = theorem("integer_roots_of_a_cubic", "(k : Z) : k ^ 3 - 7 * k + 6 = 0 ->\n"
                                   "  k = 1 \\/ k = 2 \\/ k = -3.", INTEGERS)
# Instances of a functional equation already taken, as the model takes them: only their arguments need matching.
ADDITIVE_INSTANCES = theorem("additive_instances", "(g : R -> R) : g 1 = 2 -> g (1 + 1) = g 1 + g 1 ->\n"
                             "  g (2 + 1) = g 2 + g 1 -> g 3 = 6.", REALS)
SUBSTITUTED_INSTANCES = theorem("substituted_instances", "(f : R -> R) : f 2 + 2 * f (1 / 2) = 6 ->\n"
                                "  f (1 / 2) + 2 * f (1 / (1 / 2)) = 3 / 2 -> f 2 = -1.", REALS)
ARGUMENT_BY_HYPOTHESIS = theorem("argument_by_hypothesis", "(u : Z -> Z) (k : Z) : k - 1 = 2 -> u 3 = 5 ->\n"
                                 "  u (k + 2) = u k + 1 -> u 5 = 6.", INTEGERS)
NAT_STEPS = theorem("nat_steps", "(a : nat -> nat) : a 0 = 1 -> a (0 + 1) = a 0 + 2 -> a (1 + 1) = a 1 + 2 ->\n"
                    "  a 2 = 5.", NATURALS)

PROVES = [
    (NAT_CONGRUENCE, DIV_MOD_EQUATIONS), (TWO_MODULI, DIV_MOD_EQUATIONS), (DIVISIBILITY, DIV_MOD_EQUATIONS),
    (QUOTIENT, DIV_MOD_EQUATIONS), (SQUARE_PLUS, RESIDUE_CASES), (THREE_IN_A_ROW, RESIDUE_CASES),
    (CUBE_RESIDUE, RESIDUE_CASES), (POWER_OF_THREE, POWER_INDUCTION), (NAT_EXPONENT, POWER_INDUCTION),
    (ROOT_EQUATION, SQUARE_ROOTS), (NESTED_ROOT, SQUARE_ROOTS), (ROOT_OF_A_SUM, SQUARE_ROOTS),
    (RECIPROCAL_SQUARES, RECIPROCALS), (TWO_RECIPROCALS, RECIPROCALS), (POSITIVE_RATIO, RECIPROCALS),
    (ABSOLUTE_EQUATION, ABSOLUTE_VALUES), (ABSOLUTE_BOUND, ABSOLUTE_VALUES), (REAL_ROOTS_OF_A_CUBIC, REAL_ROOTS),
    (REAL_ROOTS_OF_A_QUARTIC, REAL_ROOTS), (INTEGER_ROOTS_OF_A_CUBIC, INTEGER_ROOTS),
    (ADDITIVE_INSTANCES, EQUAL_ARGUMENTS), (SUBSTITUTED_INSTANCES, EQUAL_ARGUMENTS),
    (ARGUMENT_BY_HYPOTHESIS, EQUAL_ARGUMENTS), (NAT_STEPS, EQUAL_ARGUMENTS),
]
# False, or not a consequence of the facts the sentence adds.
FAILS = [
    (theorem("false_congruence", "(a : Z) : a mod 5 = 2 -> a mod 7 = 2.", INTEGERS), RESIDUE_TACTICS),
    # nothing to turn into equations: the first fails at once rather than repeat lia
    (theorem("plain", "(a : Z) : a + 1 > a.", INTEGERS), [DIV_MOD_EQUATIONS]),
    (theorem("root_is_itself", "(x : R) : sqrt x = x.", REALS), [SQUARE_ROOTS]),
    # no root, reciprocal or absolute value: these fail at once rather than run nra again
    (theorem("no_root", "(x y : R) : x * y = 2 -> x * y + 1 = 3.", REALS),
     [SQUARE_ROOTS, RECIPROCALS, ABSOLUTE_VALUES, EQUAL_ARGUMENTS]),
    # the arguments differ: f (1 + 1) is f 2, not f 3
    (theorem("other_argument", "(f : R -> R) : f (1 + 1) = 2 -> f 3 = 2.", REALS), [EQUAL_ARGUMENTS]),
    # equal arguments do not make the instance that is missing
    (theorem("instance_missing", "(g : R -> R) : g 1 = 2 -> g (1 + 1) = g 1 + g 1 -> g 3 = 6.", REALS),
     [EQUAL_ARGUMENTS]),
    # 0 / 0 is 0 in Coq's reals: false at x = 0, and nothing excludes it
    (theorem("unknown_sign", "(x : R) : x / x = 1.", REALS), [RECIPROCALS]),
    (theorem("absolute_is_itself", "(a : R) : Rabs a = a.", REALS), [ABSOLUTE_VALUES]),
    # a root left out; and one equation, not a disjunction, is for nra itself
    (theorem("a_root_missing", "(w : R) : (w - 1) * (w - 4) = 0 -> w = 1 \\/ w = 2.", REALS), [REAL_ROOTS]),
    (theorem("one_equation", "(w : R) : w - 1 = 0 -> w = 1.", REALS), [REAL_ROOTS]),
    (theorem("integer_unknown", "(k : Z) : k * (k - 3) = 0 -> k = 0 \\/ k = 3.", INTEGERS), [REAL_ROOTS]),
    # without Reals, Coq refuses the real-number sentences as it reads them
    (theorem("nat_only", "(n : nat) : n + 0 = n.", NATURALS), [SQUARE_ROOTS, RECIPROCALS, ABSOLUTE_VALUES]),
]


@pytest.mark.rocq
@pytest.mark.parametrize("theorem, tactic", PROVES, ids=[t.name for t, _ in PROVES])
def test_one_sentence_proves_each_shape_and_the_proof_checks(backend, theorem, tactic):
    result = backend.run_tactic(backend.open(theorem), tactic, 10)
    assert isinstance(result, Proved), result
    assert backend.verify(theorem, result.tactics).accepted


@pytest.mark.rocq
@pytest.mark.parametrize("theorem, tactics", FAILS, ids=[t.name for t, _ in FAILS])
def test_where_its_facts_do_not_give_the_goal_a_sentence_fails_and_leaves_no_state(backend, theorem, tactics):
    state = backend.open(theorem)
    for tactic in tactics:
        assert isinstance(backend.run_tactic(state, tactic, 10), Failed), tactic


@pytest.mark.rocq
@pytest.mark.parametrize("theorem, tactic", [(THREE_IN_A_ROW, RESIDUE_CASES), (ROOT_EQUATION, SQUARE_ROOTS),
                                             (RECIPROCAL_SQUARES, RECIPROCALS), (ABSOLUTE_EQUATION, ABSOLUTE_VALUES),
                                             (REAL_ROOTS_OF_A_QUARTIC, REAL_ROOTS),
                                             (ADDITIVE_INSTANCES, EQUAL_ARGUMENTS)],
                         ids=["residues", "square_roots", "reciprocals", "absolute_values", "roots",
                              "function_arguments"])
def test_the_search_proves_each_kind_with_no_model(backend, theorem, tactic):
    assert tactic in default_automation()
    result = best_first_search(theorem, backend, ReplayGenerator([]), SearchConfig(budget_seconds=60, hammer=False))
    assert result.status is Status.PROVED and result.verdict.accepted
    assert result.tactics[-1] == tactic + "."
    assert [e.automation for e in result.tree.edges if e.on_proof] == [True] * len(result.tactics)


@pytest.mark.rocq
@pytest.mark.parametrize("slow, tactic, limit, fresh", [
    # 997 cases, each one nia on a cube: far beyond the sentence's limit
    (theorem("large_modulus", "(n : Z) : n ^ 3 mod 997 <> 5.", INTEGERS), RESIDUE_CASES, residues.TIMEOUT, SQUARE_PLUS),
    # `simpl` and `lia` on 10000 in unary take half a minute
    ("amc12a_2002_p21", REAL_AND_NAT_INDUCTION, induction.TIMEOUT,
     theorem("gauss", "(n : nat) : sum_f_R0 (fun k => INR k) n = INR n * (INR n + 1) / 2.", REALS)),
], ids=["residues", "induction"])
def test_a_sentence_that_ran_out_of_time_is_not_run_again_on_that_theorem(backend, valid, slow, tactic, limit, fresh):
    state = backend.open(valid[slow] if isinstance(slow, str) else slow)
    t0 = time.monotonic()
    assert isinstance(backend.run_tactic(state, tactic, 60), TimedOut)
    assert time.monotonic() - t0 < limit + 5
    skipped = backend.run_tactic(state, tactic, 60)
    assert isinstance(skipped, Failed) and "ran out of time earlier" in skipped.error
    assert isinstance(backend.run_tactic(state, "intros.", 5), Advanced)  # the rest of the automation still runs
    assert isinstance(backend.run_tactic(backend.open(fresh), tactic, 10), Proved)  # a new theorem
