"""Writing found proofs back into a user's Rocq file (coq_env.writeback), on copies of tests/data/coq-project.

A write changes only the holes it fills, and replaces the file only with a text coqc compiles under the project's
flags; whatever goes wrong (a wrong proof, a changed or read-only file, a missing .vo, a second writer, a writer
killed mid-write) the file is left as it was, or whole and new, and the reason is one line. Without writing, the
same change is a patch that `git apply` accepts.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from coq_env import writeback
from coq_env.holes import find_holes
from coq_env.project import project_for
from coq_env.writeback import MissingDependency, WriteError, fill_proofs, patch_for, write_patch, write_proofs
from killed_writer import RENAME_THEN_WAIT

REPO = Path(__file__).parents[1]
PROJECT = REPO / "tests" / "data" / "coq-project"
# iter_f_id's proof ends in Qed. with two admits: Lemmas.v compiles only once both are filled, so every write
# that must compile fills them too.
ADMITS = {"iter_f_id#admit1": "exact IH.", "iter_f_id#admit2": "apply f_id."}
DOUBLE_PLUS = {"double_plus": "intros n m. unfold double. lia."}
EVEN_4 = {"Evens.even_4": "reflexivity."}
WRONG_DOUBLE_PLUS = {"double_plus": "intros n m.\nexact I."}


def coqc(file: Path) -> subprocess.CompletedProcess:
    """Compile a file of the project in place, as `make` would."""
    flags = project_for(file).flags()
    return subprocess.run(["coqc", "-q", *flags, str(file)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def built_project(tmp_path_factory):
    """The test project with Base.v compiled (Lemmas.v requires it)."""
    folder = tmp_path_factory.mktemp("built") / "project"
    shutil.copytree(PROJECT, folder)
    done = coqc(folder / "theories" / "Base.v")
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.fixture
def project(built_project, tmp_path):
    folder = tmp_path / "project"
    shutil.copytree(built_project, folder)
    return folder


@pytest.fixture
def unbuilt_project(tmp_path):
    folder = tmp_path / "unbuilt"
    shutil.copytree(PROJECT, folder)
    return folder


@pytest.fixture
def no_compiling(monkeypatch):
    """For refusals that must come before any work: compiling fails the test."""
    monkeypatch.setattr(writeback, "compile_problem", lambda *a, **k: pytest.fail("compiled despite the refusal"))


def with_fills(text: str, fills: dict[str, str]) -> str:
    """`text` with the given replacements of its holes' spans, as find_holes locates them."""
    for hole in sorted(find_holes(text), key=lambda hole: -hole.start):
        if hole.label in fills:
            text = text[:hole.start] + fills[hole.label] + text[hole.end:]
    return text


@pytest.mark.rocq
def test_written_proofs_change_only_their_holes_and_the_file_compiles(project):
    lemmas = project / "theories" / "Lemmas.v"
    original = lemmas.read_text()
    result = write_proofs(lemmas, {**DOUBLE_PLUS, **ADMITS, **EVEN_4}, timeout=300)
    assert result.written and result.reason == ""
    assert set(result.filled) == {"double_plus", *ADMITS, "Evens.even_4"}
    assert lemmas.read_text() == with_fills(original, {
        "double_plus": "\nProof.\n  intros n m. unfold double. lia.\nQed.",
        "iter_f_id#admit1": "exact IH.",
        "iter_f_id#admit2": "apply f_id.",
        "Evens.even_4": "\n  Proof.\n    reflexivity.\n  Qed.",  # indented like `  #[local] Lemma even_4`
    })
    done = coqc(lemmas)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [h.label for h in find_holes(lemmas.read_text())] == ["plus3_double", "double_even"]


@pytest.mark.rocq
def test_a_proof_that_does_not_compile_leaves_the_file_byte_identical_and_the_reason_names_the_line(project):
    lemmas = project / "theories" / "Lemmas.v"
    before, stamp = lemmas.read_bytes(), lemmas.stat().st_mtime_ns
    result = write_proofs(lemmas, {**WRONG_DOUBLE_PLUS, **ADMITS}, timeout=300)
    assert not result.written and result.filled == ()
    # the statement ends on line 10: Proof. on 11, intros on 12, the wrong step on 13
    assert result.reason.startswith("does not compile: line 13 (in the proof written for double_plus): ")
    assert '"I"' in result.reason and "\n" not in result.reason
    assert lemmas.read_bytes() == before and lemmas.stat().st_mtime_ns == stamp


