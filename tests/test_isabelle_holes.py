"""The holes of a user's Isabelle theories (isabelle_env.holes, isabelle_env.user_files): found in realistic text,
spliced byte for byte, stated in their theory's context, checked through the Isabelle server TEST DOUBLE
(tests/isabelle_server_double.py: a scripted peer, not Isabelle), written back, and `prover prove` without
Isabelle installed."""
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from isabelle_server_double import SessionServerDouble

from isabelle_env.checker import server_checker
from isabelle_env.holes import LEMMA, STEP, fill_hole, find_holes
from isabelle_env.outer_syntax import LexError
from isabelle_env.server_client import IsabelleServerClient
from isabelle_env.user_files import (OPEN_LEMMA, check_in_context, fill_proofs, open_user_files, parent_session,
                                     proof_problem, write_proofs)
from prover.batch import latest_rows, read_rows
from prover.file_writes import FileWriteError
from prover.plugins import UserFilesError, load_plugin

PROJECT = Path(__file__).parent / "data" / "isabelle-holes" / "proj"
FOO = (PROJECT / "Foo.thy").read_text(encoding="utf-8")


def holes_by_label(text=FOO):
    return {hole.label: hole for hole in find_holes(text)}


# -- finding holes -----------------------------------------------------------------------------------------------
def test_every_hole_of_a_realistic_theory_is_found_in_file_order_with_its_kind_and_line():
    found = [(hole.label, hole.kind, hole.line) for hole in find_holes(FOO)]
    assert found == [
        ("add_zero_right", LEMMA, 10),  # `lemma NAME [simp]:` with a bare sorry
        ("swap_twice", LEMMA, 20),  # an apply script ending in sorry
        ("sum_le#sorry1", STEP, 27),  # Isar: each `have ... sorry` stated on its own
        ("sum_le#sorry2", STEP, 29),
        ("not_stated", LEMMA, 36),  # `show ?case sorry` cannot be stated: the whole lemma
        ("abandoned", LEMMA, 44),  # `oops`
        ("semi.assoc4", LEMMA, 55),  # in `locale semi ... begin`
        ("semi.twice_assoc", LEMMA, 66),  # in `context semi begin`
        ("line78", LEMMA, 79),  # unnamed
    ]


def test_sorry_in_comments_strings_cartouches_notepads_and_finished_proofs_is_no_hole():
    text = FOO
    labels = set(holes_by_label(text))
    assert not {"double_mono", "mentions_in_string", "assoc_left", "uses_open"} & {l.split("#")[0] for l in labels}
    assert "(* nested sorry *)" in text and "\\<open>sorry\\<close>" in text and "''sorry''" in text
    assert all(text[hole.start:hole.end].strip().endswith(("sorry", "oops", "qed")) for hole in find_holes(text))


def test_a_structured_proof_with_sorry_in_nested_blocks_counts_each_step():
    text = ('theory T imports Main begin\n'
            'lemma nested: assumes "A" shows "A \\<and> A"\nproof\n  show "A"\n  proof -\n'
            '    have "A" using assms sorry\n    then show "A" .\n  qed\n  show "A" sorry\nqed\nend\n')
    holes = find_holes(text)
    assert [(h.label, h.kind) for h in holes] == [("nested#sorry1", STEP), ("nested#sorry2", STEP)]
    assert holes[0].goal == 'lemma assumes "A" shows "A"' and holes[0].siblings == 1


def test_unnamed_lemmas_are_found_but_unsupported_and_a_lemma_after_an_unfinished_proof_is_still_read():
    text = 'theory T imports Main begin\nlemma "True" sorry\nlemma broken: "x"\n  apply simp\nlemma ok: "y" sorry\nend\n'
    holes = find_holes(text)
    assert [h.label for h in holes] == ["line2", "ok"]
    assert "unnamed lemma" in holes[0].unsupported and holes[1].unsupported is None


def test_a_lemma_for_a_locale_target_is_named_with_it_and_method_arguments_end_with_the_next_command():
    text = ('theory T imports Main begin\nlocale L = fixes x :: nat\n'
            'lemma (in L) l1 [simp]: "x = x" by (simp add: refl)\n'
            'lemma (in L) l2: "x + 0 = x"\n  apply simp\n  sorry\n'
            'instance nat :: order ..\nlemma l3: "True" proof qed simp\nlemma l4: "True" sorry\nend\n')
    assert [(h.label, h.replaced) for h in find_holes(text)] == [("L.l2", "\n  apply simp\n  sorry"),
                                                                  ("l4", " sorry")]
    assert find_holes(text)[1].open_before == ("L.l2",)


