"""Sound checking of Rocq proof files, on real coqc/coqtop: genuine proofs pass, every way of cheating fails.

A rejection always comes with a reason on one line. In benchmark mode (`expected` given) the file must be the
benchmark's header, the automation import, the statement unchanged, `Proof.`, tactics only and `Qed.`; in
generic mode (`expected=None`) the file may be anything that compiles, but must not assume what it proves.
Either way the compiled file is asked `Print Assumptions` in a fresh coqtop: that is the last line of defence,
and several cases below slip past the text checks on purpose to show it holds.
"""
import subprocess
import sys

import pytest

from coq_env.backend import AUTOMATION_IMPORT, RocqBackend, render_proof
from coq_env.verify import check_proof_text

# `Require Import Arith.` then `forall x : nat, 2 * (2 * (2 * (2 * x))) = 48 -> x = 3.`: `lia` proves it, and
# a file for it compiles in about two seconds, so it carries every benchmark-mode case.
NAT = "mathd_algebra_455"
WEAKER = "Theorem mathd_algebra_455 : True."
# An axiom whose printed type contains the very line Coq prints when there are no axioms at all.
CLOSED_AXIOM = (
    "Axiom cheat : forall Closed under the global context : Prop, Closed \\/ under \\/ the \\/ global \\/ context."
)
USE_CLOSED_AXIOM = "exfalso. destruct (cheat False False False False False) as [f|[f|[f|[f|f]]]]; exact f."


def check(text, expected=None):
    """What `prover check` and RocqBackend.verify run."""
    return check_proof_text(text, expected=expected, extra_header=(AUTOMATION_IMPORT,))


def assert_rejected(verdict, *cause):
    assert verdict.accepted is False
    assert verdict.reason and "\n" not in verdict.reason, f"reason must be one non-empty line: {verdict.reason!r}"
    assert any(word in verdict.reason for word in cause), f"reason does not name {cause}: {verdict.reason!r}"


def benchmark_file(t, proof, *, before_header="", between="", statement=None, after=""):
    """A file for benchmark theorem `t`, with things slipped in where a cheat would put them."""
    return (
        f"{before_header}\n{t.header}\n{AUTOMATION_IMPORT}\n{between}\n{statement or t.statement}\n"
        f"Proof.\n{proof}\n{after}\n"
    )


# -- genuine proofs are accepted ----------------------------------------------------------------------------


@pytest.mark.rocq
def test_a_genuine_proof_rendered_by_render_proof_is_accepted_and_needs_no_axioms(valid):
    theorem = valid["mathd_numbertheory_32"]
    verdict = check(render_proof(theorem, ("compute.", "reflexivity.")), theorem)
    assert verdict.accepted, verdict.reason
    assert verdict.axioms == ()


@pytest.mark.rocq
def test_a_reals_proof_is_accepted_and_lists_only_the_standard_librarys_axioms(valid):
    theorem = valid["mathd_algebra_104"]
    verdict = check(render_proof(theorem, ("lra.",)), theorem)
    assert verdict.accepted, verdict.reason  # the Reals axioms are the library's, not a cheat
    assert "Coq.Reals.ClassicalDedekindReals.sig_forall_dec" in verdict.axioms
    assert all(axiom.startswith("Coq.") for axiom in verdict.axioms), verdict.axioms


@pytest.mark.rocq
def test_comments_that_quote_a_comment_end_do_not_upset_a_genuine_proof(valid):
    theorem = valid[NAT]
    tactics = ('(* a comment may quote "*)" inside a string *) intros x H.', "lia.")
    assert check(render_proof(theorem, tactics), theorem).accepted


@pytest.mark.rocq
def test_a_section_variable_used_only_by_a_definition_is_accepted():
    text = (
        "Section S.\n  Variable n : nat.\n  Definition twice := n + n.\nEnd S.\n"
        "Theorem after : twice 2 = 4.\nProof. reflexivity. Qed.\n"
    )
    verdict = check(text)
    assert verdict.accepted, verdict.reason
    assert verdict.axioms == ()


