"""isabelle_env.verify: static refusals of cheating theories (each with its own reason), honest proofs that
pass them, the live path through a checker that is a TEST DOUBLE, the server checker against the server
TEST DOUBLE, and a live test that runs only where `isabelle` is installed."""
from __future__ import annotations

import dataclasses
import shutil

import pytest
from isabelle_server_double import SessionServerDouble

from isabelle_env.minif2f import load_split
from isabelle_env.server_client import IsabelleServerClient, TheoryMessage
from isabelle_env.checker import server_checker
from isabelle_env.outer_syntax import tokenize
from isabelle_env.verify import NOT_CHECKED_LIVE, check_theory_text, static_problem, with_oracle_probes

VALID = {t.name: t for t in load_split("valid")}
PLAIN = VALID["amc12a_2009_p2"]  # theorem amc12a_2009_p2: "(1 + (1 / (1 + (1 / (1 + 1))))) = (5::real) / 3"
STRUCTURED = VALID["aime_1983_p9"]  # fixes x::real assumes "0<x" "x<pi" shows "12 \<le> ..."
HEADER = "theory amc12a_2009_p2 imports\n  Complex_Main\nbegin\n"
STATEMENT = PLAIN.statement


def theory(proof: str, *, before: str = "", after: str = "", header: str = HEADER, statement: str = STATEMENT,
           end: str = "\nend\n") -> str:
    return f"{header}\n{before}{statement}\n{proof}\n{after}{end}"


# (id, theory text, a phrase the refusal must contain)
CHEATS = [
    ("sorry", theory("  sorry"), "uses `sorry`"),
    ("proof-symbol", theory("  \\<proof>"), "uses `\\<proof>`"),
    ("oops", theory("  apply simp\n  oops"), "`oops` abandons"),
    ("quick-and-dirty-declare", theory("  by simp", before="declare [[quick_and_dirty]]\n\n"), "quick_and_dirty"),
    ("quick-and-dirty-true", theory("  using [[quick_and_dirty=true]] by simp"), "quick_and_dirty"),
    ("axiomatization", theory("  by (rule magic)", before='axiomatization where magic: "False"\n\n'),
     "declares axioms (`axiomatization`)"),
    ("axioms", theory("  by (rule magic)", before='axioms magic: "False"\n\n'), "declares axioms (`axioms`)"),
    ("consts-defs", theory("  by (simp add: c_def)", before='consts c :: bool\ndefs c_def: "c \\<equiv> True"\n\n'),
     "consts+defs"),
    ("ML", theory("  by simp", before="ML \\<open>val _ = ()\\<close>\n\n"), "runs ML code (`ML`)"),
    ("ML_file", theory("  by simp", before='ML_file "cheat.ML"\n\n'), "runs ML code (`ML_file`)"),
    ("ML_val", theory("  by simp", before="ML_val \u2039()\u203a\n\n"), "runs ML code (`ML_val`)"),
    ("setup", theory("  by simp", before="setup \\<open>I\\<close>\n\n"), "runs ML code (`setup`)"),
    ("method_setup", theory("  by magic", before="method_setup magic = \u2039Scan.succeed (K (SIMPLE_METHOD all_tac))\u203a\n\n"),
     "runs ML code (`method_setup`)"),
    ("local_setup", theory("  by simp", before="local_setup \u2039I\u203a\n\n"), "runs ML code (`local_setup`)"),
    ("oracle", theory("  by simp", before="oracle magic = \u2039fn ct => ct\u203a\n\n"), "declares an oracle"),
    ("tactic-method", theory("  by (tactic \u2039all_tac\u203a)"), "runs an ML tactic (`tactic`)"),
    ("skip-proof-qualified", theory("  by (rule Skip_Proof.make_thm)"), "skips a proof (`Skip_Proof`)"),
    ("cheat-tac-in-text", theory('  by (simp add: "cheat_tac")'), "mentions `cheat_tac`"),
    ("smt-oracle", theory("  using [[smt_oracle]] by (smt (z3))"), "smt_oracle"),
    ("sledgehammer-left", theory("  apply simp\n  sledgehammer\n  done"), "`sledgehammer` left in the proof"),
    ("eval", theory("  by eval"), "trusts the code generator"),
    ("statement-changed", theory("  by simp", statement=STATEMENT.replace("(5::real) / 3", "(5::real) / 3 \\<or> True")),
     "statement of amc12a_2009_p2 differs"),
    ("statement-extended-if", theory('  if "False" by simp'), "statement of amc12a_2009_p2 is extended"),
    ("statement-extended-for", theory("  for x :: nat by simp"), "is extended"),
    ("extra-lemma-before", theory("  by simp", before='lemma helper: "(1::real) = 1" by simp\n\n'),
     "extra lemma helper before amc12a_2009_p2"),
    ("extra-lemma-after", theory("  by simp", after='\nlemma extra: "True" by simp\n'), "an extra lemma after"),
    ("definition-before", theory("  by simp", before='definition five :: real where "five = 5"\n\n'),
     "`definition` before amc12a_2009_p2"),
    ("imports-changed", theory("  by simp", header='theory amc12a_2009_p2 imports Main "HOL-Library.Cheats"\nbegin\n'),
     "imports differ"),
    ("theory-renamed", theory("  by simp", header="theory Other imports Complex_Main begin\n"), "named Other"),
    ("end-missing", theory("  by simp", end="\n"), "does not end with `end`"),
    ("end-early", theory("  by simp", after="end\n\nlemma x: \"True\" by simp\n"), "`end` before the end"),
    ("not-a-proof-command", theory("  by simp", after="\nnotepad begin end\n"), "`notepad` is not a proof command"),
    ("naive-comment-trick", theory("  txt \u2039(*\u203a sorry txt \u2039*)\u203a"), "uses `sorry`"),
    ("unterminated-comment", theory("  by simp (* (* *)"), "unterminated comment"),
    ("no-proof", theory(""), "no proof of amc12a_2009_p2"),
]


