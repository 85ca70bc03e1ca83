"""The Lean REPL driver (LeanRepl) against recorded REPL transcripts, served by a test double.

No Lean runs here. tests/lean_repl_double.py (a TEST DOUBLE) answers each request with the reply the real
REPL gave to it (leanprover-community/repl test suite, toolchain v4.33.0-rc2; see the transcripts'
PROVENANCE.txt). So these tests prove the driver speaks the real protocol and reads the real replies;
tests/test_lean_repl_replay_backend.py runs LeanBackend and LeanPool on the same double, and
tests/test_lean_live.py runs the same driver against a real Lean where one is installed.

Where a test needs replies of other REPL versions (no proofStatus, the old 'sorry' quoting), it writes a
synthesised variant of a recorded transcript, says so, and changes only the fields in question.
"""
from __future__ import annotations

import json
import sys

import pytest
from lean_repl_double import read_objects  # the double's own transcript reader
from lean_transcripts import (
    DOUBLE, MATHLIB, TOP_LEVEL, TRANSCRIPTS, recorded, repl_for, send, stem, theorem, write_transcript,
)

from lean_env.backend import LeanBackend, step_problem
from lean_env.messages import CommandReply, Message, ReplCrashed, ReplError, ReplTimeout, TacticReply
from lean_env.repl import LeanRepl
from prover.types import Advanced, BackendUnavailable, Failed, Proved


# -- every recorded pair, through the real driver ---------------------------------------------------
@pytest.mark.parametrize("name", TOP_LEVEL + MATHLIB)
def test_every_recorded_request_gets_its_recorded_reply_parsed(name):
    pairs = recorded(name)
    assert pairs, name
    with repl_for(name) as repl:
        for request, expected in pairs:
            if set(expected) == {"message"}:
                with pytest.raises(ReplError) as err:
                    send(repl, request)
                assert str(err.value) == expected["message"]
                continue
            reply = send(repl, request)
            assert reply.raw == expected
            if isinstance(reply, CommandReply):
                assert reply.env == expected["env"]
                assert [m.data for m in reply.messages] == [m["data"] for m in expected.get("messages", [])]
                assert [s.proof_state for s in reply.sorries] == [s.get("proofState") for s in expected.get("sorries", [])]
            else:
                assert isinstance(reply, TacticReply)
                assert reply.proof_state == expected["proofState"]
                assert list(reply.goals) == expected["goals"]
                assert reply.proof_status == expected.get("proofStatus")
        assert repl.commands == len(pairs)
        assert repl.alive


def test_all_twenty_transcripts_are_there():
    assert len(TOP_LEVEL) == 17 and len(MATHLIB) == 3
    for name in TOP_LEVEL + MATHLIB:
        assert (TRANSCRIPTS / f"{name}.in").is_file() and (TRANSCRIPTS / f"{name}.expected.out").is_file()


def test_unknown_proof_state_and_environment_raise_repl_error():
    with repl_for("unknown_proof_state") as repl:
        assert repl.command("def f : Nat := by sorry").sorries[0].proof_state == 0
        with pytest.raises(ReplError, match="Unknown proof state."):
            repl.tactic("exact 42", 1)
        assert repl.alive  # an error reply leaves the process usable
    with repl_for("unknown_environment") as repl:
        with pytest.raises(ReplError, match="Unknown environment."):
            repl.command("def f : Nat := by sorry", env=5)


# -- sorry handling ---------------------------------------------------------------------------------
def test_a_tactic_leaving_a_sorry_is_not_progress():
    with repl_for("tactic_mode_sorry") as repl:
        root = repl.command("def f : Nat := by sorry")
        assert root.uses_sorry and root.messages[0].is_sorry_warning and not root.errors
        reply = repl.tactic("sorry", 0)
        assert reply.goals == () and reply.proof_status == "Incomplete: contains sorry"
        assert reply.sorries[0].proof_state == 1 and reply.sorries[0].pos is None  # tactic-mode sorries have no position
        assert not reply.completed
        assert step_problem(reply) == "the tactic leaves a sorry"


def test_have_with_a_sorry_proof_is_not_progress():
    with repl_for("have_by_sorry") as repl:
        whole = repl.command("theorem foo (x : Int) : x = x := by\n  have h : x = 1 := by sorry")
        assert [m.data.splitlines()[0] for m in whole.errors] == ["unsolved goals"]
        repl.command("theorem foo (x : Int) : x = x := by sorry")
        reply = repl.tactic("have h : x = 1 := by sorry", 0)
        assert reply.goals == ("x : Int\nh : x = 1\n⊢ x = 1",) and reply.sorries[0].goal == "x : Int\n⊢ x = 1"
        assert step_problem(reply) == "the tactic leaves a sorry"
    with repl_for("sorry_hypotheses") as repl:
        repl.command("theorem foo (x : Int) : x = x := by sorry")
        assert step_problem(repl.tactic("have h : x = 1 := sorry", 0)) == "the tactic leaves a sorry"


