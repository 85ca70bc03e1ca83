"""LeanBackend and LeanPool on the Lean REPL test double that replays recorded REPL transcripts.

No Lean runs here. tests/lean_repl_double.py (a TEST DOUBLE) answers each request with the reply the real
REPL gave to it (see tests/test_lean_repl_replay.py, which checks the driver itself against every recorded
pair). These tests step tactics and branch through the backend, restart it after faults, reuse and evict
pooled processes by header, and render, verify and set up proofs.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from lean_transcripts import DOUBLE, backend_for, recorded, repl_for, send, theorem, write_transcript

from lean_env.backend import AUTOMATION_TACTICS, LeanBackend, render_proof, step_problem, theorem_statement
from lean_env.messages import CommandReply
from lean_env.pool import HeaderError, LeanPool
from lean_env.repl import LeanRepl, scratch_root
from prover.types import Advanced, BackendUnavailable, Failed, ProofState, Proved, StatementError, TimedOut


# -- tactic steps and branching through the backend -------------------------------------------------
def test_readme_steps_to_a_proof():
    with backend_for("readme") as backend:
        root = backend.open(theorem("def f (x : Unit) : Nat"))
        assert root == ProofState(handle=0, goals="x : Unit\n⊢ Nat", depth=0)
        step = backend.run_tactic(root, "apply Int.natAbs", 5)
        assert isinstance(step, Advanced) and step.state.goals == "x : Unit\n⊢ Int" and step.state.depth == 1
        assert backend.run_tactic(step.state, "exact -37", 5) == Proved(("apply Int.natAbs", "exact -37"))


def test_proof_step_branches_from_the_root_without_replay():
    with backend_for("proof_step") as backend:
        root = backend.open(theorem("def f : Nat"))
        dead_end = backend.run_tactic(root, "apply Int.natAbs", 5)
        assert isinstance(dead_end, Advanced) and dead_end.state.goals == "⊢ Int"
        # back to the root: the REPL keeps proof state 0, so this is one request, not a replay
        other = backend.run_tactic(root, "have t : Nat := 42", 5)
        assert isinstance(other, Advanced) and other.state.goals == "t : Nat\n⊢ Nat"
        assert backend.run_tactic(other.state, "exact t", 5) == Proved(("have t : Nat := 42", "exact t"))
        assert backend.restarts == 0 and backend._pool.starts == 1


def test_proof_branching_shows_several_goals_as_lean_prints_them():
    with backend_for("proof_branching") as backend:
        root = backend.open(theorem("theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r"))
        assert root.goals == "p q r : Prop\nh1 : p ∧ q\nh2 : q → r\n⊢ p ∧ r"
        split = backend.run_tactic(root, "apply And.intro", 5).state
        assert split.goals == (
            "case left\np q r : Prop\nh1 : p ∧ q\nh2 : q → r\n⊢ p\n\n"
            "case right\np q r : Prop\nh1 : p ∧ q\nh2 : q → r\n⊢ r"
        )
        assert backend.render_state(split) == split.goals
        right = backend.run_tactic(split, "exact h1.left", 5).state
        q = backend.run_tactic(right, "apply h2", 5).state
        assert q.goals.endswith("⊢ q") and q.depth == 3
        done = backend.run_tactic(q, "exact h1.right", 5)
        assert done == Proved(("apply And.intro", "exact h1.left", "apply h2", "exact h1.right"))


def test_an_elaboration_error_with_no_goals_is_a_failure_not_a_proof():
    # invalid_tactic: "Incomplete: contains sorry", goals [], and an error message
    with backend_for("invalid_tactic") as backend:
        root = backend.open(theorem("theorem my_theorem (x : Nat) : x = x"))
        result = backend.run_tactic(root, "exact my_fake_premise", 5)
        assert isinstance(result, Failed) and "Unknown identifier `my_fake_premise`" in result.error


def test_a_tactic_the_repl_cannot_parse_fails_with_leans_message():
    with backend_for("unknown_tactic") as backend:
        root = backend.open(theorem("def f : Nat"))
        assert backend.run_tactic(root, "exat 42", 5) == Failed("<input>:1:1: unknown tactic")


def test_a_tactic_that_throws_fails_with_leans_message():
    # self_proof_check: `exact?` in tactic mode comes back as {"message": "Lean error: ..."};
    # the backend's `... := by sorry` is the transcript's 4th request (the double skips the first three)
    with backend_for("self_proof_check") as backend:
        root = backend.open(theorem("theorem ex : False"))
        assert root.goals == "⊢ False"
        result = backend.run_tactic(root, "exact?", 5)
        assert isinstance(result, Failed) and "`exact?` could not close the goal" in result.error


# -- sorry and elaboration errors through the backend ----------------------------------------------
@pytest.mark.parametrize("tactic", ["sorry", "have h : x = 1 := sorry", "admit", "exact (sorry)", "induction x with\n| zero => sorry\n| succ x => sorry"])
def test_the_backend_refuses_sorry_before_sending_it(tactic):
    with backend_for("sorry_hypotheses") as backend:
        root = backend.open(theorem("theorem foo (x : Int) : x = x := by\n"))  # a minif2f-style tail is dropped
        assert root.goals == "x : Int\n⊢ x = x"
        assert isinstance(backend.run_tactic(root, tactic, 5), Failed)
        assert backend._pool.get("").repl.commands == 1  # only the open reached the REPL


def test_induction_branches_and_sorry_cases_in_mathlib():
    with backend_for("Mathlib/induction", pool=None) as backend:
        root = backend.open(theorem("theorem foo (x : Nat) : x = x", header="import Mathlib"))
        assert root.goals == "x : ℕ\n⊢ x = x"
        cases = backend.run_tactic(root, "induction x", 5)
        assert isinstance(cases, Advanced) and cases.state.goals.startswith("case zero\n⊢ 0 = 0\n\ncase succ\n")
        succ = backend.run_tactic(cases.state, "next => rfl", 5)
        assert isinstance(succ, Advanced) and succ.state.goals == "case succ\nn✝ : ℕ\na✝ : n✝ = n✝\n⊢ n✝ + 1 = n✝ + 1"
    with repl_for("Mathlib/induction") as repl:
        for request, _ in recorded("Mathlib/induction")[:-1]:
            send(repl, request)
        structured = repl.tactic("induction x with\n| zero => sorry\n| succ x => sorry", 0)
        assert [s.proof_state for s in structured.sorries] == [3, 4]
        assert step_problem(structured) == "the tactic leaves a sorry"


def test_mathlib_elaboration_error_in_tactic_mode_is_a_failure():
    # Mathlib/20240209: "Incomplete: contains sorry", no goals, error "unsolved goals"
    with backend_for("Mathlib/20240209") as backend:
        root = backend.open(theorem("example : False"))
        result = backend.run_tactic(root, "simpa using show False by done", 5)
        assert isinstance(result, Failed) and result.error == "unsolved goals ⊢ False"


# -- faults: restart and replay --------------------------------------------------------------------
def test_backend_restarts_after_a_crash_and_replays_the_path(tmp_path):
    once = str(scratch_root() / f"crashed-{os.getpid()}-{tmp_path.name}")  # the sandboxed double may write there
    with backend_for("proof_branching", "--crash-after", "2", "--fault-once", once) as backend:
        root = backend.open(theorem("theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r"))
        split = backend.run_tactic(root, "apply And.intro", 5).state
        # the REPL dies on the next request; a new one re-opens the theorem, replays "apply And.intro", steps on
        right = backend.run_tactic(split, "exact h1.left", 5)
        assert isinstance(right, Advanced) and right.state.goals.startswith("case right")
        assert backend.restarts == 1 and backend._pool.starts == 2 and Path(once).exists()
        q = backend.run_tactic(right.state, "apply h2", 5).state
        assert backend.run_tactic(q, "exact h1.right", 5) == Proved(("apply And.intro", "exact h1.left", "apply h2", "exact h1.right"))


def test_backend_times_out_a_hung_tactic_then_recovers(tmp_path):
    once = str(scratch_root() / f"hung-{os.getpid()}-{tmp_path.name}")
    with backend_for("proof_step", "--hang-after", "1", "--fault-once", once) as backend:
        root = backend.open(theorem("def f : Nat"))
        assert backend.run_tactic(root, "apply Int.natAbs", 0.3) == TimedOut(0.3)
        other = backend.run_tactic(root, "have t : Nat := 42", 5)  # a new process, the theorem re-opened
        assert isinstance(other, Advanced) and backend.restarts == 1
        assert backend.run_tactic(other.state, "exact t", 5) == Proved(("have t : Nat := 42", "exact t"))


def test_states_from_another_theorem_are_refused():
    with backend_for("readme") as backend:
        backend.open(theorem("def f (x : Unit) : Nat"))
        assert isinstance(backend.run_tactic(ProofState(handle=7, goals="", depth=0), "rfl", 5), Failed)
        assert isinstance(backend.run_tactic(ProofState(handle=0, goals="", depth=0), "   ", 5), Failed)


# -- the pool ---------------------------------------------------------------------------------------
def test_pool_reuses_one_process_per_header_across_theorems():
    # Mathlib/exact: `import Mathlib` once (env 0), then two theorems each on env 0
    with backend_for("Mathlib/exact") as backend:
        first = backend.open(theorem("theorem test : 0 < 1", header="import Mathlib\n\n"))
        assert backend.run_tactic(first, "exact?", 5) == Proved(("exact?",))  # an info message is no error
        second = backend.open(theorem("theorem test : 3 = 7", header="import Mathlib"))
        assert second.goals == "⊢ 3 = 7"
        assert isinstance(backend.run_tactic(second, "exact?", 5), Failed)
        assert backend._pool.starts == 1 and backend._pool.headers() == ["import Mathlib"]


def test_pool_keys_by_header_and_evicts_least_recently_used(tmp_path):
    path = write_transcript(tmp_path, "three_headers", [
        ({"cmd": "def a := 1"}, {"env": 0}),
        ({"cmd": "def b := 2"}, {"env": 0}),
        ({"cmd": "def c := 3"}, {"env": 0}),
    ])
    with LeanPool(lambda: LeanRepl(command=[sys.executable, DOUBLE, path]), max_processes=2) as pool:
        a = pool.get("def a := 1")
        assert a.base_env == 0 and pool.get("def a := 1\n\n") is a  # surrounding whitespace is not a new header
        b = pool.get("def b := 2")
        assert b.repl.pid != a.repl.pid and pool.headers() == ["def a := 1", "def b := 2"]
        assert pool.get("def a := 1") is a and pool.headers() == ["def b := 2", "def a := 1"]
        c = pool.get("def c := 3")  # a third header: b, least recently used, goes
        assert pool.headers() == ["def a := 1", "def c := 3"] and not b.alive and a.alive and c.alive
        again_b = pool.get("def b := 2")
        assert pool.headers() == ["def c := 3", "def b := 2"] and not a.alive and pool.evictions == 2
        assert again_b is not b and pool.starts == 4
        assert len({a.generation, b.generation, c.generation, again_b.generation}) == 4


def test_pool_recycles_after_k_requests_through_a_pickled_header():
    # pickle_environment: header "def f := 42" (env 0), pickleTo, then a new process unpickles it (env 1)
    with LeanPool(lambda: repl_for("pickle_environment"), recycle_after=1, pickle_path=lambda header: "test/a.olean") as pool:
        first = pool.get("def f := 42")
        assert first.base_env == 0 and first.repl.commands == 1
        assert pool.get("def f := 42", recycle=False) is first  # mid-proof: kept past the limit
        second = pool.get("def f := 42")
        assert second is not first and not first.alive
        assert second.base_env == 1 and pool.recycles == 1 and pool.unpickled == 1
        assert second.repl.command("example : f = 42 := by rfl", env=second.base_env) == CommandReply(env=2)


def test_pool_falls_back_to_the_header_when_pickling_fails():
    # the double has no pickle reply for this path: refused, so the next process elaborates the header again
    with LeanPool(lambda: repl_for("pickle_environment"), recycle_after=1, pickle_path=lambda header: "elsewhere.olean") as pool:
        pool.get("def f := 42")
        again = pool.get("def f := 42")
        assert again.base_env == 0 and pool.unpickled == 0 and pool.starts == 2


def test_pool_restarts_a_dead_process():
    with LeanPool(lambda: repl_for("proof_step")) as pool:
        first = pool.get("")
        first.repl.close()
        second = pool.get("")
        assert second is not first and second.alive and second.base_env is None


def test_a_header_that_does_not_elaborate():
    with LeanPool(lambda: repl_for("incomplete")) as pool:
        with pytest.raises(HeaderError, match="unsolved goals"):
            pool.get("def f : Nat := by apply Nat.succ")
        assert len(pool) == 0
    with backend_for("incomplete") as backend:
        with pytest.raises(StatementError, match="unsolved goals"):
            backend.open(theorem("theorem t : True", header="def f : Nat := by apply Nat.succ"))


def test_a_statement_lean_rejects_is_a_statement_error(tmp_path):
    # SYNTHESISED reply: the `:= by sorry` command answered with an elaboration error
    path = write_transcript(tmp_path, "bad_statement", [
        ({"cmd": "theorem t : Foo := by sorry"},
         {"messages": [{"severity": "error", "pos": {"line": 1, "column": 12}, "endPos": {"line": 1, "column": 15},
                        "data": "unknown identifier 'Foo'"}], "env": 0}),
    ])
    with LeanBackend(repl_command=[sys.executable, DOUBLE, path]) as backend:
        with pytest.raises(StatementError, match="unknown identifier 'Foo'"):
            backend.open(theorem("theorem t : Foo"))


# -- rendering, automation, verification, setup -----------------------------------------------------
@pytest.mark.parametrize("tail", ["", " := by", " := by\n", " := by sorry", ":= by  sorry\n", " :="])
def test_statement_tails_are_dropped(tail):
    assert theorem_statement(theorem("theorem t (x : ℕ) :\n    x = x" + tail)) == "theorem t (x : ℕ) :\n    x = x"


def test_render_proof_puts_header_statement_and_indented_tactics():
    t = theorem("theorem foo (x : Nat) : x = x := by sorry", header="import Mathlib\nopen Nat\n\n")
    assert render_proof(t, ("induction x with\n| zero => rfl\n| succ n ih => rfl",)) == (
        "import Mathlib\nopen Nat\n\ntheorem foo (x : Nat) : x = x := by\n"
        "  induction x with\n  | zero => rfl\n  | succ n ih => rfl\n"
    )
    assert render_proof(theorem("example : True"), ("trivial",)) == "example : True := by\n  trivial\n"


def test_automation_tactics_are_leans():
    with backend_for("readme") as backend:
        assert backend.automation_tactics() == AUTOMATION_TACTICS
        assert {"omega", "simp", "norm_num", "linarith", "nlinarith", "positivity", "decide", "aesop", "ring_nf",
                "field_simp"} == set(AUTOMATION_TACTICS)
        assert backend.name == "lean"


def test_verify_checks_the_rendered_proof_in_a_fresh_process(monkeypatch):
    seen = {}

    def check_proof_text(text, expected=None, *, run_command=None):
        seen["text"], seen["expected"] = text, expected
        seen["reply"] = run_command("def f (x : Unit) : Nat := by sorry")  # a fresh double: its first reply
        from prover.types import Verdict
        return Verdict(True, "stub")

    monkeypatch.setattr("lean_env.verify.check_proof_text", check_proof_text)
    with backend_for("readme") as backend:
        t = theorem("def f (x : Unit) : Nat")
        backend.open(t)
        assert backend.verify(t, ("apply Int.natAbs", "exact -37"))
        assert seen["text"] == "def f (x : Unit) : Nat := by\n  apply Int.natAbs\n  exact -37\n" and seen["expected"] is t
        assert seen["reply"].env == 0 and seen["reply"].sorries[0].goal == "x : Unit\n⊢ Nat"


def test_without_a_project_the_backend_says_how_to_set_up(monkeypatch, tmp_path):
    monkeypatch.delenv("LLEMMA_PROVER_LEAN_PROJECT", raising=False)
    monkeypatch.setenv("LLEMMA_PROVER_CACHE", str(tmp_path))
    with pytest.raises(BackendUnavailable, match="prover setup lean"):
        LeanBackend()
    (tmp_path / "lean").mkdir()
    (tmp_path / "lean" / "project.json").write_text("not json")
    with pytest.raises(BackendUnavailable, match="no Lean project configured"):
        LeanBackend()
    (tmp_path / "lean" / "project.json").write_text(json.dumps({"project": str(tmp_path / "missing")}))
    with pytest.raises(BackendUnavailable, match="does not exist"):
        LeanBackend()
    project = tmp_path / "proj"
    project.mkdir()
    monkeypatch.setenv("LLEMMA_PROVER_LEAN_PROJECT", str(project))
    monkeypatch.setenv("PATH", str(tmp_path))  # no lake anywhere
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ELAN_HOME", raising=False)
    with pytest.raises(BackendUnavailable, match="lake not found"):
        LeanBackend()
