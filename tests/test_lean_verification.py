"""Sound checking of Lean 4 proof files: every way of cheating is refused with its own reason, honest proofs
pass the static checks, and the live check (whole file + `#print axioms` in a fresh REPL) reads Lean's
replies correctly. The live path runs here against a TEST DOUBLE of the REPL's `run_command` that answers
with CommandReply objects in the REPL's real message shapes; one test runs real Lean where it is set up.
"""
import json
import shutil
from pathlib import Path

import pytest

from lean_env.backend import LeanBackend
from lean_env.messages import CommandReply, ReplCrashed, ReplTimeout
from lean_env.minif2f import load_deepseek_few_shot, load_split
from lean_env.verify import (
    NOT_CHECKED_LIVE,
    check_proof_text,
    code_view,
    static_problem,
    tactic_problem,
)
from prover.types import BackendUnavailable, Theorem

VALID = {t.name: t for t in load_split("valid")}
T = VALID["mathd_algebra_10"]  # theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10
TRANSCRIPTS = Path("/work/shared/data/lean-repl-transcripts")


def bench(proof, *, before="", after="", statement=None, header=None, theorem=T):
    """A proof file for a benchmark theorem, with things slipped in where a cheat would put them."""
    return (f"{theorem.header if header is None else header}\n\n{before}\n{statement or theorem.statement} := by\n"
            f"  {proof}\n{after}\n")


def assert_refused(verdict_or_reason, *words):
    reason = verdict_or_reason if isinstance(verdict_or_reason, str) else verdict_or_reason.reason
    if not isinstance(verdict_or_reason, str):
        assert verdict_or_reason.accepted is False
    assert reason and "\n" not in reason, f"a refusal is one non-empty line: {reason!r}"
    assert any(w in reason for w in words), f"reason does not name {words}: {reason!r}"


