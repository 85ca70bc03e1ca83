"""Drafting informal proofs (prover.drafts) and `prover translate --draft-model`: the templates, the batch row
refusing a problem without a draft model (the CLI's one-line refusals are with translate's other bad input in
test_translate.py), the whole path with the real default model on live Rocq, and drafting through the
OpenAI client against a real vLLM server on loopback."""
import time

import pytest
from click.testing import CliRunner

from prover import translate as tr
from prover.batch import RESULTS, read_rows
from prover.cli import main
from prover.drafts import DraftError, DraftSettings, ModelDrafts, load_template
from prover.generators import AutomationOnly
from prover.testing import FixedSketches
from prover.translate import Problem, TranslateConfig, translate_one
from prover.types import Theorem

STATEMENT = "What is $\\frac{1}{2} + \\frac{1}{2}$? Show that it is 1."
SKETCH_STATUSES = {"verified", "rejected", "refused", "step_failed", "gap_unclosed", "open_goals", "timeout"}


def test_the_alpaca_template_is_rendered_exactly():
    expected = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
                "request.\n"
                "\n"
                "### Instruction:\n"
                "What is $\\frac{1}{2} + \\frac{1}{2}$? Show that it is 1.\n"
                "\n"
                "### Response: Let's think step by step.")
    assert load_template("alpaca").render(STATEMENT) == expected
    assert load_template("metamath").render("  " + STATEMENT + "\n") == expected  # the same template, text stripped


def test_minerva_examples_are_our_valid_problems_never_the_problems_own():
    from coq_env.minif2f import load_split

    template = load_template("minerva")
    names = [name for name, _ in template.examples]
    assert len(names) >= 3
    assert set(names) <= {t.name for t in load_split("valid")}
    assert not set(names) & {t.name for t in load_split("test")}
    prompt = template.render(STATEMENT)
    assert prompt.count("Problem:\n") == len(names) + 1 and prompt.endswith(f"Problem:\n{STATEMENT}\n\nSolution:\n")
    own = template.render(STATEMENT, problem_name=names[0])
    assert own.count("Problem:\n") == len(names) and template.examples[0][1] not in own