# -- errors, incomplete commands and the REPL's options --------------------------------------------
def test_metavariables_left_are_not_a_proof():
    with repl_for("app_type_mismatch") as repl:
        kernel = repl.command("example : 1 = 0 := by\n  cases 1\n  rfl\n  apply ?succ")
        assert kernel.errors[0].data == "(kernel) declaration has metavariables '_example'"
        term = repl.command("example : 1 = 0 := sorry")
        assert term.sorries[0].proof_state == 0 and term.sorries[0].goal == "⊢ 1 = 0"
        cases = repl.tactic("cases 1", 0)
        assert len(cases.goals) == 2 and step_problem(cases) is None
        assert repl.tactic("rfl", 1).goals == ("case succ\nn✝ : Nat\n⊢ n✝ + 1 = 0",)
        last = repl.tactic("apply ?succ", 2)
        assert last.goals == () and not last.completed
        assert step_problem(last) == "Incomplete: contains metavariable(s)"


def test_incomplete_commands_report_unsolved_goals():
    with repl_for("incomplete") as repl:
        assert repl.command("def f : Nat := by apply Nat.succ").errors[0].data == "unsolved goals\n⊢ Nat"
        two = repl.command("def f (x : Bool) : Nat := by\n  by_cases x\n  { apply Nat.succ }")
        assert len(two.errors) == 2 and two.env == 1 and two.errors[1].pos.line == 1 and two.errors[1].end_pos.line == 3


def test_root_goals_and_all_tactics_options():
    with repl_for("root_goals") as repl:
        reply = repl.command("example : 1=1 := by\n  skip\n  exact?\n\ntheorem bb : 1+1=2 := by rfl", rootGoals=True)
        assert [(s.proof_state, s.goal) for s in reply.sorries] == [(0, "⊢ 1 = 1"), (1, "⊢ 1 + 1 = 2")]
        assert reply.sorries[0].pos == reply.sorries[0].end_pos
        assert not reply.errors and reply.messages[0].severity == "info" and not reply.uses_sorry
        assert repl.tactic("rfl", 0).completed and repl.tactic("exact rfl", 1).completed
    with repl_for("all_tactics") as repl:
        reply = repl.command("def f : Nat := by have t := 37; exact t", allTactics=True)
        assert [(t["tactic"], t["proofState"]) for t in reply.raw["tactics"]] == [("have t := 37", 0), ("exact t", 1)]


def test_self_proof_check_options_give_their_sorries():
    with repl_for("self_proof_check") as repl:
        for request, _ in recorded("self_proof_check")[:5]:
            try:
                send(repl, request)
            except ReplError:
                pass
        with_tactics = repl.command("theorem ex : False := by sorry", allTactics=True)
        assert with_tactics.env == 3 and with_tactics.raw["tactics"][0]["tactic"] == "sorry"
        with pytest.raises(ReplError, match="exact\\?"):
            repl.tactic("exact?", 3)
        with_roots = repl.command("theorem ex : False := by sorry", rootGoals=True)
        assert [s.proof_state for s in with_roots.sorries] == [4, 5]


# -- pickling ---------------------------------------------------------------------------------------
def test_pickle_and_unpickle_environment():
    with repl_for("pickle_environment") as repl:
        assert repl.command("def f := 42").env == 0
        assert repl.pickle_env(0, "test/a.olean").env == 0
        assert repl.unpickle_env("test/a.olean").env == 1
        assert repl.command("example : f = 42 := by rfl", env=1) == CommandReply(env=2)


def test_pickle_and_unpickle_proof_states():
    with repl_for("pickle_proof_state_1") as repl:
        base = repl.command("import Lean").env
        assert repl.command("def f : Nat := by sorry", env=base).sorries[0].proof_state == 0
        assert repl.pickle_proof_state(0, "test/c.olean").proof_state == 1
        restored = repl.unpickle_proof_state("test/c.olean")
        assert restored.proof_state == 2 and restored.goals == ("⊢ Nat",)
        assert repl.tactic("have t : Nat := 42", 2).proof_state == 3
        repl.pickle_proof_state(3, "test/d.olean")
        assert repl.unpickle_proof_state("test/d.olean").goals == ("t : Nat\n⊢ Nat",)
        assert repl.tactic("exact t", 5).completed


# -- other REPL versions (synthesised variants of recorded replies) ---------------------------------
def without_proof_status(name: str) -> list[tuple[dict, dict]]:
    """Recorded pairs with "proofStatus" deleted, as REPLs before PR #63 reply; nothing else changed."""
    return [(req, {k: v for k, v in rep.items() if k != "proofStatus"}) for req, rep in recorded(name)]


