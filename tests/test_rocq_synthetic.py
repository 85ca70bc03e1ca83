"""Synthetic Rocq theorems with scripted template proofs (`prover synth`), on live coqtop."""
import json
import subprocess
import sys

import pytest

from coq_env.hints import hint_tactics
from coq_env.synthetic import AUTOMATION_STEPS, KINDS, synthesize, write_synthetic_proofsteps
from prover.contamination import NgramGuard


@pytest.mark.rocq
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_gives_theorems_whose_scripted_proofs_pass_the_checker(backend, kind):
    drawn = list(synthesize(backend, kind, count=6, seed=3))
    proved = [(theorem, steps) for theorem, steps in drawn if steps is not None]
    assert len(proved) >= 4, [t.statement for t, s in drawn if s is None]
    theorem, steps = proved[0]
    assert backend.verify(theorem, [tactic for _, tactic in steps]).accepted
    templates = [(state, tactic) for _, steps in proved for state, tactic in steps if tactic not in AUTOMATION_STEPS]
    assert templates and all(tactic in hint_tactics(state) for state, tactic in templates)
    expected = {"mod": "pose proof (", "field": "field_simplify_eq", "abs": "destruct (Rcase_abs"}[kind]
    assert any(tactic.startswith(expected) for _, tactic in templates)


@pytest.mark.rocq
def test_the_same_seed_draws_the_same_theorems_and_another_seed_others(backend):
    first = [t.statement for t, _ in synthesize(backend, "mod", count=4, seed=1)]
    assert first == [t.statement for t, _ in synthesize(backend, "mod", count=4, seed=1)]
    assert first != [t.statement for t, _ in synthesize(backend, "mod", count=4, seed=2)]


@pytest.mark.rocq
def test_rows_of_a_guarded_statement_are_dropped(backend, tmp_path):
    theorem, _ = next(synthesize(backend, "abs", count=1, seed=5))
    guard = NgramGuard([("benchmark_twin", theorem.statement)], n=6)
    summary = write_synthetic_proofsteps(tmp_path / "rows.jsonl", ["abs"], 1, seed=5, guard=guard)
    # the guard is per row, as for extracted corpora: the rows whose state still shows the statement go
    assert summary["kinds"]["abs"]["rows_dropped_by_guard"] > 0
    kept = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert len(kept) == summary["kinds"]["abs"]["rows"]
    assert not any(guard.match(row["state"]) or guard.match(row["tactic"]) for row in kept)


@pytest.mark.rocq
def test_the_cli_writes_template_rows_and_refuses_an_unknown_kind(tmp_path):
    out = tmp_path / "synth.jsonl"
    done = subprocess.run([sys.executable, "-m", "prover.cli", "synth", "--kinds", "field", "--count", "3",
                           "--no-include-automation", "--no-progress", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == summary["kinds"]["field"]["rows"] > 0
    assert all(r["split"] == "train" and r["source"] == "synthetic:field" for r in rows)
    assert not any(r["tactic"] in AUTOMATION_STEPS for r in rows)
    bad = subprocess.run([sys.executable, "-m", "prover.cli", "synth", "--kinds", "trig", "--out", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown kind trig" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