@pytest.mark.rocq
def test_the_line_named_is_the_errors_not_an_earlier_warnings(tmp_path):
    text = "Lemma a : True.\nProof. exact I. Qed.\nHint Resolve a.\nLemma b : False.\nAdmitted.\n"  # line 3 warns
    filled = fill_proofs(text, {"b": "exact I."})
    line, message = writeback.compile_problem(filled.text, "W.v", project_for(tmp_path / "W.v"), timeout=300)
    assert line == 6 and message.startswith('The term "I" has type "True"')


def test_writing_through_a_symbolic_link_replaces_the_file_it_names(unbuilt_project, tmp_path, monkeypatch):
    lemmas = unbuilt_project / "theories" / "Lemmas.v"
    (unbuilt_project / "theories" / "Base.vo").write_text("")  # counts as built: compiling is replaced below
    monkeypatch.setattr(writeback, "compile_problem", lambda *args, **kwargs: None)
    link = tmp_path / "Link.v"
    link.symlink_to(lemmas)
    original = lemmas.read_text()
    assert write_proofs(link, ADMITS).written
    assert link.is_symlink() and lemmas.read_text() == fill_proofs(original, ADMITS).text


def test_a_hole_that_is_gone_since_the_holes_were_read_is_refused(unbuilt_project, no_compiling):
    lemmas = unbuilt_project / "theories" / "Lemmas.v"
    assert "plus3_double" in [hole.label for hole in find_holes(lemmas.read_text())]
    edited = lemmas.read_text().replace(
        "x + y + y.\nAdmitted.", "x + y + y.\nProof. intros. unfold double. lia. Qed.")
    lemmas.write_text(edited)  # the user proved it meanwhile
    with pytest.raises(WriteError, match="no hole plus3_double in the file any more"):
        write_proofs(lemmas, {"plus3_double": "reflexivity."})
    assert lemmas.read_text() == edited


def test_an_edit_saved_while_the_proofs_compile_is_kept(unbuilt_project, monkeypatch):
    lemmas = unbuilt_project / "theories" / "Lemmas.v"
    (unbuilt_project / "theories" / "Base.vo").write_text("")  # counts as built: compiling is replaced below
    edited = lemmas.read_text() + "\n(* saved by the editor *)\n"

    def editor_saves(*args, **kwargs):
        lemmas.write_text(edited)
        return None  # "it compiles"

    monkeypatch.setattr(writeback, "compile_problem", editor_saves)
    with pytest.raises(WriteError, match="changed while the proofs compiled"):
        write_proofs(lemmas, ADMITS)
    assert lemmas.read_text() == edited


@pytest.mark.parametrize("read_only", ["file", "folder"])
def test_a_read_only_file_or_folder_is_refused_in_one_line_before_any_work(unbuilt_project, no_compiling, read_only):
    lemmas = unbuilt_project / "theories" / "Lemmas.v"
    before = lemmas.read_bytes()
    target = lemmas if read_only == "file" else lemmas.parent
    mode = target.stat().st_mode
    target.chmod(0o444 if read_only == "file" else 0o555)
    try:
        with pytest.raises(WriteError) as caught:
            write_proofs(lemmas, ADMITS)
    finally:
        target.chmod(mode)
    assert "read-only" in str(caught.value) and "\n" not in str(caught.value)
    assert lemmas.read_bytes() == before
    assert [p.name for p in lemmas.parent.iterdir() if p.name.startswith(".")] == []


def test_a_missing_dependency_is_one_line_naming_its_vo_and_how_to_build_it(unbuilt_project, no_compiling):
    lemmas = unbuilt_project / "theories" / "Lemmas.v"
    before = lemmas.read_bytes()
    with pytest.raises(MissingDependency) as caught:
        write_proofs(lemmas, ADMITS)
    message = str(caught.value)
    assert message.startswith("theories/Base.vo is missing (Foo.Base is required but not compiled)")
    assert "make" in message and "coq_makefile -f _CoqProject" in message and "\n" not in message
    assert lemmas.read_bytes() == before


