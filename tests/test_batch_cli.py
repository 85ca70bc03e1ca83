"""Batch proving through the `prover` CLI: rows, proofs, resume after interruption, clear errors."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from prover.batch import append_row, read_rows


def interruptible() -> None:
    """In the child before exec: Ctrl-C back to its default. A shell that starts jobs in the background (CI
    runners, `cmd &`) leaves SIGINT ignored, and Python then never raises KeyboardInterrupt for it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


PROVER = [sys.executable, "-m", "prover.cli"]
QUICK = ["--model", "none", "--budget-seconds", "10", "--tactic-timeout", "2", "--no-progress"]
NAMES = "mathd_algebra_104,mathd_numbertheory_32,mathd_algebra_10,amc12a_2009_p15"


def prover(*args, **kw):
    return subprocess.run([*PROVER, *args], capture_output=True, text=True, timeout=600, **kw)


def test_prove_writes_rows_proofs_and_config_and_prints_a_summary(tmp_path):
    out = tmp_path / "run"
    done = prover("prove", "--names", NAMES, *QUICK, "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in read_rows(out / "results.jsonl")}
    assert rows["mathd_algebra_104"]["status"] == "proved" and rows["mathd_algebra_104"]["proof"] == ["lra."]
    assert rows["amc12a_2009_p15"]["status"] == "unsupported"  # Coq 8.16 cannot state it: not a failure
    assert rows["mathd_algebra_10"]["status"] in ("failed", "timeout")
    for row in rows.values():
        assert {"name", "status", "proof", "seconds", "model"} <= row.keys()
    assert (out / "proofs" / "mathd_algebra_104.v").read_text().rstrip().endswith("Qed.")
    # Every searched theorem leaves its search graph, proved or not; one that could not be stated has none.
    assert sorted(p.name for p in (out / "trees").iterdir()) == sorted(
        f"{name}.json" for name, row in rows.items() if row["status"] != "unsupported")
    proved_tree = json.loads((out / "trees" / "mathd_algebra_104.json").read_text())
    assert [e["outcome"] for e in proved_tree["edges"] if e["target"] == "<proved>"] == ["proved"]
    failed_tree = json.loads((out / "trees" / "mathd_algebra_10.json").read_text())
    assert failed_tree["nodes"][0]["goals"] and not any(e["outcome"] == "proved" for e in failed_tree["edges"])
    assert json.loads((out / "config.json").read_text())["model"] == "none"
    assert "proved 2/3" in done.stdout  # the unsupported theorem is not counted as attempted
    report = prover("report", str(out))
    assert report.returncode == 0 and "proved 2/3" in report.stdout


def test_a_written_proof_file_passes_prover_check(tmp_path):
    out = tmp_path / "run"
    assert prover("prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(out)).returncode == 0
    check = prover("check", str(out / "proofs" / "mathd_algebra_104.v"), "--benchmark", "minif2f-rocq",
                   "--theorem", "mathd_algebra_104")
    assert check.returncode == 0 and check.stdout.startswith("accepted")


def test_no_trees_keeps_no_search_graphs(tmp_path):
    out = tmp_path / "run"
    assert prover("prove", "--names", "mathd_algebra_104", *QUICK, "--no-trees", "--out", str(out)).returncode == 0
    assert [r["status"] for r in read_rows(out / "results.jsonl")] == ["proved"] and not (out / "trees").exists()
    assert json.loads((out / "config.json").read_text())["trees"] is False


def test_rerunning_skips_finished_theorems(tmp_path):
    out = tmp_path / "run"
    assert prover("prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(out)).returncode == 0
    assert prover("prove", "--names", "mathd_algebra_104,mathd_numbertheory_32", *QUICK, "--out", str(out)).returncode == 0
    names = [r["name"] for r in read_rows(out / "results.jsonl")]
    assert names == ["mathd_algebra_104", "mathd_numbertheory_32"]


def test_an_interrupted_run_resumes_without_lost_or_duplicated_rows(tmp_path):
    out = tmp_path / "run"
    names = "mathd_algebra_104,mathd_numbertheory_32,mathd_algebra_10,mathd_algebra_109,mathd_algebra_116"
    proc = subprocess.Popen([*PROVER, "prove", "--names", names, *QUICK, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (results.exists() and results.read_text().count("\n") >= 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "rerun the same command to resume" in err
    partial = [r["name"] for r in read_rows(results)]
    assert 1 <= len(partial) < 5
    assert prover("prove", "--names", names, *QUICK, "--out", str(out)).returncode == 0
    final = [r["name"] for r in read_rows(results)]
    assert sorted(final) == sorted(names.split(",")) and final[: len(partial)] == partial


def test_a_torn_last_line_is_cut_off_and_appends_stay_valid(tmp_path):
    results = tmp_path / "results.jsonl"
    append_row(results, {"name": "a", "status": "proved"})
    with open(results, "a") as f:
        f.write('{"name": "b", "sta')  # killed mid-write
    assert [r["name"] for r in read_rows(results)] == ["a"]
    append_row(results, {"name": "b", "status": "failed"})
    assert [r["name"] for r in read_rows(results)] == ["a", "b"]


def test_resuming_with_different_settings_is_refused(tmp_path):
    out = tmp_path / "run"
    assert prover("prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(out)).returncode == 0
    done = prover("prove", "--names", "mathd_algebra_104", *QUICK, "--max-expansions", "3", "--out", str(out))
    assert done.returncode == 2 and "different max_expansions" in done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["prove", "--benchmark", "nope", "--out", "x"], "unknown benchmark 'nope'"),
        (["prove", "--backend", "hol", "--out", "x"], "unknown backend 'hol'"),
        (["prove", "--names", "no_such_theorem", "--out", "x"], "no theorem named 'no_such_theorem'"),
        (["prove", "--split", "train", "--out", "x"], "unknown split 'train'"),
        (["prove", "--limit", "0", "--out", "x"], "--limit"),
        (["prove", "--budget-seconds", "-1", "--out", "x"], "--budget-seconds"),
        (["prove", "--limit", "1", "--model", "/no/such/model", "--out", "x"], "/no/such/model"),
        (["check", "/no/such/file.v"], "no such file"),
        (["check", "x.v", "--benchmark", "minif2f-rocq"], "go together"),
        (["report", "/no/such/run"], "no results.jsonl"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_input_gets_one_clear_line_and_exit_2(tmp_path, args, message):
    args = [str(tmp_path / a) if a == "x" else a for a in args]
    done = prover(*args, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert message in done.stderr and len([l for l in lines if l.strip()]) <= 3, done.stderr  # click adds usage lines for flag errors


def test_a_missing_coqtop_is_one_clear_line_and_exit_2(tmp_path):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # python, but no coqtop
    done = prover("prove", "--model", "none", "--limit", "1", "--out", str(tmp_path / "run"), env=env)
    assert done.returncode == 2 and "coqtop not found" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
