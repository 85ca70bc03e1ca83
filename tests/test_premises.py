"""Premise retrieval for Rocq: the Search queries a goal asks (an induction step's successors too), reading Coq's
answers, ranking them by the model's made-up names, and replacing a made-up name by the nearest real ones; live, the
lemmas Coq finds at a state and the search proving with them (or with a repaired name) where the automation cannot,
through `prover prove FILE` (on by default for files)."""
import json
import subprocess
import sys

import pytest

from coq_env.backend import focused_goal
from coq_env.coqtop import Coqtop
from coq_env.premises import (Lemma, binder_names, checked_type, conclusion, generalized, included_answers,
                              included_modules, module_field_names, name_query, parse_answers, pattern_matches,
                              queries, ranked, repaired, rewrites_the_goal, successor_subterms, top_relation_sides)
from coq_env.sentences import split_sentences
from prover.batch import latest_rows, read_rows
from prover.generators import AutomationOnly
from prover.search import SearchConfig, Status, best_first_search
from prover.search_types import USER_FILE_PREMISES
from prover.testing import ReplayGenerator
from prover.types import Theorem

# `h` is opaque to the automation (lia and nia see `h x y` as an atom), so `y <= h x y` needs the two lemmas:
# rewrite with h_comm, then apply h_le.
HEADER = """Require Import Lia.
Definition h (a b : nat) := a + b + a * b.
Lemma h_comm : forall a b, h a b = h b a.
Proof. intros; unfold h; lia. Qed.
Lemma h_le : forall a b, a <= h a b.
Proof. intros; unfold h; lia. Qed.
Global Opaque h."""
# A fact lia needs about `h` that no Search for the goal's shape finds: only its name leads to it.
BIG_ENOUGH = Theorem("big_enough", "Theorem big_enough : forall x y : nat, x * y <= h x y + 1.",
                     HEADER.replace("Global Opaque h.", "Lemma h_big_enough : forall a b, a * b <= h a b.\n"
                                    "Proof. intros; unfold h; lia. Qed.\nGlobal Opaque h."),
                     "rocq")
NEEDS_BOTH = Theorem("needs_both", "Theorem needs_both : forall x y : nat, y <= h x y.", HEADER, "rocq")
# The same lemmas, brought into a module by an `Include`: Coq 8.16's Search lists none of them (rocq#18657).
INCLUDED_HEADER = """Require Import Lia.
Module Type HLemmas.
Definition h (a b : nat) := a + b + a * b.
Lemma h_comm : forall a b, h a b = h b a.
Proof. intros; unfold h; lia. Qed.
Lemma h_le : forall a b, a <= h a b.
Proof. intros; unfold h; lia. Qed.
End HLemmas.
Module HProps.
Include HLemmas.
Global Opaque h."""
NEEDS_BOTH_INCLUDED = Theorem("needs_both", NEEDS_BOTH.statement, INCLUDED_HEADER, "rocq")
NO_PREMISES = SearchConfig(budget_seconds=30, tactic_timeout=2, hammer=False)
WITH_PREMISES = SearchConfig(budget_seconds=30, tactic_timeout=2, hammer=False, premises=8)


def test_local_names_become_holes_and_the_top_relation_gives_the_sides():
    assert generalized("a <= b + a", ["a", "b"]) == "_ <= _ + _"
    # Whole names only: `a` in `Rabs`/`a'`/`Nat.a` stays.
    assert generalized("Rabs (a - a') = Nat.a", ["a"]) == "Rabs (_ - a') = Nat.a"
    assert top_relation_sides("(_ + _)%R = _ * (_ + 1)") == ["(_ + _)%R", "_ * (_ + 1)"]
    assert top_relation_sides("Rabs _ < 2 <-> 0 < _ < 3") == ["Rabs _ < 2", "0 < _ < 3"]
    # Relations inside an implication, a connective or a binder are not the goal's own.
    for pattern in ("_ = 3 -> _ = 2", "_ = 0 /\\ _ = 1", "exists p, _ = p + 1"):
        assert top_relation_sides(pattern) == []


