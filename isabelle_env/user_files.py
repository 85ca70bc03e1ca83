"""The Isabelle plugin's `user_files`: the holes of a user's .thy files, each proved as a theorem in its theory's
context, checked by running the whole theory with the hole filled, and the proofs written back.

The context of a hole is its theory's text before the lemma (the `theory X imports ... begin` header, earlier
definitions and lemmas, the `context`/`locale` blocks open there); imports of sibling theories are made absolute
paths so the search and the check find them from anywhere. The session comes from the ROOT file found by walking
up from the theory (its parent session is the heap the check starts), else the check's default session.

Earlier holes stay in the theory as written (`sorry` lemmas are facts Isabelle lets later proofs use); a proof
that rests on one is accepted with the reason "depends on open lemma X", the oracle report (`thm_oracles`)
showing `skip_proof`. Where Isabelle is missing every hole is still found and reported as not provable here.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from isabelle_env.holes import STEP, Hole, fill_hole, find_holes, proof_extent
from isabelle_env.outer_syntax import LexError, code_tokens
from isabelle_env.root_file import ROOT_SESSION_PARENT, RootFileError, read_root, session_holding
# verify's reading of a message and of an oracle report is the one this check must agree with
from isabelle_env.verify import Checker, _as_message, _oracles_reported, _quoted_problem, _word_problem
from isabelle_env.verify import with_oracle_probes
from prover.backend import BackendBase, Timeouts
from prover.errors import one_line
from prover.file_writes import LOCK_WAIT, FileWriteError, read_exact, relative_name, rewriting
from prover.file_writes import write_patch as write_patch_file
from prover.plugins import (FileHole, UserFilesError, WriteOutcome, gathered_holes, project_relative, shown_path,
                             source_files)
from prover.types import BackendUnavailable, Theorem, Verdict

SUFFIX = ".thy"
OPEN_LEMMA = "depends on open lemma"  # how an accepted verdict's reason starts when the proof rests on a hole
NOT_PROVABLE_HERE = "not provable here"
SKIP_PROOF_ORACLE = "skip_proof"  # last name component of the oracle a `sorry` leaves in a derivation
DEFAULT_PARENT = "HOL"  # the session a theory no ROOT session holds is checked on


@dataclass(frozen=True)
class IsabelleProject:
    """Where a user's theories live: the folder of the ROOT file governing them (or the folder they share), and
    the session the check is built on: the parent of the ROOT's session holding the theories (DEFAULT_PARENT when
    no session holds them), with the ROOT's folder among the check's session folders when that parent is defined
    there too."""

    root: Path
    root_file: Path | None = None
    parent_session: str = DEFAULT_PARENT
    session_dirs: tuple[Path, ...] = ()


class IsabelleUserFiles:
    """The holes of some .thy files of one project, with what proving them needs. `checker` (theory text ->
    (ok, messages)) plays Isabelle for the check; default: the live server, found on first use."""

    def __init__(self, project: IsabelleProject, files: Sequence[Path], checker: Checker | None = None,
                 unavailable: str | None = None):
        self.project = project
        self.root = project.root
        self._checker = checker
        self.unavailable = None if checker else unavailable  # why nothing can be proved here, or None
        self._holes: dict[str, tuple[Path, str, Hole]] = {}  # FileHole name -> file, its text when read, hole
        self.holes = gathered_holes(files, self._file_holes, "lemmas with sorry, proofs ending in oops")

    def make_backend(self, timeouts: Timeouts | None = None):
        if self.unavailable:
            return UnavailableBackend(self.unavailable)
        from isabelle_env.backend import IsabelleBackend  # starts nothing until its first `open`

        return IsabelleBackend(timeouts=timeouts, checker=self._checker)

    def check(self, hole: FileHole, tactics: Sequence[str], timeout: float | None = None) -> Verdict:
        file, text, found = self._holes[hole.theorem.name]
        return check_in_context(text, found, tuple(tactics), file.parent, self._live)

    def depends_on(self, verdict: Verdict) -> tuple[str, ...]:
        return depends_on_open_lemmas(verdict)

    def write_back(self, file: Path, proofs: Mapping[str, Sequence[str]], write: bool, out: Path) -> WriteOutcome:
        try:
            if write:
                return write_proofs(file, proofs, self._live)
            patch = write_patch(out, file, proofs, self.root)
            return WriteOutcome(file, patch=patch, reason="" if patch else "the proofs change nothing")
        except (FileWriteError, OSError, ValueError, BackendUnavailable) as exc:
            return WriteOutcome(file, reason=one_line(str(exc)))

    def _live(self) -> Checker:
        if self._checker is None:
            from isabelle_env.checker import live_checker

            self._checker = live_checker(session=self.project.parent_session,
                                         dirs=[str(folder) for folder in self.project.session_dirs])
        return self._checker

    def _file_holes(self, file: Path) -> list[FileHole]:
        try:
            text = file.read_bytes().decode("utf-8")
            holes = find_holes(text)
        except (OSError, UnicodeDecodeError) as exc:
            raise UserFilesError(f"cannot read {shown_path(file)}: {exc}") from None
        except LexError as exc:
            raise UserFilesError(f"{shown_path(file)} is not a readable theory: {exc}") from None
        relative = project_relative(file, self.root)
        found = []
        for hole in holes:
            name = f"{relative}:{hole.label}"
            theorem = Theorem(name=name, statement=hole.goal, header=absolute_imports(hole.context, file.parent),
                              backend="isabelle")
            unsupported = hole.unsupported or (f"{NOT_PROVABLE_HERE}: {self.unavailable}" if self.unavailable else None)
            self._holes[name] = (file, text, hole)
            found.append(FileHole(theorem=theorem, file=file, relative=relative, line=hole.line, label=hole.label,
                                  unsupported=unsupported))
        return found


class UnavailableBackend(BackendBase):
    """The backend where Isabelle is missing: every hole is then marked unsupported, so nothing opens it; an
    `open` says why it cannot."""

    name = "isabelle"

    def __init__(self, reason: str):
        self.reason = reason

    def open(self, theorem: Theorem):
        raise BackendUnavailable(self.reason)

    def run_tactic(self, state, tactic, timeout):
        raise BackendUnavailable(self.reason)

    def render_proof(self, theorem: Theorem, tactics: tuple[str, ...]) -> str:
        return "\n".join(tactics)


def open_user_files(paths: Sequence[Path], load_paths: Sequence[tuple[str, str, str]] = (), *,
                    checker: Checker | None = None) -> IsabelleUserFiles:
    """The holes of the .thy files at `paths` (files, or folders searched for them) in their project (the
    ROOT file above them). Raises UserFilesError for a path that is missing or holds no .thy file, paths under
    different ROOT files, `-R`/`-Q` options (Rocq's), a theory that does not lex, or no hole at all."""
    if load_paths:
        raise UserFilesError("-R/-Q bind Rocq load paths: Isabelle finds a project's sessions in its ROOT file")
    files = source_files(paths, SUFFIX, "an Isabelle theory")
    roots = {find_root_file(file.parent) for file in files}
    if len(roots) > 1:
        raise UserFilesError(f"{', '.join(str(p) for p in paths)} belong to different sessions "
                             f"({', '.join(str(r) if r else 'no ROOT' for r in roots)}): prove one at a time")
    root_file = roots.pop()
    if root_file is not None:
        project = _project(root_file, files)
    else:
        project = IsabelleProject(Path(os.path.commonpath([file.parent for file in files])))
    return IsabelleUserFiles(project, files, checker, None if checker else isabelle_missing())


def isabelle_missing() -> str | None:
    """Why no proof can be searched or checked here (no Isabelle found, no server recorded), or None."""
    from isabelle_env.setup import ISABELLE_MISSING, find_isabelle, read_record

    if find_isabelle() is not None or isinstance(read_record().get("server"), dict):
        return None
    return ISABELLE_MISSING


def find_root_file(folder: Path) -> Path | None:
    """The nearest ROOT file in `folder` or above it."""
    for candidate in (folder, *folder.parents):
        if (candidate / "ROOT").is_file():
            return candidate / "ROOT"
    return None


def parent_session(root_file: Path, theory_file: Path) -> str | None:
    """The parent of the session in `root_file` holding `theory_file` (`session S = PARENT + ... theories ...`;
    Pure for a session without one), or None when no session there holds it. RootFileError for a ROOT that
    cannot be read."""
    entry = session_holding(root_file, theory_file)
    if entry is None:
        return None
    return entry.parent or ROOT_SESSION_PARENT


def _project(root_file: Path, files: Sequence[Path]) -> IsabelleProject:
    """The project of theories under `root_file`: UserFilesError for a ROOT that cannot be read, or theories of
    sessions with different parents (one check session serves a run)."""
    try:
        sessions = read_root(root_file)
        parents = {parent_session(root_file, file) or DEFAULT_PARENT for file in files}
    except RootFileError as exc:
        raise UserFilesError(str(exc)) from None
    if len(parents) > 1:
        raise UserFilesError(f"the theories belong to sessions of {root_file} with different parents "
                             f"({', '.join(sorted(parents))}): prove one session at a time")
    parent = parents.pop()
    defined_here = any(entry.name == parent for entry in sessions)
    return IsabelleProject(root_file.parent, root_file, parent, (root_file.parent,) if defined_here else ())


_IMPORTS = re.compile(r"\bimports\b(?P<names>.*?)\bbegin\b", re.S)


def absolute_imports(text: str, folder: Path) -> str:
    """`text` with each import of a theory file beside it (`imports Basics`) made the file's absolute path (as a
    quoted name, which Isabelle reads as a path), so it loads from any working folder; other imports as written."""
    m = _IMPORTS.search(text)
    if m is None:
        return text

    def absolute(name: re.Match) -> str:
        bare = name.group(0).strip('"')
        candidate = folder / f"{bare}.thy"
        return f'"{candidate.with_suffix("").as_posix()}"' if "." not in bare and candidate.is_file() else name.group(0)

    names = re.sub(r'"[^"]*"|[^\s"()]+', absolute, m.group("names"))
    return text[:m.start("names")] + names + text[m.end("names"):]


def check_in_context(text: str, hole: Hole, tactics: tuple[str, ...], folder: Path,
                     checker: Callable[[], Checker]) -> Verdict:
    """Check that `tactics` prove `hole` of the theory `text` (in `folder`): the proof alone must be proof commands
    that close the hole's goal exactly, with nothing skipped or trusted; then the whole theory, the hole filled, is
    run by Isabelle (`checker()`) with `thm_oracles` on the lemma. Any error refuses. An oracle other than
    skip_proof refuses; skip_proof is accepted only from the file's open lemmas (the reason then says "depends on
    open lemma X": those the proof names, else all of them, since the report does not say which) or, for a STEP,
    from its lemma's other sorries."""
    problem = proof_problem(tactics)
    if problem:
        return Verdict(False, problem)
    if hole.unsupported:
        return Verdict(False, f"{hole.label}: {hole.unsupported}")
    filled = absolute_imports(fill_hole(text, hole, tactics), folder)
    try:
        run = checker()
    except BackendUnavailable as exc:
        return Verdict(False, str(exc))
    probed, lines = with_oracle_probes(filled, [hole.qualified_name])
    ok, raw = run(probed)
    messages = [_as_message(m) for m in raw]
    probe_line = lines[hole.qualified_name]
    for kind, message, line in messages:
        if "error" in kind.lower():
            where = f" (line {line})" if line is not None and line != probe_line else ""
            return Verdict(False, f"Isabelle{where}: {one_line(message, 300)}")
    if not ok:
        return Verdict(False, "Isabelle did not accept the theory (no error message given)")
    reports = [r for kind, message, line in messages if line == probe_line
               if (r := _oracles_reported(message)) is not None]
    if not reports:
        return Verdict(False, f"Isabelle gave no oracle report for {hole.qualified_name}")
    oracles = tuple(sorted(set(reports[0])))
    trusted = [o for o in oracles if o.rsplit(".", 1)[-1] != SKIP_PROOF_ORACLE]
    if trusted:
        return Verdict(False, f"{hole.qualified_name} relies on the oracle {trusted[0]}", oracles)
    if not oracles:
        return Verdict(True)
    open_lemmas = _open_lemmas_used(hole, tactics)
    if not open_lemmas:
        return Verdict(False, f"{hole.qualified_name} relies on the oracle {oracles[0]} (a skipped proof)", oracles)
    return Verdict(True, f"{OPEN_LEMMA} {', '.join(open_lemmas)}", tuple(open_lemmas))


def depends_on_open_lemmas(verdict: Verdict) -> tuple[str, ...]:
    """The file's open lemmas an accepted check_in_context verdict rests on (empty: proved clean)."""
    if not verdict.accepted or not verdict.reason.startswith(OPEN_LEMMA):
        return ()
    return verdict.axioms


def proof_problem(tactics: Sequence[str]) -> str | None:
    """Why `tactics` cannot stand as a proof in place of a hole, or None: it must lex, use no skipped proof,
    oracle or ML (verify's refusals), and close the goal exactly, with proof commands only."""
    text = "\n".join(tactics)
    try:
        tokens = code_tokens(text)
    except LexError as exc:
        return f"the proof does not lex: {exc}"
    problem = _word_problem([t for t in tokens if t.kind == "word" or t.text == "\\<proof>"], False) \
        or _quoted_problem(tokens)
    if problem:
        return problem
    extent = proof_extent(tokens)
    if extent is None or extent.end != len(tokens):
        return "the proof does not close its goal with proof commands only (it is unfinished or goes on after)"
    return None


def _open_lemmas_used(hole: Hole, tactics: Sequence[str]) -> tuple[str, ...]:
    """The open lemmas a proof may rest on: those it names, else all of the file's earlier ones; and a STEP's own
    lemma while it holds other sorries."""
    words = {part for t in code_tokens("\n".join(tactics)) if t.kind == "word"
             for part in (t.text, t.text.rsplit(".", 1)[-1])}
    named = [lemma for lemma in hole.open_before if lemma in words or lemma.rsplit(".", 1)[-1] in words]
    used = named or list(hole.open_before)
    if hole.kind == STEP and hole.siblings:
        used.append(hole.qualified_name)
    return tuple(used)


# -- writing back -----------------------------------------------------------------------------------------------
def fill_proofs(text: str, proofs: Mapping[str, Sequence[str]]) -> str:
    """`text` with each proof (hole label -> tactics) in place of its hole, found afresh in `text`; holes not named
    keep their text. ValueError for a label that names no hole of `text`."""
    holes = {hole.label: hole for hole in find_holes(text)}
    missing = [label for label in proofs if label not in holes]
    if missing:
        raise ValueError(f"no hole {missing[0]} in the file any more (it changed since its holes were read)")
    for label in sorted(proofs, key=lambda label: holes[label].start, reverse=True):  # earlier spans stay valid
        text = fill_hole(text, holes[label], tuple(proofs[label]))
    return text


def write_proofs(file: Path, proofs: Mapping[str, Sequence[str]], checker: Callable[[], Checker],
                 lock_wait: float = LOCK_WAIT) -> WriteOutcome:
    """Put `proofs` into `file`, under an exclusive lock on it: filled, run whole by Isabelle (an error leaves the
    file as it was, the outcome saying why), then swapped in by one rename with the file's permissions. Raises
    FileWriteError for a read-only file or folder, a file changed meanwhile, or another writer holding it past
    `lock_wait` seconds."""
    with rewriting(file, lock_wait) as held:
        filled = fill_proofs(held.text, proofs)
        ok, raw = checker()(absolute_imports(filled, file.parent))
        errors = [(line, message) for kind, message, line in map(_as_message, raw) if "error" in kind.lower()]
        if errors or not ok:
            line, message = errors[0] if errors else (None, "Isabelle did not accept the theory")
            where = f" (line {line} of the filled file)" if line else ""
            return WriteOutcome(file, reason=f"the filled theory fails{where}: {one_line(message, 200)}; "
                                             f"the file is unchanged")
        held.replace(filled, meanwhile="Isabelle ran the filled theory")
    return WriteOutcome(file, written=True)


def write_patch(out: Path, file: Path, proofs: Mapping[str, Sequence[str]], root: Path) -> Path | None:
    """The unified diff (`a/REL`, `b/REL`, REL relative to `root`, else the file's name) putting `proofs` into
    `file`, written under `out/patches/` (prover.file_writes.write_patch names it) for `git apply` in `root`; None
    when nothing changes."""
    original = read_exact(file)
    relative = relative_name(file, root) if file.is_relative_to(root) else file.name
    return write_patch_file(out, relative, original, fill_proofs(original, proofs))
