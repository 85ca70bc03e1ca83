"""The Lean plugin's `user_files`: the sorry holes of a user's .lean files in their Lake project, each searched with
the REPL backend on the file's text before it, checked in that context, and the proofs written back.

The check of a proof is the REPL's whole-command check in a fresh process: the file's text before the hole (its
earlier open lemmas declared as axioms, lines kept), the declaration with the proof, then `#print axioms`. Refused:
an error, a sorry in the declaration, an axiom beyond propext, Classical.choice and Quot.sound. A proof resting on
an earlier lemma of the file that is still open is accepted as "depends on open lemma X", never as proved clean.

Where Lean cannot run (no `lake`, no REPL, no project), the holes are still found, each marked not provable here
with the one-line reason, and proofs go only into patches.
"""
from __future__ import annotations

import os
import re
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Mapping, Sequence

from lean_env.holes import Hole, code_view, fill_proofs, find_holes, open_lemmas_as_axioms
from lean_env.messages import CommandReply
from lean_env.repl import LeanRepl, default_repl_command, find_lake, find_project, setup_record
from lean_env.verify import STANDARD_AXIOMS, RunCommand, fresh_repl_runner, live_verdict, render_proof, tactic_problem
from prover.backend import Backend, BackendBase, Timeouts
from prover.errors import one_line
from prover.file_writes import LOCK_WAIT, FileWriteError, read_exact, relative_name, rewriting
from prover.file_writes import write_patch as write_patch_file
from prover.plugins import (FileHole, UserFilesError, WriteOutcome, gathered_holes, project_relative, shown_path,
                             source_files)
from prover.types import BackendUnavailable, Failed, ProofState, TacticResult, Theorem, Verdict

SUFFIX = ".lean"
PROJECT_MARKERS = ("lakefile.lean", "lakefile.toml", "lean-toolchain")  # what makes a folder a Lake project's root
OPEN_LEMMA = "depends on open lemma"  # how an accepted verdict's reason starts when the proof rests on a hole
CHECKED_EXAMPLE = "llemma_prover_checked_example"  # an example is checked as a theorem of this name (#print axioms)
NO_LEAN = "not provable here: Lean is not installed (no `lake` on PATH or in ~/.elan): `prover setup lean` installs it"
# (folder under the project's root) of a built module's .olean: Lake 4's layout, then older ones
_BUILD_DIRS = (".lake/build/lib/lean", ".lake/build/lib", "build/lib")
_IMPORT = re.compile(r"^import\s+(.+)$", re.M)


class LeanMissing(BackendBase):
    """The backend where Lean cannot run: every hole is marked unsupported with `reason`, so none is opened; an
    `open` all the same says why."""

    name = "lean"

    def __init__(self, reason: str):
        self.reason = reason

    def open(self, theorem: Theorem) -> ProofState:
        raise BackendUnavailable(self.reason)

    def run_tactic(self, state: ProofState, tactic: str, timeout: float) -> TacticResult:
        return Failed(self.reason)

    def render_proof(self, theorem: Theorem, tactics: tuple[str, ...]) -> str:
        return render_proof(theorem, tactics)

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        return Verdict(False, self.reason)


