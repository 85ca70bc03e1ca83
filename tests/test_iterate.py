"""`prover iterate` for real at toy scale: live Rocq proves, the proofs become training rows, a tiny model is
fine-tuned and exported, and the next round proves with it. The model is a randomly initialised tiny version
of the default architecture (its proposals are noise; automation does the proving)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from coq_env.extract import extract_proofsteps
from prover.cli import main
from prover.proofsteps import ExtractOptions, ProofStep, read_proofsteps, write_proofsteps

pytestmark = pytest.mark.rocq  # every round proves on live Rocq

PROVED = ["aime_1984_p15", "mathd_algebra_104"]  # automation proves these in a second or two
TINY_FINETUNE = {
    "kind": "finetune", "model": "default", "init": "random",
    "model_overrides": {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128,
                        "num_attention_heads": 4, "num_key_value_heads": 2},
    "seq_len": 128, "batch_size": 4, "micro_batch": 4, "steps": 2, "lr": 1e-3, "warmup_steps": 1,
    "precision": "fp32", "eval_every": 0, "checkpoint_every": 2,
}


@pytest.fixture()
def setup(tmp_path):
    config = tmp_path / "tiny_finetune.yaml"
    config.write_text(yaml.safe_dump(TINY_FINETUNE))
    corpus = tmp_path / "corpus.jsonl"
    write_proofsteps(corpus, [ProofStep(state=f"1 goal\n  ============================\n  {i} = {i}", tactic="reflexivity.",
                                        theorem=f"c{i}", source="synthetic", split="train") for i in range(8)])
    # An extracted corpus whose one file is held out: its theorem is proved each round as well.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "Held.v").write_text("Lemma corpus_conj (n : nat) : n + 0 = n /\\ 0 + n = n.\n"
                                             "Proof. split. - symmetry. apply plus_n_O. - reflexivity. Qed.\n")
    summary = extract_proofsteps(tmp_path / "src", tmp_path / "held.jsonl",
                                 ExtractOptions(workers=1, valid_fraction=1.0, test_fraction=0.0))
    assert summary["heldout_theorems"]["valid"] == 1
    args = ["iterate", "--backend", "rocq", "--rounds", "1", "--names", ",".join(PROVED), "--model", "none",
            "--corpus-theorems", str(tmp_path / "held.jsonl.theorems.jsonl"),
            "--train-config", str(config), "--corpus", str(corpus), "--search-weight", "2", "--max-expansions", "2",
            "--budget-seconds", "10", "--max-tokens", "8", "--no-progress", "--out", str(tmp_path / "iter")]
    return args, tmp_path / "iter"


def test_a_round_proves_trains_on_its_proofs_and_the_next_round_uses_the_new_model(setup):
    args, out = setup
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rounds = [json.loads(line) for line in (out / "rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rounds] == [0, 1]
    first, last = rounds
    assert first["model"] == "none" and first["proved"] == 2 and first["attempted"] == 2
    assert first["corpus_attempted"] == first["corpus_proved"] == 1 and last["corpus_attempted"] == 1
    steps = read_proofsteps(out / "round_0" / "steps.jsonl")
    assert "corpus_conj" in {s.theorem for s in steps}
    assert first["search_steps"] == len(steps) >= 2 and {s.split for s in steps} == {"train"}
    assert first["corpus_rows"] == 8 and first["train_rows"] == 8 + 2 * len(steps)
    assert "loss" in first
    model_dir = out / "round_0" / "model"
    assert (model_dir / "config.json").is_file()
    assert json.loads((model_dir / "llemma_prover.json").read_text())["prompt"] == "proofstep"
    assert last["model"] == f"hf:{model_dir}" and last["attempted"] == 2 and "next_model" not in last
    run_config = json.loads((out / "round_1" / "prove" / "config.json").read_text())
    assert run_config["model"] == f"hf:{model_dir}"

    # The same command again resumes: every round is done, nothing is redone.
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert len((out / "rounds.jsonl").read_text().splitlines()) == 2


def test_iteration_refuses_the_test_split_and_changed_settings(setup):
    args, out = setup
    result = CliRunner().invoke(main, [*args, "--split", "test"])
    assert result.exit_code == 2 and "never test" in result.output
    out.mkdir(parents=True)
    (out / "iterate.json").write_text(json.dumps({"rounds": 9}))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "other settings" in result.output


def test_an_unknown_theorem_name_is_one_line(setup):
    args, _ = setup
    args = [a if a != ",".join(PROVED) else "no_such_theorem" for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "no theorem named 'no_such_theorem'" in result.output
    assert Path(args[-1]).exists() is False or not (Path(args[-1]) / "rounds.jsonl").exists()
