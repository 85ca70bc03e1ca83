"""Proofstep extraction from real Coq sources: states as the search renders them, lemma bookkeeping,
splits by file, dedupe, the per-file log and resuming, and the `prover extract` command's errors."""
import json
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from click.testing import CliRunner

from coq_env.backend import RocqBackend
from coq_env.extract import extract_proofsteps, load_heldout_theorems
from coq_env.replay import replay_file
from coq_env.sources import LIBRARIES, ExtractError, Library, library_root, replay_sentences, source_files
from prover.cli import main
from prover.proofsteps import ExtractOptions, read_proofsteps, split_of
from prover.types import Advanced, Proved, StatementError, Theorem

PROVER = [sys.executable, "-m", "prover.cli"]

TINY = """(* A comment. With dots. *)
Require Import Arith.

Lemma and_two : True /\\ True.
Proof.
  split.
  - exact I.
  - exact I.
Qed.

Lemma braces (n : nat) : n + 0 = n /\\ 0 + n = n.
Proof using.
  split.
  { rewrite Nat.add_0_r. reflexivity. }
  { reflexivity. }
Qed.

Lemma focus (m : nat) : m = m /\\ 0 + m = m.
Proof.
  split.
  2:{ reflexivity. }
  reflexivity.
Qed.

Lemma admitted_one : 1 = 2.
Proof.
  simpl.
Admitted.

Lemma failing (n : nat) : n = n + 1.
Proof.
  intros. reflexivity.
Qed.

Check failing.

Definition three : nat.
Proof. exact 3. Defined.

Goal True. exact I. Qed.

Lemma with_auto : True /\\ True.
Proof with auto.
  split...
Qed.

Lemma after_failure (n : nat) : n = n + 1 -> True.
Proof. intros _. exact I. Qed.
"""

# An error outside any proof stops the file; the lemma before it still counts.
BROKEN = """Lemma ok_before : 2 = 2.
Proof. reflexivity. Qed.
Definition broken := undefined_name.
Lemma after_broken : 3 = 3.
Proof. reflexivity. Qed.
"""

# The same proof as and_two under another name: its rows are duplicates.
COPY = """Lemma and_two_again : True /\\ True.
Proof.
  split.
  - exact I.
  - exact I.
Qed.
"""


@pytest.fixture
def tiny_folder(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "Tiny.v").write_text(TINY)
    (src / "sub" / "Broken.v").write_text(BROKEN)
    (src / "sub" / "Copy.v").write_text(COPY)
    return src


def by_name(replay):
    return {lemma.name: lemma for lemma in replay.lemmas}


def compare_states(backend, header, lemma) -> int:
    """Open the lemma with RocqBackend, run each recorded step's path (bullets included) and compare the
    backend's state before the step with the recorded one, byte for byte. Returns the steps compared: it
    stops at a sentence the backend cannot run out of the file's context (a file-local Ltac, say)."""
    states = {(): backend.open(Theorem(lemma.name, lemma.statement, header, "rocq"))}
    compared = 0
    for step in lemma.steps:
        for i, sentence in enumerate(step.path):
            if step.path[:i + 1] not in states:
                result = backend.run_tactic(states[step.path[:i]], sentence, 10)
                if not isinstance(result, Advanced):
                    return compared
                states[step.path[:i + 1]] = result.state
        assert backend.render_state(states[step.path]) == step.state, (lemma.name, step.tactic)
        compared += 1
    return compared