class LeanUserFiles:
    """The holes of some .lean files of one Lake project, with what proving them needs. `repl_command` starts a
    REPL in `project` (None, with `unavailable` saying why, where Lean cannot run here)."""

    def __init__(self, root: Path, files: Sequence[Path], project: Path | None, repl_command: Sequence[str] | None,
                 unavailable: str | None = None):
        self.root = root
        self.project = project
        self.repl_command = list(repl_command) if repl_command else None
        self.unavailable = unavailable if unavailable or repl_command else NO_LEAN
        self._holes: dict[str, Hole] = {}  # FileHole name -> its hole
        self.holes = gathered_holes(files, self._file_holes, "theorems, lemmas or examples with `sorry`")

    def make_backend(self, timeouts: Timeouts | None = None) -> Backend:
        if self.unavailable:
            return LeanMissing(self.unavailable)
        from lean_env.backend import LeanBackend

        return LeanBackend(self.project, repl_command=self.repl_command, timeouts=timeouts)

    def check(self, hole: FileHole, tactics: Sequence[str], timeout: float | None = None) -> Verdict:
        if self.unavailable:
            return Verdict(False, self.unavailable)
        return check_in_context(self._holes[hole.theorem.name], tactics, self._run_command(timeout))

    def depends_on(self, verdict: Verdict) -> tuple[str, ...]:
        if not verdict.accepted or not verdict.reason.startswith(OPEN_LEMMA):
            return ()
        return tuple(axiom for axiom in verdict.axioms if axiom not in STANDARD_AXIOMS)

    def write_back(self, file: Path, proofs: Mapping[str, Sequence[str]], write: bool, out: Path) -> WriteOutcome:
        try:
            if write and not self.unavailable:
                return write_proofs(file, proofs, self._run_command(None))
            patch = write_patch(out, file, proofs, self.root)
        except WriteError as exc:
            return WriteOutcome(file, reason=str(exc))
        if write:
            return WriteOutcome(file, patch=patch, reason=f"{self.unavailable}; the proofs are in a patch instead "
                                                          f"(nothing could check the whole file)")
        return WriteOutcome(file, patch=patch, reason="" if patch else "the proofs change nothing")

    def _run_command(self, timeout: float | None) -> RunCommand:
        """Code -> the reply of a fresh REPL process in the project."""
        return fresh_repl_runner(timeout, lambda: LeanRepl(self.project, self.repl_command))

    def _file_holes(self, file: Path) -> list[FileHole]:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserFilesError(f"cannot read {shown_path(file)}: {exc}") from None
        holes = find_holes(text)
        if holes and not self.unavailable:
            problem = missing_build(text, self.root, file)
            if problem:
                raise UserFilesError(problem)
        relative = project_relative(file, self.root)
        found = []
        for hole in holes:
            name = f"{relative}:{hole.label}"
            self._holes[name] = hole
            theorem = Theorem(name=name, statement=hole.statement, header=hole.context, backend="lean")
            found.append(FileHole(theorem=theorem, file=file, relative=relative, line=hole.line, label=hole.label,
                                  unsupported=self.unavailable))
        return found


def open_user_files(paths: Sequence[Path], load_paths: Sequence[tuple[str, str, str]] = (), *,
                    repl_command: Sequence[str] | None = None) -> LeanUserFiles:
    """The holes of the .lean files at `paths` (files, or folders searched for them) in their Lake project: the
    nearest folder above them with a lakefile.lean, lakefile.toml or lean-toolchain (without one, their common
    folder, the REPL then running in the project `prover setup lean` made). `repl_command` overrides how a REPL
    starts. Raises UserFilesError for a path that is missing or holds no .lean file, paths in different projects,
    -R/-Q bindings, no hole at all, or a module of the project the files import that is not built."""
    if load_paths:
        raise UserFilesError("-R/-Q bind Rocq load paths: a Lean file's project is its Lake root (lakefile.lean)")
    files = source_files(paths, SUFFIX, "a Lean file")
    roots = {lake_root(file) for file in files}
    if len(roots) > 1:
        raise UserFilesError(f"{', '.join(str(p) for p in paths)} belong to different Lake projects "
                             f"({', '.join(sorted(str(r) for r in roots if r))}): prove one project at a time")
    root = roots.pop()
    shown_root = root or Path(os.path.commonpath([file.parent for file in files]))
    if repl_command is not None:
        return LeanUserFiles(shown_root, files, root or shown_root, repl_command)
    project, command, unavailable = _lean_for(root)
    return LeanUserFiles(shown_root, files, project, command, unavailable)


def lake_root(path: Path) -> Path | None:
    """The nearest folder at or above `path` that holds a Lake project's marker, or None."""
    for folder in [path, *path.parents] if path.is_dir() else path.parents:
        if any((folder / marker).is_file() for marker in PROJECT_MARKERS):
            return folder
    return None