def test_the_queries_a_goal_asks_and_the_goals_too_vague_to_ask_about():
    assert queries("a <= b + a", ["a", "b"]) == [("apply", "SearchPattern (_ <= _ + _)."),
                                                  ("rewrite", "SearchRewrite (_ + _).")]
    # Numbers are asked again as holes: a lemma's own variables match only holes.
    assert queries("n + 0 = n", ["n"]) == [("apply", "SearchPattern (_ + 0 = _)."), ("apply", "SearchPattern (_ + _ = _)."),
                                           ("rewrite", "SearchRewrite (_ + 0).")]
    for vague in ("a = b", "P", "a <> b", "f ?x = 2"):
        assert queries(vague, ["a", "b", "P"]) == [], vague
    # A setoid equation's sides: SearchRewrite lists only `=` equations, so `==` ones are asked by their shape.
    assert [q for kind, q in queries("x + y == y", ["x", "y"]) if kind == "rewrite"] == [
        "SearchRewrite (_ + _).", "SearchPattern (_ + _ == _).", "SearchPattern (_ == _ + _)."]


def test_an_induction_steps_successors_ask_for_the_equations_that_unfold_a_function_at_a_successor():
    step = "sum_f_R0 (fun k : nat => 2 * INR k + 1) (S _) = (INR (S _) + 1) ^ 2"
    assert successor_subterms(step) == ["sum_f_R0 _ (S _)", "INR (S _)"]
    assert successor_subterms("_ (S _) = 2 ^ (Z.of_nat (S _) + 1) - 1") == ["_ ^ (_ + _)", "Z.of_nat (S _)"]
    assert successor_subterms("_ = 2 * 3 ^ Z.succ (Z.of_nat _)") == ["_ ^ (Z.succ _)"]
    assert successor_subterms("4 ^ S _ >= 3 * S _ + 1") == ["_ ^ (S _)"]
    # Only successors of a local (a hole), and never about a local function (`_ (S _)`) or the successor itself.
    for none in ("f (S 2) = 3", "_ (S _) = 1", "S (S _) = _", "2 ^ (3 + 1) = 16"):
        assert successor_subterms(none) == [], none
    # They are asked before the sides: their answers win ties in the ranking.
    assert [q for kind, q in queries(step.replace("(S _)", "(S n)"), ["n"]) if kind == "rewrite"] == [
        "SearchRewrite (sum_f_R0 _ (S _)).", "SearchRewrite (INR (S _)).",
        "SearchRewrite (sum_f_R0 (fun k : nat => 2 * INR k + 1) (S _)).", "SearchRewrite ((INR (S _) + 1) ^ 2)."]


def test_a_lemmas_hypotheses_are_its_top_level_premises_not_the_arrows_in_its_binders():
    assert Lemma("tech5", "forall (An : nat -> R) (N : nat), sum_f_R0 An (S N) = sum_f_R0 An N + An (S N)"
                 ).hypotheses == 0
    assert Lemma("g", "forall f : nat -> nat, f 0 = 0 -> f 0 <= 1").hypotheses == 1
    assert Lemma("h", "forall a, (forall x, P x -> Q x) -> P a -> Q a").hypotheses == 2
    assert Lemma("i", "A -> B <-> C").hypotheses == 1


def test_a_made_up_lemma_name_asks_for_its_longest_words_and_is_replaced_by_the_nearest_real_names():
    assert name_query("Z.div_mod_eq") == 'Search "div" "mod".'
    assert name_query("h_big_enough_for") == 'Search "enough" "big".'
    assert name_query("le_eq") is None  # words of two letters are in thousands of names
    found = [Lemma("Z.mod_div", "t"), Lemma("Nat.div_mod", "t"), Lemma("Z.div_mod", "t"), Lemma("Z.div_mod_eq", "t")]
    # The same qualifier first, then the nearest spelling; the made-up name itself is never offered back.
    assert repaired("pose proof (Z.div_mod_eq (24 * x) 7); lia.", "Z.div_mod_eq", found, 2) == [
        "pose proof (Z.div_mod (24 * x) 7); lia.", "pose proof (Z.mod_div (24 * x) 7); lia."]
    assert repaired("rewrite Nat.add_com.", "Nat.add_com", [], 2) == []
    # A made-up name where a tactic goes is not a lemma name: nothing to repair.
    assert repaired("Z.div_mod_eq x 7; lia.", "Z.div_mod_eq", found, 2) == []