@pytest.mark.rocq
def test_lemmas_bullets_braces_and_failures_in_a_small_file(tiny_folder):
    [tiny] = [f for f in source_files(tiny_folder) if f.relpath == "Tiny.v"]
    replay = replay_file(tiny)
    assert replay.status == "ok" and replay.sentences_run == replay.sentences
    lemmas = by_name(replay)
    assert {n: lemma.status for n, lemma in lemmas.items()} == {
        "and_two": "kept", "braces": "kept", "focus": "kept", "admitted_one": "admitted", "failing": "failed", "three": "kept",
        "with_auto": "kept", "after_failure": "kept"}  # the Goal is replayed, not recorded
    assert [s.tactic for s in lemmas["and_two"].steps] == ["split.", "exact I.", "exact I."]
    assert lemmas["and_two"].steps[2].path == ("split.", "-", "exact I.", "-")
    assert [s.path for s in lemmas["focus"].steps] == [(), ("split.", "2:{"), ("split.", "2:{", "reflexivity.", "}")]
    assert [s.tactic for s in lemmas["braces"].steps] == ["split.", "rewrite Nat.add_0_r.", "reflexivity.", "reflexivity."]
    assert lemmas["failing"].error and lemmas["with_auto"].steps[0].tactic == "split..."
    rows, dropped = replay.rows("train")
    assert dropped == Counter({"needs Proof with": 1})  # `split...` means something only after `Proof with`
    assert [(r.theorem, r.tactic) for r in rows] == [
        ("and_two", "split."), ("and_two", "exact I."), ("and_two", "exact I."),
        ("braces", "split."), ("braces", "rewrite Nat.add_0_r."), ("braces", "reflexivity."), ("braces", "reflexivity."),
        ("focus", "split."), ("focus", "reflexivity."), ("focus", "reflexivity."),
        ("three", "exact 3."), ("after_failure", "intros _."), ("after_failure", "exact I.")]
    assert all(r.source == "Tiny.v" and r.backend == "rocq" and r.state.strip() for r in rows)
    assert rows[0].state == "1 goal\n  \n  ============================\n  True /\\ True"
    assert rows[1].state == "1 goal\n  \n  ============================\n  True"  # focused by the bullet: one goal
    with RocqBackend() as backend:
        for name in ("and_two", "braces", "three", "after_failure"):  # `2:{` is no step the backend takes
            assert compare_states(backend, "Require Import Arith.", lemmas[name]) == len(lemmas[name].steps)


def test_sentences_split_sentences_reads_as_one_are_sent_apart():
    text = "Proof with auto. split... - transitivity y... 2:{ auto. } [G]: { idtac. } Check 1:{x}. Notation \"a... b\"."
    assert replay_sentences(text) == ["Proof with auto.", "split...", "-", "transitivity y...", "2:{", "auto.", "}",
                                      "[G]: {", "idtac.", "}", "Check 1:{x}.", 'Notation "a... b".']


@pytest.mark.rocq
def test_replies_out_of_step_are_noticed_before_a_lemma_is_kept(tmp_path, monkeypatch):
    (tmp_path / "A.v").write_text("")
    two_in_one = ["Lemma a : True /\\ True.", "Proof.", "split.", "exact I. exact I.", "Qed.", "Lemma b : True.",
                  "Proof.", "exact I.", "Qed."]
    monkeypatch.setattr("coq_env.replay.replay_sentences", lambda text: two_in_one)
    replay = replay_file(source_files(tmp_path / "A.v")[0])
    assert (replay.status, replay.reason) == ("error", "replies out of step")
    assert [(lemma.name, lemma.status) for lemma in replay.lemmas] == [("a", "failed")]
    assert replay.rows("train")[0] == []


@pytest.mark.rocq
def test_an_error_outside_a_proof_stops_the_file_and_keeps_what_came_before(tiny_folder):
    [broken] = [f for f in source_files(tiny_folder) if f.relpath == "sub/Broken.v"]
    replay = replay_file(broken)
    assert replay.status == "error" and replay.reason == "error at Definition" and "undefined_name" in replay.detail
    assert [lemma.name for lemma in replay.lemmas] == ["ok_before"]
    assert [r.tactic for r in replay.rows("train")[0]] == ["reflexivity."]


@pytest.mark.rocq
def test_a_project_folder_replays_with_its_coqproject_load_path(tmp_path):
    theories = tmp_path / "proj" / "theories"
    theories.mkdir(parents=True)
    (tmp_path / "proj" / "_CoqProject").write_text("-R theories MyLib\n")
    (theories / "A.v").write_text("Definition two := 2.\n")
    (theories / "B.v").write_text("From MyLib Require Import A.\nLemma two_ok : two = 2.\nProof. reflexivity. Qed.\n")
    subprocess.run(["coqc", "-R", "theories", "MyLib", "theories/A.v"], cwd=tmp_path / "proj", check=True)
    files = source_files(tmp_path / "proj")
    assert [f.relpath for f in files] == ["theories/A.v", "theories/B.v"]
    assert files[1].args == ("-R", str(theories.resolve()), "MyLib", "-top", "MyLib.B")
    replay = replay_file(files[1])
    assert replay.status == "ok" and [r.tactic for r in replay.rows("train")[0]] == ["reflexivity."]


@pytest.mark.rocq
def test_a_sentence_past_its_timeout_stops_the_file(tmp_path):
    (tmp_path / "Slow.v").write_text("Lemma quick : True. Proof. exact I. Qed.\n"
                                     "Lemma slow : True. Proof. do 100000000 idtac. exact I. Qed.\n")
    started = time.monotonic()
    replay = replay_file(source_files(tmp_path / "Slow.v")[0], sentence_timeout=1)
    assert replay.status == "timeout" and time.monotonic() - started < 15
    assert [lemma.status for lemma in replay.lemmas] == ["kept", "open"]
    assert len(replay.rows("train")[0]) == 1


