"""`prover prove PATHS`: the holes of a user's own Rocq files, through the real CLI, on copies of
tests/data/coq-project (Base.v compiled) with a file of holes the automation closes added (Easy.v)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coq_env.project import project_for
from prover.batch import latest_rows, read_rows

PROVER = [sys.executable, "-m", "prover.cli"]
QUICK = ["--model", "none", "--budget-seconds", "10", "--max-expansions", "4", "--tactic-timeout", "2", "--no-hammer",
         "--no-progress"]
PROJECT = Path(__file__).parent / "data" / "coq-project"
# Two holes the automation closes (one of them only through an earlier open lemma, by its hint) and one it cannot.
EASY = """(** Holes the automation closes, and one whose proof rests on an open lemma. *)
From Foo Require Import Base.

Lemma double_3 : double 3 = 6.
Admitted.

Lemma double_even_open : forall n, Parity.even (double n) = true.
Admitted.
#[export] Hint Resolve double_even_open : core.

Lemma double_S_even : forall n, Parity.even (double (S n)) = true.
Proof.
  (* auto finds the hint *)
Admitted.
"""


def prover(*args, cwd):
    return subprocess.run([*PROVER, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd)


def rows_by_name(out: Path) -> dict:
    return {row["name"]: row for row in latest_rows(read_rows(out / "results.jsonl"))}


def one_error_line(done) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The test project with Easy.v added and Base.v compiled (the other files require it)."""
    folder = tmp_path_factory.mktemp("files") / "project"
    shutil.copytree(PROJECT, folder)
    (folder / "theories" / "Easy.v").write_text(EASY)
    if shutil.which("coqc"):
        base = folder / "theories" / "Base.v"
        done = subprocess.run(["coqc", "-q", *project_for(base).flags(), str(base)], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.fixture
def project(compiled, tmp_path):
    """A copy of the compiled project of the test's own, to write into."""
    folder = tmp_path / "project"
    shutil.copytree(compiled, folder)
    return folder


@pytest.fixture(scope="module")
def folder_run(compiled, tmp_path_factory):
    """`prover prove theories/` run once on the compiled project (read-only afterwards), and its run folder."""
    if not shutil.which("coqtop"):
        pytest.skip("coqtop not found")
    out = tmp_path_factory.mktemp("run") / "run"
    done = prover("prove", "theories/", *QUICK, "--out", out, cwd=compiled)
    assert done.returncode == 0, done.stderr
    return done, out


@pytest.mark.rocq
def test_every_hole_of_a_folder_gets_a_row_with_its_file_line_and_status(folder_run, compiled):
    done, out = folder_run
    rows = rows_by_name(out)
    assert {name: (row["file"], row["line"], row["status"]) for name, row in rows.items()} == {
        "theories/Easy.v:double_3": ("theories/Easy.v", 5, "proved"),
        "theories/Easy.v:double_even_open": ("theories/Easy.v", 8, "failed"),
        "theories/Easy.v:double_S_even": ("theories/Easy.v", 14, "proved"),
        "theories/Lemmas.v:double_plus": ("theories/Lemmas.v", 13, "failed"),
        "theories/Lemmas.v:plus3_double": ("theories/Lemmas.v", 19, "proved"),
        "theories/Lemmas.v:iter_f_id#admit1": ("theories/Lemmas.v", 30, "proved"),
        "theories/Lemmas.v:iter_f_id#admit2": ("theories/Lemmas.v", 31, "proved"),
        "theories/Lemmas.v:Evens.even_4": ("theories/Lemmas.v", 37, "proved"),
        "theories/Lemmas.v:double_even": ("theories/Lemmas.v", 44, "failed"),
    }
    assert rows["theories/Easy.v:double_3"]["proof"] == ["reflexivity."]
    # premise retrieval is on for files: `x +++ y` unfolds to `x + double y`, and a rewrite with an associativity
    # lemma that Search finds closes it
    assert rows["theories/Lemmas.v:plus3_double"]["premise_steps"] >= 1
    # a `/` in a row's name is escaped in its tree's and proof's file names
    assert (out / "trees" / "theories%2FEasy.v:double_3.json").is_file()
    assert (out / "proofs" / "theories%2FEasy.v:double_3.v").read_text().rstrip().endswith("Qed.")
    assert "proved 6/9" in done.stdout.splitlines()[-2]  # the last line says where the report is
    assert json.loads((out / "config.json").read_text())["paths"] == [str(compiled / "theories")]


@pytest.mark.rocq
def test_a_proof_that_rests_on_an_open_lemma_says_so_in_its_row(folder_run):
    row = rows_by_name(folder_run[1])["theories/Easy.v:double_S_even"]
    assert row["status"] == "proved" and row["depends_on"] == ["double_even_open"]
    assert row["reason"] == "depends on open lemma double_even_open"
    assert "depends_on" not in rows_by_name(folder_run[1])["theories/Easy.v:double_3"]
    report = prover("report", folder_run[1], cwd=folder_run[1])
    assert "double_S_even: auto. (depends on open lemma double_even_open)" in report.stdout


@pytest.mark.rocq
def test_without_write_each_files_proofs_are_a_patch_git_applies(folder_run, project):
    _, out = folder_run
    patches = sorted(p.name for p in (out / "patches").iterdir())
    assert patches == ["theories__Easy.v.diff", "theories__Lemmas.v.diff"]
    assert rows_by_name(out)["theories/Easy.v:double_3"]["patch"] == "patches/theories__Easy.v.diff"
    subprocess.run(["git", "init", "-q", "."], cwd=project, check=True)
    for patch in patches:
        check = subprocess.run(["git", "apply", "--check", str(out / "patches" / patch)], cwd=project,
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    assert "Admitted." in (project / "theories" / "Easy.v").read_text()  # nothing written without --write


@pytest.mark.rocq
def test_a_rerun_resumes_and_adds_no_rows(folder_run, compiled, tmp_path):
    _, out = folder_run
    resumed = tmp_path / "run"
    shutil.copytree(out, resumed)
    before = (resumed / "results.jsonl").read_text()
    done = prover("prove", "theories/", *QUICK, "--out", resumed, cwd=compiled)
    assert done.returncode == 0, done.stderr
    assert (resumed / "results.jsonl").read_text() == before
    assert "proved 6/9" in done.stdout.splitlines()[-2]


@pytest.mark.rocq
def test_on_ray_two_workers_give_the_in_process_rows_and_patches(folder_run, compiled, tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'llemma-prover[ray]')")
    _, alone = folder_run
    out = tmp_path / "run"
    done = prover("prove", "theories/", *QUICK, "--workers", "2", "--out", out, cwd=compiled)
    assert done.returncode == 0, done.stderr
    rows, expected = rows_by_name(out), rows_by_name(alone)
    assert len(read_rows(out / "results.jsonl")) == len(read_rows(alone / "results.jsonl"))  # the same rows added
    fields = ("file", "line", "status", "proof", "depends_on", "reason", "patch")  # what the actors and driver say
    assert {name: [row.get(key) for key in fields] for name, row in rows.items()} == \
        {name: [row.get(key) for key in fields] for name, row in expected.items()}
    for patch in (alone / "patches").iterdir():  # each file's proofs put back by the driver, as in-process
        assert (out / "patches" / patch.name).read_text() == patch.read_text()
    assert (out / "trees" / "theories%2FEasy.v:double_3.json").is_file()
    assert json.loads((out / "config.json").read_text())["workers"] == 2
    assert "proved 6/9" in done.stdout.splitlines()[-2]


@pytest.mark.rocq
def test_write_changes_only_the_named_holes_text_and_the_file_compiles(project, tmp_path):
    easy = project / "theories" / "Easy.v"
    done = prover("prove", "theories/Easy.v", "--names", "double_3", "--write", *QUICK, "--out", tmp_path / "run",
                  cwd=project)
    assert done.returncode == 0, done.stderr
    expected = EASY.replace("double 3 = 6.\nAdmitted.", "double 3 = 6.\nProof.\n  reflexivity.\nQed.")
    assert easy.read_text() == expected
    assert list(rows_by_name(tmp_path / "run")) == ["theories/Easy.v:double_3"]
    assert rows_by_name(tmp_path / "run")["theories/Easy.v:double_3"]["written"] is True
    compiled = subprocess.run(["coqc", "-q", *project_for(easy).flags(), str(easy)], capture_output=True, text=True,
                              timeout=300)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


@pytest.mark.rocq
def test_a_write_that_would_not_compile_leaves_the_file_untouched_and_its_rows_say_why(project, tmp_path):
    lemmas = project / "theories" / "Lemmas.v"
    before = lemmas.read_bytes()
    # even_4 is proved, but the file keeps iter_f_id's admit. steps under Qed: coqc refuses the whole file
    done = prover("prove", "theories/Lemmas.v", "--names", "even_4", "--write", *QUICK, "--out", tmp_path / "run",
                  cwd=project)
    assert done.returncode == 0, done.stderr
    assert lemmas.read_bytes() == before
    row = rows_by_name(tmp_path / "run")["theories/Lemmas.v:Evens.even_4"]
    assert row["status"] == "proved" and row["written"] is False
    assert row["write_reason"].startswith("does not compile: line 32")
    assert "theories/Lemmas.v: nothing written: does not compile" in done.stdout


@pytest.mark.rocq
def test_the_goals_of_admit_steps_are_proved_as_lemmas_of_their_own_and_written_before_their_lemma(project, tmp_path):
    lemmas = project / "theories" / "Lemmas.v"
    before = lemmas.read_text()
    done = prover("prove", "theories/Lemmas.v", "--names", "iter_f_id", "--write", *QUICK, "--out", tmp_path / "run",
                  cwd=project)
    assert done.returncode == 0, done.stderr
    rows = rows_by_name(tmp_path / "run")
    assert {row["status"] for row in rows.values()} == {"proved"} and len(rows) == 2
    after = lemmas.read_text()
    assert "admit." not in after.replace('"admit."', "")
    assert "  Lemma iter_f_id_admit1 : forall f : nat -> nat," in after
    assert after.index("Lemma iter_f_id_admit2") < after.index("Lemma iter_f_id :")
    assert "    - { repeat match goal with H : _ |- _ => revert H end. exact iter_f_id_admit2. }" in after
    # everything but the holes' text is as it was
    assert after.startswith(before[:before.index("  Lemma iter_f_id")]) and after.endswith(before[before.index("  Qed.\nEnd WithStep."):])
    compiled = subprocess.run(["coqc", "-q", *project_for(lemmas).flags(), str(lemmas)], capture_output=True,
                              text=True, timeout=300)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


@pytest.mark.rocq
def test_load_paths_may_be_given_as_options_instead_of_a_project_file(project, tmp_path):
    (project / "_CoqProject").unlink()
    done = prover("prove", "theories/Easy.v", "--names", "double_3", "-R", "theories", "Foo", *QUICK,
                  "--out", tmp_path / "run", cwd=project)
    assert done.returncode == 0, done.stderr
    assert rows_by_name(tmp_path / "run")["Easy.v:double_3"]["status"] == "proved"  # the file's folder is the root


@pytest.mark.parametrize("target, message", [
    ("nowhere.v", "nowhere.v: no such file or folder"),
    ("empty", "empty: no .v files in this folder"),
    ("theories/Base.v", "no holes (lemmas ending in Admitted., admit. steps) in theories/Base.v"),
    ("_CoqProject", "_CoqProject is not a Rocq file (.v)"),
])
def test_bad_paths_get_one_clear_line_and_no_run_folder(project, tmp_path, target, message):
    (project / "empty").mkdir()
    done = prover("prove", target, *QUICK, "--out", tmp_path / "run", cwd=project)
    assert one_error_line(done) == f"error: {message}"
    assert not (tmp_path / "run").exists()


def test_a_library_not_compiled_is_one_line_saying_how_to_build_it(tmp_path):
    shutil.copytree(PROJECT, tmp_path / "project")  # Base.v not compiled
    done = prover("prove", "theories/Lemmas.v", *QUICK, "--out", tmp_path / "run", cwd=tmp_path / "project")
    line = one_error_line(done)
    assert "theories/Base.vo is missing" in line and "make" in line


def test_a_backend_without_the_capability_refuses_in_one_line(project, tmp_path):
    done = prover("prove", "theories/Lemmas.v", "--backend", "leandojo", *QUICK, "--out", tmp_path / "run", cwd=project)
    assert one_error_line(done).startswith("error: the leandojo backend cannot prove holes in files yet; use --backend ")


@pytest.mark.rocq
@pytest.mark.parametrize("extra, message", [
    (["--benchmark", "minif2f-rocq"], "--benchmark name a benchmark"),
    (["--names", "nothing_like_it"], "no hole named 'nothing_like_it' in the given files"),
])
def test_options_that_do_not_go_with_files_are_refused_in_one_line(project, tmp_path, extra, message):
    done = prover("prove", "theories/Lemmas.v", *extra, *QUICK, "--out", tmp_path / "run", cwd=project)
    assert message in one_error_line(done)


def test_write_and_load_paths_without_files_are_refused_in_one_line(tmp_path):
    done = prover("prove", "--write", *QUICK, "--out", tmp_path / "run", cwd=tmp_path)
    assert "--write goes with files to prove" in one_error_line(done)


@pytest.mark.rocq
@pytest.mark.parametrize("text, message", [
    ("Lemma broken : nat = bool.\nProof. exact I. Qed.\nLemma ok : True.\nAdmitted.\n",
     "Bad.v does not load up to the hole's lemma (line 3): header does not load: The term \"I\" has type"),
    ("Module Type T.\n  Lemma b : True.\n  Admitted.\nEnd T.\n",
     "none provable here: T.b: inside Module Type T: an interface's proofs cannot be checked on their own"),
])
def test_a_file_whose_holes_cannot_be_proved_gets_rows_saying_why_one_line_and_exit_2(tmp_path, text, message):
    (tmp_path / "Bad.v").write_text(text)
    done = prover("prove", "Bad.v", "--write", *QUICK, "--out", tmp_path / "run", cwd=tmp_path)
    assert message in one_error_line(done)
    assert (tmp_path / "Bad.v").read_text() == text
    assert [row["status"] for row in rows_by_name(tmp_path / "run").values()] == ["unsupported"]


@pytest.mark.rocq
def test_a_read_only_file_with_write_keeps_its_proofs_in_the_rows_and_is_untouched(project, tmp_path):
    easy = project / "theories" / "Easy.v"
    easy.chmod(0o444)
    done = prover("prove", "theories/Easy.v", "--names", "double_3", "--write", *QUICK, "--out", tmp_path / "run",
                  cwd=project)
    assert done.returncode == 0, done.stderr
    assert easy.read_text() == EASY
    row = rows_by_name(tmp_path / "run")["theories/Easy.v:double_3"]
    assert row["status"] == "proved" and row["proof"] == ["reflexivity."] and row["written"] is False
    assert "read-only" in row["write_reason"] and "nothing written" in done.stdout
