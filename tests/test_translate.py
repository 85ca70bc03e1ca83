"""Draft-Sketch-Prove translation (prover.translate): live on Rocq; Lean/Isabelle sketch parsing on text only."""
import json

import pytest
from click.testing import CliRunner

from coq_env.backend import AUTOMATION_IMPORT
from coq_env.verify import check_proof_text
from isabelle_env import sketch as isabelle_sketch
from lean_env import sketch as lean_sketch
from prover import translate as tr
from prover.batch import RESULTS, read_rows
from prover.cli import main
from prover.generators import AutomationOnly
from prover.search import SearchConfig
from prover.testing import FixedSketches, ReplayGenerator
from prover.translate import Problem, TranslateConfig, translate_batch, translate_one
from prover.types import Theorem

SKETCH_37 = """  intros x y h0 h1.
  (* Subtracting the equations gives 2x = 38, so x = 19. *)
  assert (hx : x = 19) by admit.
  (* Then y = -12. *)
  assert (hy : y = -12).
  { admit. }
  rewrite hx, hy.
  admit.
Qed."""

# Automation alone cannot prove f (f x) = x (no rewriting); two `rewrite h.` steps can.
REWRITE = Theorem("gap_rw", "Theorem gap_rw (x : nat) (f : nat -> nat) (h : forall n, f n = n) : f (f x) = x /\\ x + 0 = x.",
                  "Require Import Arith.", "rocq")
FAST = TranslateConfig(samples=1, gap_search=SearchConfig(max_expansions=4, budget_seconds=20, num_candidates=4),
                       budget_seconds=60)


@pytest.fixture
def problem37(valid):
    return tr.benchmark_problems([valid["mathd_algebra_37"]])[0]


@pytest.mark.rocq
def test_a_sketch_whose_gaps_automation_closes_is_verified(problem37, backend):
    source = FixedSketches(SKETCH_37)
    row, script = translate_one(problem37, backend, source, AutomationOnly(), FAST)
    assert row["status"] == "proved" and row["samples"] == 1
    sketch = row["sketches"][0]
    assert sketch["status"] == "verified"
    assert [g["by"] for g in sketch["gaps"]] == ["automation"] * 3
    assert all(len(g["tactics"]) == 1 for g in sketch["gaps"])
    assert "admit" not in " ".join(row["proof"])
    # the proof file stands on its own in a fresh checker, statement unchanged
    assert check_proof_text(script, expected=problem37.theorem, extra_header=(AUTOMATION_IMPORT,)).accepted


@pytest.mark.rocq
def test_a_restated_theorem_is_dropped_if_unchanged_and_refused_if_changed(problem37, backend):
    same = f"{problem37.theorem.statement}\nProof.\n{SKETCH_37}"
    row, _ = translate_one(problem37, backend, FixedSketches(same), AutomationOnly(), FAST)
    assert row["status"] == "proved"
    changed = same.replace("x^2 - y^2 = 217", "x^2 - y^2 = 218")
    row, script = translate_one(problem37, backend, FixedSketches(changed), AutomationOnly(), FAST)
    assert row["status"] == "failed" and script is None
    assert row["sketches"][0]["status"] == "refused"
    assert "different statement" in row["sketches"][0]["reason"]
    # commands other than tactics in a sketch refuse it too
    row, _ = translate_one(problem37, backend, FixedSketches("Axiom cheat : False.\nadmit."), AutomationOnly(), FAST)
    assert row["sketches"][0]["status"] == "refused"