@pytest.mark.parametrize("name, text, reason", CHEATS, ids=[c[0] for c in CHEATS])
def test_cheat_is_refused_with_its_reason(name, text, reason):
    verdict = check_theory_text(text, PLAIN, checker=lambda t: pytest.fail("a refused theory reached the checker"))
    assert not verdict.accepted
    assert reason in verdict.reason, verdict.reason


def test_reasons_are_specific():
    reasons = [static_problem(text, PLAIN) for _, text, _ in CHEATS]
    assert len(CHEATS) >= 12 and all(reasons)
    assert len(set(reasons)) >= 25  # most cheats get a reason of their own


HONEST = [
    ("by-simp", theory("  by simp")),
    ("comment-keeps-header-equal", theory("  by simp", header=PLAIN.header + "\n")),
    ("isar", theory("proof -\n  have \"(1::real) + 1 = 2\" by simp\n  then show ?thesis by simp\nqed")),
    ("smt-from-sledgehammer", theory("  by (smt (verit, ccfv_threshold) divide_divide_eq_right field_sum_of_halves)")),
    ("metis", theory("  by (metis add_divide_distrib one_add_one)")),
    ("apply-done", theory("  apply (simp add: field_simps)\n  done")),
    ("nested-comments-and-cartouches", theory(
        "  (* an old attempt: (* nested *) sorry, oops, ML \u2039...\u203a *)\n"
        "  using \u2039(1::real) + 1 = 2\u203a\n  \\<comment> \\<open>a sorry in a formal comment\\<close>\n  by simp")),
    ("quoted-text-in-comment", theory('  by (simp add: field_simps)  (* "quoted" \u2039text\u203a *)')),
    ("whitespace-in-statement", theory("  by simp", statement=STATEMENT.replace("\n  ", "   \n\t").replace("1 + 1", "1  +  1"))),
]


@pytest.mark.parametrize("name, text", HONEST, ids=[h[0] for h in HONEST])
def test_honest_proof_passes_the_static_checks(name, text):
    assert static_problem(text, PLAIN) is None
    assert check_theory_text(text, PLAIN) == check_theory_text(text, PLAIN, checker=None)
    assert check_theory_text(text, PLAIN).reason == NOT_CHECKED_LIVE  # not accepted without Isabelle


def test_structured_statement_and_human_proofs_of_the_benchmark():
    text = f"{STRUCTURED.header}\n\n{STRUCTURED.statement}\n  using assms by (auto intro!: mult_pos_pos)\n\nend\n"
    assert static_problem(text, STRUCTURED) is None
    changed = text.replace('assumes "0<x" "x<pi"', 'assumes "0<x" "x<pi" "False"')
    assert "differs" in static_problem(changed, STRUCTURED)


def test_eval_allowed_only_when_asked():
    text = theory("  by eval")
    assert static_problem(text, PLAIN) is not None
    assert static_problem(text, PLAIN, allow_code_evaluation=True) is None