@pytest.mark.rocq
def test_stdlib_rows_have_the_states_the_backend_shows_for_the_same_proof():
    [bool_v] = [f for f in source_files("stdlib") if f.relpath == "Bool/Bool.v"]
    assert bool_v.label == "stdlib:Bool/Bool.v" and ("-top", "Coq.Bool.Bool") == bool_v.args[-2:]
    replay = replay_file(bool_v)
    assert replay.status == "ok"
    rows, _ = replay.rows(split_of(bool_v.relpath))
    assert len(rows) > 100 and {r.source for r in rows} == {"stdlib:Bool/Bool.v"}
    header = "\n".join(s for s in replay_sentences(bool_v.path.read_text()) if s.startswith(("Require", "From")))
    compared = 0
    with RocqBackend() as backend:
        for lemma in replay.lemmas:
            if lemma.status != "kept" or lemma.commands or not lemma.steps:
                continue
            try:  # lemmas about the file's own definitions cannot be stated from its Requires alone
                compared += compare_states(backend, header, lemma)
            except StatementError:
                continue
            if compared >= 40:
                break
    assert compared >= 40


def installed_files(name: str) -> list:
    try:
        return source_files(name)
    except ExtractError as exc:
        pytest.skip(str(exc))


# One small file per installed library: Ltac2-free, whole proofs, each in a second or two.
@pytest.mark.rocq
@pytest.mark.parametrize("name, relpath, module", [
    ("coquelicot", "Iter.v", "Coquelicot.Iter"),
    ("hammer", "Tactics/Reflect.v", "Hammer.Tactics.Reflect"),
    ("mathcomp", "ssreflect/ssrfun.v", "mathcomp.ssreflect.ssrfun"),
])
def test_an_installed_library_file_replays_as_it_was_compiled(name, relpath, module):
    [file] = [f for f in installed_files(name) if f.relpath == relpath]
    root = library_root(name)
    assert file.label == f"{name}:{relpath}" and file.path == root / relpath
    # -R as the library was built (Coquelicot Requires its siblings by short name), -top its own module name.
    assert file.args == ("-R", str(root), LIBRARIES[name].prefix, "-top", module)
    replay = replay_file(file)
    assert replay.status == "ok" and replay.lemmas and all(lemma.status == "kept" for lemma in replay.lemmas)
    rows, _ = replay.rows(split_of(file.relpath))
    assert rows and {r.source for r in rows} == {f"{name}:{relpath}"}


@pytest.mark.rocq
def test_extracting_an_installed_library_by_name_reports_its_throughput(tmp_path):
    files = installed_files("hammer")
    summary = extract_proofsteps("hammer", tmp_path / "rows.jsonl", ExtractOptions(workers=2))
    rows = read_proofsteps(tmp_path / "rows.jsonl")
    assert summary["source_files"] == len(files) and summary["files_skipped"] == 0
    assert rows and all(r.source.startswith("hammer:") for r in rows)
    assert summary["rows_replayed"] == summary["rows_before_dedupe"] > 0 and summary["rows_per_second"] > 0
    # A rerun resumes every file: it replays nothing, so its throughput is nil.
    again = extract_proofsteps("hammer", tmp_path / "rows.jsonl", ExtractOptions(workers=1))
    assert again["files_resumed"] == len(files) and again["rows_replayed"] == again["rows_per_second"] == 0


def test_two_libraries_files_of_the_same_name_keep_apart(tmp_path, monkeypatch):
    for folder in ("LibA", "LibB"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "Basic.v").write_text("Lemma t : True. Proof. exact I. Qed.\n")
    monkeypatch.setattr("coq_env.sources._coqlib_folder", lambda name: tmp_path if name == "user-contrib" else None)
    monkeypatch.setitem(LIBRARIES, "liba", Library("LibA", "LibA", "libcoq-liba"))
    monkeypatch.setitem(LIBRARIES, "libb", Library("LibB", "LibB", "libcoq-libb"))
    [a], [b] = source_files("liba"), source_files("libb")
    assert (a.label, b.label) == ("liba:Basic.v", "libb:Basic.v") and a.relpath == b.relpath == "Basic.v"
    assert a.args[-2:] == ("-top", "LibA.Basic") and b.args[-2:] == ("-top", "LibB.Basic")