def test_open_lemmas_before_a_hole_are_the_earlier_sorry_lemmas_but_not_abandoned_ones():
    holes = holes_by_label()
    assert holes["swap_twice"].open_before == ("add_zero_right",)
    assert "abandoned" not in holes["semi.twice_assoc"].open_before
    assert holes["semi.twice_assoc"].open_before[-1] == "semi.assoc4"


def test_a_theory_that_does_not_lex_is_a_lex_error():
    with pytest.raises(LexError, match="unterminated comment"):
        find_holes("theory T imports Main begin\n(* open\nlemma x: \"y\" sorry\nend\n")


# -- spans and splicing ------------------------------------------------------------------------------------------
def test_each_span_is_exactly_its_replaced_text_and_a_fill_keeps_every_other_character():
    for hole in find_holes(FOO):
        assert FOO[hole.start:hole.end] == hole.replaced
        filled = fill_hole(FOO, hole, ["by simp"])
        assert filled[:hole.start] == FOO[:hole.start]
        assert filled.endswith(FOO[hole.end:])


def test_lemma_proofs_go_on_their_own_indented_lines_and_step_proofs_where_the_sorry_was():
    holes = holes_by_label()
    lemma = fill_hole(FOO, holes["add_zero_right"], ["apply simp", "done"])
    assert 'lemma add_zero_right [simp]: "n + 0 = (n::nat)"\n  apply simp\n  done\n' in lemma
    step = fill_hole(FOO, holes["sum_le#sorry1"], ["by simp"])
    assert '  have step1: "a + a \\<le> b + a" using h by simp\n' in step
    locale = fill_hole(FOO, holes["semi.assoc4"], ["by (simp add: assoc)"])
    assert 'lemma assoc4: "f (f (f a b) c) d = f a (f b (f c d))"\n  by (simp add: assoc)\n' in locale


def test_filling_several_proofs_refinds_the_holes_and_leaves_the_others():
    filled = fill_proofs(FOO, {"sum_le#sorry2": ["by simp"], "add_zero_right": ["by simp"]})
    assert set(holes_by_label(filled)) == set(holes_by_label()) - {"add_zero_right", "sum_le#sorry2"}
    assert filled.replace('"n + 0 = (n::nat)"\n  by simp', '"n + 0 = (n::nat)"\n  sorry') \
        .replace("using h by simp\n  ultimately", "using h sorry\n  ultimately") == FOO


def test_a_changed_file_is_refused():
    hole = holes_by_label()["add_zero_right"]
    with pytest.raises(ValueError, match="changed since"):
        fill_hole(FOO.replace("  sorry", "  oops", 1), hole, ["by simp"])
    with pytest.raises(ValueError, match="no hole nothing"):
        fill_proofs(FOO, {"nothing": ["by simp"]})


# -- context -----------------------------------------------------------------------------------------------------
def files(tmp_path, checker=None):
    folder = tmp_path / "proj"
    if not folder.exists():
        shutil.copytree(PROJECT, folder)
    return open_user_files([folder / "Foo.thy"], checker=checker or (lambda text: (True, [])))


def test_a_holes_theorem_is_its_theory_before_the_lemma_with_sibling_imports_made_absolute(tmp_path):
    user = files(tmp_path)
    by_label = {hole.label: hole for hole in user.holes}
    theorem = by_label["swap_twice"].theorem
    assert theorem.name == "Foo.thy:swap_twice" and theorem.statement == 'lemma swap_twice: "rev (rev xs) = xs"'
    basics = (tmp_path / "proj" / "Basics").as_posix()
    assert f'imports "{basics}" "HOL-Library.Multiset"\nbegin' in theorem.header
    assert theorem.header.rstrip().endswith("by simp")  # double_mono, the lemma before
    step = by_label["sum_le#sorry1"].theorem
    assert step.statement == 'lemma fixes a b :: nat\n  assumes h: "a \\<le> b"\n  shows "a + a \\<le> b + a"'
    locale = by_label["semi.assoc4"].theorem
    assert locale.header.rstrip().endswith("begin") and "locale semi" in locale.header


def test_the_session_comes_from_the_root_file_above_the_theory(tmp_path):
    user = files(tmp_path)
    assert user.root == tmp_path / "proj" and user.project.parent_session == "HOL-Library"
    assert parent_session(tmp_path / "proj" / "ROOT", tmp_path / "proj" / "Nowhere.thy") is None
    assert [h.relative for h in user.holes][0] == "Foo.thy"