def test_coqs_answers_are_read_whole_where_their_types_wrap():
    output = ("Nat.le_add_l: forall n m : nat, n <= m + n\n"
              "Nat.add_square_le:\n  forall a b : nat,\n  0 <= a -> 0 <= b -> a * a + b * b <= (a + b) * (a + b)\n")
    assert parse_answers(output) == [
        Lemma("Nat.le_add_l", "forall n m : nat, n <= m + n"),
        Lemma("Nat.add_square_le", "forall a b : nat, 0 <= a -> 0 <= b -> a * a + b * b <= (a + b) * (a + b)")]
    assert parse_answers("") == []


def test_ranking_puts_fewer_hypotheses_first_then_the_models_words_and_alternates_applies_with_rewrites():
    found = [("apply", Lemma("le_trans_add", "forall a b c, a <= b -> a <= b + c")),
             ("apply", Lemma("le_plus_r", "forall a b, a <= b + a")),
             ("apply", Lemma("le_add_r", "forall a b, a <= b + a")),
             ("rewrite", Lemma("add_comm", "forall a b, a + b = b + a")),
             ("apply", Lemma("le_plus_r", "forall a b, a <= b + a"))]  # asked twice: offered once
    assert ranked(found, ["apply (le_add_comm n m)."], 10) == [
        "apply le_add_r.", "rewrite add_comm.", "apply le_plus_r.", "apply le_trans_add."]
    assert ranked(found, [], 2) == ["apply le_plus_r.", "rewrite add_comm."]


def test_the_modules_a_header_includes_and_the_lemmas_coq_prints_for_them():
    header = "Module M (Import N : S).\nInclude NOrderProp N.\n  Include NZBaseProp NZ <+ NZOrderProp NZ.\nInclude Type T."
    assert included_modules(header) == ["NOrderProp", "NZBaseProp", "NZOrderProp", "T"]
    assert included_modules("Require Import Arith.\n(* Include Nothing *)") == []
    printed = ("Module Type\n HLemmas =\n Sig\n   Definition h : nat -> nat -> nat.\n"
               "   Parameter h_comm : forall a b : nat, h a b = h b a.\n   Parameter h_le :\n     forall a b, a <= h a b.\n End")
    assert module_field_names(printed) == ["h", "h_comm", "h_le"]
    assert checked_type("h_comm\n     : forall a b : nat,\n       h a b = h b a\n") == "forall a b : nat, h a b = h b a"
    assert conclusion("forall n m : t, n < m -> forall p, (p < n -> False) -> p <= n + m") == "p <= n + m"
    assert conclusion("forall n m : t, n < m <-> S n <= m") == "n < m <-> S n <= m"


def test_a_hole_matches_a_balanced_run_of_the_term_without_a_relation_of_its_own():
    assert pattern_matches("_ <= _ + _", "n <= n + m")
    assert pattern_matches("_ + _", "S n + (m * 2)")
    assert not pattern_matches("_ + _", "n + m == m + n")  # a hole never spans the relation
    assert not pattern_matches("_ <= _ + _", "n <= n * m")
    assert not pattern_matches("f _", "f (a b")  # unbalanced