@pytest.mark.rocq
def test_a_lemma_using_a_section_hypothesis_is_refused_even_when_the_hypothesis_holds():
    # Discharged, `inside` proves `1 = 1 -> 1 = 1`, not the `1 = 1` it reads as: the shape of every section cheat.
    text = (
        "Section S.\n  Hypothesis h : 1 = 1.\n  Lemma inside : 1 = 1.\n  Proof. exact h. Qed.\nEnd S.\n"
        "Theorem after : 1 = 1.\nProof. exact (inside eq_refl). Qed.\n"
    )
    assert_rejected(check(text), "section")


# -- cheating against a benchmark theorem is rejected -------------------------------------------------------

BENCHMARK_CHEATS = [
    pytest.param(lambda t: benchmark_file(t, "  intros x H.\nAdmitted."), ("Admitted",), id="admitted"),
    pytest.param(lambda t: benchmark_file(t, "  admit.\nQed."), ("admit",), id="admit-then-qed"),
    pytest.param(lambda t: benchmark_file(t, "  intros x H; now admit.\nQed."), ("admit",), id="admit-inside-a-tactic"),
    pytest.param(lambda t: benchmark_file(t, "  give_up.\nQed."), ("give_up",), id="give_up-then-qed"),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. exact (False_ind _ cheat).\nQed.", between="Axiom cheat : False."),
        ("statement",), id="axiom-before-the-theorem",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. destruct cheat.\nQed.", between="Parameter cheat : False."),
        ("statement",), id="parameter-before-the-theorem",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. destruct cheat.\nQed.", between="Conjecture cheat : False."),
        ("statement",), id="conjecture-before-the-theorem",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. destruct cheat.\nQed.", between="Hypothesis cheat : False."),
        ("statement",), id="hypothesis-outside-a-section",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. destruct cheat.\nQed.", between="Variable cheat : False."),
        ("statement",), id="variable-outside-a-section",
    ),
    pytest.param(lambda t: benchmark_file(t, "  intros x H.\nQed."), ("compile",), id="qed-after-a-partial-proof"),
    pytest.param(
        lambda t: benchmark_file(t, f"Abort.\n{WEAKER}\nProof.\n  exact I.\nQed."), ("Abort",),
        id="abort-then-restate-weaker",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. exact (False_ind _ helper).\nQed.",
                                 between="Axiom helper_axiom : False.\nLemma helper : False.\nProof. exact helper_axiom. Qed."),
        ("statement",), id="helper-lemma-backed-by-an-axiom",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  exact I.\nQed.", before_header=f"{WEAKER}\nProof. exact I. Qed."),
        ("header",), id="benchmark-name-redefined-in-the-header",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. exfalso. exact (loop 0).\nQed.",
                                 between="Unset Guard Checking.\nFixpoint loop (n : nat) : False := loop n.\nSet Guard Checking."),
        ("statement",), id="unset-guard-checking-nonterminating-fixpoint",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. pose self. lia.\nQed.",
                                 between="Unset Universe Checking.\nDefinition self : Type := Type.\nSet Universe Checking."),
        ("statement",), id="unset-universe-checking",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. destruct M.p.\nQed.",
                                 between="Module Type T.\n  Parameter p : False.\nEnd T.\nDeclare Module M : T."),
        ("statement",), id="declare-module-with-a-false-parameter",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. lia.\nQed.", statement=t.statement.replace("x = 3.", "x <= 3.")),
        ("statement",), id="weakened-statement",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. destruct H.\nQed.",
                                 statement=t.statement.replace("mathd_algebra_455 :", "mathd_algebra_455 (H : False) :")),
        ("statement",), id="statement-with-an-extra-hypothesis",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. lia.\nQed.", before_header="Definition three := 3."),
        ("header",), id="extra-definition-in-the-header",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. lia.\nQed.").replace(t.header, "", 1),
        ("header",), id="header-left-out",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. lia.\nQed.", after="Axiom extra : False."),
        ("after",), id="commands-after-qed",
    ),
    pytest.param(
        lambda t: benchmark_file(t, "  intros. lia.\nQed.", after="Lemma bonus : 1 = 1. Proof. reflexivity. Qed."),
        ("after",), id="lemma-after-qed",
    ),
    # A string inside a comment hides `*)` from Coq, so everything up to the next quote is code to Coq:
    # here an Abort and a weaker restatement under the benchmark's name.
    pytest.param(
        lambda t: benchmark_file(
            t, f'  (* "*)" *) Abort. {WEAKER} Proof. exact I. (* " idtac. (* " *) Qed.'),
        ("command",), id="quoted-comment-end-hiding-abort-and-restatement",
    ),
    # `1: {` ends a sentence for Coq: the command after it must not pass as part of a tactic.
    pytest.param(
        lambda t: benchmark_file(t, f"  1: {{ {CLOSED_AXIOM}\n  intros. {USE_CLOSED_AXIOM}\n  }}\nQed."),
        ("command",), id="focus-brace-hiding-an-axiom",
    ),
    # `-1: {` is a bullet then a focus for Coq.
    pytest.param(
        lambda t: benchmark_file(t, f"  -1: {{ {CLOSED_AXIOM}\n  intros. {USE_CLOSED_AXIOM}\n  }}\nQed."),
        ("command",), id="bullet-glued-to-a-focus-hiding-an-axiom",
    ),
]