def git(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=60)


@pytest.mark.rocq
def test_the_patch_applies_with_git_apply_and_gives_the_text_write_proofs_writes(project, tmp_path):
    proofs = {**DOUBLE_PLUS, **ADMITS, **EVEN_4}
    written = tmp_path / "written"
    shutil.copytree(project, written)
    lemmas = project / "theories" / "Lemmas.v"
    before = lemmas.read_bytes()
    patch = write_patch(tmp_path / "run", lemmas, proofs, root=project)
    assert patch == tmp_path / "run" / "patches" / "theories__Lemmas.v.diff"
    assert patch.read_text() == patch_for(lemmas, proofs, root=project)
    assert patch.read_text().startswith("--- a/theories/Lemmas.v\n+++ b/theories/Lemmas.v\n")
    assert lemmas.read_bytes() == before  # a patch only reads the file
    assert git(project, "init", "-q").returncode == 0
    checked = git(project, "apply", "--check", str(patch))
    assert checked.returncode == 0, checked.stderr
    assert git(project, "apply", str(patch)).returncode == 0
    assert write_proofs(written / "theories" / "Lemmas.v", proofs, timeout=300).written
    assert lemmas.read_bytes() == (written / "theories" / "Lemmas.v").read_bytes()


def test_a_patch_keeps_crlf_line_ends_and_a_missing_final_newline(tmp_path):
    text = "Lemma a : True.\r\nAdmitted.\r\n\r\nLemma b : True.\r\nProof.\r\n  (* later *)\r\nAdmitted."
    source = tmp_path / "A.v"
    source.write_bytes(text.encode())
    proofs = {"a": "exact I.", "b": "split."}
    patch = tmp_path / "A.diff"
    patch.write_text(patch_for(source, proofs, root=tmp_path))
    assert "\\ No newline at end of file" in patch.read_text()
    assert git(tmp_path, "init", "-q").returncode == 0
    applied = git(tmp_path, "apply", str(patch))
    assert applied.returncode == 0, applied.stderr
    assert source.read_bytes().decode() == fill_proofs(text, proofs).text == (
        "Lemma a : True.\r\nProof.\r\n  exact I.\r\nQed.\r\n\r\n"
        "Lemma b : True.\r\nProof.\r\n  (* later *)\r\n  split.\r\nQed.")


def test_an_admit_after_a_selector_is_filled_in_braces_and_a_replaced_proof_keeps_its_opening_and_comments():
    text = (
        "Section S.\n  Variable n : nat.\n"
        "  Lemma both : True /\\ True.\n"
        "  Proof.\n    split.\n    2: admit.\n    exact I.\n  Qed.\n"
        "  Lemma used : n = n.\n"
        "  Proof using n. (* not Proof. *)\n    (* try lia *) intros.\n  Admitted.\n"
        "End S.\n"
    )
    filled = fill_proofs(text, {"both#admit1": "exact I.", "used": ["reflexivity.", "  (* indented kept *)"]})
    assert filled.text == (
        "Section S.\n  Variable n : nat.\n"
        "  Lemma both : True /\\ True.\n"
        "  Proof.\n    split.\n    2: { exact I. }\n    exact I.\n  Qed.\n"
        "  Lemma used : n = n.\n"
        "  Proof using n.\n    (* not Proof. *)\n    (* try lia *)\n"
        "    reflexivity.\n      (* indented kept *)\n  Qed.\n"
        "End S.\n"
    )
    start, end = filled.spans["both#admit1"]
    assert filled.text[start:end] == "2: { exact I. }"


def test_a_multi_line_tactic_replacing_an_admit_is_aligned_under_it():
    text = "Lemma t : True /\\ True.\nProof.\n  split.\n  - admit.\n  - exact I.\nQed.\n"
    filled = fill_proofs(text, {"t#admit1": "idtac.\nexact I."})
    assert filled.text == "Lemma t : True /\\ True.\nProof.\n  split.\n  - idtac.\n    exact I.\n  - exact I.\nQed.\n"


@pytest.mark.parametrize("proof, why", [
    ("exact I. Qed. Axiom cheat : False.", "is a command"),
    ("admit.", "leaves the goal unproved"),
    ("  \n", "empty"),
])
def test_a_proof_that_is_not_tactics_is_refused(proof, why):
    with pytest.raises(WriteError, match=why):
        fill_proofs("Lemma t : True.\nAdmitted.\n", {"t": proof})