def test_the_queries_find_among_included_lemmas_what_search_would_have():
    lemmas = [Lemma("add_comm", "forall n m : t, n + m == m + n"), Lemma("le_add_r", "forall n m : t, n <= n + m"),
              Lemma("add_lt_mono_l", "forall n m p : t, n < m <-> p + n < p + m"),
              Lemma("lt_le_incl", "forall n m : t, n < m -> n <= m")]
    # A rewrite by an equation, a setoid equation (`==`, as the Numbers hierarchy states its) or an iff.
    assert included_answers("SearchRewrite (_ + _).", lemmas) == [lemmas[0]]
    assert included_answers("SearchRewrite (_ < _).", lemmas) == [lemmas[2]]
    # An apply: the conclusion past the hypotheses.
    assert included_answers("SearchPattern (_ <= _ + _).", lemmas) == [lemmas[1]]
    assert included_answers("SearchPattern (_ <= _).", lemmas) == [lemmas[1], lemmas[3]]
    # A made-up name's words.
    assert included_answers('Search "add" "mono".', lemmas) == [lemmas[2]]
    assert included_answers("Print All.", lemmas) == []


def test_a_rewrite_is_offered_only_where_its_left_side_occurs_in_the_goal():
    assert binder_names("forall (An : nat -> R) (N : nat), sum_f_R0 An (S N) = 0") == ["An", "N"]
    assert binder_names("forall n (H : P n) {A : Type}, n = n") == ["n", "H", "A"]
    add_comm = Lemma("add_comm", "forall n m : t, n + m == m + n")
    add_0_r = Lemma("add_0_r", "forall n : t, n + 0 == n")  # SearchRewrite (_ + _) lists it: its left side fits
    mono = Lemma("add_lt_mono_l", "forall n m p : t, n < m <-> p + n < p + m")
    tech5 = Lemma("tech5", "forall (An : nat -> R) (N : nat), sum_f_R0 An (S N) = sum_f_R0 An N + An (S N)")
    assert rewrites_the_goal(add_comm, "n <= m + n") and not rewrites_the_goal(add_0_r, "n <= m + n")
    assert rewrites_the_goal(add_0_r, "x <= (m + 0) * 2")
    assert rewrites_the_goal(mono, "n < p + m") and not rewrites_the_goal(mono, "n <= p + m")
    assert rewrites_the_goal(tech5, "sum_f_R0 (fun k => INR k) (S n) = 3") and not rewrites_the_goal(tech5, "n = 3")
    found = [("rewrite", add_0_r), ("apply", Lemma("le_add_r", "forall n m : t, n <= n + m")), ("rewrite", add_comm)]
    assert ranked(found, [], 8, "n <= m + n") == ["apply le_add_r.", "rewrite add_comm."]
    assert ranked(found, [], 8) == ["apply le_add_r.", "rewrite add_0_r.", "rewrite add_comm."]  # no goal: all


def test_the_focused_goal_is_its_context_names_and_its_conclusion():
    goals = ("2 goals\n  \n  x, y : nat\n  H : x <= y\n  ============================\n  y <=\n  h x y\n\n"
             "goal 2 is:\n h y x = 0")
    assert focused_goal(goals) == (["x", "y", "H"], "y <= h x y")
    assert focused_goal("No more goals.") is None


def coqs_own_search(theorem: Theorem, tactics: list[str], query: str) -> str:
    """What Coq's own Search `query` prints after `tactics` in `theorem`, in a plain (sandboxed) coqtop."""
    with Coqtop() as coq:
        for sentence in [*split_sentences(theorem.header), theorem.statement, *tactics]:
            reply = coq.send(sentence, 60)
            assert not reply.error, (sentence, reply.error)
        return coq.send(query, 60).output


@pytest.mark.rocq
def test_coq_finds_the_lemmas_at_a_state_and_the_state_is_unchanged_after(backend):
    state = backend.open(NEEDS_BOTH)
    intros = backend.run_tactic(state, "intros x y.", 5).state
    tactics = backend.premise_tactics(intros, ["apply h_le_made_up."], 8, 5.0)
    assert "rewrite h_comm." in tactics and "apply h_le." in tactics
    # The queries left nothing behind: a tactic at the state runs on the state's goal, and the proof replays.
    rewritten = backend.run_tactic(intros, "rewrite h_comm.", 5)
    assert "y <= h y x" in rewritten.state.goals
    proved = backend.run_tactic(rewritten.state, "apply h_le.", 5)
    assert proved.tactics == ("intros x y.", "rewrite h_comm.", "apply h_le.")
    assert backend.verify(NEEDS_BOTH, proved.tactics).accepted


