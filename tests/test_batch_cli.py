"""Batch proving through the `prover` CLI: rows, proofs, resume after interruption, clear errors."""
import errno
import importlib.util
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from prover.batch import finished_names, latest_rows, read_rows, summarize
from prover.jsonl import append_row


def interruptible() -> None:
    """In the child before exec: Ctrl-C back to its default. A shell that starts jobs in the background (CI
    runners, `cmd &`) leaves SIGINT ignored, and Python then never raises KeyboardInterrupt for it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


PROVER = [sys.executable, "-m", "prover.cli"]
QUICK = ["--model", "none", "--budget-seconds", "10", "--tactic-timeout", "2", "--no-progress"]
NAMES = "mathd_algebra_104,mathd_numbertheory_32,mathd_algebra_59,amc12a_2009_p15"


def prover(*args, **kw):
    return subprocess.run([*PROVER, *args], capture_output=True, text=True, timeout=600, **kw)


@pytest.mark.rocq
def test_prove_writes_rows_proofs_and_config_and_prints_a_summary(tmp_path):
    out = tmp_path / "run"
    done = prover("prove", "--names", NAMES, *QUICK, "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in read_rows(out / "results.jsonl")}
    assert rows["mathd_algebra_104"]["status"] == "proved" and rows["mathd_algebra_104"]["proof"] == ["lra."]
    assert rows["amc12a_2009_p15"]["status"] == "unsupported"  # Coq 8.16 cannot state it: not a failure
    assert rows["mathd_algebra_59"]["status"] in ("failed", "timeout")  # Rpower: beyond automation
    for row in rows.values():
        assert {"name", "status", "proof", "seconds", "model"} <= row.keys()
    assert (out / "proofs" / "mathd_algebra_104.v").read_text().rstrip().endswith("Qed.")
    # Every searched theorem leaves its search graph, proved or not; one that could not be stated has none.
    assert sorted(p.name for p in (out / "trees").iterdir()) == sorted(
        f"{name}.json" for name, row in rows.items() if row["status"] != "unsupported")
    proved_tree = json.loads((out / "trees" / "mathd_algebra_104.json").read_text())
    assert [e["outcome"] for e in proved_tree["edges"] if e["on_proof"]] == ["proved"]  # lra at the root
    failed_tree = json.loads((out / "trees" / "mathd_algebra_59.json").read_text())
    assert failed_tree["nodes"][0]["goals"] and not any(e["outcome"] == "proved" for e in failed_tree["edges"])
    assert json.loads((out / "config.json").read_text())["model"] == "none"
    assert "proved 2/3" in done.stdout  # the unsupported theorem is not counted as attempted
    report = prover("report", str(out))
    assert report.returncode == 0 and "proved 2/3" in report.stdout


@pytest.mark.rocq
def test_a_written_proof_file_passes_prover_check(tmp_path):
    out = tmp_path / "run"
    assert prover("prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(out)).returncode == 0
    check = prover("check", str(out / "proofs" / "mathd_algebra_104.v"), "--benchmark", "minif2f-rocq",
                   "--theorem", "mathd_algebra_104")
    assert check.returncode == 0 and check.stdout.startswith("accepted")


@pytest.mark.rocq
def test_no_trees_keeps_no_search_graphs(tmp_path):
    out = tmp_path / "run"
    assert prover("prove", "--names", "mathd_algebra_104", *QUICK, "--no-trees", "--out", str(out)).returncode == 0
    assert [r["status"] for r in read_rows(out / "results.jsonl")] == ["proved"] and not (out / "trees").exists()
    assert json.loads((out / "config.json").read_text())["trees"] is False


@pytest.mark.rocq
def test_rerunning_skips_finished_theorems(tmp_path):
    out = tmp_path / "run"
    assert prover("prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(out)).returncode == 0
    assert prover("prove", "--names", "mathd_algebra_104,mathd_numbertheory_32", *QUICK, "--out", str(out)).returncode == 0
    names = [r["name"] for r in read_rows(out / "results.jsonl")]
    assert names == ["mathd_algebra_104", "mathd_numbertheory_32"]


@pytest.mark.rocq
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


@pytest.mark.rocq
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
        (["check", "."], "is a directory"),
        (["prove", "--model", "none", "--out", ""], "--out is empty"),
        (["prove", "--model", "none", "--names", ",,", "--out", "x"], "no theorem names in --names"),
        (["prove", "--model", "none", "--names", "", "--out", "x"], "no theorem names in --names"),
        (["translate", "--sketch-only", "--out", ""], "--out is empty"),
        (["translate", "--sketch-only", "--names", " , ", "--out", "x"], "no theorem names in --names"),
        (["iterate", "--out", ""], "--out is empty"),
        (["iterate", "--names", ",,", "--out", "x"], "no theorem names in --names"),
        (["extract", "--source", "stdlib", "--out", ""], "--out is empty"),
        (["synth", "--out", ""], "--out is empty"),
        (["train-data", "x", "--out", ""], "--out is empty"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_input_gets_one_clear_line_and_exit_2(tmp_path, args, message):
    args = [str(tmp_path / a) if a == "x" else a for a in args]
    done = prover(*args, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert message in done.stderr and len([l for l in lines if l.strip()]) <= 3, done.stderr  # click adds usage lines for flag errors


def test_empty_out_and_names_write_nothing(tmp_path):
    assert prover("prove", "--model", "none", "--out", "", cwd=tmp_path).returncode == 2
    assert prover("prove", "--model", "none", "--names", ",,", "--out", "run", cwd=tmp_path).returncode == 2
    assert list(tmp_path.iterdir()) == []  # not the current directory, not an empty run folder


@pytest.mark.rocq
def test_a_bad_model_is_refused_before_the_run_folder_is_written_so_the_corrected_rerun_runs(tmp_path):
    out = tmp_path / "run"
    bad = prover("prove", "--names", "mathd_algebra_104", *QUICK, "--model", "hf:/etc", "--out", str(out))
    assert bad.returncode == 2 and "cannot load model from /etc" in bad.stderr
    assert not out.exists()
    good = prover("prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(out))  # QUICK's --model none
    assert good.returncode == 0 and "proved 1/1" in good.stdout, good.stderr


ERROR_ROW = {"name": "mathd_algebra_104", "split": "valid", "model": "none", "proof": None, "status": "error",
             "reason": "CoqtopDied: coqtop exited with code -9"}  # what a coqtop killed mid-header left before


@pytest.mark.parametrize("where", [[], pytest.param(["--workers", "1"], marks=pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray is not installed"))], ids=["in-process", "ray"])
@pytest.mark.rocq
def test_a_theorem_whose_row_is_error_is_retried_on_rerun_and_counted_once(tmp_path, where):
    out = tmp_path / "run"
    command = ["prove", "--names", "mathd_algebra_104,mathd_numbertheory_32", *QUICK, *where, "--out", str(out)]
    first = prover(*command[:2], "mathd_numbertheory_32", *command[3:])  # the config of this run, one row
    assert first.returncode == 0, first.stderr
    append_row(out / "results.jsonl", ERROR_ROW)
    done = prover(*command)
    assert done.returncode == 0, done.stderr
    rows = read_rows(out / "results.jsonl")
    assert [(r["name"], r["status"]) for r in rows] == [
        ("mathd_numbertheory_32", "proved"), ("mathd_algebra_104", "error"), ("mathd_algebra_104", "proved")]
    assert "proved 2/2" in done.stdout and "error" not in done.stdout  # the last row counts, once
    report = prover("report", str(out))
    assert report.returncode == 0 and "run: proved 2/2 (100.0%" in report.stdout and re.search(r"│ error\s+│\s+0 │", report.stdout)
    assert report.stdout.count("proved mathd_algebra_104") == 1
    assert prover(*command).returncode == 0 and len(read_rows(out / "results.jsonl")) == 3  # finished now


def test_counts_and_resume_go_by_each_theorems_last_row():
    rows = [{"name": "a", "status": "error"}, {"name": "b", "status": "failed"}, {"name": "a", "status": "proved"},
            {"name": "c", "status": "error"}]
    assert [r["status"] for r in latest_rows(rows)] == ["proved", "failed", "error"]
    assert finished_names(rows) == {"a", "b"}  # c's last row is error: a rerun tries it again
    summary = summarize(rows)
    assert (summary.total, summary.proved, summary.by_status) == (3, 1, {"proved": 1, "failed": 1, "error": 1})


@pytest.mark.rocq
def test_lines_that_are_not_rows_are_skipped_with_a_warning_by_prove_and_report(tmp_path):
    out = tmp_path / "run"
    command = ["prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(out)]
    assert prover(*command).returncode == 0
    with open(out / "results.jsonl", "ab") as f:
        f.write(b"\xff\xfe not utf-8\n" b"not json\n" b"[1, 2]\n" b'"a string"\n' b'{"status": "proved"}\n')
    for done in (prover("report", str(out)), prover(*command)):
        assert done.returncode == 0 and "proved 1/1" in done.stdout, done.stderr
        warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
        assert [w.split(":")[2] for w in warnings] == ["2", "3", "4", "5", "6"] and "Traceback" not in done.stderr
    assert [r["name"] for r in read_rows(out / "results.jsonl")] == ["mathd_algebra_104"]  # nothing retried


@pytest.mark.parametrize("config", [b"{not json", b"[1, 2]", b"\xff\xfe"], ids=["not-json", "not-object", "not-utf8"])
def test_a_malformed_config_is_one_clear_line_and_exit_2(tmp_path, config):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_bytes(config)
    done = prover("prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(out))
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "is not a run's config" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and (out / "config.json").read_bytes() == config  # kept


def test_an_unusable_results_file_is_one_clear_line_and_exit_2(tmp_path):
    out = tmp_path / "run"
    (out / "results.jsonl").mkdir(parents=True)
    done = prover("prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(out))
    assert done.returncode == 2 and "Is a directory" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_out_below_a_file_is_one_clear_line_and_exit_2(tmp_path):
    (tmp_path / "file").write_text("")
    done = prover("prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(tmp_path / "file" / "run"))
    assert done.returncode == 2 and "Not a directory" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _read_only_bind_works() -> bool:
    return shutil.which("bwrap") is not None and subprocess.run(
        ["bwrap", "--dev-bind", "/", "/", "--ro-bind", "/tmp", "/tmp", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _read_only_bind_works(), reason="no bubblewrap read-only bind mounts here")
def test_a_read_only_out_is_one_clear_line_and_exit_2(tmp_path):
    # A read-only bind mount: refused even to root, who ignores permission bits.
    done = subprocess.run(["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(tmp_path), str(tmp_path), *PROVER, "prove",
                           "--names", "mathd_algebra_104", *QUICK, "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Read-only file system" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_permission_error_on_out_is_one_clear_line_and_exit_2(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from prover.cli import main

    def refused(self, *args, **kwargs):  # as a folder without write permission answers a non-root user
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", refused)
    done = CliRunner().invoke(main, ["prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(tmp_path / "run")])
    assert done.exit_code == 2 and "Permission denied" in done.output and "Traceback" not in done.output
    assert done.output.strip().splitlines() == [f"error: cannot use {tmp_path / 'run'} as a run folder: Permission denied"]


def test_a_missing_coqtop_is_one_clear_line_and_exit_2(tmp_path):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # python, but no coqtop
    done = prover("prove", "--model", "none", "--limit", "1", "--out", str(tmp_path / "run"), env=env)
    assert done.returncode == 2 and "coqtop not found" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