def test_a_template_file_needs_an_instruction_slot(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("Q: {instruction}\nA:")
    assert load_template(str(good)).render(STATEMENT) == f"Q: {STATEMENT}\nA:"
    bad = tmp_path / "bad.txt"
    bad.write_text("Q: {statement}\nA:")
    with pytest.raises(DraftError, match="no \\{instruction\\}"):
        load_template(str(bad))
    with pytest.raises(DraftError, match="neither alpaca, metamath, minerva nor a readable file"):
        load_template(str(tmp_path / "missing.txt"))


def test_in_a_batch_a_problem_without_informal_proof_or_draft_model_is_an_error_row_naming_the_fix(tmp_path):
    problem = Problem(Theorem("t", "Theorem t : True.", "", "rocq"), "Show that True holds.", "")
    source = FixedSketches("admit.")
    # no proof assistant is reached: the problem is refused first
    rows = list(tr.translate_batch([problem], None, source, AutomationOnly(), TranslateConfig(), tmp_path))
    assert [r["status"] for r in rows] == ["error"] and source.requests == 0
    assert rows[0]["reason"] == "t: no informal proof; give one, or draft one with --draft-model SPEC"


@pytest.mark.rocq
def test_drafting_with_the_real_default_model_end_to_end(tmp_path, monkeypatch):
    """Two valid problems, human proofs redrafted, one model loaded for drafting and sketching; the rows say
    which draft each sketch came from, and each problem keeps to its budget."""
    import prover.commands.translate as command

    loads = []
    real_load = command.tactic_generator

    def counted_load(model, backend, settings):  # a spy around the real loader
        loads.append(model)
        return real_load(model, backend, settings)

    monkeypatch.setattr(command, "tactic_generator", counted_load)
    budget, tactic_timeout = 20.0, 2.0
    args = ["translate", "--names", "mathd_algebra_37,mathd_numbertheory_136", "--model", "default",
            "--draft-model", "default", "--redraft", "--samples", "2", "--drafts", "2", "--draft-max-tokens", "48",
            "--max-tokens", "64", "--budget-seconds", str(budget), "--tactic-timeout", str(tactic_timeout),
            "--gap-expansions", "1", "--num-candidates", "2", "--out", str(tmp_path), "--no-progress"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "drafts by" in result.output and loads == ["default"]
    rows = read_rows(tmp_path / RESULTS)
    assert [r["name"] for r in rows] == ["mathd_algebra_37", "mathd_numbertheory_136"]
    for row in rows:
        assert row["informal_proof_source"] == "draft"
        assert row["status"] in ("proved", "failed", "timeout"), row
        assert len(row["drafts"]) <= 2 and (row["drafts"] or not row["sketches"])
        for draft in row["drafts"]:
            assert draft["text"].strip() and draft["template"] == "alpaca" and draft["model"] == row["model"]
        assert row["samples"] == len(row["sketches"]) <= 2
        for sketch in row["sketches"]:
            assert sketch["status"] in SKETCH_STATUSES and 0 <= sketch["draft"] < len(row["drafts"])
        allowance = TranslateConfig().verify_timeout if row["status"] == "proved" else 0.0
        # budget + one tactic timeout + the check's allowance; the slack is for a loaded machine (a prompt's first
        # pass through the model is not cut).
        assert row["seconds"] <= budget + tactic_timeout + allowance + 4.0, row
    # a resumed run with other draft settings is refused before anything loads
    changed = CliRunner().invoke(main, [*args, "--draft-template", "minerva"])
    assert changed.exit_code == 2 and "different draft_template" in changed.output and loads == ["default"]


def test_drafting_through_the_openai_client_against_a_real_vllm_server(vllm_server_url):
    """The drafter and the sketcher share one server under two served names (--sketch-only: no prover needed)."""
    from prover.models import ModelSettings, load_generator
    from vllm_server import SERVED_NAMES

    sketcher_name, drafter_name = SERVED_NAMES
    spec = f"openai:{vllm_server_url}"
    assert load_generator(spec, "rocq").name == f"openai:{sketcher_name}"  # no served name: the server's first
    drafting = load_generator(spec, "rocq", ModelSettings(served_name=drafter_name))
    drafter = ModelDrafts(drafting, DraftSettings(max_tokens=32), seed=0)  # seeded: the same drafts every run
    assert drafter.name == f"openai:{drafter_name}"
    sent = drafting.lm.requests_sent
    drafts = drafter.drafts(STATEMENT, 2, deadline=time.monotonic() + 120)
    assert drafting.lm.requests_sent == sent + 1  # the K drafts in one request
    assert 1 <= len(drafts) <= 2 and all(d == d.strip() and d for d in drafts), drafts
    assert drafting.model_seconds > 0
    sketching = load_generator(spec, "rocq", ModelSettings(served_name=sketcher_name))
    source = tr.ModelSketches(sketching, "rocq", max_tokens=32)
    problem = Problem(Theorem("t", "Theorem t : 1 / 2 + 1 / 2 = 1.", "Require Import Reals.\nOpen Scope R_scope.",
                              "rocq"), STATEMENT, "")
    config = TranslateConfig(samples=3, drafts=2, drive=False, budget_seconds=120)
    row, _ = translate_one(problem, None, source, sketching, config, drafter)
    assert row["status"] == "sketched" and row["model"] == f"openai:{sketcher_name}", row
    assert row["informal_proof_source"] == "draft" and 1 <= len(row["drafts"]) <= 2
    assert all(d["model"] == f"openai:{drafter_name}" for d in row["drafts"])
    # the K sketches spread over the drafts as the driven loop spreads them (sketch i from draft i mod D)
    assert [s["draft"] for s in row["sketches"]] == sorted(i % len(row["drafts"]) for i in range(3))


def test_cli_drafts_with_one_served_name_and_sketches_with_another(vllm_server_url, tmp_path):
    from vllm_server import SERVED_NAMES

    sketcher_name, drafter_name = SERVED_NAMES
    spec = f"openai:{vllm_server_url}"
    result = CliRunner().invoke(main, [
        "translate", "--names", "mathd_algebra_37", "--redraft", "--sketch-only", "--samples", "2",
        "--model", spec, "--served-name", sketcher_name, "--max-tokens", "32",
        # the few-shot template: the untuned model served here reliably writes a solution after its examples
        "--draft-model", spec, "--draft-served-name", drafter_name, "--draft-template", "minerva",
        "--draft-max-tokens", "32",
        "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"drafts by openai:{drafter_name}" in result.output
    row = read_rows(tmp_path / RESULTS)[0]
    assert row["status"] == "sketched" and row["model"] == f"openai:{sketcher_name}", row
    assert row["drafts"]
    assert {(d["model"], d["template"]) for d in row["drafts"]} == {(f"openai:{drafter_name}", "minerva")}
    assert {s["draft"] for s in row["sketches"]} <= set(range(len(row["drafts"])))
