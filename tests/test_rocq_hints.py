"""The rule-based Rocq hint generator (`--model hints`, expert iteration's teacher) on live coqtop."""
import json
import subprocess
import sys

import pytest

from coq_env.hints import AIMED_SCORE, HintGenerator, abs_arguments, hint_tactics, mod_terms, parse_context
from prover.generators import AutomationOnly
from prover.search import SearchConfig, Status, best_first_search
from prover.types import Failed, Proved, Theorem

STATE = """1 goal
  
  a, b : R
  f : R -> R
  h0 : forall x : R, f x = 2 * x + 3
  h1 : 0 < a /\\ 0 < b
  h₂ : Rabs (a - 1) = b
  ============================
  f a <= Rabs (b + 2)"""

CONFIG = SearchConfig(max_expansions=8, budget_seconds=60, tactic_timeout=3)


def test_the_context_is_read_into_hypotheses_variables_and_the_conclusion():
    hyps, variables, conclusion = parse_context(STATE)
    assert variables == {"a": "R", "b": "R"}
    assert [name for name, _ in hyps] == ["f", "h0", "h1", "h₂"]
    assert conclusion == "f a <= Rabs (b + 2)"
    assert abs_arguments(conclusion) == ["b + 2"]


def test_templates_name_what_is_in_the_goal():
    tactics = hint_tactics(STATE)
    for expected in ("rewrite h0 in *.", "destruct h1.", "rewrite h₂ in *.", "destruct (Rcase_abs (b + 2)).",
                     "destruct (Rcase_abs (a - 1)).", "pose proof (pow2_ge_0 (a - b))."):
        assert expected in tactics
    assert "rewrite <- h0 in *." not in tactics  # a universally quantified equation rewrites left to right only
    assert len(tactics) == len(set(tactics))


def test_mod_terms_are_read_as_coq_parses_them_and_give_their_division_facts():
    assert mod_terms("27 * u mod 40 = 17") == [("27 * u", "40")]  # `mod` binds like `*`, to the left
    assert mod_terms("(x + 1) ^ 2 * (y + 5) ^ 3 mod 19 = 13 /\\ f n mod 7 = n mod m") == [
        ("(x + 1) ^ 2 * (y + 5) ^ 3", "19"), ("f n", "7")]  # a modulus that is no numeral is left alone
    state = """1 goal
  
  n : nat
  x : Z
  h0 : n mod 8 = 7
  h1 : (x * 3) mod 31 = 1
  ============================
  (2 * n + 1) mod 4 = 3"""
    tactics = hint_tactics(state)
    for expected in ("pose proof (Nat.div_mod_eq n 8); pose proof (Nat.mod_upper_bound n 8).",
                     "pose proof (Z.div_mod (x * 3) 31); pose proof (Z.mod_pos_bound (x * 3) 31).",
                     "pose proof (Nat.div_mod_eq (2 * n + 1) 4); pose proof (Nat.mod_upper_bound (2 * n + 1) 4)."):
        assert expected in tactics


@pytest.mark.rocq
def test_mod_facts_let_lia_prove_what_it_cannot_alone(backend, valid):
    state = backend.run_tactic(backend.open(valid["mathd_numbertheory_458"]), "intros.", 5).state
    assert isinstance(backend.run_tactic(state, "lia.", 5), Failed)
    for tactic in hint_tactics(backend.render_state(state)):
        if tactic.startswith("pose proof (Nat.div_mod_eq"):
            state = backend.run_tactic(state, tactic, 5).state
    assert isinstance(backend.run_tactic(state, "lia.", 5), Proved)


def test_round_two_templates_conditional_rewrites_divisions_roots_and_weighted_squares():
    state = """1 goal
  
  a, z, w : R
  f : nat -> R
  h0 : forall n : nat, (n > 0)%nat -> f n = 3
  h1 : a / w = sqrt (z + 1)
  ============================
  36 * (a * z) - 9 * a ^ 2 <= 36 * z ^ 2 + exp w"""
    tactics = hint_tactics(state)
    for expected in ("rewrite h0 by lia.", "rewrite h0 by lra.", "field_simplify in h1.",
                     "pose proof (sqrt_pos (z + 1)).", "pose proof (exp_pos (w)).",
                     "pose proof (pow2_ge_0 (2 * z - a)).", "pose proof (pow2_ge_0 (a + z - w)).", "subst."):
        assert expected in tactics
    assert "rewrite <- h0 in *." not in tactics and len(tactics) == len(set(tactics))


