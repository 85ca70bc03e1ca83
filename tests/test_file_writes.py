"""Rewriting a user's file safely (prover.file_writes), on real files, real locks, a real killed process and a real
`git apply` in a temp repository."""
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prover.file_writes import FileWriteError, replace_file, rewriting, unified_diff, write_patch
from killed_writer import RENAME_THEN_WAIT

REPO = Path(__file__).parents[1]
TEXT = "Lemma a : True.\nAdmitted.\n"
NEW = "Lemma a : True.\nProof.\n  exact I.\nQed.\n"


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "src" / "A.v"
    path.parent.mkdir()
    path.write_text(TEXT)
    return path


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_rewrite_replaces_the_file_keeping_its_permission_bits_and_leaves_no_temp(source):
    source.chmod(0o640)
    with rewriting(source) as held:
        assert held.text == TEXT
        held.replace(NEW)
    assert source.read_text() == NEW and source.stat().st_mode & 0o777 == 0o640
    assert hidden(source.parent) == []


def test_a_rewrite_through_a_symbolic_link_replaces_the_file_it_names(source, tmp_path):
    link = tmp_path / "Link.v"
    link.symlink_to(source)
    with rewriting(link) as held:
        assert held.path == source
        held.replace(NEW)
    assert link.is_symlink() and source.read_text() == NEW


def test_line_endings_and_a_missing_final_newline_stay_as_they_were(source):
    source.write_bytes(b"a\r\nb")
    with rewriting(source) as held:
        assert held.text == "a\r\nb"
        held.replace(held.text + "\r\nc")
    assert source.read_bytes() == b"a\r\nb\r\nc"


@pytest.mark.parametrize("read_only", ["file", "folder"])
def test_a_read_only_file_or_folder_is_refused_in_one_line_before_the_lock(source, read_only):
    target = source if read_only == "file" else source.parent
    mode = target.stat().st_mode
    target.chmod(0o444 if read_only == "file" else 0o555)
    try:
        with pytest.raises(FileWriteError) as caught:
            with rewriting(source):
                pytest.fail("a read-only file was held for rewriting")
    finally:
        target.chmod(mode)
    assert "read-only" in str(caught.value) and "\n" not in str(caught.value)
    assert source.read_text() == TEXT and hidden(source.parent) == []


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(FileWriteError, match="no such file"):
        with rewriting(tmp_path / "Gone.v"):
            pass


def test_a_second_writer_waits_a_bounded_time_then_fails_clearly(source):
    with open(source) as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the first writer, still at work
        started = time.monotonic()
        with pytest.raises(FileWriteError, match="another writer has held it") as caught:
            with rewriting(source, wait=0.5):
                pytest.fail("the lock was taken twice")
        assert time.monotonic() - started >= 0.5 and "\n" not in str(caught.value)
    assert source.read_text() == TEXT


def test_a_writer_that_waited_takes_the_lock_once_the_first_is_done(source):
    with rewriting(source) as first:
        first.replace(NEW)
    with rewriting(source, wait=0.5) as second:
        assert second.text == NEW


def test_an_edit_saved_while_the_new_text_was_checked_is_kept(source):
    with pytest.raises(FileWriteError, match="changed while coqc ran"):
        with rewriting(source) as held:
            source.write_text(TEXT + "(* saved by the editor *)\n")  # an editor takes no lock
            held.replace(NEW, meanwhile="coqc ran")
    assert source.read_text().endswith("(* saved by the editor *)\n")


def test_the_temp_file_of_a_killed_writer_is_removed_by_the_next_writer_and_a_live_ones_kept(source):
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    abandoned = source.with_name(f".{source.name}.{dead.pid}-1.tmp")
    alive = source.with_name(f".{source.name}.{os.getpid()}-1.tmp")
    other = source.with_name(".B.v.1-1.tmp")
    for temp in (abandoned, alive, other):
        temp.write_text("half")
    with rewriting(source):
        pass
    assert hidden(source.parent) == sorted([alive.name, other.name])


# Holds the file for rewriting and replaces its text: killed at the rename (tests/killed_writer.py).
_KILLED_WRITER = RENAME_THEN_WAIT + """
path, text = ARGS[:2]
from prover.file_writes import rewriting
with rewriting(path) as held:
    held.replace(text)
"""


@pytest.mark.parametrize("moment", ["before", "after"])
def test_a_writer_killed_at_the_rename_leaves_the_old_file_or_the_whole_new_one(source, tmp_path, moment):
    marker = tmp_path / "at-rename"
    args = json.dumps([str(source), NEW, str(marker), moment])
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, args], env={**os.environ, "PYTHONPATH": str(REPO)},
                              stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120  # a guard against a hang, not a timing claim
        while not marker.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), writer.stderr.read()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
    assert source.read_text() == (TEXT if moment == "before" else NEW)
    if moment == "before":  # the killed writer's temp file is still there; the next writer clears it
        assert hidden(source.parent)
        with rewriting(source) as held:
            held.replace(NEW)
        assert hidden(source.parent) == [] and source.read_text() == NEW


def test_replace_file_keeps_the_owner_bits_of_an_executable(source):
    source.chmod(0o751)
    replace_file(source, NEW)
    assert source.stat().st_mode & 0o777 == 0o751 and source.read_text() == NEW


# -- patches ----------------------------------------------------------------------------------------------------
def git(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("old, new", [
    (TEXT, NEW),
    ("a\r\nb\r\nc", "a\r\nB\r\nc"),  # CRLF, no final newline
    ("x\fy\nz\n", "x\fy\nZ"),  # a form feed is no line break to git; the new text loses its final newline
    ("one\n", "one\ntwo"),
])
def test_a_patch_applies_with_git_apply_and_gives_the_new_text(tmp_path, old, new):
    (tmp_path / "theories").mkdir()
    source = tmp_path / "theories" / "A.v"
    source.write_bytes(old.encode())
    patch = write_patch(tmp_path / "run", "theories/A.v", old, new)
    assert patch == tmp_path / "run" / "patches" / "theories__A.v.diff"
    assert patch.read_text().startswith("--- a/theories/A.v\n+++ b/theories/A.v\n")
    assert git(tmp_path, "init", "-q").returncode == 0
    checked = git(tmp_path, "apply", "--check", str(patch))
    assert checked.returncode == 0, checked.stderr
    assert git(tmp_path, "apply", str(patch)).returncode == 0
    assert source.read_bytes() == new.encode()


def test_no_change_is_no_patch(tmp_path):
    assert unified_diff(TEXT, TEXT, "A.v") == ""
    assert write_patch(tmp_path / "run", "A.v", TEXT, TEXT) is None and not (tmp_path / "run").exists()


def test_patch_names_never_collide_and_a_rerun_rewrites_the_files_own_patch(tmp_path):
    out = tmp_path / "run"
    nested = write_patch(out, "a/b.v", TEXT, NEW)
    flat = write_patch(out, "a__b.v", TEXT, NEW)  # `/` as `__` would give it the same name
    assert nested.name == "a__b.v.diff" and flat.name == "a__b.v.2.diff"
    assert write_patch(out, "a__b.v", TEXT, NEW + "(* again *)\n") == flat
    assert write_patch(out, "a/b.v", TEXT, NEW) == nested
    assert flat.read_text().startswith("--- a/a__b.v\n") and nested.read_text().startswith("--- a/a/b.v\n")
    assert "(* again *)" in flat.read_text()
