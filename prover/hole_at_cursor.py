"""The editor server's POST /prove-hole: the hole at an editor's cursor in a file on disk, proved by the batch's
search in its file's context, answered with the patch that puts the proof in (and, asked to, written into the file).

A request names a file by its absolute path; the server works only on regular files under the folders it was
started with (`prover serve --files-under DIR`), and binds load paths only to folders under them too. The work is
the batch's (`prover prove PATHS`) for one hole: the plugin's `user_files`, the best-first search with the proof
checked in the file's context (prover.prove_files.InContextBackend), and `UserFiles.write_back`, which compiles the
file before replacing it atomically. One hole is proved at a time: the proof assistant and the CPU are shared.
"""
from __future__ import annotations

import math
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from prover.batch import attempt_one
from prover.generators import TacticGenerator
from prover.plugins import FileHole, UserFilesError, cached_plugin
from prover.prove_files import InContextBackend
from prover.search import SearchConfig, Status
from prover.types import BackendUnavailable

LOAD_PATH_OPTIONS = ("-R", "-Q")  # what a request may bind: library folders, nothing that loads plugins (-I)
_LIBRARY = re.compile(r"[A-Za-z_][\w']*(\.[A-Za-z_][\w']*)*")  # a logical name (Foo, Foo.Bar): never an option