@pytest.mark.rocq
def test_a_library_not_installed_names_its_debian_package_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(LIBRARIES, "coquelicot", Library("NoSuchCoquelicot", "Coquelicot", "libcoq-coquelicot"))
    result = CliRunner().invoke(main, ["extract", "--source", "coquelicot", "--out", str(tmp_path / "rows.jsonl"),
                                       "--no-progress"])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert "library coquelicot is not installed" in result.stderr and "libcoq-coquelicot" in result.stderr


@pytest.mark.rocq
def test_the_split_is_a_stable_hash_of_the_file_path():
    paths = [f.relpath for f in source_files("stdlib")]
    splits = Counter(split_of(p) for p in paths)
    assert splits["valid"] + splits["test"] > 0 and splits["train"] > 0.9 * len(paths)
    assert [split_of(p) for p in paths] == [split_of(p) for p in paths]
    assert split_of("Arith/PeanoNat.v", 1.0, 0.0) == "valid" and split_of("Arith/PeanoNat.v", 0.0, 1.0) == "test"
    assert split_of("Arith/PeanoNat.v", 0.0, 0.0) == "train"


@pytest.mark.rocq
def test_extraction_dedupes_logs_each_file_and_resumes(tiny_folder, tmp_path):
    out = tmp_path / "out" / "rows.jsonl"
    summary = extract_proofsteps(tiny_folder, out, ExtractOptions(workers=2, valid_fraction=0.5, test_fraction=0.25))
    rows = read_proofsteps(out)
    assert summary["source_files"] == 3 and summary["files_replayed_fully"] == 2 and summary["files_skipped"] == 1
    assert summary["skip_reasons"] == {"error at Definition": 1}
    assert summary["lemmas"] == 10 and summary["lemmas_kept"] == 8
    # and_two's two `exact I.` share their state, and Copy.v repeats and_two.
    assert summary["rows_before_dedupe"] == 13 + 1 + 3 and summary["rows_after_dedupe"] == len(rows) == 13
    assert not any(r.theorem == "and_two_again" for r in rows)
    assert [r.source for r in rows] == sorted((r.source for r in rows), key=["Tiny.v", "sub/Broken.v", "sub/Copy.v"].index)
    for row in rows:
        assert row.split == split_of(row.source, 0.5, 0.25)  # the split is by file: one per source
    assert sum(summary["rows_per_split"].values()) == len(rows)
    log = [json.loads(line) for line in (tmp_path / "out" / "rows.jsonl.files.jsonl").read_text().splitlines()]
    assert sorted(r["file"] for r in log) == ["Tiny.v", "sub/Broken.v", "sub/Copy.v"]
    assert {r["file"]: r["status"] for r in log}["sub/Broken.v"] == "error"

    again = extract_proofsteps(tiny_folder, out, ExtractOptions(workers=1, valid_fraction=0.5, test_fraction=0.25))
    assert again["files_resumed"] == 3 and again["rows_written"] == summary["rows_written"]
    assert read_proofsteps(out) == rows

    # A run cut off while writing Tiny.v: its log line never came and its rows are half written.
    log_path, partial_path = tmp_path / "out" / "rows.jsonl.files.jsonl", tmp_path / "out" / "rows.jsonl.partial"
    log_path.write_text("".join(json.dumps(r) + "\n" for r in log if r["file"] != "Tiny.v") + '{"source": "Tin')
    partial_path.write_text(partial_path.read_text() + '{"state": "cut')
    resumed = extract_proofsteps(tiny_folder, out, ExtractOptions(workers=1, valid_fraction=0.5, test_fraction=0.25))
    assert resumed["files_resumed"] == 2 and resumed["rows_before_dedupe"] == summary["rows_before_dedupe"]
    assert read_proofsteps(out) == rows


@pytest.mark.rocq
def test_held_out_files_give_theorems_that_open_and_check_with_their_own_proofs(tiny_folder, tmp_path):
    (tiny_folder / "Sections.v").write_text(
        "Section S.\nVariable k : nat.\nLemma inside : k = k.\nProof. reflexivity. Qed.\nEnd S.\n"
        "Lemma uses_inside : 2 = 2.\nProof. exact (inside 2). Qed.\n")
    out = tmp_path / "rows.jsonl"
    summary = extract_proofsteps(tiny_folder, out, ExtractOptions(workers=1, valid_fraction=1.0, test_fraction=0.0))
    held = summary["heldout_theorems"]
    assert held["valid"] == 6 and held["test"] == 0
    theorems = {t.name: t for t in load_heldout_theorems(out.with_name("rows.jsonl.theorems.jsonl"))}
    # Not after the `2:{` of focus (a header would read it as one sentence with the next), nor after an
    # Admitted; not inside a section; not an interactive Definition.
    assert sorted(theorems) == ["and_two", "and_two_again", "braces", "focus", "ok_before", "uses_inside"]
    assert theorems["braces"].header.endswith("exact I.\nQed.") and theorems["ok_before"].header == ""
    # A header holds the file's earlier proofs and sections: a theorem may use what they define.
    with RocqBackend() as backend:
        for name, tactic in (("uses_inside", "exact (inside 2)."), ("braces", "split; lia.")):
            state = backend.open(theorems[name])
            result = backend.run_tactic(state, tactic, 10)
            assert isinstance(result, Proved), (name, result)
            assert backend.verify(theorems[name], result.tactics).accepted
    assert load_heldout_theorems(out.with_name("rows.jsonl.theorems.jsonl"), "test") == ()
    with pytest.raises(ExtractError, match="no such theorems file"):
        load_heldout_theorems(tmp_path / "missing.jsonl")


