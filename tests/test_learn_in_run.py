"""`prover prove --learn-rounds`: after the batch, fine-tune on the batch's own proofs and retry the rest with the
fine-tuned model. Live Rocq proves; the fine-tuned model is a randomly initialised tiny version of the default
architecture (its proposals are noise), so what is checked is the loop, its files, its rows and its resumption."""
from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from prover.batch import latest_rows, read_rows, record_result
from prover.cli import main
from prover.learn_in_run import adopt_proofs
from prover.proofsteps import read_proofsteps
from prover.search_tree import SearchTree

from test_iterate import PROVED, TINY_FINETUNE  # automation proves these in a second or two; a tiny random model

UNPROVED = "mathd_numbertheory_84"  # not in 10 s


def prove_args(out, *extra):
    return ["prove", "--backend", "rocq", "--names", ",".join([*PROVED, UNPROVED]), "--max-expansions", "2",
            "--budget-seconds", "10", "--max-tokens", "8", "--no-hammer", "--no-progress", "--out", str(out), *extra]


@pytest.mark.rocq
def test_a_batch_learns_from_its_own_proofs_retries_the_rest_and_resumes(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_FINETUNE))
    out = tmp_path / "run"
    learn = ["--model", "base", "--learn-config", str(config), "--learn-set", "steps=2",
             "--learn-set", "checkpoint_every=2"]
    result = CliRunner().invoke(main, prove_args(out, "--learn-rounds", "1", *learn))
    assert result.exit_code == 0, result.output
    latest = {row["name"]: row for row in latest_rows(read_rows(out / "results.jsonl"))}
    assert {n for n, r in latest.items() if r["status"] == "proved"} == set(PROVED)
    assert latest[UNPROVED]["status"] in ("failed", "timeout") and "learned_round" not in latest[UNPROVED]

    steps = read_proofsteps(out / "learn" / "round_1" / "steps.jsonl")
    assert {s.theorem for s in steps} == set(PROVED)  # its own proofs, nothing else
    model_dir = out / "learn" / "round_1" / "model"
    assert (model_dir / "config.json").is_file()
    retry = json.loads((out / "learn" / "round_1" / "prove" / "config.json").read_text())
    assert retry["model"] == f"hf:{model_dir}" and retry["learned_round"] == 1
    assert [r["name"] for r in read_rows(out / "learn" / "round_1" / "prove" / "results.jsonl")] == [UNPROVED]
    rounds = [json.loads(line) for line in (out / "learn" / "rounds.jsonl").read_text().splitlines()]
    assert rounds == [{**rounds[0], "round": 1, "model": f"hf:{model_dir}", "rows_trained": len(steps),
                       "retried": 1, "proved": 0}]

    # The same command resumes: nothing is redone. One more round continues from the rows so far.
    again = CliRunner().invoke(main, prove_args(out, "--learn-rounds", "1", *learn))
    assert again.exit_code == 0, again.output
    assert len((out / "learn" / "rounds.jsonl").read_text().splitlines()) == 1
    more = CliRunner().invoke(main, prove_args(out, "--learn-rounds", "2", *learn))
    assert more.exit_code == 0, more.output
    assert [json.loads(line)["round"] for line in (out / "learn" / "rounds.jsonl").read_text().splitlines()] == [1, 2]


def test_proofs_a_retry_found_join_the_run_marked_with_their_round(tmp_path):
    out, retry = tmp_path / "run", tmp_path / "retry"
    for folder in (out, retry):
        (folder / "proofs").mkdir(parents=True)
    record_result(out, {"name": "a/b", "status": "timeout", "model": "first"}, None, ".v")
    tree = SearchTree().to_json()
    record_result(retry, {"name": "a/b", "status": "proved", "model": "learned", "proof": ["lia."]},
                  "Theorem b : True.\nlia.\nQed.", ".v", tree)
    record_result(retry, {"name": "other", "status": "proved", "model": "learned"}, "x", ".v", tree)
    record_result(retry, {"name": "c", "status": "failed", "model": "learned"}, None, ".v", tree)
    assert adopt_proofs(out, retry, {"a/b", "c"}, 2, ".v") == 1
    latest = {row["name"]: row for row in latest_rows(read_rows(out / "results.jsonl"))}
    assert set(latest) == {"a/b"}
    assert latest["a/b"] == {"name": "a/b", "status": "proved", "model": "learned", "proof": ["lia."],
                             "learned_round": 2}
    assert (out / "proofs" / "a%2Fb.v").read_text() == "Theorem b : True.\nlia.\nQed."
    assert json.loads((out / "trees" / "a%2Fb.json").read_text()) == tree


@pytest.mark.parametrize("extra, message", [
    (["--model", "none"], "--learn-rounds fine-tunes the model in this process"),
    (["--model", "openai:http://127.0.0.1:9"], "--learn-rounds fine-tunes the model in this process"),
    (["--model", "base", "--workers", "2"], "--learn-rounds does not go with --workers"),
    (["--model", "base", "--no-trees"], "--learn-rounds does not go with --no-trees"),
    (["--model", "base", "--learn-set", "steps"], "--learn-set takes KEY=VALUE"),
])
def test_learning_refuses_what_it_cannot_do_in_one_line(tmp_path, extra, message):
    result = CliRunner().invoke(main, prove_args(tmp_path / "run", "--learn-rounds", "1", *extra))
    assert result.exit_code != 0 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
