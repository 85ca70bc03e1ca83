"""Reading a ROOT file's sessions (isabelle_env.root_file) and the session a user's theories are checked on: the
parent of the ROOT session holding them, through the Isabelle server TEST DOUBLE (tests/isabelle_server_double.py:
a scripted peer, not Isabelle) and, where `isabelle` is installed, live."""
import json
from pathlib import Path

import pytest
from isabelle_server_double import SessionServerDouble

from isabelle_env.root_file import RootFileError, read_root, session_holding
from isabelle_env.setup import find_isabelle
from isabelle_env.user_files import DEFAULT_PARENT, open_user_files, parent_session
from prover.plugins import UserFilesError

PROJECT = Path(__file__).parent / "data" / "isabelle-holes" / "proj"
# Two sessions, the second built on the first, with everything else a ROOT entry may hold around what matters.
TWO_SESSIONS = """(* sessions of a test project *)
chapter Demo

session Demo_Base (main timing) in "base" = "HOL-Library" +
  description \\<open>definitions the lemmas use\\<close>
  options [quick_and_dirty, timeout = 600]
  theories Defs

session Demo_Lemmas = Demo_Base +
  options [document = false]
  sessions "HOL-Library"
  directories "more" extra \\<comment> \\<open>where Extra lives\\<close>
  theories [document = false]
    Lemmas (global)
    Extra
    "deep/Deeper"
  document_files (in "doc") "root.tex"

session Standalone = theories Alone
"""
THEORY = 'theory {name}\n  imports Main\nbegin\n\nlemma {name}_t: "True"\n  sorry\n\nend\n'


@pytest.fixture
def two_sessions(tmp_path):
    """A project folder with TWO_SESSIONS as its ROOT and a theory with a hole for each theory it names."""
    root = tmp_path / "demo"
    for relative in ("base/Defs", "Lemmas", "more/Extra", "deep/Deeper", "Alone", "Unlisted"):
        file = (root / relative).with_suffix(".thy")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(THEORY.format(name=file.stem))
    (root / "ROOT").write_text(TWO_SESSIONS)
    return root


def test_the_test_projects_root_has_one_session_on_hol_library():
    (entry,) = read_root(PROJECT / "ROOT")
    assert (entry.name, entry.parent, entry.folder) == ("Holes_Demo", "HOL-Library", PROJECT)
    assert entry.theories == ("Basics", "Foo") and entry.directories == ()
    assert session_holding(PROJECT / "ROOT", PROJECT / "Foo.thy") == entry
    assert parent_session(PROJECT / "ROOT", PROJECT / "Foo.thy") == "HOL-Library"


def test_every_part_of_a_session_entry_is_read_as_isabelle_reads_it(two_sessions):
    base, lemmas, alone = read_root(two_sessions / "ROOT")
    assert (base.name, base.parent, base.folder, base.theories) == ("Demo_Base", "HOL-Library", two_sessions / "base",
                                                                     ("Defs",))
    assert (lemmas.name, lemmas.parent, lemmas.folder) == ("Demo_Lemmas", "Demo_Base", two_sessions)
    assert lemmas.directories == (two_sessions / "more", two_sessions / "extra")
    assert lemmas.theories == ("Lemmas", "Extra", "deep/Deeper")  # options, `(global)`, comments and files left out
    assert (alone.name, alone.parent, alone.theories) == ("Standalone", None, ("Alone",))


@pytest.mark.parametrize("theory, session, parent", [
    ("base/Defs.thy", "Demo_Base", "HOL-Library"),  # in the session's `in` folder
    ("Lemmas.thy", "Demo_Lemmas", "Demo_Base"),
    ("more/Extra.thy", "Demo_Lemmas", "Demo_Base"),  # in one of its `directories`
    ("deep/Deeper.thy", "Demo_Lemmas", "Demo_Base"),  # a theory named by its path
    ("Alone.thy", "Standalone", "Pure"),  # no `PARENT +`: a root session
])
def test_a_theory_belongs_to_the_session_whose_folders_hold_it(two_sessions, theory, session, parent):
    assert session_holding(two_sessions / "ROOT", two_sessions / theory).name == session
    assert parent_session(two_sessions / "ROOT", two_sessions / theory) == parent


def test_a_theory_no_session_holds_in_its_folder_has_no_session(two_sessions):
    (two_sessions / "Defs.thy").write_text(THEORY.format(name="Defs"))  # Demo_Base's Defs lives in base/
    for theory in ("Unlisted.thy", "Defs.thy", "base/Lemmas.thy"):
        assert session_holding(two_sessions / "ROOT", two_sessions / theory) is None
    assert parent_session(PROJECT / "ROOT", PROJECT / "Nowhere.thy") is None