@pytest.mark.rocq
def test_lemmas_an_include_brought_into_the_open_module_are_found_though_coqs_search_skips_them(backend):
    intros = backend.run_tactic(backend.open(NEEDS_BOTH_INCLUDED), "intros x y.", 5).state
    searched = coqs_own_search(NEEDS_BOTH_INCLUDED, ["intros x y."], "SearchRewrite (h _ _).")
    assert "h_comm" not in searched  # the bug this works around
    assert "h_comm" in coqs_own_search(NEEDS_BOTH, ["intros x y."], "SearchRewrite (h _ _).")  # outside the module
    tactics = backend.premise_tactics(intros, [], 8, 5.0)
    assert "rewrite h_comm." in tactics and "apply h_le." in tactics


@pytest.mark.rocq
def test_setoid_equations_coqs_searchrewrite_misses_are_offered_as_rewrites(backend):
    theorem = Theorem("q_demo", "Theorem q_demo : forall x y : Q, x + 0 + y == y + x.",
                      "Require Import QArith.\nOpen Scope Q_scope.", "rocq")
    intros = backend.run_tactic(backend.open(theorem), "intros x y.", 5).state
    searched = coqs_own_search(theorem, ["intros x y."], "SearchRewrite (_ + _).")
    assert "inject_Z_plus" in searched and "Qplus_comm" not in searched  # `==` is not `=`
    tactics = backend.premise_tactics(intros, [], 8, 5.0)
    assert "rewrite Qplus_0_r." in tactics and "rewrite Qplus_comm." in tactics
    assert "x + y == y + x" in backend.run_tactic(intros, "rewrite Qplus_0_r.", 5).state.goals


@pytest.mark.rocq
def test_the_queries_keep_to_one_timeout_and_what_it_did_not_reach_is_asked_at_the_next_call(backend):
    intros = backend.run_tactic(backend.open(NEEDS_BOTH_INCLUDED), "intros x y.", 5).state
    # A millisecond: the first query (which moves to the state) is asked, and no time is left for the rest, nor for
    # reading the included lemmas, which are the only ones this goal has.
    assert backend.premise_tactics(intros, [], 8, 0.001) == []
    # With time: the queries not asked are asked, and the first one's answer gets its included lemmas too.
    tactics = backend.premise_tactics(intros, [], 8, 5.0)
    assert "rewrite h_comm." in tactics and "apply h_le." in tactics