@pytest.mark.rocq
def test_a_gap_automation_cannot_close_is_closed_by_a_small_search_under_bullets(backend):
    problem = Problem(REWRITE, "Show f(f(x)) = x and x + 0 = x.", "f is the identity, twice; x + 0 = x.")
    sketch = "split.\n- (* f is the identity *)\n  admit.\n- admit.\nQed."
    no_search = translate_one(problem, backend, FixedSketches(sketch), AutomationOnly(), FAST)[0]
    assert no_search["status"] == "failed" and no_search["sketches"][0]["status"] == "gap_unclosed"
    row, script = translate_one(problem, backend, FixedSketches(sketch), ReplayGenerator(["rewrite h."]), FAST)
    assert row["status"] == "proved", row
    gaps = row["sketches"][0]["gaps"]
    assert gaps[0]["by"] == "search" and gaps[0]["tactics"][0] == "rewrite h." and len(gaps[0]["tactics"]) == 2
    assert gaps[1]["by"] == "automation"
    assert check_proof_text(script, expected=REWRITE, extra_header=(AUTOMATION_IMPORT,)).accepted


@pytest.mark.rocq
def test_a_failing_sketch_step_discards_the_sketch(problem37, backend):
    row, _ = translate_one(problem37, backend, FixedSketches("intros x y h0 h1.\nexact I.\nadmit."), AutomationOnly(), FAST)
    assert row["sketches"][0]["status"] == "step_failed"


@pytest.mark.rocq
def test_the_k_sample_loop_stops_at_the_first_verified_sketch_and_counts_samples(problem37, backend):
    bad = "intros x y h0 h1.\nexact I."
    source = FixedSketches([bad, "Lemma other : True.", SKETCH_37, SKETCH_37])
    row, _ = translate_one(problem37, backend, source, AutomationOnly(), TranslateConfig(samples=4, budget_seconds=120))
    assert row["status"] == "proved" and row["samples"] == 3 and source.requests == 3
    assert [s["status"] for s in row["sketches"]] == ["step_failed", "refused", "verified"]
    source = FixedSketches([bad])
    row, _ = translate_one(problem37, backend, source, AutomationOnly(), TranslateConfig(samples=2, budget_seconds=120))
    assert row["status"] == "failed" and row["samples"] == 2 and source.requests == 2


@pytest.mark.rocq
def test_bad_input_gets_an_error_row_and_the_batch_goes_on(valid, backend, tmp_path):
    (tmp_path / "proofs").mkdir()
    no_informal = Theorem("not_in_minif2f", "Theorem not_in_minif2f : True.", "", "rocq")
    problems = tr.benchmark_problems([no_informal]) + [
        Problem(valid["mathd_algebra_119"], "Solve for e.", ""),  # no informal proof
        Problem(Theorem("broken", "Theorem broken : x = .", "Require Import Arith.", "rocq"), "s", "p"),
        tr.benchmark_problems([valid["mathd_algebra_37"]])[0],
    ]
    rows = list(translate_batch(problems, backend, FixedSketches(SKETCH_37), AutomationOnly(), FAST, tmp_path))
    by = {r["name"]: r for r in rows}
    assert by["not_in_minif2f"]["status"] == "error" and "informal" in by["not_in_minif2f"]["reason"]
    assert by["mathd_algebra_119"]["status"] == "error" and "no informal proof" in by["mathd_algebra_119"]["reason"]
    assert by["broken"]["status"] == "unsupported"
    assert by["mathd_algebra_37"]["status"] == "proved"
    assert (tmp_path / "proofs" / "mathd_algebra_37.v").is_file()
    # resume: nothing is redone
    assert list(translate_batch(problems, backend, FixedSketches(SKETCH_37), AutomationOnly(), FAST, tmp_path)) == []
    assert len(read_rows(tmp_path / RESULTS)) == 4


@pytest.fixture
def fake_model(monkeypatch):
    """The CLI with test doubles for the model: fixed sketches, replayed tactics (no model load)."""
    monkeypatch.setattr("prover.commands.translate.tactic_generator", lambda model, backend, settings: ReplayGenerator([]))
    monkeypatch.setattr(tr, "ModelSketches", lambda generator, backend, **kw: FixedSketches(SKETCH_37))