def test_lexer_reads_nested_comments_strings_and_cartouches():
    text = '(* a (* b *) c *) "x (* y" \\<open>p \\<open>q\\<close> r\\<close> \u2039s\u203a word.name \\<alpha>x'
    kinds = [(t.kind, t.text) for t in tokenize(text) if t.is_code or t.kind == "comment"]
    assert kinds == [("comment", "(* a (* b *) c *)"), ("string", '"x (* y"'),
                     ("cartouche", "\\<open>p \\<open>q\\<close> r\\<close>"), ("cartouche", "\u2039s\u203a"),
                     ("word", "word.name"), ("word", "\\<alpha>x")]


def test_generic_theory_without_a_benchmark():
    good = 'theory Mine imports Main begin\nlemma two: "(1::nat) + 1 = 2" by simp\nend\n'
    assert static_problem(good) is None
    assert static_problem('theory Mine imports Main begin\nlemma two: "(1::nat) + 1 = 2" sorry\nend\n')
    assert static_problem("theory Mine imports Main begin\nend\n") == "no theorem in the file"
    assert "not allowed" in static_problem(good.replace("lemma", "locale l = fixes x\nlemma"))


# -- the live path, through a checker that is a TEST DOUBLE ------------------------------------------------------
class CheckerDouble:
    """TEST DOUBLE for Isabelle: answers with canned (ok, messages), placing the oracle report at the probe line."""

    def __init__(self, ok=True, oracles=(), extra=(), report=True):
        self.ok, self.oracles, self.extra, self.report = ok, oracles, extra, report
        self.seen: list[str] = []

    def __call__(self, text):
        self.seen.append(text)
        messages = list(self.extra)
        if self.report:
            body = "oracles:" + "".join(f"\n  \\<bullet> {o}" for o in self.oracles)
            messages += [TheoryMessage("writeln", body, i)
                         for i, line in enumerate(text.splitlines(), 1) if line.startswith("thm_oracles ")]
        return self.ok, messages


def test_live_accepts_when_isabelle_does_and_no_oracle_is_used():
    checker = CheckerDouble()
    verdict = check_theory_text(theory("  by simp"), PLAIN, checker=checker)
    assert verdict.accepted and verdict.axioms == ()
    sent = checker.seen[0]
    assert "thm_oracles amc12a_2009_p2\n" in sent and sent.rstrip().endswith("end")


def test_live_rejects_a_skip_proof_oracle():
    verdict = check_theory_text(theory("  by simp"), PLAIN, checker=CheckerDouble(oracles=["Pure.skip_proof"]))
    assert not verdict.accepted and "relies on the oracle Pure.skip_proof" in verdict.reason


def test_live_rejects_errors_with_their_line():
    error = TheoryMessage("error", "Failed to finish proof\u2379:\ngoal (1 subgoal):\n 1. False", 8)
    verdict = check_theory_text(theory("  by simp"), PLAIN, checker=CheckerDouble(ok=False, extra=[error]))
    assert not verdict.accepted and verdict.reason.startswith("Isabelle (line 8): Failed to finish proof")


def test_live_rejects_not_ok_without_errors_and_sorry_warnings():
    assert "did not accept" in check_theory_text(theory("  by simp"), PLAIN, checker=CheckerDouble(ok=False)).reason
    warning = TheoryMessage("warning", "Skipped proof", 7)
    assert "skipped proof" in check_theory_text(theory("  by simp"), PLAIN,
                                                checker=CheckerDouble(extra=[warning])).reason


def test_live_ignores_look_alike_reports_from_the_theory_itself():
    fake = TheoryMessage("writeln", "oracles:", 3)  # printed by the theory, not by our probe
    verdict = check_theory_text(theory("  by simp"), PLAIN, checker=CheckerDouble(report=False, extra=[fake]))
    assert not verdict.accepted and "no oracle report" in verdict.reason


def test_live_probe_failure_is_named():
    def checker(text):
        _, lines = with_oracle_probes(theory("  by simp"), ["amc12a_2009_p2"])
        return False, [TheoryMessage("error", "Outer syntax error: command expected", lines["amc12a_2009_p2"])]

    verdict = check_theory_text(theory("  by simp"), PLAIN, checker=checker)
    assert "oracle check of amc12a_2009_p2 failed" in verdict.reason


def test_live_code_evaluation_oracle_only_when_allowed():
    checker = CheckerDouble(oracles=["Code_Generator.holds_by_evaluation"])
    verdict = check_theory_text(theory("  by eval"), PLAIN, checker=checker, allow_code_evaluation=True)
    assert verdict.accepted and verdict.axioms == ("Code_Generator.holds_by_evaluation",)
    verdict = check_theory_text(theory("  by simp"), PLAIN, checker=checker)
    assert not verdict.accepted and "holds_by_evaluation" in verdict.reason