def missing_build(text: str, root: Path, file: Path | None = None) -> str | None:
    """One line naming the first module of the project at `root` that `text` imports and that has no .olean yet,
    or None. Modules from outside the project (Mathlib, ...) are left to Lean."""
    for m in _IMPORT.finditer(code_view(text)):
        for module in m.group(1).split():
            parts = module.replace("«", "").replace("»", "").split(".")
            source = root.joinpath(*parts).with_suffix(".lean")
            if not source.is_file() or source == file:
                continue
            if not any(root.joinpath(folder, *parts).with_suffix(".olean").is_file() for folder in _BUILD_DIRS):
                return (f"{'/'.join(parts)}.olean is missing ({module} is imported but not built): "
                        f"run `lake build` in {root}")
    return None


def check_in_context(hole: Hole, tactics: Sequence[str], run_command: RunCommand) -> Verdict:
    """Check that `tactics` prove `hole` in its file's context, in the fresh REPL `run_command` gives: the text
    before the declaration (open lemmas as axioms, lines kept), the declaration with `:= by` and the tactics, and
    `#print axioms` for it. Messages about the context count only as errors that stop the file before the hole."""
    tactics = tuple(tactics)
    if not tactics:
        return Verdict(False, "no tactics")
    for tactic in tactics:
        problem = tactic_problem(tactic)
        if problem:
            return Verdict(False, problem)
    declaration, name = hole.statement, hole.name
    if hole.kind == "example":  # nameless: checked as a theorem, so #print axioms can name it
        at = hole.keyword_start - len(hole.context)
        declaration, name = f"{declaration[:at]}theorem {CHECKED_EXAMPLE}{declaration[at + len('example'):]}", CHECKED_EXAMPLE
    body = "\n".join(textwrap.indent(tactic, "  ") for tactic in tactics)
    text = f"{open_lemmas_as_axioms(hole.context)}{declaration} := by\n{body}\n"
    first_line = hole.statement_line
    context_errors = []

    def run(code: str) -> CommandReply:
        reply = run_command(code)
        context_errors.extend(m for m in reply.errors if m.pos is not None and m.pos.line < first_line)
        return replace(reply, messages=tuple(m for m in reply.messages if not _context_sorry(m, first_line)),
                       sorries=tuple(s for s in reply.sorries if s.pos is None or s.pos.line >= first_line))

    try:
        verdict = live_verdict(text, [name], run)
    except BackendUnavailable as exc:
        return Verdict(False, f"cannot check here: {exc}")
    if context_errors:
        error = context_errors[0]
        return Verdict(False, f"the file does not compile up to {hole.label}: line {error.pos.line}: "
                              f"{one_line(error.data, 300)}")
    return _open_lemmas_named(verdict, hole)


def _context_sorry(message, first_line: int) -> bool:
    """A sorry warning about a declaration of the context (an earlier hole, a `def` left `sorry`)."""
    return (message.severity == "warning" and "sorry" in message.data and message.pos is not None
            and message.pos.line < first_line)


def _open_lemmas_named(verdict: Verdict, hole: Hole) -> Verdict:
    """A verdict refused only for axioms that are the file's open lemmas, accepted as resting on them."""
    extra = [axiom for axiom in verdict.axioms if axiom not in STANDARD_AXIOMS]
    if verdict.accepted or not extra or "sorryAx" in extra:
        return verdict
    named = []
    for axiom in extra:  # a private lemma's axiom is its mangled name, ending in the name the file gives it
        lemma = next((q for q in hole.open_before if axiom == q or axiom.endswith("." + q)), None)
        if lemma is None:
            return verdict
        named.append(lemma)
    axioms = tuple(sorted({*(a for a in verdict.axioms if a in STANDARD_AXIOMS), *named}))
    return Verdict(True, f"{OPEN_LEMMA} {', '.join(named)}", axioms)


# -- writing the proofs back ------------------------------------------------------------------------------------
WriteError = FileWriteError  # a write refused before the file was touched (the core's, under this module's name)