# -- the check in context, through the server TEST DOUBLE ---------------------------------------------------------
def oracle_judge(oracles=(), errors=()):
    """Plays Isabelle for SessionServerDouble: the theory runs, with `errors`, and the probe reports `oracles`."""
    def judge(text):
        line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("thm_oracles "))
        report = "oracles:" + "".join(f"\n  \\<bullet> {o}" for o in oracles)
        messages = [{"kind": "writeln", "message": report, "pos": {"line": line}}]
        messages += [{"kind": "error", "message": m, "pos": {"line": 12}} for m in errors]
        return not errors, messages
    return judge


def check_with_double(judge, label, tactics, connections=1):
    double = SessionServerDouble(judge, connections=connections)
    with double:
        address = double.address(double.password)
        checker = server_checker(address, session="HOL-Library", timeout=30,
                                 connect=lambda: IsabelleServerClient.connect(address, 10))
        hole = holes_by_label()[label]
        verdict = check_in_context(FOO, hole, tuple(tactics), PROJECT, lambda: checker)
    assert not double.errors
    return verdict, double


def test_a_clean_proof_is_accepted_after_the_whole_theory_runs_with_the_hole_filled():
    verdict, double = check_with_double(oracle_judge(), "add_zero_right", ["by simp"])
    assert verdict.accepted and verdict.reason == "" and verdict.axioms == ()
    sent = double.theory_texts[0]
    assert '"n + 0 = (n::nat)"\n  by simp\n' in sent and "thm_oracles add_zero_right\n" in sent
    assert f'"{(PROJECT / "Basics").as_posix()}"' in sent and sent.rstrip().endswith("end")
    assert [name for name, _ in double.commands] == ["session_start", "use_theories", "session_stop"]


def test_a_proof_resting_on_an_earlier_sorry_lemma_depends_on_that_open_lemma():
    verdict, _ = check_with_double(oracle_judge(["Pure.skip_proof"]), "semi.twice_assoc",
                                   ["using assoc4 by (simp add: assoc)"])
    assert verdict.accepted and verdict.reason == f"{OPEN_LEMMA} semi.assoc4"
    assert load_plugin("isabelle").user_files is not None


def test_a_step_whose_lemma_keeps_other_sorries_depends_on_that_lemma():
    verdict, _ = check_with_double(oracle_judge(["Pure.skip_proof"]), "sum_le#sorry1", ["by simp"])
    assert verdict.accepted and verdict.reason.startswith(OPEN_LEMMA) and "sum_le" in verdict.axioms


def test_skip_proof_with_no_open_lemma_to_blame_and_other_oracles_are_refused():
    verdict, _ = check_with_double(oracle_judge(["Pure.skip_proof"]), "add_zero_right", ["by simp"])
    assert not verdict.accepted and "skip_proof" in verdict.reason
    verdict, _ = check_with_double(oracle_judge(["Code_Generator.holds_by_evaluation"]), "add_zero_right",
                                   ["by simp"])
    assert not verdict.accepted and "relies on the oracle Code_Generator.holds_by_evaluation" in verdict.reason


def test_an_error_anywhere_in_the_theory_refuses_with_its_line():
    verdict, _ = check_with_double(oracle_judge(errors=["Failed to finish proof"]), "add_zero_right", ["by auto"])
    assert not verdict.accepted and verdict.reason == "Isabelle (line 12): Failed to finish proof"


@pytest.mark.parametrize("tactics, reason", [
    (["sorry"], "skipped proof"),
    (["apply simp", "oops"], "abandons the proof"),
    (["by simp", "end", "lemma x: \"False\"", "by simp"], "does not close its goal"),
    (["apply simp"], "does not close its goal"),
    (["by (tactic \\<open>all_tac\\<close>)"], "ML tactic"),
])
def test_a_proof_that_skips_cheats_or_escapes_is_refused_before_isabelle_runs(tactics, reason):
    assert reason in proof_problem(tactics)
    verdict = check_in_context(FOO, holes_by_label()["add_zero_right"], tuple(tactics), PROJECT,
                               lambda: pytest.fail("Isabelle must not run"))
    assert not verdict.accepted and reason in verdict.reason


# -- writing back ------------------------------------------------------------------------------------------------
def test_a_patch_applies_with_git_and_changes_only_the_hole(tmp_path):
    user = files(tmp_path)
    foo = tmp_path / "proj" / "Foo.thy"
    outcome = user.write_back(foo, {"add_zero_right": ["by simp"]}, False, tmp_path / "run")
    assert outcome.patch == tmp_path / "run" / "patches" / "Foo.thy.diff" and foo.read_text() == FOO
    subprocess.run(["git", "apply", str(outcome.patch)], cwd=tmp_path / "proj", check=True)
    assert foo.read_text() == fill_proofs(FOO, {"add_zero_right": ["by simp"]})