# -- the refusal table: (cheat, file, expected theorem or None for a free-standing file, words the reason names)
CHEATS = [
    ("sorry", bench("sorry"), T, "`sorry`"),
    ("admit", bench("admit"), T, "`admit`"),
    ("sorryAx by hand", bench("exact sorryAx _ false"), T, "sorryAx"),
    ("stop (= repeat sorry)", bench("norm_num\n  stop\n  simp"), T, "`stop`"),
    ("native_decide", bench("native_decide"), T, "native_decide"),
    ("decide +native", bench("decide +native"), T, "native"),
    ("decide with native := true", bench("decide (config := { native := true })"), T, "native"),
    ("Lean.ofReduceBool by hand", bench("exact Lean.ofReduceBool _ _ rfl"), T, "ofReduceBool"),
    ("bv_decide", bench("bv_decide"), T, "bv_decide"),
    ("axiom before the theorem", bench("exact cheat", before="axiom cheat : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10"),
     T, "axiom"),
    ("private axiom, free-standing", "private axiom boom : False\ntheorem t : 1 = 2 := boom.elim\n", None, "axiom"),
    ("opaque constant", bench("norm_num", before="opaque magic : ℕ"), T, "opaque"),
    ("kernel check switched off", bench("set_option debug.skipKernelTC true in\n  norm_num"), T, "switches off"),
    ("kernel check off for the theorem", bench("norm_num", before="set_option debug.skipKernelTC true in"), T,
     "switches off"),
    ("an option outside the allowed list", bench("set_option compiler.extract_closed false in\n  norm_num"), T,
     "not allowed"),
    ("implemented_by", "def f (n : ℕ) : ℕ := n\n@[implemented_by f] def g (n : ℕ) : ℕ := n + 1\n"
                       "theorem t : g 1 = 2 := by decide\n", None, "implemented_by"),
    ("attribute [implemented_by]", "def f (n : ℕ) : ℕ := n\ndef g (n : ℕ) : ℕ := n + 1\nattribute [implemented_by f] g\n"
                                   "theorem t : g 1 = 2 := rfl\n", None, "implemented_by"),
    ("extern", "@[extern] def fastAdd (a b : ℕ) : ℕ := a + b\ntheorem t : fastAdd 1 1 = 2 := rfl\n", None, "extern"),
    ("unsafe", "unsafe def lie : False := lie\ntheorem t : False := by exact False.elim (by trivial)\n", None, "unsafe"),
    ("macro_rules rewiring a tactic", bench("rfl", before="macro_rules | `(tactic| rfl) => `(tactic| trivial)"), T,
     "macro_rules"),
    ("notation changing the statement's meaning", bench("norm_num", before='local notation "ℝ" => ℕ'), T, "notation"),
    ("elab_rules", bench("rfl", before="elab_rules : tactic | `(tactic| rfl) => pure ()"), T, "elab_rules"),
    ("a new syntax category", bench("norm_num", before="declare_syntax_cat cheat"), T, "declare_syntax_cat"),
    ("run_tac", bench("run_tac Lean.Elab.Tactic.evalTactic (← `(tactic| norm_num))"), T, "run_tac"),
    ("run_cmd", bench("norm_num", before="run_cmd Lean.Elab.Command.liftTermElabM (pure ())"), T, "run_cmd"),
    ("#eval", bench("norm_num", before="#eval (1 : ℕ)"), T, "#eval"),
    ("by_elab", bench("exact by_elab pure (Lean.mkConst ``trivial)"), T, "by_elab"),
    ("initialize", "initialize pure ()\ntheorem t : True := trivial\n", None, "initialize"),
    ("an elaborator registered by attribute", "@[tactic decide] def evalDecide : Tactic := fun _ => pure ()\n"
                                             "theorem t : True := by decide\n", None, "`tactic`"),
    ("meta-programming by name", "open Lean Elab Tactic in\ntheorem t : True := by trivial\n", None, "meta-programming"),
    ("#exit before the axioms report", bench("norm_num", after="#exit"), T, "#exit"),
    ("#guard_msgs swallowing the sorry warning", bench("norm_num", before="#guard_msgs in"), T, "#guard_msgs"),
    ("statement weakened", bench("trivial", statement="theorem mathd_algebra_10 : True"), T, "statement"),
    ("theorem renamed", bench("norm_num", statement=T.statement.replace("mathd_algebra_10", "mathd_algebra_10'")), T,
     "mathd_algebra_10'"),
    ("a helper lemma proving the goal", bench("exact helper", before="theorem helper : 1 = 1 := rfl"), T,
     "declares `helper`"),
    ("a second theorem after the proof", bench("norm_num", after="theorem also : 2 = 2 := rfl"), T, "`theorem` after"),
    ("an instance after the proof", bench("norm_num", after="instance : Inhabited ℕ := ⟨0⟩"), T, "`instance` after"),
    ("an attribute after the proof", bench("norm_num", after="attribute [simp] mathd_algebra_10"), T, "after the statement"),
    ("open ... in before the statement", bench("norm_num", before="open Nat in"), T, "`open`"),
    ("header changed: an extra import", bench("norm_num", before="import Mathlib.Tactic"), T, "`import`"),
    ("header changed: an `open` dropped", bench("norm_num", header=T.header.replace("open BigOperators Real Nat Topology Rat", "")),
     T, "header"),
    ("a string hiding code from a naive comment stripper", bench('have : "/-" = "/-" := rfl\n  sorry -- "-/"'), T,
     "string literal"),
    ("a string literal", bench('have : "--" = "--" := rfl\n  norm_num'), T, "string literal"),
    ("a character literal", bench("have : '\"' = '\"' := rfl\n  norm_num"), T, "character literal"),
    ("dashes inside «» are not a comment", bench("exact «--» sorry"), T, "`sorry`"),
    ("an unterminated comment swallowing the axioms report", bench("norm_num\n/- the rest is a comment"), T,
     "unterminated comment"),
    ("no theorem at all", "def x : ℕ := 1\n", None, "no theorem"),
]


@pytest.mark.parametrize("cheat,text,expected,word", CHEATS, ids=[c[0] for c in CHEATS])
def test_each_cheat_is_refused_statically_with_its_own_reason(cheat, text, expected, word):
    assert_refused(static_problem(text, expected), word)
    calls = []
    verdict = check_proof_text(text, expected, run_command=lambda code: calls.append(code))
    assert_refused(verdict, word)
    assert calls == [], "a statically refused file never reaches Lean"


def test_the_table_has_at_least_fifteen_distinct_cheats():
    assert len({c[0] for c in CHEATS}) >= 15


