"""isabelle_env.extract: theories replayed command by command through the PISA bridge into proofstep rows,
against the PISA TEST DOUBLE (tests/isabelle_pisa_double.py: scripted replies, not Isabelle)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("grpc")

from isabelle_env.backend import IsabelleBackend
from isabelle_env.extract import extract_proofsteps, theory_commands
from isabelle_env.pisa_client import PisaClient, PisaPool
from prover.proofsteps import ExtractOptions, read_proofsteps
from prover.types import Advanced, Proved, Theorem

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from isabelle_pisa_double import (
    NO_SUBGOALS,
    S0,
    S1,
    S2,
    TOY_HEADER,
    TOY_STATEMENT,
    PisaDouble,
    norm,
    toy_script,
)

HOME = "/opt/Isabelle2022"  # a path on the "server's machine": the double only records it
FAST = {"host": "127.0.0.1", "isabelle_home": HOME, "grace": 0.1, "probe_timeout": 2.0, "connect_timeout": 5.0}
TOY_PROOF = ["apply (induct n)", "apply simp", "apply auto", "done"]
BROKEN = 'lemma broken: "(1::nat) = 2"'
BROKEN_STATE = "proof (prove)\ngoal (1 subgoal):\n 1. 1 = 2"
ADMITTED = 'lemma admitted: "P"'
AGAIN = 'theorem toy_again:\n  fixes n :: nat\n  shows "2 * n = n + n"'
DEFINITION = 'definition double :: "nat \\<Rightarrow> nat" where "double n = 2 * n"'

# The toy theorem, one whose proof the "prover" refuses, one with a sorry, and the toy again, ending in `by`.
THEORY = f"""{TOY_HEADER}

{DEFINITION}

{TOY_STATEMENT}
  {chr(10).join("  " + t for t in TOY_PROOF).strip()}

{BROKEN}
  apply simp
  done

{ADMITTED}
  sorry

{AGAIN}
  apply (induct n)  (* a comment is not part of the step *)
  apply simp
  by (metis mult_2)

