"""The rule-based Rocq hint generator (`--model hints`, expert iteration's teacher) on live coqtop."""
import json
import subprocess
import sys

from coq_env.hints import HintGenerator, abs_arguments, hint_tactics, parse_context
from prover.generators import AutomationOnly
from prover.search import SearchConfig, Status, best_first_search

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


def test_hints_prove_a_theorem_the_automation_alone_does_not(backend, valid):
    theorem = valid["mathd_algebra_43"]  # a linear function given by a hypothesis: needs `rewrite h0 in *`
    assert best_first_search(theorem, backend, AutomationOnly(), CONFIG).status is not Status.PROVED
    result = best_first_search(theorem, backend, HintGenerator(), CONFIG)
    assert result.status is Status.PROVED and result.verdict.accepted
    assert any(t.startswith("rewrite ") for t in result.tactics)


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
        assert f"forall x : R, f x = 2 * x + 3" in copy.state
