"""`prover prove FILE.lean`: the sorry holes of a user's Lean 4 files (lean_env.holes, lean_env.user_files).

Hole finding and splicing run on tests/data/lean-holes/project (a Lake project written for these tests:
Demo/Defs.lean, Demo/Holes.lean). No Lean runs here: a hole's search is replayed on the REPL's own recorded
Mathlib transcript through tests/lean_repl_double.py (a TEST DOUBLE); the check in context and the whole-file
check before a write get replies in the REPL's recorded shapes, from a synthesised transcript replayed by the
same double or from ReplyTestDouble; the CLI runs for real with no Lean on PATH.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lean_transcripts import double, write_transcript

from lean_env.holes import code_view, fill_hole, fill_proofs, find_holes, open_lemmas_as_axioms
from lean_env.messages import CommandReply
from lean_env.user_files import (NO_LEAN, LeanMissing, check_in_context, lake_root, missing_build, open_user_files,
                                 write_patch, write_proofs)
from prover.batch import latest_rows, read_rows
from prover.plugins import UserFilesError
from prover.types import BackendUnavailable, Proved

PROJECT = Path(__file__).parent / "data" / "lean-holes" / "project"
HOLES = (PROJECT / "Demo" / "Holes.lean").read_text(encoding="utf-8")
PROVER = [sys.executable, "-m", "prover.cli"]


def holes_by_label(text: str) -> dict:
    return {hole.label: hole for hole in find_holes(text)}


@pytest.fixture
def unbuilt(tmp_path):
    """A copy of the test project, to write into, with nothing built."""
    shutil.copytree(PROJECT, tmp_path / "project")
    return tmp_path / "project"


@pytest.fixture
def project(unbuilt):
    """A copy of the test project with Demo.Defs built (an empty stand-in for its .olean: nothing reads it here)."""
    built = unbuilt / ".lake" / "build" / "lib" / "lean" / "Demo" / "Defs.olean"
    built.parent.mkdir(parents=True)
    built.write_bytes(b"")
    return unbuilt


# -- finding holes ---------------------------------------------------------------------------------------------
def test_each_declaration_with_a_sorry_is_one_hole_with_its_lines():
    found = [(h.label, h.kind, h.line, h.sorry_lines, h.statement_line) for h in find_holes(HOLES)]
    assert found == [
        ("Demo.double_zero", "theorem", 19, (19,), 18),
        ("Demo.double_add", "lemma", 28, (28,), 27),
        ("Demo.double_even", "theorem", 36, (36, 38), 34),  # a tactic block with two sorries: one hole
        ("Demo.example#2", "example", 47, (47,), 45),  # the file's second example (the first has no sorry)
        ("Nat.le_double", "theorem", 54, (54,), 51),  # `_root_.` leaves the namespace
        ("Demo.double_pos", "theorem", 61, (61,), 59),  # equations, no `:=`
    ]


def test_sorry_in_comments_strings_and_names_is_no_hole():
    text = ('/- outer /- nested sorry -/ still a comment: theorem a : False := sorry -/\n'
            'theorem b : "sorry".length = 5 := by decide -- sorry\n'
            "theorem c : 'x' ≠ 'y' := by decide\n"
            'theorem «sorry ok» : True := trivial\n'
            'theorem d : sorry_free = 1 := rfl\n'
            '/-- doc: `sorry` -/\n'
            'theorem e : True := by\n'
            '  /- sorry -/ trivial\n')
    assert find_holes(text) == []
    assert "sorry" not in code_view(text).replace("sorry_free", "")


def test_namespaces_sections_and_root_names_qualify_the_labels():
    text = ("namespace A.B\nsection S\ntheorem x : True := sorry\nend S\nnamespace C\nlemma y : True := sorry\n"
            "end C\ntheorem _root_.z : True := sorry\nexample : True := sorry\nend A.B\ntheorem w : True := sorry\n")
    assert [h.label for h in find_holes(text)] == ["A.B.x", "A.B.C.y", "z", "A.B.example#1", "w"]


def test_doc_comments_attributes_and_modifiers_belong_to_the_declaration():
    hole = holes_by_label(HOLES)["Nat.le_double"]
    assert hole.statement == ("/-- Doubling never makes a number smaller. -/\n"
                              "protected theorem _root_.Nat.le_double (n : ℕ) : n ≤ double n")
    assert hole.context.endswith("end Parity\n\n")
    simp = holes_by_label(HOLES)["Demo.double_add"]
    assert simp.statement == "@[simp] lemma double_add (a b : ℕ) :\n    double (a + b) = double a + double b"
    split = holes_by_label("@[simp]\nprivate theorem p : True := by\n  sorry\n")["p"]
    assert split.statement == "@[simp]\nprivate theorem p : True" and split.context == ""


def test_the_span_is_the_proof_from_its_first_token_to_its_last():
    by_label = holes_by_label(HOLES)
    assert by_label["Demo.double_add"].replaced == ":= sorry"
    assert by_label["Demo.double_even"].replaced == (":= by\n  constructor\n  · sorry  -- first step\n"
                                                     "  · /- a block comment: sorry -/\n    sorry")
    assert by_label["Demo.double_pos"].replaced == "\n  | 0, h => absurd h (lt_irrefl 0)\n  | n + 1, _ => sorry"
    for hole in by_label.values():
        assert HOLES[hole.start:hole.end] == hole.replaced


def test_a_proof_ends_where_the_next_command_starts_even_when_indented():
    text = ("namespace N\n  theorem a (h : 1 = 1) : True := by\n    have : 1 = 1 := by\n      sorry\n    trivial\n"
            "  -- a comment after the proof\n  theorem b : True := trivial\nend N\n")
    (hole,) = find_holes(text)
    assert hole.label == "N.a" and hole.replaced.endswith("    trivial") and hole.sorry_lines == (4,)


def test_earlier_open_lemmas_are_listed_but_examples_are_not():
    by_label = holes_by_label(HOLES)
    assert by_label["Demo.double_pos"].open_before == ("Demo.double_zero", "Demo.double_add", "Demo.double_even",
                                                       "Nat.le_double")
    assert by_label["Demo.double_zero"].open_before == ()


# -- splicing --------------------------------------------------------------------------------------------------
def test_filling_keeps_every_other_byte():
    proofs = {"Demo.double_add": ["unfold double", "ring"], "Demo.double_pos": ["intro n h", "unfold double", "omega"]}
    filled, spans = fill_proofs(HOLES, proofs)
    add, pos = holes_by_label(HOLES)["Demo.double_add"], holes_by_label(HOLES)["Demo.double_pos"]
    assert filled == (HOLES[:add.start] + ":= by\n  unfold double\n  ring" + HOLES[add.end:pos.start]
                      + " := by\n  intro n h\n  unfold double\n  omega" + HOLES[pos.end:])
    assert filled[spans["Demo.double_add"][0]:].startswith("@[simp] lemma double_add")
    assert filled[:spans["Demo.double_pos"][1]].endswith("  omega")


def test_a_proof_is_indented_under_its_declaration_and_crlf_files_stay_crlf():
    text = "namespace N\r\n  theorem a : True ∧ True := by\r\n    sorry\r\nend N\r\n"
    filled, _ = fill_proofs(text, {"N.a": ["constructor", "· trivial\n· trivial"]})
    assert filled == ("namespace N\r\n  theorem a : True ∧ True := by\r\n    constructor\r\n    · trivial\r\n"
                      "    · trivial\r\nend N\r\n")


def test_filling_refuses_a_file_that_changed_or_a_hole_that_is_gone():
    hole = holes_by_label(HOLES)["Demo.double_zero"]
    with pytest.raises(ValueError, match="changed since"):
        fill_hole(HOLES.replace(":= by\n  sorry", ":= by\n  skip\n  sorry", 1), hole, ":= by rfl")
    with pytest.raises(ValueError, match="no hole Demo.triple_zero"):
        fill_proofs(HOLES, {"Demo.triple_zero": ["rfl"]})


def test_open_lemmas_become_axioms_and_every_line_keeps_its_number():
    context = holes_by_label(HOLES)["Demo.double_pos"].context
    axioms = open_lemmas_as_axioms(context)
    assert axioms.count("\n") == context.count("\n")
    assert "axiom double_zero : double 0 = 0\n" in axioms
    assert "@[simp] axiom double_add (a b : ℕ) :\n    double (a + b) = double a + double b\n" in axioms
    assert "protected axiom _root_.Nat.le_double (n : ℕ) : n ≤ double n\n" in axioms
    assert "example (h : m = 1) : double m = 2 := by\n  subst h\n  sorry" in axioms  # nothing can use it
    assert "theorem double_succ" in axioms  # finished proofs stay
    assert axioms.splitlines()[17] == "axiom double_zero : double 0 = 0"  # line 18, as in the file


# -- the project and each hole's theorem -------------------------------------------------------------------------
def test_the_lake_root_is_found_by_walking_up_and_names_are_relative_to_it(project):
    assert lake_root(project / "Demo" / "Holes.lean") == project
    (project / "lakefile.toml").unlink()  # lean-toolchain alone marks it too
    assert lake_root(project / "Demo") == project
    files = open_user_files([project / "Demo"], repl_command=["unused"])
    assert files.root == project
    assert [h.theorem.name for h in files.holes][:2] == ["Demo/Holes.lean:Demo.double_zero", "Demo/Holes.lean:Demo.double_add"]


def test_a_holes_theorem_is_the_file_text_before_its_declaration(project):
    files = open_user_files([project / "Demo" / "Holes.lean"], repl_command=["unused"])
    hole = next(h for h in files.holes if h.label == "Demo.double_even")
    assert (hole.relative, hole.line, hole.unsupported) == ("Demo/Holes.lean", 36, None)
    assert hole.theorem.header == HOLES[:HOLES.index("theorem double_even")]
    assert hole.theorem.statement == "theorem double_even (n : ℕ) : Even (double n)" and hole.theorem.backend == "lean"


def test_a_project_module_not_built_is_one_line_saying_lake_build(unbuilt):
    line = f"Demo/Defs.olean is missing (Demo.Defs is imported but not built): run `lake build` in {unbuilt}"
    with pytest.raises(UserFilesError) as refused:
        open_user_files([unbuilt / "Demo" / "Holes.lean"], repl_command=["unused"])
    assert str(refused.value) == line


def test_a_built_project_module_passes_and_other_libraries_are_left_to_lean(project):
    assert missing_build(HOLES, project) is None  # Mathlib.Tactic is not the project's


@pytest.mark.parametrize("given, message", [
    ("Demo/Nothing.lean", "no such file or folder"),
    ("lakefile.toml", "is not a Lean file (.lean)"),
    ("Demo/Defs.lean", "no holes (theorems, lemmas or examples with `sorry`) in"),
])
def test_paths_that_cannot_be_proved_are_one_line(project, given, message):
    with pytest.raises(UserFilesError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_user_files([project / given], repl_command=["unused"])


def test_rocq_load_paths_are_refused(project):
    with pytest.raises(UserFilesError, match="Lake root"):
        open_user_files([project / "Demo"], [("-R", "theories", "Foo")])


# -- searching and checking, on recorded REPL replies ------------------------------------------------------------
EXACT = "import Mathlib\n\ntheorem test : 0 < 1 := by sorry\n"


def test_a_hole_is_opened_and_proved_on_the_recorded_mathlib_transcript(tmp_path):
    (tmp_path / "Exact.lean").write_text(EXACT)
    files = open_user_files([tmp_path / "Exact.lean"], repl_command=double("Mathlib/exact"))
    (hole,) = files.holes
    with files.make_backend() as backend:  # the REPL's own replies to `import Mathlib`, the statement, `exact?`
        root = backend.open(hole.theorem)
        assert root.goals == "⊢ 0 < 1"
        assert backend.run_tactic(root, "exact?", 5) == Proved(("exact?",))


def test_the_check_sends_the_context_the_declaration_and_print_axioms_to_a_fresh_repl(tmp_path):
    (tmp_path / "Exact.lean").write_text(EXACT)
    sent = "import Mathlib\n\ntheorem test : 0 < 1 := by\n  exact Nat.one_pos\n\n#print axioms test\n"
    # synthesised in the recorded format: the reply Lean gives `#print axioms` (an info message at its line)
    transcript = write_transcript(tmp_path, "check", [({"cmd": sent}, {"messages": [
        {"severity": "info", "pos": {"line": 6, "column": 0}, "endPos": {"line": 6, "column": 6},
         "data": "'test' depends on axioms: [propext]"}], "env": 0})])
    files = open_user_files([tmp_path / "Exact.lean"], repl_command=double(transcript))
    verdict = files.check(files.holes[0], ["exact Nat.one_pos"])
    assert verdict.accepted and verdict.axioms == ("propext",) and files.depends_on(verdict) == ()


class ReplyTestDouble:
    """TEST DOUBLE for a fresh REPL's run_command: keeps each code sent, answers with a CommandReply in the REPL's
    recorded JSON shapes; `messages(code)` gives its messages."""

    def __init__(self, messages):
        self.messages, self.codes = messages, []

    def __call__(self, code):
        self.codes.append(code)
        return CommandReply.from_json({"env": 0, "messages": self.messages(code)})


def message(severity, line, data):
    return {"severity": severity, "pos": {"line": line, "column": 0}, "endPos": {"line": line, "column": 4}, "data": data}


def axioms_at_end(code, name, axioms):
    line = code.rstrip("\n").count("\n") + 1
    return message("info", line, f"'{name}' depends on axioms: [{', '.join(axioms)}]")


def test_a_proof_resting_on_an_earlier_open_lemma_is_accepted_as_depending_on_it():
    hole = holes_by_label(HOLES)["Demo.double_pos"]
    repl = ReplyTestDouble(lambda code: [message("warning", 46, "declaration uses `sorry`"),  # the open example
                                         axioms_at_end(code, "Demo.double_pos", ["propext", "Demo.double_add"])])
    verdict = check_in_context(hole, ["intro n h", "rw [double_add]", "omega"], repl)
    assert verdict.accepted and verdict.reason == "depends on open lemma Demo.double_add"
    assert verdict.axioms == ("Demo.double_add", "propext")
    code = repl.codes[0]
    assert code.endswith("theorem double_pos : ∀ n : ℕ, 0 < n → 0 < double n := by\n  intro n h\n"
                         "  rw [double_add]\n  omega\n\n#print axioms double_pos\n")
    assert code.splitlines()[58] == "theorem double_pos : ∀ n : ℕ, 0 < n → 0 < double n := by"  # its own line 59
    assert "axiom double_add" in code and "axiom double_even" in code


def test_an_example_is_checked_under_a_name():
    hole = holes_by_label(HOLES)["Demo.example#2"]
    repl = ReplyTestDouble(lambda code: [axioms_at_end(code, "Demo.llemma_prover_checked_example", [])])
    assert check_in_context(hole, ["subst h", "rfl"], repl).accepted
    assert "theorem llemma_prover_checked_example (h : m = 1) : double m = 2 := by\n  subst h\n  rfl\n" in repl.codes[0]


@pytest.mark.parametrize("reply, reason", [
    (lambda code: [message("error", 3, "unknown identifier 'foo'"), axioms_at_end(code, "Demo.double_zero", [])],
     "the file does not compile up to Demo.double_zero: line 3: unknown identifier 'foo'"),
    (lambda code: [message("error", 19, "unsolved goals\n⊢ False"), axioms_at_end(code, "Demo.double_zero", [])],
     "Lean reports an error (line 19): unsolved goals ⊢ False"),
    (lambda code: [message("warning", 18, "declaration uses 'sorry'"), axioms_at_end(code, "Demo.double_zero", [])],
     "Lean warns that a declaration uses sorry"),
    (lambda code: [axioms_at_end(code, "Demo.double_zero", ["sorryAx"])], "the proof relies on sorryAx"),
    (lambda code: [axioms_at_end(code, "Demo.double_zero", ["Demo.magic"])], "the proof relies on Demo.magic"),
])
def test_errors_sorries_and_foreign_axioms_are_refused(reply, reason):
    verdict = check_in_context(holes_by_label(HOLES)["Demo.double_zero"], ["rfl"], ReplyTestDouble(reply))
    assert not verdict.accepted and verdict.reason.startswith(reason)


def test_sorry_warnings_about_the_context_do_not_count():
    repl = ReplyTestDouble(lambda code: [message("warning", 19, "declaration uses `sorry`"),
                                         axioms_at_end(code, "Demo.double_add", ["propext"])])
    assert check_in_context(holes_by_label(HOLES)["Demo.double_add"], ["unfold double", "ring"], repl).accepted


@pytest.mark.parametrize("tactic", ["sorry", "native_decide", "run_tac pure ()"])
def test_tactics_refused_statically_never_reach_lean(tactic):
    repl = ReplyTestDouble(lambda code: [])
    assert not check_in_context(holes_by_label(HOLES)["Demo.double_zero"], [tactic], repl).accepted
    assert repl.codes == []


# -- writing back ----------------------------------------------------------------------------------------------
def test_write_replaces_the_file_once_lean_accepts_the_whole_file(tmp_path):
    path = tmp_path / "Exact.lean"
    path.write_text(EXACT)
    path.chmod(0o640)
    filled = "import Mathlib\n\ntheorem test : 0 < 1 := by\n  exact Nat.one_pos\n"
    transcript = write_transcript(tmp_path, "whole", [({"cmd": filled}, {"env": 0})])  # synthesised: no messages
    files = open_user_files([path], repl_command=double(transcript))
    outcome = files.write_back(path, {"test": ["exact Nat.one_pos"]}, True, tmp_path / "run")
    assert outcome.written and path.read_text() == filled and oct(path.stat().st_mode & 0o777) == "0o640"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_a_filled_file_lean_refuses_is_left_untouched(tmp_path):
    path = tmp_path / "Holes.lean"
    path.write_text(HOLES)
    repl = ReplyTestDouble(lambda code: [message("error", 19, "The rfl tactic failed")])
    outcome = write_proofs(path, {"Demo.double_zero": ["rfl"]}, repl)
    assert not outcome.written and outcome.reason == "does not compile: line 19: The rfl tactic failed"
    assert path.read_text() == HOLES
    sorry_left = ReplyTestDouble(lambda code: [message("warning", 18, "declaration uses `sorry`"),
                                               message("warning", 27, "declaration uses `sorry`")])
    outcome = write_proofs(path, {"Demo.double_add": ["unfold double", "ring"]}, sorry_left)
    assert "the proof written for Demo.double_add uses sorry" in outcome.reason and path.read_text() == HOLES


def test_without_write_the_proofs_are_a_patch_git_applies(project, tmp_path):
    path = project / "Demo" / "Holes.lean"
    patch = write_patch(tmp_path / "run", path, {"Demo.double_zero": ["rfl"]}, project)
    assert patch == tmp_path / "run" / "patches" / "Demo__Holes.lean.diff"
    assert patch.read_text().startswith("--- a/Demo/Holes.lean\n+++ b/Demo/Holes.lean\n")
    assert path.read_text() == HOLES
    done = subprocess.run(["git", "apply", str(patch)], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert path.read_text() == HOLES.replace("double 0 = 0 := by\n  sorry", "double 0 = 0 := by\n  rfl")


def test_without_lean_write_gives_a_patch_and_says_so(project, tmp_path, monkeypatch):
    no_lean(monkeypatch, tmp_path)
    files = open_user_files([project / "Demo" / "Holes.lean"])
    outcome = files.write_back(project / "Demo" / "Holes.lean", {"Demo.double_zero": ["rfl"]}, True, tmp_path / "run")
    assert not outcome.written and outcome.patch is not None and outcome.reason.startswith(NO_LEAN)
    assert "the proofs are in a patch instead" in outcome.reason


def test_a_read_only_file_or_a_held_lock_is_one_line_and_the_file_untouched(tmp_path):
    import fcntl

    path = tmp_path / "Holes.lean"
    path.write_text(HOLES)
    repl = ReplyTestDouble(lambda code: [])
    files = open_user_files([path], repl_command=["unused"])
    path.chmod(0o444)
    outcome = files.write_back(path, {"Demo.double_zero": ["rfl"]}, True, tmp_path / "run")
    assert not outcome.written and outcome.reason == f"{path} is read-only: nothing was written"
    path.chmod(0o644)
    with open(path) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(Exception, match="another writer has held it"):
            write_proofs(path, {"Demo.double_zero": ["rfl"]}, repl, lock_wait=0.2)
    assert path.read_text() == HOLES and repl.codes == []


# -- without Lean ----------------------------------------------------------------------------------------------
def no_lean(monkeypatch, tmp_path):
    """An environment with no lake anywhere and no set-up project."""
    (tmp_path / "bin").mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LLEMMA_PROVER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ELAN_HOME", raising=False)
    monkeypatch.delenv("LLEMMA_PROVER_LEAN_PROJECT", raising=False)


def test_without_lean_every_hole_is_found_and_marked_not_provable_here(project, tmp_path, monkeypatch):
    no_lean(monkeypatch, tmp_path)
    files = open_user_files([project / "Demo" / "Holes.lean"])
    assert len(files.holes) == 6 and {h.unsupported for h in files.holes} == {NO_LEAN}
    backend = files.make_backend()
    assert isinstance(backend, LeanMissing)
    with pytest.raises(BackendUnavailable, match="Lean is not installed"):
        backend.open(files.holes[0].theorem)
    assert files.check(files.holes[0], ["rfl"]).reason == NO_LEAN


def stand_in_lake(monkeypatch, tmp_path, record=None):
    """No Lean, but an executable named `lake` on PATH (a stand-in, never run) and what setup recorded, if given."""
    no_lean(monkeypatch, tmp_path)
    lake = tmp_path / "bin" / "lake"
    lake.write_text("#!/bin/sh\nexit 1\n")
    lake.chmod(0o755)
    if record is not None:
        (tmp_path / "cache" / "lean").mkdir(parents=True)
        (tmp_path / "cache" / "lean" / "project.json").write_text(json.dumps(record))
    return str(lake)


def test_a_project_without_a_repl_borrows_the_one_setup_built_for_its_lean(project, tmp_path, monkeypatch):
    repl = tmp_path / "repl"
    repl.write_text("")
    repl.chmod(0o755)
    lake = stand_in_lake(monkeypatch, tmp_path, {"project": str(tmp_path / "mathlib"), "repl": str(repl),
                                                 "toolchain": "v4.24.0"})
    files = open_user_files([project / "Demo" / "Holes.lean"])
    assert files.unavailable is None and files.repl_command == [lake, "env", str(repl)] and files.project == project
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.9.0\n")
    files = open_user_files([project / "Demo" / "Holes.lean"])
    assert files.holes[0].unsupported.startswith("not provable here: the REPL `prover setup lean` built is for Lean "
                                                 "v4.24.0, but")


def test_a_project_with_no_repl_at_all_says_how_to_get_one(project, tmp_path, monkeypatch):
    stand_in_lake(monkeypatch, tmp_path)
    files = open_user_files([project / "Demo" / "Holes.lean"])
    assert files.holes[0].unsupported == (f"not provable here: {project} has no Lean REPL to run: `prover setup lean` "
                                          f"builds one (or add `require repl` to the lakefile and run `lake build repl`)")


def test_the_cli_without_lean_gives_each_hole_a_row_saying_why(project, tmp_path):
    (tmp_path / "bin").mkdir()
    env = {**os.environ, "PATH": str(tmp_path / "bin"), "HOME": str(tmp_path), "LLEMMA_PROVER_CACHE": str(tmp_path / "c")}
    env.pop("ELAN_HOME", None)
    env.pop("LLEMMA_PROVER_LEAN_PROJECT", None)
    done = subprocess.run([*PROVER, "prove", "Demo/Holes.lean", "--backend", "lean", "--model", "none", "--no-progress",
                           "--out", str(tmp_path / "run")], cwd=project, env=env, capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    rows = latest_rows(read_rows(tmp_path / "run" / "results.jsonl"))
    assert [(r["name"], r["line"], r["status"], r["reason"]) for r in rows][:2] == [
        ("Demo/Holes.lean:Demo.double_zero", 19, "unsupported", NO_LEAN),
        ("Demo/Holes.lean:Demo.double_add", 28, "unsupported", NO_LEAN)]
    assert len(rows) == 6 and "6 holes in 1 files" in done.stdout and "unsupported 6" in done.stdout
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1] == f"error: 6 holes found, none provable here: {NO_LEAN}"


def test_the_cli_refuses_a_file_that_is_not_lean_in_one_line(project, tmp_path):
    done = subprocess.run([*PROVER, "prove", "lakefile.toml", "--backend", "lean", "--model", "none", "--no-progress",
                           "--out", str(tmp_path / "run")], cwd=project, capture_output=True, text=True, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and lines == ["error: lakefile.toml is not a Lean file (.lean)"], done.stderr


def test_a_doc_comments_marker_does_not_close_it():
    # `/--/` opens a doc comment as Lean's scanner reads it: its body starts after the marker, so it ends at `-/`.
    text = "/--/ still a comment -/ theorem t : True := by sorry"
    assert code_view(text) == " " * len("/--/ still a comment -/") + " theorem t : True := by sorry"