@pytest.mark.rocq
def test_denominators_and_absolute_values_get_the_steps_that_open_them_to_lra(backend, valid):
    # `field_simplify_eq in h` clears the denominators (their `<> 0` come first, as goals lra closes); `unfold
    # Rabs in *` turns each Rabs into a match on `Rcase_abs e`, which `destruct (Rcase_abs e)` splits
    state = backend.run_tactic(backend.open(valid["mathd_algebra_181"]), "intros.", 5).state
    assert "field_simplify_eq in H0." in hint_tactics(backend.render_state(state))
    cleared = backend.run_tactic(state, "field_simplify_eq in H0.", 5)
    assert "n - 3 <> 0" in cleared.state.goals
    side_closed = backend.run_tactic(cleared.state, "lra.", 5)
    assert "n + 5 = 2 * n - 6" in side_closed.state.goals
    assert isinstance(backend.run_tactic(side_closed.state, "lra.", 5), Proved)

    state = backend.run_tactic(backend.open(valid["amc12_2000_p5"]), "intros.", 5).state
    assert "unfold Rabs in *." in hint_tactics(backend.render_state(state))
    unfolded = backend.run_tactic(state, "unfold Rabs in *.", 5).state
    assert "destruct (Rcase_abs (x - 2))." in hint_tactics(backend.render_state(unfolded))
    for tactic in ("destruct (Rcase_abs (x - 2)).", "lra."):
        unfolded = backend.run_tactic(unfolded, tactic, 5).state
    assert isinstance(backend.run_tactic(unfolded, "lra.", 5), Proved)


@pytest.mark.rocq
def test_hints_prove_a_theorem_the_automation_alone_does_not(backend, valid):
    theorem = valid["mathd_algebra_43"]  # a linear function given by a hypothesis: needs `rewrite h0 in *`
    assert best_first_search(theorem, backend, AutomationOnly(), CONFIG).status is not Status.PROVED
    result = best_first_search(theorem, backend, HintGenerator(), CONFIG)
    assert result.status is Status.PROVED and result.verdict.accepted
    assert any(t.startswith("rewrite ") for t in result.tactics)


# Written for this test: a functional equation, proved by its instance at (2, 2) and the equal-arguments sentence
ADDITIVE = Theorem("additive_double", "Theorem additive_double (f : R -> R)\n"
                   "  (h : forall x y, f (x + y) = f x + f y) (h1 : f 2 = 3) : f 4 = 6.",
                   "Require Import Reals.\nOpen Scope R_scope.", "rocq")


@pytest.mark.rocq
def test_hints_take_instances_of_a_functional_equation_and_the_automation_matches_their_arguments(backend):
    state = backend.open(ADDITIVE)
    tactics = hint_tactics(backend.render_state(state))
    assert "pose proof (h 4 4)." in tactics and "pose proof (h 2 2)." in tactics
    assert not any(t.startswith("pose proof (h1 ") for t in tactics)  # h1 holds for no variable
    assert best_first_search(ADDITIVE, backend, AutomationOnly(), CONFIG).status is not Status.PROVED
    result = best_first_search(ADDITIVE, backend, HintGenerator(), CONFIG)
    assert result.status is Status.PROVED and result.verdict.accepted
    assert result.tactics[0] == "pose proof (h 2 2)."
    # a side condition is discharged in the instance, and the opposite number is tried where f (- x) appears
    odd = hint_tactics("  f : R -> R\n  h : forall x, x <> 0 -> f (- x) = - f x\n"
                       "  ============================\n  f 3 = - f (-3)")
    assert "pose proof (h 3 ltac:(lra))." in odd and "pose proof (h (-3) ltac:(lra))." in odd


BAR = "  ============================\n"