def test_generic_live_probes_every_named_lemma():
    text = 'theory Mine imports Main begin\nlemma a: "True" by simp\nlemma b: "True" by simp\nend\n'
    checker = CheckerDouble()
    assert check_theory_text(text, checker=checker).accepted
    assert "thm_oracles a\nthm_oracles b\n" in checker.seen[0]
    only_a = lambda t: (True, [m for m in CheckerDouble()(t)[1] if m.line == t.splitlines().index("thm_oracles a") + 1])
    verdict = check_theory_text(text, checker=only_a)
    assert not verdict.accepted and "no oracle report for b" in verdict.reason


# -- the server checker against the server TEST DOUBLE --------------------------------------------------------
def test_server_checker_runs_the_theory_in_a_fresh_session():
    def judge(text):
        line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("thm_oracles "))
        return True, [{"kind": "writeln", "message": "oracles:", "pos": {"line": line, "file": "x.thy"}}]

    double = SessionServerDouble(judge)
    with double:
        checker = server_checker(double.address(double.password), session="HOL-Number_Theory", timeout=30,
                                 connect=lambda: IsabelleServerClient.connect(double.address(double.password), 10))
        verdict = check_theory_text(theory("  by simp"), PLAIN, checker=checker)
    assert not double.errors
    assert verdict.accepted, verdict.reason
    assert [name for name, _ in double.commands] == ["session_start", "use_theories", "session_stop"]
    assert double.commands[0][1]["session"] == "HOL-Number_Theory"
    assert double.commands[1][1]["theories"] == ["amc12a_2009_p2"]
    assert double.theory_texts[0].startswith(HEADER)


def test_server_checker_rejects_what_the_server_reports():
    double = SessionServerDouble(lambda text: (False, [{"kind": "error", "message": "Type unification failed",
                                                        "pos": {"line": 6}}]))
    with double:
        checker = server_checker(double.address(double.password),
                                 connect=lambda: IsabelleServerClient.connect(double.address(double.password), 10))
        verdict = check_theory_text(theory("  by simp"), PLAIN, checker=checker)
    assert not verdict.accepted and "Type unification failed" in verdict.reason


# -- live, with a real Isabelle --------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("isabelle") is None, reason="Isabelle is not installed (no `isabelle` on PATH)")
def test_live_isabelle_accepts_a_proof_and_rejects_a_wrong_one(tmp_path):
    from isabelle_env.setup import start_or_find_server

    address, started = start_or_find_server(shutil.which("isabelle"), "llemma-prover-test", log_dir=tmp_path)
    try:
        checker = server_checker(address, session="HOL", include_sessions=(), timeout=300)
        assert check_theory_text(theory("  by simp"), PLAIN, checker=checker).accepted
        wrong_theorem = dataclasses.replace(PLAIN, statement=STATEMENT.replace("/ 3", "/ 4"))
        wrong = theory("  by simp", statement=wrong_theorem.statement)
        verdict = check_theory_text(wrong, wrong_theorem, checker=checker)
        assert not verdict.accepted and verdict.reason.startswith("Isabelle")
        sneaky = theory("  by simp", before="")
        assert check_theory_text(sneaky.replace("by simp", "using [[simp_trace=false]] by simp"), PLAIN,
                                 checker=checker).accepted
    finally:
        if started:
            with IsabelleServerClient.connect(address) as client:
                client.shutdown()


def test_oracle_report_formats():
    from isabelle_env.verify import _oracles_reported

    assert _oracles_reported("oracles:") == []
    assert _oracles_reported("oracles:\n  \\<bullet> Pure.skip_proof: False\n  \\<bullet> HOL.cheat") == [
        "Pure.skip_proof", "HOL.cheat"]
    assert _oracles_reported("oracles:\n  \u2022 Code_Generator.holds_by_evaluation") == [
        "Code_Generator.holds_by_evaluation"]
    assert _oracles_reported("oracles:\nPure.skip_proof") == ["Pure.skip_proof"]
    assert _oracles_reported("theorem x = x") is None


def test_checker_giving_bare_text_is_never_accepted():
    verdict = check_theory_text(theory("  by simp"), PLAIN, checker=lambda text: (True, ["oracles:"]))
    assert not verdict.accepted and "no oracle report" in verdict.reason
