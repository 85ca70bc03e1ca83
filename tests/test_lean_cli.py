"""The Lean backends through the `prover` CLI on a machine without Lean: a cheat is rejected (exit 1), a
clean file cannot be checked (exit 2, saying what is missing), proving says how to set Lean up (exit 2)."""
import shutil

import pytest
from click.testing import CliRunner

from lean_env.minif2f import load_split
from prover.cli import main

T = {t.name: t for t in load_split("valid")}["mathd_algebra_10"]


@pytest.fixture
def no_lean(tmp_path, monkeypatch):
    """Nothing set up: an empty cache, no project variable, and no lake to be found."""
    monkeypatch.setenv("LLEMMA_PROVER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LLEMMA_PROVER_LEAN_PROJECT", raising=False)
    if shutil.which("lake"):
        pytest.skip("lake is on PATH here: these tests are about a machine without Lean")
    return tmp_path


def run(*args, env=None):
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_a_cheating_file_is_rejected_with_its_reason(no_lean):
    cheat = no_lean / "cheat.lean"
    cheat.write_text(f"{T.header}\n\naxiom magic : False\n\n{T.statement} := by\n  exact magic.elim\n")
    result = run("check", "--backend", "lean", str(cheat))
    assert result.exit_code == 1
    assert result.stdout.strip() == "rejected: the file declares an axiom"


def test_a_file_that_changes_the_benchmark_statement_is_rejected(no_lean):
    weaker = no_lean / "weaker.lean"
    weaker.write_text(f"{T.header}\n\ntheorem mathd_algebra_10 : True := by\n  trivial\n")
    result = run("check", "--backend", "lean", "--benchmark", "minif2f-lean4", "--theorem", "mathd_algebra_10", str(weaker))
    assert result.exit_code == 1
    assert result.stdout.strip() == "rejected: the statement of mathd_algebra_10 differs from the benchmark's"


def test_a_clean_file_cannot_be_checked_without_lean_and_says_what_is_missing(no_lean):
    clean = no_lean / "clean.lean"
    clean.write_text(f"{T.header}\n\n{T.statement} := by\n  norm_num [abs_of_nonneg]\n")
    result = run("check", "--backend", "lean", "--benchmark", "minif2f-lean4", "--theorem", "mathd_algebra_10", str(clean))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot check {clean}: statically clean, but cannot check live")
    assert "prover setup lean" in lines[0]
    assert "accepted" not in result.stdout


def test_proving_without_lean_says_how_to_set_it_up(no_lean):
    result = run("prove", "--backend", "lean", "--benchmark", "minif2f-lean4", "--split", "valid", "--limit", "1",
                 "--model", "none", "--no-progress", "--out", str(no_lean / "run"))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "prover setup lean" in lines[0]


def test_the_deepseek_set_is_a_benchmark_of_the_lean_backend(no_lean):
    theorem = {t.name: t for t in load_split("valid", "deepseek-v4.9")}["mathd_algebra_10"]
    cheat = no_lean / "cheat.lean"
    cheat.write_text(f"{theorem.header}\n\n{theorem.statement} := by\n  native_decide\n")
    result = run("check", "--backend", "lean", "--benchmark", "minif2f-lean4-deepseek", "--theorem", "mathd_algebra_10",
                 str(cheat))
    assert result.exit_code == 1 and "native" in result.stdout


def test_the_leandojo_backend_without_lean_dojo_says_how_to_install_it(no_lean, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "lean_dojo", None)
    result = run("prove", "--backend", "leandojo", "--benchmark", "minif2f-lean4-llemma", "--split", "valid", "--limit", "1",
                 "--model", "none", "--no-progress", "--out", str(no_lean / "run"))
    assert result.exit_code == 2
    assert "pip install 'llemma-prover[lean]'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_setup_without_git_fails_in_one_line(no_lean):
    empty = no_lean / "bin"
    empty.mkdir()
    result = run("setup", "lean", "--dir", str(no_lean / "project"), env={"PATH": str(empty)})
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: setup step 'fetch Mathlib' needs git, which is not on PATH "
                                     "(Lake fetches Mathlib and the REPL with it): install git and rerun")


def test_setup_refuses_a_toolchain_that_is_not_a_release(no_lean):
    result = run("setup", "lean", "--toolchain", "nightly")
    assert result.exit_code == 2 and "Lean release" in result.stderr
