"""`prover train-data`: proofstep rows along the proof path each tree marks, from real (tiny) `prover prove` runs on
live Rocq, which replay step by step, from runs on the toy backend, and from old runs' networkx trees; miniF2F test
only on request; one-line errors for anything that is not a run folder."""
import json
import shutil
from pathlib import Path
import subprocess
import sys
from dataclasses import replace

import pytest

from prover.batch import prepare_run_dir, prove_batch, read_rows
from prover.proofsteps import read_proofsteps
from prover.search import SearchConfig
from prover.search_tree import SearchTree
from prover.testing import ReplayGenerator, ToyBackend, toy_theorem
from prover.train_data import collect, collect_proofsteps, proof_path
from prover.types import Advanced, Proved

PROVER = [sys.executable, "-m", "prover.cli"]
QUICK = ["--model", "none", "--budget-seconds", "20", "--tactic-timeout", "2", "--no-progress"]
# Proved by automation in a second or two each (aime_1984_p15 in two steps: intros, lra); the last one fails.
PROVED = ["aime_1984_p15", "mathd_algebra_104", "mathd_numbertheory_32"]
FAILS = "algebra_2varlineareq_xpeeq7_2xpeeq3_eeq11_xeqn4"
TEST_PROVED = "mathd_algebra_125"  # a miniF2F test theorem automation proves (lia)
OLD_RUN = Path(__file__).parent / "data" / "networkx-tree-run"  # aime_1984_p15 proved by intros, lra; an old tree