@pytest.mark.parametrize("text, problem", [
    ("session = HOL + theories A", "`session` without a name"),
    ("session A HOL + theories A", "no `=` after its name"),
    ("session A (main = HOL + theories A", "`(` is never closed"),
    ("theories A", "`theories` where a `session` or `chapter` entry should start"),
    ("session A = HOL + (* open", "cannot read its sessions"),
])
def test_a_root_that_is_not_session_entries_is_one_line_saying_where(tmp_path, text, problem):
    (tmp_path / "ROOT").write_text(text)
    with pytest.raises(RootFileError, match=problem.replace("(", r"\(")) as caught:
        read_root(tmp_path / "ROOT")
    assert "\n" not in str(caught.value)
    (tmp_path / "A.thy").write_text(THEORY.format(name="A"))
    with pytest.raises(UserFilesError, match="ROOT"):
        open_user_files([tmp_path / "A.thy"], checker=lambda text: (True, []))


def test_the_project_records_the_parent_and_the_roots_folder_when_the_parent_is_defined_there(two_sessions):
    lemmas = open_user_files([two_sessions / "Lemmas.thy", two_sessions / "more" / "Extra.thy"],
                             checker=lambda text: (True, []))
    assert lemmas.project.parent_session == "Demo_Base" and lemmas.project.session_dirs == (two_sessions,)
    defs = open_user_files([two_sessions / "base" / "Defs.thy"], checker=lambda text: (True, []))
    assert defs.project.parent_session == "HOL-Library" and defs.project.session_dirs == ()
    unlisted = open_user_files([two_sessions / "Unlisted.thy"], checker=lambda text: (True, []))
    assert unlisted.project.parent_session == DEFAULT_PARENT == "HOL"


def test_theories_of_sessions_with_different_parents_are_refused_in_one_line(two_sessions):
    with pytest.raises(UserFilesError, match="different parents \\(Demo_Base, HOL-Library\\)"):
        open_user_files([two_sessions / "Lemmas.thy", two_sessions / "base" / "Defs.thy"],
                        checker=lambda text: (True, []))


def sessions_started(double: SessionServerDouble) -> list[dict]:
    return [argument for name, argument in double.commands if name == "session_start"]


@pytest.mark.parametrize("theory, session, dirs", [
    ("Lemmas.thy", "Demo_Base", True),
    ("base/Defs.thy", "HOL-Library", False),
    ("Unlisted.thy", "HOL", False),
])
def test_the_check_runs_in_a_session_of_the_roots_parent_on_the_recorded_server(two_sessions, tmp_path,
                                                                                monkeypatch, theory, session, dirs):
    judge = lambda text: (True, [{"kind": "writeln", "message": "oracles:", "pos": {"line": text.count("\n")}}])
    double = SessionServerDouble(judge, connections=2)  # one probe of the recorded address, one check
    with double:
        record = tmp_path / "cache" / "isabelle" / "setup.json"
        record.parent.mkdir(parents=True)
        record.write_text(json.dumps({"driver": "server", "check_session": "HOL-Number_Theory",
                                      "server": double.address(double.password).as_record()}))
        monkeypatch.setenv("LLEMMA_PROVER_CACHE", str(tmp_path / "cache"))
        user = open_user_files([two_sessions / theory])
        user.check(user.holes[0], ["by simp"])
    (started,) = sessions_started(double)
    assert started["session"] == session
    assert started.get("dirs", []) == ([str(two_sessions)] if dirs else [])


@pytest.mark.skipif(find_isabelle() is None, reason="needs a live Isabelle (`isabelle` on PATH or ISABELLE_HOME)")
def test_live_a_hole_of_a_session_built_on_a_parent_of_the_same_root_is_proved(tmp_path):
    project = tmp_path / "live"
    project.mkdir()
    (project / "ROOT").write_text("session Live_Base = HOL +\n  theories Base\n\n"
                                  "session Live_Top = Live_Base +\n  theories Top\n")
    (project / "Base.thy").write_text('theory Base imports Main begin\ndefinition twice :: "nat \\<Rightarrow> nat" '
                                      'where "twice n = n + n"\nend\n')
    (project / "Top.thy").write_text('theory Top imports Live_Base.Base begin\nlemma "twice 2 = 4"\n  sorry\nend\n')
    user = open_user_files([project / "Top.thy"])
    assert user.project.parent_session == "Live_Base"
    verdict = user.check(user.holes[0], ["by (simp add: twice_def)"])
    assert verdict.accepted, verdict.reason
