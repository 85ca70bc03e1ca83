"""Reciprocals as Rocq automation (coq_env.reciprocals), on live coqtop: the sentence closes consequences of equations
with `1 / x` in one step, fails where nothing says the denominator is not zero, and the search proves such a
theorem with no model at all."""
import pytest

from coq_env.reciprocals import RECIPROCALS
from prover.search import SearchConfig, Status, best_first_search
from prover.testing import ReplayGenerator
from prover.types import Failed, Proved, Theorem

REALS = "Require Import Reals.\nOpen Scope R_scope."
# Not from any benchmark: written for this test, one per shape the sentence is for.
RECIPROCAL_SQUARES = Theorem("reciprocal_squares", "Theorem reciprocal_squares (t : R) : t <> 0 -> t + 1 / t = 4 ->\n"
                             "  t ^ 2 + 1 / t ^ 2 = 14.", REALS, "rocq")
TWO_RECIPROCALS = Theorem("two_reciprocals", "Theorem two_reciprocals (a b : R) : a <> 0 -> b <> 0 ->\n"
                          "  1 / a + 1 / b = 3 -> 1 / a - 1 / b = 1 -> a = 1 / 2.", REALS, "rocq")
POSITIVE_RATIO = Theorem("positive_ratio", "Theorem positive_ratio (u v : R) : 0 < u -> 0 < v -> u / v = 2 -> u = 2 * v.",
                         REALS, "rocq")
# 0 / 0 is 0 in Coq's reals: false at x = 0, and nothing excludes it
UNKNOWN_SIGN = Theorem("unknown_sign", "Theorem unknown_sign (x : R) : x / x = 1.", REALS, "rocq")


@pytest.mark.rocq
@pytest.mark.parametrize("theorem", [RECIPROCAL_SQUARES, TWO_RECIPROCALS, POSITIVE_RATIO])
def test_one_sentence_proves_each_shape_and_the_proof_checks(backend, theorem):
    result = backend.run_tactic(backend.open(theorem), RECIPROCALS, 10)
    assert isinstance(result, Proved), result
    assert backend.verify(theorem, result.tactics).accepted


@pytest.mark.rocq
def test_where_nothing_says_the_denominator_is_not_zero_it_fails(backend):
    assert isinstance(backend.run_tactic(backend.open(UNKNOWN_SIGN), RECIPROCALS, 10), Failed)


@pytest.mark.rocq
def test_the_search_proves_a_reciprocal_identity_with_no_model(backend):
    result = best_first_search(RECIPROCAL_SQUARES, backend, ReplayGenerator([]),
                               SearchConfig(budget_seconds=60, hammer=False))
    assert result.status is Status.PROVED and result.verdict.accepted
    assert result.tactics[-1] == RECIPROCALS + "."
    assert [e.automation for e in result.tree.edges if e.on_proof] == [True] * len(result.tactics)