def prover(*args):
    return subprocess.run([*PROVER, *args], check=False, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    valid_run, test_run = root / "valid", root / "test"
    done = prover("prove", "--names", ",".join([*PROVED, FAILS]), *QUICK, "--out", str(valid_run))
    assert done.returncode == 0, done.stderr
    done = prover("prove", "--split", "test", "--names", TEST_PROVED, *QUICK, "--out", str(test_run))
    assert done.returncode == 0, done.stderr
    statuses = {r["name"]: r["status"] for r in read_rows(valid_run / "results.jsonl")}
    assert statuses == {**{n: "proved" for n in PROVED}, FAILS: "failed"}
    assert [r["status"] for r in read_rows(test_run / "results.jsonl")] == ["proved"]
    return valid_run, test_run


def train_data(*args):
    done = prover("train-data", *map(str, args))
    return done, (json.loads(done.stdout) if done.returncode == 0 else None)


@pytest.mark.rocq
def test_rows_are_the_proof_tactics_at_the_trees_states(runs, tmp_path):
    valid_run, _ = runs
    done, summary = train_data(valid_run, "--out", tmp_path / "steps.jsonl")
    assert done.returncode == 0, done.stderr
    rows = read_proofsteps(tmp_path / "steps.jsonl")
    proofs = {r["name"]: r["proof"] for r in read_rows(valid_run / "results.jsonl") if r["status"] == "proved"}
    assert sorted({r.theorem for r in rows}) == sorted(PROVED)
    for name, proof in proofs.items():
        mine = [r for r in rows if r.theorem == name]
        assert [r.tactic for r in mine] == proof
        tree = SearchTree.read(valid_run / "trees" / f"{name}.json")
        assert [r.state for r in mine] == [node.state_text for node, _, _ in proof_path(tree, proof)]
        assert all((r.split, r.backend, r.source) == ("valid", "rocq", str(valid_run)) for r in mine)
    assert len(rows) == sum(len(p) for p in proofs.values()) == 4
    assert summary["proved_theorems"] == 3 and summary["rows"] == 4 and summary["rows_per_split"] == {"valid": 4}
    assert summary["runs"] == 1 and summary["skipped"] == []


@pytest.mark.rocq
def test_each_row_replays_to_the_same_states_on_rocq(runs, backend, valid):
    rows = collect_proofsteps([runs[0]])
    for name in PROVED:
        state = backend.open(valid[name])
        steps = [r for r in rows if r.theorem == name]
        for number, row in enumerate(steps, 1):
            assert backend.render_state(state) == row.state
            outcome = backend.run_tactic(state, row.tactic, 10)
            if number < len(steps):
                assert isinstance(outcome, Advanced), outcome
                state = outcome.state
            else:
                assert isinstance(outcome, Proved), outcome


@pytest.mark.rocq
def test_the_test_split_is_left_out_unless_asked_for_with_a_warning(runs, tmp_path):
    valid_run, test_run = runs
    done, summary = train_data(valid_run, test_run, "--out", tmp_path / "default.jsonl")
    assert done.returncode == 0 and "warning" not in done.stderr
    assert summary["rows_per_split"] == {"valid": 4} and summary["proved_theorems"] == 3
    assert all(r.split == "valid" for r in collect_proofsteps([valid_run, test_run]))

    asked = ["--split", "valid", "--split", "test"]
    done, summary = train_data(valid_run, test_run, *asked, "--out", tmp_path / "all.jsonl")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("warning:") and "held-out" in done.stderr
    assert summary["rows_per_split"] == {"test": 1, "valid": 4}
    tested = [r for r in read_proofsteps(tmp_path / "all.jsonl") if r.split == "test"]
    assert [(r.theorem, r.tactic, r.source) for r in tested] == [(TEST_PROVED, "lia.", str(test_run))]

    done, summary = train_data(test_run, "--split", "test", "--out", tmp_path / "test.jsonl")
    assert done.returncode == 0 and summary["rows"] == 1


@pytest.mark.rocq
def test_steps_are_deduplicated_across_runs_and_automation_can_be_left_out(runs, tmp_path, backend, valid):
    valid_run, _ = runs
    # A second run where the model (a replay double), not automation, proves mathd_algebra_104 the same way.
    model_run = tmp_path / "model"
    prepare_run_dir(model_run, {"backend": "rocq", "model": "replay"})
    generator = ReplayGenerator({"mathd_algebra_104": ["lra."]})
    config = SearchConfig(budget_seconds=30, tactic_timeout=2, automation=False)
    rows = list(prove_batch([valid["mathd_algebra_104"]], backend, generator, config, model_run, progress=False))
    assert rows[0]["status"] == "proved"

    both = collect([valid_run, model_run, valid_run])
    assert both.runs == 2 and both.proved == 4 and both.steps == 5 and len(both.rows) == 4
    first = [r for r in both.rows if r.theorem == "mathd_algebra_104"]
    assert [r.source for r in first] == [str(valid_run)]  # the first occurrence is kept

    done, summary = train_data(valid_run, model_run, "--no-include-automation", "--out", tmp_path / "model.jsonl")
    assert done.returncode == 0, done.stderr
    kept = read_proofsteps(tmp_path / "model.jsonl")
    assert [(r.theorem, r.tactic, r.source) for r in kept] == [("mathd_algebra_104", "lra.", str(model_run))]
    assert summary["automation_steps_dropped"] == 4


@pytest.mark.rocq
def test_a_proved_theorem_without_its_tree_is_skipped_with_the_reason(runs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(runs[0], copy)
    (copy / "trees" / "mathd_algebra_104.json").unlink()
    tree_path = copy / "trees" / "aime_1984_p15.json"
    tree = json.loads(tree_path.read_text())
    tree["edges"] = [e for e in tree["edges"] if e["outcome"] != "proved"]
    tree_path.write_text(json.dumps(tree))
    with open(copy / "results.jsonl", "a") as f:
        f.write('{"name": "half a row')  # a run still writing: not a row yet, and left as it is
    before = (copy / "results.jsonl").read_bytes()
    found = collect([copy])
    assert [r.theorem for r in found.rows] == ["mathd_numbertheory_32"]
    reasons = {s.theorem: s.reason for s in found.skipped}
    assert "its tree is missing" in reasons["mathd_algebra_104"]
    assert "the tree marks no proof" in reasons["aime_1984_p15"]
    assert (copy / "results.jsonl").read_bytes() == before

    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "trees": False}))
    assert "--no-trees" in {s.theorem: s.reason for s in collect([copy]).skipped}["mathd_algebra_104"]


@pytest.mark.rocq
def test_anything_but_a_run_folder_is_one_clear_line_and_exit_2(runs, tmp_path):
    no_results = tmp_path / "empty"
    no_results.mkdir()
    no_config = tmp_path / "no_config"
    no_config.mkdir()
    (no_config / "results.jsonl").write_text("")
    a_file = tmp_path / "file.jsonl"
    a_file.write_text("")
    for folder, message in [(tmp_path / "missing", "no such directory"), (no_results, "no results.jsonl"),
                            (no_config, "cannot read config.json"), (a_file, "not a run folder")]:
        done, _ = train_data(runs[0], folder, "--out", tmp_path / "out.jsonl")
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert done.stderr.startswith("error:") and len(done.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "out.jsonl").exists()  # nothing written from the good folder either