@pytest.mark.rocq
def test_cli_batch_resumes_and_refuses_changed_settings(tmp_path, fake_model):
    args = ["translate", "--names", "mathd_algebra_37", "--samples", "2", "--out", str(tmp_path), "--no-progress"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "proved 1/1" in first.output
    row = read_rows(tmp_path / RESULTS)[0]
    assert row["status"] == "proved" and row["sketches"][0]["gaps"]
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and len(read_rows(tmp_path / RESULTS)) == 1
    changed = CliRunner().invoke(main, args[:-3] + ["--samples", "3", "--out", str(tmp_path)])
    assert changed.exit_code == 2 and "different samples" in changed.output


@pytest.mark.rocq
def test_cli_single_problem_proves_and_prints_the_proof(tmp_path, fake_model):
    problem = tmp_path / "p.json"
    problem.write_text(json.dumps({
        "informal_statement": "x+y=7, 3x+y=45; find x^2-y^2.", "informal_proof": "x = 19, y = -12.",
        "formal_statement": "Theorem mathd_algebra_37 : forall x y : R, x + y = 7 -> 3 * x + y = 45 -> x^2 - y^2 = 217.",
        "header": "Require Import Reals.\nOpen Scope R_scope."}))
    result = CliRunner().invoke(main, ["translate", "--problem", str(problem)])
    assert result.exit_code == 0, result.output
    assert "mathd_algebra_37: proved after 1 sketch(es)" in result.output and "Qed." in result.output


@pytest.mark.parametrize("args, message", [
    (["--statement", "s", "--proof", "p", "--formal-statement", "x = x"], "one Rocq declaration"),
    (["--statement", "s", "--formal-statement", "Theorem t : True."], "no informal proof"),
    (["--problem", "/nonexistent/p.json"], "cannot read"),
    (["--statement", "s", "--proof", "p", "--formal-statement", "Theorem t : undefined_thing = 1."], "statement rejected"),
    (["--backend", "lean", "--statement", "s", "--proof", "p", "--formal-statement", "theorem t : True := by"],
     "--sketch-only"),
    (["--names", "mathd_algebra_37"], "needs --out"),
    (["--model", "none", "--names", "mathd_algebra_37", "--out", "x"], "needs a model"),
    # no informal proof and no way to draft one (prover.drafts)
    (["--statement", "s", "--formal-statement", "Theorem t : True."], "draft one with --draft-model SPEC"),
    (["--statement", "s", "--proof", "p", "--formal-statement", "Theorem t : True.", "--redraft"],
     "--redraft needs --draft-model"),
    (["--statement", "s", "--formal-statement", "Theorem t : True.", "--draft-model", "default",
      "--draft-template", "/nonexistent/template.txt"], "neither alpaca"),
])
@pytest.mark.rocq
def test_cli_bad_input_is_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(main, ["translate", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_prompts_use_shipped_examples_never_the_problems_own(problem37):
    prompt = tr.build_prompt(problem37)
    assert prompt.endswith(problem37.theorem.statement.strip() + "\nProof.\n")
    assert prompt.count("Theorem mathd_algebra_37") == 1  # its own shipped example left out
    assert prompt.count("Informal:") == 4
    assert tr.example_set("isabelle", "mathd_numbertheory_5") == "isabelle_numbertheory"
    assert tr.example_set("isabelle", "mathd_algebra_5") == "isabelle_other"
    from coq_env.minif2f import load_split

    test_names = {t.name for t in load_split("test")}
    for name in ("rocq", "lean", "isabelle_numbertheory", "isabelle_other"):
        examples = tr.load_examples(name)
        assert examples and not {e["name"] for e in examples} & test_names
        gap = {"rocq": "admit.", "lean": "sorry"}.get(name, "sledgehammer")
        assert all(gap in e["formal_proof"] for e in examples)


@pytest.mark.rocq
def test_a_real_default_model_run_has_the_row_structure(problem37, backend):
    from prover.models import ModelSettings, load_generator

    generator = load_generator("default", "rocq", ModelSettings(max_tokens=24))
    source = tr.ModelSketches(generator, "rocq", max_tokens=24, temperature=0.8)
    config = TranslateConfig(samples=1, gap_search=SearchConfig(max_expansions=1, budget_seconds=5, num_candidates=2),
                             budget_seconds=60)
    row, _ = translate_one(problem37, backend, source, generator, config)
    assert row["samples"] == 1 and len(row["sketches"]) == 1
    assert row["status"] in ("proved", "failed", "timeout")
    assert row["sketches"][0]["status"] in ("verified", "rejected", "refused", "step_failed", "gap_unclosed",
                                            "open_goals", "timeout")
    assert isinstance(row["sketches"][0]["text"], str) and row["model"] == generator.name


@pytest.mark.rocq
def test_a_problem_with_the_real_model_keeps_to_its_budget(problem37, backend):
    from prover.models import ModelSettings, load_generator

    # Sketches of up to 384 tokens: one takes 15 s or more on a CPU, far past a 3 s budget, unless sampling stops
    # at the problem's deadline.
    generator = load_generator("default", "rocq", ModelSettings())
    source = tr.ModelSketches(generator, "rocq", max_tokens=384)
    config = TranslateConfig(samples=4, budget_seconds=3.0, tactic_timeout=1.0)
    backend.open(problem37.theorem)  # the header loaded once before the clock starts: this test is about the model
    row, _ = translate_one(problem37, backend, source, generator, config)
    allowance = config.verify_timeout if row["status"] == "proved" else 0.0
    # budget + one tactic timeout + the check's allowance; the slack is for a loaded machine (a prompt's first
    # pass through the model is not cut).
    assert row["seconds"] <= config.budget_seconds + config.tactic_timeout + allowance + 4.0, row


# -- Lean and Isabelle sketches: text only -------------------------------------------------------------------
LEAN = """theorem t (x : ℝ) (h₀ : x + 1 = 2) : x = 1 := by
  -- subtract 1; a sorry in a comment is no gap
  have h₁ : x = 2 - 1 := by sorry
  /- sorry here neither -/
  linarith [h₁]
  sorry"""


def test_lean_sketch_gap_positions_steps_and_fill():
    assert lean_sketch.gap_positions(LEAN) == [(2, 28), (5, 2)]
    steps, gaps = lean_sketch.parse(LEAN, "theorem t (x : ℝ) (h₀ : x + 1 = 2) : x = 1 := by")
    assert steps == ["  have h₁ : x = 2 - 1 := by", "sorry", "  linarith [h₁]", "sorry"]
    assert [steps[i] for i in gaps] == ["sorry", "sorry"] and len(gaps) == 2
    filled = lean_sketch.fill(LEAN, ["linarith", "exact h₁"])
    assert lean_sketch.gap_positions(filled) == [] and "by linarith" in filled
    with pytest.raises(ValueError, match="different statement"):
        lean_sketch.parse(LEAN, "theorem t (x : ℝ) (h₀ : x + 1 = 3) : x = 1 := by")
    assert lean_sketch.parse("  norm_num\n")[1] == []


ISABELLE = """proof -
  (* 123n = 39483; sledgehammer in a comment is no gap *)
  have c0: "123 * n = 39483"
    using h0 sledgehammer
  then show ?thesis
    sledgehammer
qed"""


def test_isabelle_sketch_gap_positions_steps_and_fill():
    assert isabelle_sketch.gap_positions(ISABELLE) == [(3, 13), (5, 4)]
    steps, gaps = isabelle_sketch.parse(ISABELLE)
    assert len(gaps) == 2 and all(steps[i] == "sledgehammer" for i in gaps)
    assert steps[gaps[0] - 1].strip() == "using h0"
    filled = isabelle_sketch.fill(ISABELLE, ["by simp", "by simp"])
    assert "using h0 by simp" in filled and isabelle_sketch.gap_positions(filled) == []
    statement = 'theorem t:\n  fixes n :: nat\n  assumes h0: "123 * n + 17 = 39500"\n  shows "n = 321"'
    assert isabelle_sketch.parse(statement + "\n" + ISABELLE, statement)[1] == gaps
    with pytest.raises(ValueError, match="different statement"):
        isabelle_sketch.parse(statement.replace("321", "322") + "\n" + ISABELLE, statement)
