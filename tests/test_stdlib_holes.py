"""The stdlib-holes benchmark (coq_env.stdlib_holes, `prover stdlib-holes`): real held-out files of the installed
Coq standard library copied with a seeded choice of proofs left `Admitted`, compiling, proved back by `prover prove`."""
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coq_env.holes import ADMITTED, find_holes
from coq_env.stdlib_holes import (LOGICAL_NAME, build_stdlib_holes, heldout_stdlib_files, manifest_rows,
                                  removable_proofs)
from prover.batch import latest_rows, read_rows
from prover.proofsteps import split_of

pytestmark = pytest.mark.rocq
PROVER = [sys.executable, "-m", "prover.cli"]
SEED = 7


def tree_digest(folder: Path) -> str:
    """One hash of every file under `folder`, paths and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def two_files():
    """The two smallest held-out standard library files that have a proof to take out (quick to compile)."""
    usable = [f for f in heldout_stdlib_files() if removable_proofs(f.path.read_text())]
    return sorted(usable, key=lambda f: f.path.stat().st_size)[:2]


@pytest.fixture(scope="module")
def built(tmp_path_factory, two_files):
    out = tmp_path_factory.mktemp("holes") / "bench"
    summary = build_stdlib_holes(out, files=2, holes_per_file=2, seed=SEED, sources=two_files)
    return out, summary


def test_the_held_out_files_are_the_valid_split_of_stdlib_extraction():
    files = heldout_stdlib_files()
    assert files and all(split_of(f.relpath) == "valid" for f in files)
    assert any(removable_proofs(f.path.read_text()) for f in files)


def test_only_short_qed_proofs_unused_later_and_outside_interfaces_are_taken():
    text = """Lemma used : True. Proof. exact I. Qed.
Lemma free : True. Proof. exact I. Qed.
Lemma long : True. Proof. idtac. idtac. idtac. exact I. Qed.
Lemma open_ : True. Proof. exact I. Defined.
Module Type T. Lemma in_interface : True. Proof. exact I. Qed. End T.
Lemma uses : True. Proof. exact used. Qed.
(* free is only mentioned in a comment *)
"""
    assert [t.lemma for t in removable_proofs(text, max_sentences=3)] == ["free", "uses"]


def test_a_project_folder_with_manifest_and_provenance(built, two_files):
    out, summary = built
    assert summary["files"] == 2 and summary["holes"] == len(manifest_rows(out)) >= 2
    assert (out / "_CoqProject").read_text().split() == ["-Q", "theories", LOGICAL_NAME]
    assert {row["source"] for row in manifest_rows(out)} == {f"stdlib:{f.relpath}" for f in two_files}
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["license"] == "LGPL-2.1-only" and provenance["seed"] == SEED
    assert "8.16" in provenance["coq_version"] or provenance["coq_version"]


def test_holes_are_where_the_manifest_says(built, two_files):
    out, _ = built
    originals = {f"stdlib:{f.relpath}": f.path.read_text() for f in two_files}
    for row in manifest_rows(out):
        text = (out / row["file"]).read_text()
        hole = {h.label: h for h in find_holes(text)}[row["lemma"]]
        assert hole.kind == ADMITTED and hole.line == row["line"] and hole.statement_line == row["statement_line"]
        assert "Admitted." in text.splitlines()[row["line"] - 1]
        assert row["statement"] + "\n" in originals[row["source"]] and row["proof"] in originals[row["source"]]
        assert row["proof"].endswith("Qed.") and row["proof"] not in text
    for f in two_files:  # no other change: the copy has exactly the manifest's holes
        copy = (out / "theories" / f.relpath).read_text()
        assert len(find_holes(copy)) == sum(row["source"] == f"stdlib:{f.relpath}" for row in manifest_rows(out))


def test_the_copies_compile_with_coqc(built, tmp_path):
    out, _ = built
    compiled = tmp_path / "bench"  # a copy: coqc writes its .vo files next to the sources
    shutil.copytree(out, compiled)
    for file in sorted({row["file"] for row in manifest_rows(out)}):
        done = subprocess.run(["coqc", "-q", "-Q", "theories", LOGICAL_NAME, file], capture_output=True, text=True,
                              timeout=300, cwd=compiled)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_same_seed_builds_the_same_files(built, two_files, tmp_path):
    out, _ = built
    build_stdlib_holes(tmp_path / "again", files=2, holes_per_file=2, seed=SEED, sources=two_files)
    assert tree_digest(tmp_path / "again") == tree_digest(out)


def test_cli_builds_and_refuses_a_non_empty_folder_in_one_line(tmp_path):
    out = tmp_path / "bench"
    done = subprocess.run([*PROVER, "stdlib-holes", "--out", str(out), "--files", "1", "--holes-per-file", "1",
                           "--seed", "3"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and "1 hole in 1 file " in done.stdout
    again = subprocess.run([*PROVER, "stdlib-holes", "--out", str(out)], capture_output=True, text=True, timeout=120)
    lines = again.stderr.strip().splitlines()
    assert again.returncode == 2 and len(lines) == 1 and "not an empty folder" in lines[0]


def test_prove_with_automation_only_gives_a_row_per_hole(built, tmp_path):
    out, _ = built
    run = tmp_path / "run"
    done = subprocess.run([*PROVER, "prove", str(out / "theories"), "--model", "none", "--out", str(run),
                           "--budget-seconds", "10", "--max-expansions", "4", "--tactic-timeout", "2", "--no-hammer",
                           "--no-progress"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = latest_rows(read_rows(run / "results.jsonl"))
    expected = {(row["file"], row["line"]) for row in manifest_rows(out)}
    assert {(row["file"], row["line"]) for row in rows} == expected
    assert all(row["status"] in ("proved", "failed") for row in rows), rows