@pytest.mark.rocq
def test_prove_on_a_file_proves_a_hole_with_lemmas_an_include_brought(tmp_path):
    (tmp_path / "Included.v").write_text(f"{INCLUDED_HEADER}\n\n{NEEDS_BOTH.statement}\nProof.\nAdmitted.\n\nEnd HProps.\n")
    done = subprocess.run([sys.executable, "-m", "prover.cli", "prove", "Included.v", "--model", "none",
                           "--budget-seconds", "20", "--tactic-timeout", "2", "--no-hammer", "--no-progress",
                           "--out", "run"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [row] = latest_rows(read_rows(tmp_path / "run" / "results.jsonl"))
    assert row["status"] == "proved" and row["proof"][-2:] == ["rewrite h_comm.", "apply h_le."]


@pytest.mark.rocq
def test_a_conclusion_is_searched_once_per_theorem_and_the_goals_hypotheses_are_not_offered(backend, monkeypatch):
    intros = backend.run_tactic(backend.open(NEEDS_BOTH), "intros x y.", 5).state
    # The same conclusion, with a fact Coq's SearchRewrite (h _ _) lists too: it is the state's, not offered.
    more = backend.run_tactic(intros, "assert (Hh : h x y = h y x) by apply h_comm.", 5).state
    first = backend.premise_tactics(more, [], 50, 5.0)
    assert "rewrite h_comm." in first and not any("Hh" in tactic for tactic in first)
    asked = []
    monkeypatch.setattr(backend, "_run", lambda *args: asked.append(args))
    assert backend.premise_tactics(intros, [], 50, 5.0) == first and asked == []


@pytest.mark.rocq
def test_a_lemma_of_the_theorems_own_name_is_never_offered(backend):
    # The stdlib's Nat.le_add_r is this theorem: a copy of the statement proved by itself would prove nothing.
    theorem = Theorem("le_add_r", "Theorem le_add_r : forall n m : nat, n <= n + m.", "Require Import Arith.", "rocq")
    intros = backend.run_tactic(backend.open(theorem), "intros n m.", 5).state
    tactics = backend.premise_tactics(intros, [], 50, 5.0)
    assert tactics and not any(t.rstrip(".").rsplit(".", 1)[-1] == "le_add_r" for t in tactics)


@pytest.mark.rocq
def test_the_search_proves_with_retrieved_lemmas_what_the_automation_cannot(backend):
    assert best_first_search(NEEDS_BOTH, backend, AutomationOnly(), NO_PREMISES).status is Status.FAILED
    result = best_first_search(NEEDS_BOTH, backend, AutomationOnly(), WITH_PREMISES)
    assert result.status is Status.PROVED and result.verdict.accepted
    assert result.tactics[-2:] == ("rewrite h_comm.", "apply h_le.")
    assert [e.premise for e in result.tree.edges if e.on_proof] == [False, True, True]  # intros is automation


@pytest.mark.rocq
def test_a_tactic_refused_for_a_made_up_lemma_name_is_offered_again_with_the_real_one(backend):
    state = backend.run_tactic(backend.open(BIG_ENOUGH), "intros x y.", 5).state
    made_up = "pose proof (h_big_enough_for x y); lia."
    assert "h_big_enough_for was not found" in backend.run_tactic(state, made_up, 5).error
    offered = backend.premise_tactics(state, [made_up, "lia."], 8, 5.0)
    assert offered[0] == "pose proof (h_big_enough x y); lia."
    # A hint coqtop did not refuse for its name is not repaired.
    assert not any("lia." in t for t in backend.premise_tactics(state, ["lia."], 8, 5.0))
    # The search: the model's made-up name fails, its repair proves.
    model = ReplayGenerator([made_up])
    assert best_first_search(BIG_ENOUGH, backend, model, NO_PREMISES).status is Status.FAILED
    result = best_first_search(BIG_ENOUGH, backend, model, WITH_PREMISES)
    assert result.status is Status.PROVED and result.tactics[-1] == "pose proof (h_big_enough x y); lia."
    assert [e.premise for e in result.tree.edges if e.on_proof] == [False, True]


@pytest.mark.rocq
def test_prove_on_a_file_retrieves_premises_by_default_and_its_row_counts_the_retrieved_steps(tmp_path):
    (tmp_path / "Opaque.v").write_text(f"{HEADER}\n\n{NEEDS_BOTH.statement}\nProof.\nAdmitted.\n")
    quick = ["--model", "none", "--budget-seconds", "20", "--tactic-timeout", "2", "--no-hammer", "--no-progress"]

    def prove(out, *more):
        return subprocess.run([sys.executable, "-m", "prover.cli", "prove", "Opaque.v", *quick, *more, "--out", out],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)

    done = prove("run")  # a user's file: retrieval is on without --premises
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["premises"] == USER_FILE_PREMISES
    [row] = latest_rows(read_rows(tmp_path / "run" / "results.jsonl"))
    assert row["status"] == "proved" and row["premise_steps"] == 2
    assert row["proof"][-2:] == ["rewrite h_comm.", "apply h_le."]
    # --premises 0 turns it off, and then the automation alone cannot prove it.
    done = prove("off", "--premises", "0")
    assert done.returncode == 0, done.stderr
    [row] = latest_rows(read_rows(tmp_path / "off" / "results.jsonl"))
    assert row["status"] != "proved"