@pytest.mark.rocq
def test_two_writers_at_once_one_writes_and_the_other_refuses_the_changed_file(project):
    lemmas = project / "theories" / "Lemmas.v"
    original = lemmas.read_text()
    wanted = {"first": {**DOUBLE_PLUS, **ADMITS}, "second": {**EVEN_4, **ADMITS}}
    outcomes = {}

    def write(name):
        try:
            outcomes[name] = write_proofs(lemmas, wanted[name], timeout=300)
        except WriteError as exc:
            outcomes[name] = exc

    writers = [threading.Thread(target=write, args=(name,)) for name in wanted]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(600)
    written = [name for name, outcome in outcomes.items() if getattr(outcome, "written", False)]
    assert len(written) == 1, outcomes
    (refused,) = [outcome for outcome in outcomes.values() if isinstance(outcome, WriteError)]
    assert "iter_f_id#admit1" in str(refused) and "changed since" in str(refused)  # the winner filled those
    assert lemmas.read_text() == fill_proofs(original, wanted[written[0]]).text
    assert coqc(lemmas).returncode == 0


# Runs write_proofs: killed at the rename (tests/killed_writer.py).
_KILLED_WRITER = RENAME_THEN_WAIT + """
path, proofs = ARGS[:2]
from coq_env.writeback import write_proofs
write_proofs(path, proofs)
"""


@pytest.mark.rocq
@pytest.mark.parametrize("moment", ["before", "after"])
def test_a_writer_killed_at_the_rename_leaves_the_old_file_or_the_whole_new_one(project, tmp_path, moment):
    lemmas = project / "theories" / "Lemmas.v"
    assert write_proofs(lemmas, ADMITS, timeout=300).written  # from here on the file compiles
    old = lemmas.read_text()
    marker = tmp_path / "at-rename"
    args = json.dumps([str(lemmas), DOUBLE_PLUS, str(marker), moment])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, args], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), writer.stderr.read() if writer.poll() is not None else "no rename in 300s"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
    expected = old if moment == "before" else fill_proofs(old, DOUBLE_PLUS).text
    assert lemmas.read_text() == expected
    done = coqc(lemmas)
    assert done.returncode == 0, done.stdout + done.stderr
    if moment == "before":  # the killed writer's temp file is still beside the file; the next write clears it
        assert [p.name for p in lemmas.parent.glob(".Lemmas.v.*.tmp")]
        assert write_proofs(lemmas, DOUBLE_PLUS, timeout=300).written
        assert list(lemmas.parent.glob(".Lemmas.v.*.tmp")) == []


def test_a_proof_whose_tactic_needs_a_library_the_file_lacks_brings_its_import(tmp_path):
    # The search loads lia and CoqHammer's tactics for every proof; a user's file need not (ssreflect.v's
    # `sauto lq: on` was written without its import): the import goes on the line before the lemma.
    path = tmp_path / "Plain.v"
    path.write_text("Section S.\n  Variable k : nat.\n  (** About k. *)\n  Lemma k_plus : k + 0 = k.\n  Admitted.\n"
                    "End S.\nLemma tt : True.\nAdmitted.\n")
    result = write_proofs(path, {"k_plus": "lia.", "tt": "sfirstorder."}, timeout=300)
    assert result.written, result.reason
    assert path.read_text() == (
        "Section S.\n  Variable k : nat.\n  (** About k. *)\n  From Coq Require Import Lia.\n  Lemma k_plus : k + 0 = k.\n"
        "  Proof.\n    lia.\n  Qed.\nEnd S.\nFrom Hammer Require Import Tactics.\nLemma tt : True.\nProof.\n  sfirstorder.\n"
        "Qed.\n")
    assert coqc(path).returncode == 0


def test_a_file_that_imports_the_library_gets_no_second_import():
    text = "From Coq Require Import Lia.\nLemma z (n : nat) : n + 0 = n.\nAdmitted.\n"
    assert fill_proofs(text, {"z": "lia."}).text == text.replace("Admitted.", "Proof.\n  lia.\nQed.")
