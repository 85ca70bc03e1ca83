"""The `prover` command line with the isabelle backend (CliRunner): check exits 1 on a cheat, 2 when a clean
theory cannot be checked live, 0 when the Isabelle server (a TEST DOUBLE here) accepts it; setup and prove
without Isabelle end in one line and exit 2."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from isabelle_server_double import SessionServerDouble

from isabelle_env.minif2f import load_split
from prover.cli import main

PLAIN = {t.name: t for t in load_split("valid")}["amc12a_2009_p2"]
CLEAN = f"{PLAIN.header}\n\n{PLAIN.statement}\n  by simp\n\nend\n"
CHECK = ["check", "--backend", "isabelle", "--benchmark", "minif2f-isabelle", "--theorem", "amc12a_2009_p2"]


@pytest.fixture
def no_isabelle(tmp_path):
    """An environment with no Isabelle anywhere and an empty cache."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return {"PATH": str(bin_dir), "LLEMMA_PROVER_CACHE": str(tmp_path / "cache"), "ISABELLE_HOME": None,
            "LLEMMA_PROVER_ISABELLE_HOME": None}


def invoke(args, env):
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_check_refuses_a_cheat(tmp_path, no_isabelle):
    cheat = tmp_path / "cheat.thy"
    cheat.write_text(CLEAN.replace("by simp", "sorry"))
    result = invoke([*CHECK, str(cheat)], no_isabelle)
    assert result.exit_code == 1
    assert result.output.strip() == "rejected: the proof uses `sorry` (a skipped proof)"


def test_check_refuses_a_changed_statement_without_a_benchmark_too(tmp_path, no_isabelle):
    cheat = tmp_path / "cheat.thy"
    cheat.write_text(CLEAN.replace("  by simp", "  by simp\n\nML \u2039val _ = ()\u203a"))
    assert invoke([*CHECK, str(cheat)], no_isabelle).exit_code == 1
    assert "runs ML code" in invoke(["check", "--backend", "isabelle", str(cheat)], no_isabelle).output


def test_check_clean_without_isabelle_cannot_check(tmp_path, no_isabelle):
    clean = tmp_path / "clean.thy"
    clean.write_text(CLEAN)
    result = invoke([*CHECK, str(clean)], no_isabelle)
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "cannot check" in line and "statically clean" in line and "Isabelle not found" in line


def test_check_clean_through_a_recorded_server(tmp_path, no_isabelle):
    def judge(text):
        line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("thm_oracles "))
        return True, [{"kind": "writeln", "message": "oracles:", "pos": {"line": line}}]

    clean = tmp_path / "clean.thy"
    clean.write_text(CLEAN)
    double = SessionServerDouble(judge, connections=2)  # one probe of the recorded address, one check
    with double:
        record = tmp_path / "cache" / "isabelle" / "setup.json"
        record.parent.mkdir(parents=True)
        record.write_text(json.dumps({"driver": "server", "check_session": "HOL-Number_Theory",
                                      "server": double.address(double.password).as_record()}))
        result = invoke([*CHECK, str(clean)], no_isabelle)
    assert not double.errors
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"accepted: {clean}"
    assert [name for name, _ in double.commands] == ["session_start", "use_theories", "session_stop"]


def test_setup_without_isabelle_is_one_line(no_isabelle):
    result = invoke(["setup", "isabelle"], no_isabelle)
    assert result.exit_code == 2
    assert one_error_line(result) == ("error: Isabelle not found: set ISABELLE_HOME to an Isabelle2022 installation "
                                      "or put its bin/ on PATH (download from https://isabelle.in.tum.de), then rerun "
                                      "`prover setup isabelle`")


def test_prove_without_isabelle_says_how_to_set_up(tmp_path, no_isabelle):
    result = invoke(["prove", "--backend", "isabelle", "--benchmark", "minif2f-isabelle", "--limit", "1",
                     "--model", "none", "--no-progress", "--out", str(tmp_path / "run")], no_isabelle)
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "isabelle" in line.lower()


def test_benchmark_is_listed_for_the_backend(tmp_path, no_isabelle):
    result = invoke(["check", "--backend", "isabelle", "--benchmark", "minif2f-isabelle", "--theorem", "nope",
                     str(tmp_path / "x.thy")], no_isabelle)
    assert result.exit_code == 2  # unreadable file first: one line
    clean = tmp_path / "x.thy"
    clean.write_text(CLEAN)
    result = invoke(["check", "--backend", "isabelle", "--benchmark", "minif2f-isabelle", "--theorem", "nope",
                     str(clean)], no_isabelle)
    assert result.exit_code == 2 and "no theorem named 'nope'" in one_error_line(result)