# -- honest proofs pass the static checks -------------------------------------------------------------
def test_the_67_deepseek_few_shot_proofs_are_statically_clean():
    shots = load_deepseek_few_shot()
    assert len(shots) == 67
    for theorem, proof in shots:  # real proofs, with /- informal comments -/ and primes in names
        text = f"{theorem.header}\n\n{theorem.statement} := by\n{proof}\n"
        assert static_problem(text, theorem) is None, theorem.name


def test_a_proof_rendered_by_the_lean_backend_is_statically_clean(tmp_path):
    with LeanBackend(tmp_path, repl_command=["false"]) as backend:  # rendering a proof starts no REPL
        text = backend.render_proof(T, ("norm_num [abs_of_nonneg]", "simp"))
    assert "norm_num [abs_of_nonneg]" in text and static_problem(text, T) is None


HONEST = [
    ("comments that mention sorry and axiom", bench("-- no sorry, no axiom here\n  /- we do not admit /- nested -/ anything -/\n  norm_num")),
    ("a nested comment whose inner close would fool a naive stripper", bench("/- outer /- inner -/ sorry -/ norm_num")),
    ("resource options and open ... in", bench("set_option maxHeartbeats 400000 in\n  open Real in\n  norm_num")),
    ("decide and simp's decide := true (kernel checked)", bench("simp (config := { decide := true })\n  decide")),
    ("primes and image notation", bench("have h' : (1 : ℝ) = 1 := rfl\n  norm_num [h']")),
    ("a term-mode proof", f"{T.header}\n\n{T.statement} :=\n  by norm_num\n"),
]


@pytest.mark.parametrize("name,text", HONEST, ids=[h[0] for h in HONEST])
def test_honest_proofs_are_statically_clean(name, text):
    assert static_problem(text, T) is None


def test_image_notation_in_a_statement_is_not_read_as_a_character_literal():
    t = VALID["amc12a_2003_p25"]  # f '' { x | 0 ≤ f x }
    assert static_problem(bench("nlinarith [sq_nonneg (a + 4)]", theorem=t), t) is None


def test_native_decide_can_be_allowed_explicitly():
    text = bench("native_decide")
    assert static_problem(text, T, allow_native_decide=True) is None


def test_a_free_standing_file_names_its_theorems_with_their_namespace():
    text = "namespace Foo\ntheorem bar : 1 = 1 := rfl\nend Foo\ntheorem baz : 2 = 2 := rfl\n"
    double = RunCommandTestDouble(lambda code: [axioms_message(code, "Foo.bar", []), axioms_message(code, "baz", [])])
    verdict = check_proof_text(text, run_command=double)
    assert verdict.accepted, verdict.reason
    assert double.codes[0].rstrip().endswith("#print axioms Foo.bar\n#print axioms baz")


def test_the_code_view_blanks_comments_but_keeps_lines():
    code, problem = code_view("a -- x\n/- b\n/- c -/ d -/ e «--» f")
    assert problem is None
    assert code.split() == ["a", "e", "«--»", "f"] and code.count("\n") == 2


def test_single_tactics_are_screened_like_files():
    assert tactic_problem("norm_num [h₀]") is None
    assert_refused(tactic_problem("native_decide"), "native")
    assert_refused(tactic_problem("theorem x : 1 = 1 := rfl"), "command")


def test_without_a_repl_a_clean_file_is_not_accepted():
    verdict = check_proof_text(bench("norm_num"), T)
    assert verdict.accepted is False and verdict.reason == NOT_CHECKED_LIVE


# -- the live check, against a TEST DOUBLE of run_command -------------------------------------------------
class RunCommandTestDouble:
    """TEST DOUBLE for `run_command` (a fresh Lean REPL process per call): answers with a CommandReply built
    from the REPL's JSON shapes. `messages(code)` gives the reply's messages for the code it was sent."""

    def __init__(self, messages, sorries=()):
        self.messages, self.sorries, self.codes = messages, list(sorries), []

    def __call__(self, code):
        self.codes.append(code)
        return CommandReply.from_json({"env": 0, "messages": self.messages(code), "sorries": self.sorries})


def print_line(code, name):
    """1-based line of `#print axioms name` in `code`, as the REPL reports positions."""
    return next(i for i, line in enumerate(code.splitlines(), 1) if line == f"#print axioms {name}")