def test_write_puts_the_proofs_in_after_isabelle_runs_the_filled_theory(tmp_path):
    seen = []
    user = files(tmp_path, checker=lambda text: (seen.append(text) or True, []))
    foo = tmp_path / "proj" / "Foo.thy"
    os.chmod(foo, 0o640)
    outcome = user.write_back(foo, {"sum_le#sorry1": ["by simp"], "swap_twice": ["by simp"]}, True, tmp_path / "run")
    assert outcome.written, outcome.reason
    assert foo.read_text() == fill_proofs(FOO, {"sum_le#sorry1": ["by simp"], "swap_twice": ["by simp"]})
    assert os.stat(foo).st_mode & 0o777 == 0o640 and len(seen) == 1
    assert not [p for p in foo.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_write_isabelle_rejects_or_a_locked_or_read_only_file_is_left_untouched(tmp_path):
    reject = lambda text: (False, [{"kind": "error", "message": "Failed to apply proof method", "pos": {"line": 11}}])
    user = files(tmp_path, checker=reject)
    foo = tmp_path / "proj" / "Foo.thy"
    outcome = user.write_back(foo, {"add_zero_right": ["by auto"]}, True, tmp_path / "run")
    assert not outcome.written and "line 11" in outcome.reason and foo.read_text() == FOO
    with open(foo) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(FileWriteError, match="another writer has held it"):
            write_proofs(foo, {"add_zero_right": ["by simp"]}, lambda: pytest.fail("Isabelle ran"), lock_wait=0.2)
    assert foo.read_text() == FOO
    os.chmod(foo, 0o444)
    outcome = files(tmp_path).write_back(foo, {"add_zero_right": ["by simp"]}, True, tmp_path / "run")
    assert not outcome.written and "read-only" in outcome.reason and foo.read_text() == FOO


# -- the CLI without Isabelle ------------------------------------------------------------------------------------
def prover_without_isabelle(tmp_path, *args):
    env = {key: value for key, value in os.environ.items() if key not in ("ISABELLE_HOME", "LLEMMA_PROVER_ISABELLE_HOME")}
    env.update(PATH=os.path.dirname(sys.executable) + ":/usr/bin:/bin", LLEMMA_PROVER_CACHE=str(tmp_path / "cache"))
    return subprocess.run([sys.executable, "-m", "prover.cli", "prove", *map(str, args), "--backend", "isabelle",
                           "--model", "none", "--no-progress"], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)


def test_without_isabelle_every_hole_gets_a_row_saying_it_is_not_provable_here(tmp_path):
    if shutil.which("isabelle"):
        pytest.skip("isabelle is installed here")
    shutil.copytree(PROJECT, tmp_path / "proj")
    done = prover_without_isabelle(tmp_path, "proj/Foo.thy", "--out", tmp_path / "run")
    assert "Traceback" not in done.stderr
    rows = {row["name"]: row for row in latest_rows(read_rows(tmp_path / "run" / "results.jsonl"))}
    assert len(rows) == len(find_holes(FOO)) and {row["status"] for row in rows.values()} == {"unsupported"}
    assert rows["Foo.thy:swap_twice"]["reason"].startswith("not provable here: Isabelle not found")
    assert rows["Foo.thy:swap_twice"]["line"] == 20 and rows["Foo.thy:swap_twice"]["file"] == "Foo.thy"
    assert "unsupported 9" in done.stdout.strip().splitlines()[-2]  # the last line says where the report is
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith("error: 9 holes found, none provable here")
    assert (tmp_path / "proj" / "Foo.thy").read_text() == FOO


@pytest.mark.parametrize("target, message", [
    ("proj/Basics.thy", "error: no holes (lemmas with sorry, proofs ending in oops) in proj/Basics.thy"),
    ("proj/ROOT", "is not an Isabelle theory (.thy)"),
    ("proj/Nothing.thy", "no such file or folder"),
])
def test_nothing_to_do_is_one_line_and_a_non_zero_exit(tmp_path, target, message):
    shutil.copytree(PROJECT, tmp_path / "proj")
    done = prover_without_isabelle(tmp_path, target, "--out", tmp_path / "run")
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1 and message in lines[0], done.stderr


def test_rocq_load_paths_are_refused_for_isabelle(tmp_path):
    with pytest.raises(UserFilesError, match="ROOT file"):
        open_user_files([PROJECT / "Foo.thy"], [("-R", "theories", "Foo")])