def write_proofs(path: Path, proofs: Mapping[str, Sequence[str]], run_command: RunCommand,
                 lock_wait: float = LOCK_WAIT) -> WriteOutcome:
    """Write `proofs` (hole label -> tactics) into the .lean file at `path` if Lean accepts the whole filled file:
    under an exclusive lock the file is re-read and its holes found again, the proofs spliced in, the whole text
    run in a fresh REPL (`run_command`), and only a text with no error and no sorry in the filled declarations
    replaces the file, with its permission bits, in one rename. Raises WriteError for a read-only file or folder,
    a hole no longer there, a proof step refused, or another writer holding the file past `lock_wait` seconds."""
    with rewriting(path, lock_wait) as held:
        path = held.path
        filled, spans = _filled(held.text, proofs)
        try:
            reply = run_command(filled)
        except Exception as exc:  # a timeout, a crash, no Lean after all: the file stays as it was
            return WriteOutcome(path, reason=f"Lean could not check the filled file: {one_line(exc, 300)}")
        problem = _file_problem(reply, filled, spans)
        if problem:
            return WriteOutcome(path, reason=problem)
        held.replace(filled, meanwhile="the proofs were checked")
    return WriteOutcome(path, written=True)


def write_patch(out: Path, path: Path, proofs: Mapping[str, Sequence[str]], root: Path) -> Path | None:
    """The unified diff that puts `proofs` into the file at `path` (headers `a/REL`, `b/REL`, REL relative to
    `root`, for `git apply` there), written atomically under `out/patches/` (prover.file_writes.write_patch names
    it); None when nothing changes. The file is only read."""
    path = Path(path).absolute()
    original = read_exact(path)
    return write_patch_file(out, relative_name(path, root), original, _filled(original, proofs)[0])


def _filled(text: str, proofs: Mapping[str, Sequence[str]]) -> tuple[str, dict[str, tuple[int, int]]]:
    """fill_proofs, with each step screened as the search's are; refusals as WriteError."""
    for label, tactics in proofs.items():
        for tactic in tactics:
            problem = tactic_problem(tactic)
            if problem:
                raise WriteError(f"{label}: proof step refused: {problem}")
    try:
        return fill_proofs(text, proofs)
    except ValueError as exc:
        raise WriteError(str(exc)) from None


def _file_problem(reply: CommandReply, text: str, spans: Mapping[str, tuple[int, int]]) -> str | None:
    """Why Lean's reply on a whole filled file refuses it: an error anywhere, or a sorry in a filled declaration."""
    if reply.errors:
        error = reply.errors[0]
        where = f"line {error.pos.line}: " if error.pos else ""
        return f"does not compile: {where}{one_line(error.data, 300)}"
    lines = {label: (text.count("\n", 0, start) + 1, text.count("\n", 0, end) + 1) for label, (start, end) in spans.items()}
    for message in reply.messages:
        if message.severity == "warning" and "sorry" in message.data and message.pos is not None:
            label = next((label for label, (a, b) in lines.items() if a <= message.pos.line <= b), None)
            if label:
                return f"Lean warns that the proof written for {label} uses sorry (line {message.pos.line})"
    return None


def _lean_for(root: Path | None) -> tuple[Path | None, list[str] | None, str | None]:
    """(the folder a REPL runs in, the command that starts it, None), or (None, None, why Lean cannot run here).
    A project without a REPL of its own borrows the one `prover setup lean` built, if that is for its Lean."""
    try:
        find_lake()
    except BackendUnavailable:
        return None, None, NO_LEAN
    try:
        project = root if root is not None else find_project()
        command = default_repl_command(project)
    except BackendUnavailable as exc:
        return None, None, f"not provable here: {exc}"
    if command[1:] == ["exe", "repl"]:  # no REPL built in the project
        record = setup_record()
        recorded = Path(str(record.get("repl") or "")).expanduser()
        if record.get("repl") and recorded.is_file():
            pinned = _toolchain(project)
            if pinned and record.get("toolchain") and str(record["toolchain"]) not in pinned:
                return None, None, (f"not provable here: the REPL `prover setup lean` built is for Lean "
                                    f"{record['toolchain']}, but {project} pins {pinned}: add the REPL to the project "
                                    f"(`require repl`) and run `lake build repl`")
            command = [command[0], "env", str(recorded)]
        elif not any("repl" in _read_or_empty(project / name).lower() for name in ("lakefile.lean", "lakefile.toml")):
            return None, None, (f"not provable here: {project} has no Lean REPL to run: `prover setup lean` builds one "
                                f"(or add `require repl` to the lakefile and run `lake build repl`)")
    return project, command, None


def _toolchain(project: Path) -> str:
    return _read_or_empty(project / "lean-toolchain").strip()


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