class HoleRequestError(Exception):
    """A /prove-hole request the server will not or cannot work on: its HTTP status and one line saying why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class HoleRequest:
    """A /prove-hole request, checked: the file and load-path folders resolved and under the allowed roots."""

    backend: str
    path: Path
    line: int  # 1-based
    load_paths: tuple[tuple[str, str, str], ...]
    write: bool
    budget_seconds: float


def read_hole_request(body: dict, default_backend: str, roots: Sequence[Path], max_seconds: float) -> HoleRequest:
    """The request in a JSON body. HoleRequestError: 400 for a malformed field or a backend that cannot prove holes
    in files, 403 for a path outside `roots`, 404 for a file that is not there."""
    if not isinstance(body, dict):
        raise HoleRequestError(400, "the body must be a JSON object")
    backend = body.get("backend") or default_backend
    if not isinstance(backend, str):
        raise HoleRequestError(400, "backend must be a string")
    try:
        able = cached_plugin(backend).user_files is not None
    except LookupError as exc:
        raise HoleRequestError(400, str(exc)) from None
    if not able:
        raise HoleRequestError(400, f"the {backend} backend cannot prove holes in files")
    path = _allowed(body.get("path"), "path", roots)
    if not path.exists():
        raise HoleRequestError(404, f"{path}: no such file")
    if not path.is_file():
        raise HoleRequestError(400, f"{path} is not a regular file")
    line, column = body.get("line"), body.get("column", 1)
    for name, value in (("line", line), ("column", column)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise HoleRequestError(400, f"{name} must be a positive integer (1-based)")
    write = body.get("write", False)
    if not isinstance(write, bool):
        raise HoleRequestError(400, "write must be true or false")
    budget = body.get("budget_seconds", max_seconds)
    if not isinstance(budget, (int, float)) or isinstance(budget, bool) or not 0 < budget < math.inf:
        raise HoleRequestError(400, "budget_seconds must be a positive number")
    return HoleRequest(backend, path, line, _load_paths(body.get("load_paths") or [], roots), write,
                       min(float(budget), max_seconds))


def hole_at(holes: Sequence[FileHole], line: int) -> FileHole:
    """The hole at `line`: the one whose keyword (Admitted, admit, sorry) is on it, else the nearest one after the
    cursor in the same lemma (its statement through its keyword). HoleRequestError 422 where there is none."""
    on_line = [hole for hole in holes if hole.line == line]
    if on_line:
        return on_line[0]
    enclosing = [hole for hole in holes if (hole.statement_line or hole.line) <= line <= hole.line]
    if enclosing:
        return min(enclosing, key=lambda hole: hole.line)
    where = ", ".join(str(hole.line) for hole in holes)
    raise HoleRequestError(422, f"no hole at line {line} (the file's holes are at lines {where})")


class HoleProver:
    """Proves one hole at a time for the server, with its generator and its search settings."""

    def __init__(self, generator: TacticGenerator, search: SearchConfig):
        self.generator = generator
        self.search = search
        self._busy = threading.Lock()

    def prove(self, request: HoleRequest, deadline: float) -> dict:
        """The answer to `request` (blocking: run it in a thread). The search ends by `deadline` (time.monotonic());
        the check of a proof found and its write then finish under their own time limits, so a write is never cut
        off where the client cannot see it."""
        if not self._busy.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise HoleRequestError(503, "still proving another hole; try again when it is done")
        try:
            return self._prove(request, deadline)
        finally:
            self._busy.release()

    def _prove(self, request: HoleRequest, deadline: float) -> dict:
        try:
            files = cached_plugin(request.backend).user_files([request.path], request.load_paths)
        except UserFilesError as exc:  # no holes, a library not compiled, a bad project file
            raise HoleRequestError(422, str(exc)) from None
        hole = hole_at(files.holes, request.line)
        answer = {"hole": hole.label, "line": hole.line, "status": None, "proof": None, "depends_on": [],
                  "patch": None, "written": False, "reason": ""}
        if hole.unsupported:
            return {**answer, "status": "unsupported", "reason": hole.unsupported}
        budget = min(request.budget_seconds, deadline - time.monotonic())
        if budget <= 0:
            raise HoleRequestError(504, "no time left to search")
        search = SearchConfig(**{**vars(self.search), "budget_seconds": budget})
        try:
            with InContextBackend(files.make_backend(), files) as checked:
                row = checked.annotate_row(hole.theorem, attempt_one(hole.theorem, checked, self.generator, search,
                                                                     trees=False).row)
        except BackendUnavailable as exc:
            raise HoleRequestError(503, str(exc)) from None
        answer.update(status=row["status"], proof=row["proof"], depends_on=row.get("depends_on", []),
                      reason=row.get("reason", ""))
        if row["status"] != Status.PROVED.value:
            return answer
        proofs = {hole.label: row["proof"]}
        with tempfile.TemporaryDirectory(prefix="prove-hole-") as out:
            patched = files.write_back(hole.file, proofs, False, Path(out))  # before writing: the diff from the file
            answer["patch"] = patched.patch.read_text(encoding="utf-8") if patched.patch is not None else None
            answer["patch_root"] = str(files.root)  # where `git apply` takes it
            if request.write:
                written = files.write_back(hole.file, proofs, True, Path(out))
                answer["written"] = written.written
                if not written.written:
                    answer["reason"] = "; ".join(filter(None, [answer["reason"], f"not written: {written.reason}"]))
        return answer


def _allowed(value, field: str, roots: Sequence[Path]) -> Path:
    """`value` as a resolved path, if it is an absolute path under one of `roots` (links followed)."""
    if not isinstance(value, str) or not value:
        raise HoleRequestError(400, f"{field} is required: the absolute path of a file")
    if "\0" in value or not Path(value).is_absolute():
        raise HoleRequestError(400, f"{field} must be an absolute path")
    try:
        resolved = Path(value).resolve()
    except (OSError, RuntimeError) as exc:  # a link loop
        raise HoleRequestError(400, f"{field}: {exc}") from None
    if not any(resolved.is_relative_to(root) for root in roots):
        raise HoleRequestError(403, f"{value} is outside the folders this server may work on "
                                    f"({', '.join(map(str, roots))}; see prover serve --files-under)")
    return resolved


def _load_paths(value, roots: Sequence[Path]) -> tuple[tuple[str, str, str], ...]:
    """The request's [option, folder, library] bindings: -R/-Q only, each folder absolute and under `roots`."""
    if not isinstance(value, list):
        raise HoleRequestError(400, "load_paths must be a list of [option, folder, library]")
    bindings = []
    for binding in value:
        if not (isinstance(binding, list) and len(binding) == 3 and all(isinstance(w, str) for w in binding)):
            raise HoleRequestError(400, "each load path must be [option, folder, library], three strings")
        option, folder, library = binding
        if option not in LOAD_PATH_OPTIONS:
            raise HoleRequestError(400, f"load path option {option[:20]!r} is not one of "
                                        f"{', '.join(LOAD_PATH_OPTIONS)}")
        if not _LIBRARY.fullmatch(library):
            raise HoleRequestError(400, f"load path library {library[:40]!r} is not a dotted name")
        bindings.append((option, str(_allowed(folder, "a load path's folder", roots)), library))
    return tuple(bindings)
