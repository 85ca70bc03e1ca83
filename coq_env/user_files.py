"""The Rocq plugin's `user_files`: the holes of a user's .v files in their project, each checked in its file's
context and the proofs written back (coq_env.holes, project, file_context and writeback, put together)."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Mapping, Sequence

from coq_env.backend import RocqBackend
from coq_env.file_context import CannotProveHole, check_in_context, depends_on_open_lemmas, hole_theorem
from coq_env.admit_goal import GoalLemma
from coq_env.holes import ADMIT, Hole, find_holes
from coq_env.project import CoqProject, ProjectFileError, project_for
from coq_env.verify import DEFAULT_TIMEOUT
from coq_env.writeback import WriteError, missing_dependency, write_patch, write_proofs
from prover.backend import Timeouts
from prover.plugins import (FileHole, UserFilesError, WriteOutcome, gathered_holes, project_relative, shown_path,
                             source_files)
from prover.types import Theorem, Verdict

SUFFIX = ".v"


class RocqUserFiles:
    """The holes of some .v files of one Coq project (one set of load-path flags), with what proving them needs."""

    def __init__(self, project: CoqProject, files: Sequence[Path]):
        self.project = project
        self.root = project.root
        self._holes: dict[str, tuple[Path, Hole]] = {}  # FileHole name -> its file and hole
        self._theorems: dict[str, Theorem] = {}  # FileHole name -> hole_theorem's answer, for the holes it took
        self.holes = gathered_holes(files, self._file_holes, "lemmas ending in Admitted., admit. steps")

    def make_backend(self, timeouts: Timeouts | None = None) -> RocqBackend:
        return RocqBackend(timeouts=timeouts, load_flags=tuple(self.project.flags()))

    def check(self, hole: FileHole, tactics: Sequence[str], timeout: float | None = None) -> Verdict:
        file, found = self._holes[hole.theorem.name]
        return check_in_context(file, found, tactics, self.project, timeout or DEFAULT_TIMEOUT,
                                theorem=self._theorems.get(hole.theorem.name))

    def depends_on(self, verdict: Verdict) -> tuple[str, ...]:
        return depends_on_open_lemmas(verdict)

    def write_back(self, file: Path, proofs: Mapping[str, Sequence[str]], write: bool, out: Path) -> WriteOutcome:
        # A proof of an admit step's hole proves the lemma stating its goal: the writer puts that lemma in too.
        lemmas = {hole.label: self._theorems[name].statement for name, (path, hole) in self._holes.items()
                  if path == file and hole.kind == ADMIT and name in self._theorems}
        proofs = {label: GoalLemma(lemmas[label], tuple(tactics)) if label in lemmas else tactics
                  for label, tactics in proofs.items()}
        try:
            if write:
                result = write_proofs(file, proofs, self.project)
                return WriteOutcome(file, written=result.written, reason=result.reason)
            patch = write_patch(out, file, proofs, self.root)
            return WriteOutcome(file, patch=patch, reason="" if patch else "the proofs change nothing")
        except WriteError as exc:  # MissingDependency included: the file is untouched either way
            return WriteOutcome(file, reason=str(exc))

    def _file_holes(self, file: Path) -> list[FileHole]:
        """The FileHoles of one file; UserFilesError where a library it requires is not compiled."""
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserFilesError(f"cannot read {shown_path(file)}: {exc}") from None
        holes = find_holes(text)
        if not holes:
            return []
        problem = missing_dependency(text, self.project, file)
        if problem:
            raise UserFilesError(problem)
        relative = project_relative(file, self.root)
        found = []
        for hole in holes:
            name = f"{relative}:{hole.label}"
            try:
                theorem, unsupported = hole_theorem(file, hole, self.project), None
                self._theorems[name] = theorem
            except CannotProveHole as exc:
                theorem = Theorem(name=name, statement=hole.statement, header=hole.context, backend="rocq")
                unsupported = str(exc)
            self._holes[name] = (file, hole)
            found.append(FileHole(theorem=replace(theorem, name=name), file=file, relative=relative, line=hole.line,
                                  label=hole.label, unsupported=unsupported, statement_line=hole.statement_line))
        return found


def open_user_files(paths: Sequence[Path], load_paths: Sequence[tuple[str, str, str]] = ()) -> RocqUserFiles:
    """The holes of the .v files at `paths` (files, or folders searched for them) in their project: the
    `_CoqProject` governing them, with the caller's -R/-Q `load_paths` (relative to the current folder) over it.
    Raises UserFilesError for a path that is missing or holds no .v file, paths in different projects, a bad
    project file, no hole at all, or a required library of the project that is not compiled."""
    files = source_files(paths, SUFFIX, "a Rocq file")
    options = [word for binding in load_paths for word in binding]
    projects = []
    for path in paths:
        try:
            projects.append(project_for(path, options))
        except ProjectFileError as exc:
            raise UserFilesError(str(exc)) from None
    return RocqUserFiles(_one_project(projects, paths), files)


def _one_project(projects: list[CoqProject], paths: Sequence[Path]) -> CoqProject:
    """The project all the paths belong to. Without a `_CoqProject`, the folder they share is the root."""
    files = {project.project_file for project in projects}
    if len(files) > 1:
        raise UserFilesError(f"{', '.join(str(p) for p in paths)} belong to different projects "
                             f"({', '.join(str(f.parent) if f else 'none' for f in files)}): prove one project at a time")
    if files != {None}:
        return projects[0]
    return replace(projects[0], root=Path(os.path.commonpath([project.root for project in projects])))