@pytest.mark.rocq
@pytest.mark.parametrize("make, cause", BENCHMARK_CHEATS)
def test_a_cheating_proof_of_a_benchmark_theorem_is_rejected(valid, make, cause):
    theorem = valid[NAT]
    assert_rejected(check(make(theorem), theorem), *cause)


@pytest.mark.rocq
def test_backend_verify_rejects_a_tactic_path_that_admits(valid):
    with RocqBackend() as backend:
        verdict = backend.verify(valid[NAT], ("intros x H.", "admit."))
    assert_rejected(verdict, "admit")


# -- cheating in a file checked on its own is rejected ------------------------------------------------------

GENERIC_CHEATS = [
    pytest.param("Axiom cheat : False.\nTheorem t : 1 = 2.\nProof. exact (False_ind _ cheat). Qed.",
                 ("Axiom",), id="axiom-based-proof"),
    pytest.param("Theorem t : 1 = 2.\nProof.\nAdmitted.", ("Admitted",), id="admitted"),
    pytest.param("Theorem t : 1 = 2.\nProof. admit. Qed.", ("admit",), id="admit-then-qed"),
    pytest.param("Theorem t : 1 = 2.\nProof. give_up. Qed.", ("admit",), id="give_up-then-qed"),
    pytest.param("Parameter cheat : False.\nTheorem t : 1 = 2.\nProof. destruct cheat. Qed.",
                 ("Parameter",), id="parameter"),
    pytest.param("Conjecture cheat : 1 = 2.\nTheorem t : 1 = 2.\nProof. exact cheat. Qed.",
                 ("Conjecture",), id="conjecture"),
    pytest.param("Hypothesis cheat : False.\nTheorem t : 1 = 2.\nProof. destruct cheat. Qed.",
                 ("Hypothesis",), id="hypothesis-outside-a-section"),
    pytest.param("Variable cheat : False.\nTheorem t : 1 = 2.\nProof. destruct cheat. Qed.",
                 ("Variable",), id="variable-outside-a-section"),
    pytest.param("Context (cheat : False).\nTheorem t : 1 = 2.\nProof. destruct cheat. Qed.",
                 ("Context",), id="context-outside-a-section"),
    pytest.param("Section S.\nHypothesis cheat : False.\nEnd S.\nHypothesis again : False.\n"
                 "Theorem t : 1 = 2.\nProof. destruct again. Qed.",
                 ("Hypothesis",), id="hypothesis-after-a-closed-section"),
    pytest.param("Unset Guard Checking.\nFixpoint loop (n : nat) : False := loop n.\nSet Guard Checking.\n"
                 "Theorem t : 1 = 2.\nProof. destruct (loop 0). Qed.",
                 ("Unset Guard Checking",), id="unset-guard-checking-nonterminating-fixpoint"),
    pytest.param("Unset Universe Checking.\nDefinition self : Type := Type.\nSet Universe Checking.\n"
                 "Theorem t : True.\nProof. pose self. exact I. Qed.",
                 ("Unset Universe Checking",), id="unset-universe-checking"),
    pytest.param("Module Type T.\n  Parameter p : False.\nEnd T.\nDeclare Module M : T.\n"
                 "Theorem t : 1 = 2.\nProof. destruct M.p. Qed.",
                 ("Parameter", "Declare Module"), id="declare-module-with-a-false-parameter"),
    pytest.param("Theorem t : 1 = 2.\nProof.\nAbort.\nTheorem t : 1 = 1.\nProof. reflexivity. Qed.",
                 ("Abort",), id="abort-then-restate"),
    pytest.param("Definition d := 1.\n", ("no theorem",), id="no-theorem-at-all"),
    pytest.param("Section S.\nHypothesis h : False.\nTheorem t : 1 = 2.\nProof. destruct h. Qed.\n",
                 ("compile",), id="section-left-open"),
    # Cheats the text checks do not see, caught by Print Assumptions on the compiled file.
    pytest.param(f"Theorem t : 1 = 2.\nProof.\n1: {{ Axiom cheat : False.\ndestruct cheat. }}\nQed.",
                 ("declares",), id="axiom-declared-inside-the-proof"),
    pytest.param(f"Theorem t : 1 = 2.\nProof.\n1: {{ {CLOSED_AXIOM}\n{USE_CLOSED_AXIOM} }}\nQed.",
                 ("declares",), id="axiom-whose-type-reads-closed-under-the-global-context"),
    pytest.param("Theorem t : 1 = 2.\nProof.\n1: { Admitted.\n", ("declares",), id="admitted-behind-a-focus"),
    pytest.param("Theorem t : 1 = 2.\nProof.\n1: { Unset Guard Checking.\n"
                 "exfalso. exact ((fix f (n : nat) : False := f n) 0). }\nQed.",
                 ("unsafe",), id="guard-checking-unset-inside-the-proof"),
    pytest.param("Theorem t : True.\nProof.\n1: { Unset Universe Checking.\npose (Type : Type). exact I. }\nQed.",
                 ("unsafe",), id="universe-checking-unset-inside-the-proof"),
]