@pytest.mark.rocq
def test_interrupting_the_command_keeps_finished_files_and_a_rerun_finishes(tiny_folder, tmp_path):
    (tiny_folder / "sub" / "Copy.v").unlink()
    (tiny_folder / "sub" / "Broken.v").unlink()
    slow = tiny_folder / "sub" / "Slow.v"
    slow.write_text("Lemma slow : True. Proof. do 100000000 idtac. exact I. Qed.\n")
    out = tmp_path / "rows.jsonl"
    args = [*PROVER, "extract", "--source", str(tiny_folder), "--out", str(out), "--workers", "2", "--no-progress",
            "--sentence-timeout", "120"]
    # Ctrl-C back to its default in the child: a shell that starts jobs in the background leaves it ignored.
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    log = tmp_path / "rows.jsonl.files.jsonl"
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text().count("\n") >= 1) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "rerun the same command to resume" in stderr
    assert [json.loads(line)["file"] for line in log.read_text().splitlines()] == ["Tiny.v"]
    leftover = subprocess.run(["pgrep", "-f", f"coqtop.*{tiny_folder}"], capture_output=True, text=True,
                              check=False).stdout
    assert not leftover.strip()  # the interrupted worker's coqtop was killed with it

    slow.write_text("Lemma now_quick : 4 = 4. Proof. reflexivity. Qed.\n")
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["files_resumed"] == 1 and summary["files_replayed_fully"] == 2
    assert {r.theorem for r in read_proofsteps(out)} >= {"and_two", "now_quick"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backend", "nope"], "unknown backend 'nope'"),
        (["--source", "/no/such/folder"], "no such file or folder: /no/such/folder"),
        (["--source", "EMPTY"], "no .v files under"),
        (["--source", "NOTV"], "not a Coq source (.v)"),
        (["--valid-fraction", "0.6", "--test-fraction", "0.6"], "add up to at most 1"),
        (["--benchmark", "nope"], "unknown benchmark 'nope'"),
    ],
)
def test_bad_input_gets_one_clear_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not coq")
    args = [{"EMPTY": str(tmp_path / "empty"), "NOTV": str(tmp_path / "notes.txt")}.get(a, a) for a in args]
    if "--source" not in args:
        args += ["--source", str(tmp_path / "empty")]
    result = CliRunner().invoke(main, ["extract", "--out", str(tmp_path / "rows.jsonl"), "--no-progress", *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"error: {result.stderr.strip().removeprefix('error: ')}"
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_backend_without_an_extractor_is_one_clear_line(tmp_path, monkeypatch):
    import dataclasses

    from prover.plugins import load_plugin

    bare = dataclasses.replace(load_plugin("rocq"), name="bare", extract_proofsteps=None)
    monkeypatch.setattr("prover.commands.common.load_plugin", lambda name: bare)
    result = CliRunner().invoke(main, ["extract", "--backend", "bare", "--source", "stdlib", "--out",
                                       str(tmp_path / "rows.jsonl")])
    assert result.exit_code == 2 and result.stderr == "error: backend bare has no proof extractor\n"


@pytest.mark.rocq
def test_a_log_from_another_source_is_not_mixed_in(tiny_folder, tmp_path):
    out = tmp_path / "rows.jsonl"
    (tmp_path / "rows.jsonl.files.jsonl").write_text(json.dumps({"source": "stdlib:Arith/PeanoNat.v"}) + "\n")
    with pytest.raises(ExtractError, match="another source"):
        extract_proofsteps(tiny_folder, out, ExtractOptions(workers=1))
    assert extract_proofsteps(tiny_folder, out, ExtractOptions(workers=1, fresh=True))["files_resumed"] == 0