def test_without_proof_status_completion_is_judged_by_goals_errors_and_sorries(tmp_path):
    # SYNTHESISED: proof_step and invalid_tactic with proofStatus removed
    with LeanBackend(repl_command=[sys.executable, DOUBLE, write_transcript(tmp_path, "old_proof_step", without_proof_status("proof_step"))]) as backend:
        root = backend.open(theorem("def f : Nat"))
        other = backend.run_tactic(root, "have t : Nat := 42", 5)
        assert isinstance(other, Advanced)
        assert backend.run_tactic(other.state, "exact t", 5) == Proved(("have t : Nat := 42", "exact t"))
    with LeanBackend(repl_command=[sys.executable, DOUBLE, write_transcript(tmp_path, "old_invalid", without_proof_status("invalid_tactic"))]) as backend:
        root = backend.open(theorem("theorem my_theorem (x : Nat) : x = x"))
        assert isinstance(backend.run_tactic(root, "exact my_fake_premise", 5), Failed)
    # the rest judged on the parsed replies
    old = {name: TacticReply.from_json(pairs[-1][1]) for name in ("tactic_mode_sorry", "Mathlib/20240209", "app_type_mismatch", "readme")
           for pairs in [without_proof_status(name)]}
    assert all(reply.proof_status is None for reply in old.values())
    assert step_problem(old["tactic_mode_sorry"]) == "the tactic leaves a sorry" and not old["tactic_mode_sorry"].completed
    assert step_problem(old["Mathlib/20240209"]) == "unsolved goals ⊢ False" and not old["Mathlib/20240209"].completed
    assert old["readme"].completed and step_problem(old["readme"]) is None
    # Known limit: without proofStatus, leftover metavariables look like a finished proof; the final check
    # in a fresh process is what refuses it.
    assert old["app_type_mismatch"].completed


def test_old_single_quoted_sorry_warning_is_recognised(tmp_path):
    # SYNTHESISED: readme with the warning as Lean before v4.28 words it: declaration uses 'sorry'
    pairs = recorded("readme")
    first = json.loads(json.dumps(pairs[0][1]))
    first["messages"][0]["data"] = "declaration uses 'sorry'"
    path = write_transcript(tmp_path, "old_quote", [(pairs[0][0], first), *pairs[1:]])
    with LeanRepl(command=[sys.executable, DOUBLE, path]) as repl:
        reply = repl.command("def f (x : Unit) : Nat := by sorry")
        assert reply.messages[0].is_sorry_warning and reply.uses_sorry and not reply.errors
    with LeanBackend(repl_command=[sys.executable, DOUBLE, path]) as backend:
        root = backend.open(theorem("def f (x : Unit) : Nat"))
        assert backend.run_tactic(backend.run_tactic(root, "apply Int.natAbs", 5).state, "exact -37", 5) == Proved(
            ("apply Int.natAbs", "exact -37")
        )
    for text in ("declaration uses `sorry`", "declaration uses 'sorry'"):
        assert Message("warning", text).is_sorry_warning
    assert not Message("error", "declaration uses 'sorry'").is_sorry_warning
    assert not Message("warning", "unused variable `h`").is_sorry_warning


# -- faults ---------------------------------------------------------------------------------------
def test_a_crash_raises_repl_crashed_and_the_process_is_gone():
    with repl_for("proof_step", "--crash-after", "1") as repl:
        repl.command("def f : Nat := by sorry")
        with pytest.raises(ReplCrashed):
            repl.tactic("apply Int.natAbs", 0)
        assert not repl.alive
        with pytest.raises(ReplCrashed):
            repl.tactic("apply Int.natAbs", 0)


def test_a_hang_raises_repl_timeout_and_kills_the_process():
    with repl_for("proof_step", "--hang-after", "1") as repl:
        repl.command("def f : Nat := by sorry")
        with pytest.raises(ReplTimeout):
            repl.tactic("apply Int.natAbs", 0, timeout=0.3)
        assert not repl.alive


def test_garbage_output_raises_repl_crashed():
    with repl_for("proof_step", "--garbage-after", "1") as repl:
        repl.command("def f : Nat := by sorry")
        with pytest.raises(ReplCrashed, match="not a JSON object"):
            repl.tactic("apply Int.natAbs", 0)
        assert not repl.alive


# -- startup and the double's format ---------------------------------------------------------------
def test_a_repl_that_cannot_start_is_backend_unavailable(tmp_path):
    with pytest.raises(BackendUnavailable, match="cannot start the Lean REPL"):
        LeanRepl(command=[str(tmp_path / "no-such-repl")])


def test_the_double_reads_the_recorded_format():
    objects = read_objects((TRANSCRIPTS / "proof_step.expected.out").read_text(encoding="utf-8"))
    assert len(objects) == 4 and objects[0][1].startswith('{"sorries":\n')


def test_chatter_before_the_first_reply_is_skipped():
    # A wrapper that prints before the REPL starts (as `lake exe repl` may while it builds), and a stray
    # line right before the first object: both are passed over; the reply is still read.
    script = f'printf "lake: building repl\\n\\nprogress line\\n"; exec "{sys.executable}" "{DOUBLE}" "{stem("proof_step")}"'
    with LeanRepl(command=["sh", "-c", script], timeout=20) as repl:
        assert repl.command("def f : Nat := by sorry").sorries[0].goal == "⊢ Nat"
        assert repl.tactic("apply Int.natAbs", 0).goals == ("⊢ Int",)