end
"""


def script():
    s = toy_script()
    s.steps[("", norm(DEFINITION))] = ("", 0)
    s.steps[("", norm(BROKEN))] = (BROKEN_STATE, 1)  # and no step proves it: `apply simp` is an error
    s.steps[("", norm(ADMITTED))] = ("proof (prove)\ngoal (1 subgoal):\n 1. P", 1)
    s.steps[("", norm(AGAIN))] = (S0, 1)
    return s


@pytest.fixture
def double():
    server = PisaDouble(script()).start()
    yield server
    server.stop()


@pytest.fixture
def client(double):
    with PisaClient(double.port, **FAST) as c:
        yield c


@pytest.fixture(autouse=True)
def no_shared_pools():
    yield
    PisaPool.close_shared()


def test_a_theory_is_cut_into_isar_commands():
    name, commands = theory_commands(THEORY)
    assert name == "toy_double"
    assert [c.text for c in commands[:6]] == [DEFINITION, TOY_STATEMENT, *TOY_PROOF]
    assert commands[1].name == "toy_double" and commands[1].line == THEORY.splitlines().index("theorem toy_double:") + 1
    assert [c.text for c in commands[-4:]] == [AGAIN, "apply (induct n)", "apply simp", "by (metis mult_2)"]


def test_rows_are_the_states_before_each_proof_command(double, client, tmp_path):
    thy = tmp_path / "toy_double.thy"
    thy.write_text(THEORY)
    summary = extract_proofsteps(thy, tmp_path / "out.jsonl", ExtractOptions(valid_fraction=0, test_fraction=0),
                                 bridge=client)
    rows = read_proofsteps(tmp_path / "out.jsonl")
    assert [(r.state, r.tactic, r.theorem) for r in rows] == [
        (S0, "apply (induct n)", "toy_double.toy_double"),
        (S1, "apply simp", "toy_double.toy_double"),
        (S2, "apply auto", "toy_double.toy_double"),
        (NO_SUBGOALS, "done", "toy_double.toy_double"),
        (S2, "by (metis mult_2)", "toy_double.toy_again"),  # its first two steps are the toy's: deduplicated
    ]
    assert {(r.source, r.split, r.backend) for r in rows} == {("toy_double.thy", "train", "isabelle")}
    assert summary["proofs"] == 4 and summary["proofs_kept"] == 2
    assert summary["proofs_failed"] == 1 and summary["proofs_refused"] == 1
    assert summary["rows_before_dedupe"] == 7 and summary["rows_written"] == 5
    sent = [t.split("<apply to top level state>")[2].strip() for t in double.log if t.startswith("<apply")]
    assert "sorry" not in sent and "done" in sent  # a refused step is never sent
    assert sent.count("apply simp") == 3  # the toy's, the broken lemma's (refused by "Isabelle"), toy_again's
    assert set(double.states) == {"default"}  # every named state was freed


def test_the_rows_states_are_what_the_backend_shows_the_model(double, client, tmp_path):
    thy = tmp_path / "toy_double.thy"
    thy.write_text(THEORY)
    extract_proofsteps(thy, tmp_path / "out.jsonl", bridge=client)
    rows = [r for r in read_proofsteps(tmp_path / "out.jsonl") if r.theorem == "toy_double.toy_double"]
    with PisaClient(double.port, **FAST) as other, IsabelleBackend(other, sledgehammer=False) as backend:
        state = backend.open(Theorem("toy_double", TOY_STATEMENT, TOY_HEADER, "isabelle"))
        for row in rows:
            assert backend.render_state(state) == row.state
            outcome = backend.run_tactic(state, row.tactic, 5.0)
            if isinstance(outcome, Proved):  # `apply auto` left no subgoals: the backend adds `done` itself
                assert outcome.tactics == tuple(r.tactic for r in rows)
                break
            assert isinstance(outcome, Advanced), outcome
            state = outcome.state
        else:
            pytest.fail("the rows' tactics did not prove the theorem")


def test_a_folder_of_theories_and_what_is_not_a_theory(double, client, tmp_path):
    folder = tmp_path / "theories"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "toy_double.thy").write_text(THEORY)
    (folder / "Notes.thy").write_text("just some text\n")
    summary = extract_proofsteps(folder, tmp_path / "out.jsonl", ExtractOptions(limit=5), bridge=client)
    assert summary["theories"] == 2 and summary["theories_replayed_fully"] == 1
    assert summary["theories_skipped"]["Notes.thy"].startswith("failed: not a theory")
    assert {r.source for r in read_proofsteps(tmp_path / "out.jsonl")} == {"sub/toy_double.thy"}
    with pytest.raises(ValueError, match="no such theory"):
        extract_proofsteps(tmp_path / "none.thy", tmp_path / "x.jsonl", bridge=client)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_prover_extract_runs_it_for_the_isabelle_backend(tmp_path):
    port = _free_port()
    server = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "isabelle_pisa_double.py"),
                               "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert "PISA protocol" in server.stdout.readline()
        thy = tmp_path / "toy_double.thy"
        thy.write_text(f"{TOY_HEADER}\n\n{TOY_STATEMENT}\n  " + "\n  ".join(TOY_PROOF) + "\n\nend\n")
        env = {**os.environ, "LLEMMA_PROVER_PISA_PORTS": str(port), "LLEMMA_PROVER_ISABELLE_HOME": HOME,
               "LLEMMA_PROVER_ISABELLE_DRIVER": "pisa", "LLEMMA_PROVER_PISA_HOST": "127.0.0.1"}
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "prover.cli", "extract", "--backend", "isabelle", "--source",
                               str(thy), "--out", str(tmp_path / "out.jsonl")],
                              check=False, capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["rows_written"] == 4 and summary["rows_dropped_contamination"] == 0  # the guard ran
        assert [r.tactic for r in read_proofsteps(tmp_path / "out.jsonl")] == TOY_PROOF
        assert time.monotonic() - started < 120
    finally:
        server.terminate()
        server.wait(timeout=30)