@pytest.mark.rocq
def test_renamed_copies_rename_hypotheses_and_variables_in_state_and_tactic_alike(runs, tmp_path):
    valid_run, _ = runs
    done, summary = train_data(valid_run, "--out", tmp_path / "steps.jsonl", "--renamed-copies", "3")
    assert done.returncode == 0, done.stderr
    rows = read_proofsteps(tmp_path / "steps.jsonl")
    after_intros = [r for r in rows if r.theorem == "aime_1984_p15" and r.tactic == "lra."]
    originals = [r for r in after_intros if "x, y, z, w : R" in r.state]
    copies = [r for r in after_intros if r not in originals]
    assert len(originals) == 1 and 1 <= len(copies) <= 3
    assert all("x, y, z, w : R" not in c.state and c.state.count(" : R\n") == 1 for c in copies)
    assert summary["rows"] == 4 and 4 < summary["rows_written"] <= 16


# ---- without Rocq -------------------------------------------------------------------------------------------------


def toy_run(folder: Path, generator, config=SearchConfig(budget_seconds=30, tactic_timeout=2)) -> Path:
    prepare_run_dir(folder, {"backend": "toy", "model": generator.name})
    theorems = [replace(toy_theorem(n, name), split="valid") for n, name in [(12, "twelve"), (5, "five"), (7, "seven")]]
    list(prove_batch(theorems, ToyBackend(), generator, config, folder, progress=False))
    return folder


def test_rows_follow_the_proof_path_the_tree_marks(tmp_path):
    run = toy_run(tmp_path / "run", ReplayGenerator({"twelve": ["half", "dec", "sub 4"], "five": ["cheat"]}))
    statuses = {r["name"]: r["status"] for r in read_rows(run / "results.jsonl")}
    assert statuses == {"twelve": "proved", "five": "rejected", "seven": "failed"}  # only proved ones give rows
    found = collect([run])
    tree = SearchTree.read(run / "trees" / "twelve.json")
    marked = tree.proof_edges()
    assert [(r.state, r.tactic) for r in found.rows] == [(tree.nodes[e.src].goals, e.tactic) for e in marked]
    assert [r.tactic for r in found.rows] == ["half", "sub 4", "auto"]
    assert found.proved == 1 and found.skipped == [] and {r.backend for r in found.rows} == {"toy"}
    without = collect([run], include_automation=False)
    assert [r.tactic for r in without.rows] == ["half", "sub 4"] and without.automation_dropped == 1


def test_a_proof_longer_in_the_tree_than_in_its_row_is_skipped_with_the_reason(tmp_path):
    run = toy_run(tmp_path / "run", ReplayGenerator({"twelve": ["half", "dec"]}))
    rows = read_rows(run / "results.jsonl")
    (run / "results.jsonl").write_text("".join(json.dumps({**r, "proof": r["proof"] and r["proof"][:2]}) + "\n"
                                               for r in rows))
    found = collect([run])
    assert found.rows == [] and [s.reason for s in found.skipped] == [
        "trees/twelve.json: NotInTree: the tree's proof has 4 steps, the row's 2"]


def test_old_runs_networkx_trees_still_give_their_proof_steps():
    tree = SearchTree.read(OLD_RUN / "trees" / "aime_1984_p15.json")
    assert tree.extract_proof() == ("intros", "lra")  # marked on reading, from its proved edge
    assert [n.status.value for n in tree.nodes.values()] == ["proved", "proved", "open"]
    failed = [e for e in tree.edges if e.outcome.value == "failed"]
    assert len(failed) == 13 and all(e.error and e.dst is None for e in failed)
    found = collect([OLD_RUN])
    assert [r.tactic for r in found.rows] == ["intros.", "lra."]  # as the backend ran them (the row's proof)
    assert [r.state for r in found.rows] == [tree.root.goals, tree.nodes[tree.proof_edges()[1].src].goals]
    assert "x, y, z, w : R" in found.rows[1].state and found.skipped == []