def axioms_message(code, name, axioms):
    """Lean's info message for `#print axioms name`, at that command's position."""
    line = print_line(code, name)
    data = (f"'{name}' depends on axioms: [{', '.join(axioms)}]" if axioms else f"'{name}' does not depend on any axioms")
    return {"severity": "info", "pos": {"line": line, "column": 0}, "endPos": {"line": line, "column": 6}, "data": data}


def sorry_warning(text):  # the REPL's shape (readme.expected.out), at the theorem's name
    return {"severity": "warning", "pos": {"line": 7, "column": 8}, "endPos": {"line": 7, "column": 24}, "data": text}


HONEST_FILE = bench("norm_num [abs_of_nonneg]")


def test_a_proof_on_the_standard_axioms_is_accepted_and_lists_them():
    double = RunCommandTestDouble(lambda code: [axioms_message(code, T.name, ["propext", "Classical.choice", "Quot.sound"])])
    verdict = check_proof_text(HONEST_FILE, T, run_command=double)
    assert verdict.accepted, verdict.reason
    assert verdict.axioms == ("Classical.choice", "Quot.sound", "propext")
    assert double.codes == [HONEST_FILE.rstrip() + f"\n\n#print axioms {T.name}\n"]


def test_a_proof_without_axioms_is_accepted():
    verdict = check_proof_text(HONEST_FILE, T, run_command=RunCommandTestDouble(lambda code: [axioms_message(code, T.name, [])]))
    assert verdict.accepted and verdict.axioms == ()


def test_an_error_anywhere_is_refused_with_leans_words():
    error = {"severity": "error", "pos": {"line": 7, "column": 78}, "endPos": {"line": 8, "column": 26},
             "data": "unsolved goals\n⊢ |120 / 100 * 30 - 130 / 100 * 20| = 10"}  # incomplete.expected.out's shape
    double = RunCommandTestDouble(lambda code: [error, axioms_message(code, T.name, ["propext"])])
    assert_refused(check_proof_text(HONEST_FILE, T, run_command=double), "unsolved goals")


@pytest.mark.parametrize("warning", ["declaration uses `sorry`", "declaration uses 'sorry'"])
def test_a_sorry_warning_in_either_quoting_is_refused(warning):
    double = RunCommandTestDouble(lambda code: [sorry_warning(warning), axioms_message(code, T.name, ["propext"])])
    assert_refused(check_proof_text(HONEST_FILE, T, run_command=double), "sorry")


def test_a_reported_sorry_is_refused_even_without_the_warning():
    double = RunCommandTestDouble(lambda code: [axioms_message(code, T.name, [])],
                                  sorries=[{"proofState": 0, "goal": "⊢ False", "pos": {"line": 8, "column": 2}}])
    assert_refused(check_proof_text(HONEST_FILE, T, run_command=double), "sorry")


def test_sorryax_among_the_axioms_is_refused():
    double = RunCommandTestDouble(lambda code: [axioms_message(code, T.name, ["propext", "sorryAx"])])
    verdict = check_proof_text(HONEST_FILE, T, run_command=double)
    assert_refused(verdict, "sorryAx")
    assert "sorryAx" in verdict.axioms


def test_an_axiom_beyond_the_standard_three_is_refused_and_named():
    double = RunCommandTestDouble(lambda code: [axioms_message(code, T.name, ["propext", "Mathlib.Cheat.magic"])])
    assert_refused(check_proof_text(HONEST_FILE, T, run_command=double), "Mathlib.Cheat.magic")


def test_native_axioms_are_refused_unless_native_decide_is_allowed():
    text = bench("native_decide")
    native = RunCommandTestDouble(lambda code: [axioms_message(code, T.name, ["Lean.ofReduceBool", "Lean.trustCompiler"])])
    assert_refused(check_proof_text(HONEST_FILE, T, run_command=native), "Lean.ofReduceBool")
    verdict = check_proof_text(text, T, run_command=native, allow_native_decide=True)
    assert verdict.accepted and verdict.axioms == ("Lean.ofReduceBool", "Lean.trustCompiler")