@pytest.mark.rocq
@pytest.mark.parametrize("text, cause", GENERIC_CHEATS)
def test_a_cheating_file_checked_on_its_own_is_rejected(text, cause):
    assert_rejected(check(text), *cause)


# -- the command line ---------------------------------------------------------------------------------------


def prover_check(*args):
    return subprocess.run([sys.executable, "-m", "prover.cli", "check", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.rocq
def test_cli_accepts_a_genuine_benchmark_proof_with_exit_0(valid, tmp_path):
    good = tmp_path / "good.v"
    good.write_text(render_proof(valid["mathd_numbertheory_32"], ("compute.", "reflexivity.")))
    done = prover_check(good, "--benchmark", "minif2f-rocq", "--theorem", "mathd_numbertheory_32")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("accepted:")


def test_cli_rejects_a_cheating_benchmark_proof_with_exit_1_and_one_line(valid, tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text(benchmark_file(valid[NAT], "  intros x H.\nAdmitted."))
    done = prover_check(bad, "--benchmark", "minif2f-rocq", "--theorem", NAT)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("rejected: ") and done.stdout.count("\n") == 1
    assert "Admitted" in done.stdout


def test_cli_rejects_an_axiom_based_file_checked_on_its_own_with_exit_1(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("Axiom cheat : False.\nTheorem t : 1 = 2.\nProof. exact (False_ind _ cheat). Qed.\n")
    done = prover_check(bad)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("rejected: ") and done.stdout.count("\n") == 1


def _one_error_line(done):
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def test_cli_reports_a_missing_file_with_exit_2(tmp_path):
    assert "no such file" in _one_error_line(prover_check(tmp_path / "missing.v"))


def test_cli_reports_an_unknown_theorem_with_exit_2(tmp_path):
    proof = tmp_path / "p.v"
    proof.write_text("Theorem t : True. Proof. exact I. Qed.\n")
    err = _one_error_line(prover_check(proof, "--benchmark", "minif2f-rocq", "--theorem", "no_such_theorem"))
    assert "no_such_theorem" in err


def test_cli_wants_theorem_with_benchmark_and_exits_2(tmp_path):
    proof = tmp_path / "p.v"
    proof.write_text("Theorem t : True. Proof. exact I. Qed.\n")
    assert "--theorem" in _one_error_line(prover_check(proof, "--benchmark", "minif2f-rocq"))