def test_instances_are_aimed_at_the_numbers_the_goal_and_hypotheses_apply_the_function_to():
    def instances(state):
        return [t for t in hint_tactics(state) if t.startswith("pose proof (h ")]

    def aimed(state):  # the instances the generator ranks first
        return {c.tactic for c in HintGenerator().generate(None, state, 0) if c.score == AIMED_SCORE}

    # f 5 from f 1 walks down: 5 = 4 + 1, and the next state's `f 4` is aimed at in turn (4 = 3 + 1, 2 + 2)
    additive = "  f : R -> R\n  h : forall x y : R, f (x + y) = f x + f y\n  h1 : f 1 = 3\n"
    assert "pose proof (h 4 1)." in instances(additive + BAR + "  f 5 = 15")
    after = instances(additive + "  H : f (4 + 1) = f 4 + f 1\n" + BAR + "  f 5 = 15")
    assert {"pose proof (h 3 1).", "pose proof (h 2 2)."} <= set(after)
    # a part is a number the hypotheses give a value at, and an instance already posed is not aimed at again
    chain = "  g : R -> R\n  h : forall x y : R, g (x + y) = g x + g y\n  h1 : g 3 = 2\n"
    assert aimed(chain + BAR + "  g 12 = 8") == {"pose proof (h 9 3).", "pose proof (h 3 9)."}
    assert aimed(chain + "  H : g (9 + 3) = g 9 + g 3\n" + BAR + "  g 12 = 8") == {
        "pose proof (h 6 3).", "pose proof (h 3 6)."}
    # an odd function of period 8 at 4: the period's rule at 4 - 8 and the odd one at - 4 (numbers no hypothesis
    # or goal names, such as 1 and 2, are not aimed at)
    odd = "  g : R -> R\n  H : forall y : R, g (- y) = - g y\n  H0 : forall y : R, g (y + 8) = g y\n"
    assert aimed(odd + BAR + "  g 4 = 0") == {"pose proof (H (-4)).", "pose proof (H0 (-4))."}
    # a product is aimed at by a quotient, a fraction where it must be, with both side conditions discharged
    ratio = instances("  f : R -> R\n  h : forall x y : R, 0 < x -> 0 < y -> f (x * y) = f x / y\n"
                      "  h1 : f 10 = 3\n" + BAR + "  f 12 = 5 / 2")
    assert "pose proof (h 10 (6 / 5) ltac:(lra) ltac:(lra))." in ratio
    # a shifted argument at the number less the shift; a recurrence at the numbers less its successors, never below 0
    shifted = instances("  f : R -> R\n  h : forall x : R, f (x + 3) = 2 * x\n" + BAR + "  f 1 = -4")
    assert "pose proof (h (-2))." in shifted
    recurrence = instances("  s : nat -> R\n  h : forall n : nat, s (S (S n)) = s (S n) + s n\n  h1 : s 1 = 2\n"
                           "  h2 : s 3 = 7\n" + BAR + "  s 2 = 5")
    assert {"pose proof (h 0%nat).", "pose proof (h 1%nat)."} <= set(recurrence)
    assert not any("(-" in t or "/" in t for t in recurrence)


# Written for this test: a sequence between two given values, by two aimed instances of its recurrence
RECURRENCE = Theorem("recurrence_between", "Theorem recurrence_between (s : nat -> R)\n"
                     "  (h : forall n, s (S (S n)) = 2 * s (S n) + s n) (h1 : s 3%nat = 1) (h2 : s 5%nat = 11) :\n"
                     "  s 4%nat = 5.", "Require Import Reals.\nOpen Scope R_scope.", "rocq")


@pytest.mark.rocq
def test_hints_prove_a_recurrence_by_instances_the_automation_alone_does_not(backend):
    assert best_first_search(RECURRENCE, backend, AutomationOnly(), CONFIG).status is not Status.PROVED
    result = best_first_search(RECURRENCE, backend, HintGenerator(), CONFIG)
    assert result.status is Status.PROVED and result.verdict.accepted
    assert result.tactics[0] == "pose proof (h 3%nat)."


@pytest.mark.rocq
def test_the_cli_runs_the_hint_generator_as_model_hints(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "prover.cli", "prove", "--backend", "rocq", "--split", "valid",
                           "--names", "mathd_algebra_43", "--model", "hints", "--max-expansions", "24",
                           "--budget-seconds", "60", "--no-progress", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    row = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    assert row["status"] == "proved" and row["model"] == "rocq-hints"
    assert any(t.startswith("rewrite ") for t in row["proof"])  # automation alone does not prove it


def test_a_renamed_step_renames_consistently_without_capturing_bound_names():
    import random

    from coq_env.renaming import rename_step
    from prover.proofsteps import ProofStep

    step = ProofStep(state=STATE, tactic="rewrite h0 in *; destruct h1; pose proof (pow2_ge_0 (a - b)).",
                     theorem="t", source="s", split="train")
    rng = random.Random(0)
    for _ in range(5):
        copy = rename_step(step, rng)
        hyps, variables, _ = parse_context(copy.state)
        names = [n for n, _ in hyps]
        assert names[0] == "f" and "x" not in variables  # a function is no hypothesis; bound x is not reused
        new_h0, new_h1 = names[1], names[2]
        (new_a, new_b) = variables
        assert copy.tactic == f"rewrite {new_h0} in *; destruct {new_h1}; pose proof (pow2_ge_0 ({new_a} - {new_b}))."
        assert "forall x : R, f x = 2 * x + 3" in copy.state