def test_an_axioms_report_printed_by_the_file_itself_does_not_count():
    spoof = {"severity": "info", "pos": {"line": 8, "column": 2}, "endPos": {"line": 8, "column": 9},
             "data": f"'{T.name}' does not depend on any axioms"}
    verdict = check_proof_text(HONEST_FILE, T, run_command=RunCommandTestDouble(lambda code: [spoof]))
    assert_refused(verdict, "did not report the axioms")


def test_each_declared_theorem_is_asked_about_and_one_bad_one_refuses_the_file():
    text = "theorem a : 1 = 1 := rfl\ntheorem b : 2 = 2 := rfl\n"
    double = RunCommandTestDouble(lambda code: [axioms_message(code, "a", []), axioms_message(code, "b", ["sorryAx"])])
    assert_refused(check_proof_text(text, run_command=double), "sorryAx")


@pytest.mark.parametrize("failure,word", [(ReplTimeout("no answer in 600.0s"), "did not finish"),
                                          (ReplCrashed("the Lean REPL closed its output"), "checker failed")])
def test_a_repl_that_times_out_or_dies_refuses(failure, word):
    def run_command(code):
        raise failure

    assert_refused(check_proof_text(HONEST_FILE, T, run_command=run_command), word)


def test_a_project_without_the_files_imports_is_cannot_check_not_a_refusal():
    missing = {"severity": "error", "pos": {"line": 1, "column": 0}, "endPos": {"line": 1, "column": 14},
               "data": "unknown module prefix 'Mathlib'\n\nNo directory 'Mathlib' or file 'Mathlib.olean' in the search path"}
    with pytest.raises(BackendUnavailable, match="cannot import"):
        check_proof_text(HONEST_FILE, T, run_command=RunCommandTestDouble(lambda code: [missing]))


def test_no_repl_at_all_is_cannot_check_not_a_refusal():
    def run_command(code):
        raise BackendUnavailable("lake not found on PATH")

    with pytest.raises(BackendUnavailable):
        check_proof_text(HONEST_FILE, T, run_command=run_command)


@pytest.mark.skipif(not TRANSCRIPTS.is_dir(), reason="the recorded REPL transcripts are not on this machine")
@pytest.mark.parametrize("transcript,index,word", [("have_by_sorry", 0, "unsolved goals"), ("have_by_sorry", 1, "sorry"),
                                                  ("self_proof_check", 0, "exact?"), ("app_type_mismatch", 0, "metavariables")])
def test_recorded_repl_replies_refuse_as_lean_meant(transcript, index, word):
    decoder, text, replies, at = json.JSONDecoder(), (TRANSCRIPTS / f"{transcript}.expected.out").read_text(), [], 0
    while text[at:].strip():
        reply, at = decoder.raw_decode(text, at + len(text[at:]) - len(text[at:].lstrip()))
        replies.append(reply)
    recorded = CommandReply.from_json(replies[index])
    double = RunCommandTestDouble(lambda code: [*recorded.raw.get("messages", []), axioms_message(code, T.name, [])],
                                  sorries=recorded.raw.get("sorries", []))
    assert_refused(check_proof_text(HONEST_FILE, T, run_command=double), word)


# -- real Lean, where it is set up ---------------------------------------------------------------------
def _live_runner():
    if shutil.which("lake") is None and not Path("~/.elan/bin/lake").expanduser().is_file():
        pytest.skip("no lake/lean on this machine: run `prover setup lean` for the live check")
    from lean_env.verify import fresh_repl_runner

    try:
        return fresh_repl_runner()
    except BackendUnavailable as exc:
        pytest.skip(f"no Lean project set up: {exc}")


def test_live_lean_accepts_an_honest_proof_and_refuses_a_wrong_one():
    run_command = _live_runner()
    header = "import Mathlib"
    good = Theorem("two_add_two", "theorem two_add_two : (2 : ℕ) + 2 = 4", header, "lean")
    verdict = check_proof_text(f"{header}\n\n{good.statement} := by\n  norm_num\n", good, run_command=run_command)
    assert verdict.accepted, verdict.reason
    assert set(verdict.axioms) <= {"propext", "Classical.choice", "Quot.sound"}
    bad = Theorem("two_add_two", "theorem two_add_two : (2 : ℕ) + 2 = 5", header, "lean")
    assert_refused(check_proof_text(f"{header}\n\n{bad.statement} := by\n  decide\n", bad, run_command=run_command),
                   "error")
