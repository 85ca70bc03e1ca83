"""Putting found proofs back into a user's Rocq file: filled, compiled with the project's flags, swapped in whole.

`write_proofs` never leaves the file broken: the filled text is compiled by coqc in a sandbox first, and only a
text that compiles replaces the file, in one rename; a writer killed at any moment leaves the old file or the new
one. `patch_for` and `write_patch` give the same change as a unified diff that `git apply` accepts instead.
Refusals a user can cause (a read-only file, a file that changed, a missing `.vo`, another writer) are WriteError,
one line each; a filled text that does not compile is a WriteResult saying why.
"""
from __future__ import annotations

import os
import re
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from coq_env.coqtop import SandboxLimits, find_executable
from coq_env.admit_goal import GoalLemma, goal_lemma_use
from coq_env.holes import ADMIT, ADMITTED, Hole, find_holes
from coq_env.project import CoqProject, project_for
from coq_env.proof_imports import needed_imports
from coq_env.sentences import normalize, split_sentences, tactic_problem
from prover.file_writes import LOCK_WAIT, FileWriteError, read_exact, relative_name, rewriting, unified_diff
from prover.file_writes import write_patch as write_patch_file
from prover.sandbox import Sandbox, named_paths

COMPILE_TIMEOUT = 300.0  # seconds for coqc on the whole filled file
BUILD_HINT = "build the project first: `make` (no Makefile yet: `coq_makefile -f _CoqProject -o Makefile && make`)"
_REQUIRE = re.compile(r"^(?:From\s+([\w.']+)\s+)?Require(?:\s+(?:Import|Export))?\s+([^()]+?)\s*\.$")
_COQC_LOCATION = re.compile(r'^File "[^"]*", line (\d+), characters', re.M)
_UNBOUND_LIBRARY = re.compile(r"Cannot find a physical path bound to logical path\s+(\S+)\s+with prefix\s+(\S+?)\.?$")

Proof = str | Sequence[str] | GoalLemma  # tactic lines as one text, or one tactic (or line) per item; see GoalLemma


WriteError = FileWriteError  # a write refused before the file was touched (the core's, under this module's name)


class MissingDependency(WriteError):
    """A library the file requires has no compiled `.vo` yet."""


@dataclass(frozen=True)
class WriteResult:
    """What `write_proofs` did: `written` with the labels it filled, or not, with the reason (the file untouched)."""

    path: Path
    written: bool
    filled: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class FilledText:
    """A file's text with proofs in its holes, and where each proof now lies in it (offsets into `text`)."""

    text: str
    spans: dict[str, tuple[int, int]]  # hole label -> (start, end) of what was written there


def write_proofs(path: str | os.PathLike, proofs: Mapping[str, Proof], project: CoqProject | None = None,
                 timeout: float = COMPILE_TIMEOUT, lock_wait: float = LOCK_WAIT,
                 limits: SandboxLimits = SandboxLimits()) -> WriteResult:
    """Write `proofs` (hole label -> tactics) into the Rocq file at `path`, if the whole filled file compiles.

    The file is re-read and its holes found again under an exclusive lock; each proof fills its hole (an
    `Admitted` proof becomes `Proof. ... Qed.` indented like its statement, an `admit.` step becomes the tactics);
    coqc compiles the filled text with the project's flags (default: the `_CoqProject` governing the file) in a
    sandbox; only then does the new text replace the file, with its permission bits, in one rename.
    Raises WriteError for a read-only file or folder, a hole no longer there, another writer holding the file past
    `lock_wait` seconds, or (MissingDependency) a required library of the project not yet compiled.
    """
    if not proofs:
        return WriteResult(Path(os.path.realpath(path)), False, reason="no proof to write")
    project = project or project_for(path)
    with rewriting(path, lock_wait) as held:
        path = held.path
        filled = fill_proofs(held.text, proofs)
        problem = missing_dependency(filled.text, project, path)
        if problem:
            raise MissingDependency(problem)
        failure = compile_problem(filled.text, path.name, project, timeout, limits)
        if failure:
            line, message = failure
            if dependency := _unbound_library(message):
                raise MissingDependency(f"{path.name} requires {dependency}, which has no .vo on the load path: "
                                        f"{BUILD_HINT}")
            return WriteResult(path, False, reason=_reason(line, message, filled))
        held.replace(filled.text, meanwhile="the proofs compiled")
    return WriteResult(path, True, tuple(proofs))


def fill_proofs(text: str, proofs: Mapping[str, Proof]) -> FilledText:
    """`text` with each proof in place of its hole (by label), every other character kept, and the imports its
    tactics need that the file lacks (proof_imports.needed_imports) on the line before its lemma: the text the
    proof was checked in. A GoalLemma proves an admit step's goal: the lemma goes before the hole's lemma and
    closes the step (coq_env.admit_goal). Raises WriteError for a label that is no hole of `text`, a hole the prover cannot
    fill, or a proof that is not tactics."""
    holes = {hole.label: hole for hole in find_holes(text)}
    gone = [label for label in proofs if label not in holes]
    if gone:
        raise WriteError(f"no hole {', '.join(gone)} in the file any more: it changed since its holes were read")
    edits: list[tuple[int, int, str, str | None]] = []  # (start, end, new text, the hole it fills), by start
    for hole in sorted((holes[label] for label in proofs), key=lambda hole: hole.start):
        if hole.unsupported:
            raise WriteError(f"{hole.label}: {hole.unsupported}")
        proof = proofs[hole.label]
        if isinstance(proof, GoalLemma):  # an admit step's goal, proved as a lemma put before the hole's lemma
            if hole.kind != ADMIT:
                raise WriteError(f"{hole.label}: a lemma for an admitted goal fills an admit. step, not a lemma")
            tactics = _tactic_lines(hole.label, proof.tactics)
            lemma, lines = [proof.statement, "Proof.", *(f"  {t}" for t in tactics), "Qed."], [goal_lemma_use(proof.name)]
        else:
            tactics = lines = _tactic_lines(hole.label, proof)
            lemma = []
        imports = needed_imports(tactics, hole.context)
        if imports or lemma:
            edits.append(_insert_before(text, len(hole.context), [*imports, *lemma]))
        edits.append((hole.start, hole.end, _rendered(text, hole, lines), hole.label))
        if text[hole.start:hole.end] != hole.replaced:
            raise WriteError(f"{hole.label}: the file changed since its holes were read (line {hole.line})")
    edits.sort(key=lambda edit: edit[0])  # an import goes before its lemma's statement, so before its proof
    pieces, spans, cursor, length = [], {}, 0, 0
    for start, end, new, label in edits:
        pieces.append(text[cursor:start])
        length += start - cursor
        if label is not None:
            spans[label] = (length, length + len(new))
        pieces.append(new)
        length += len(new)
        cursor = end
    pieces.append(text[cursor:])
    return FilledText("".join(pieces), spans)


def _insert_before(text: str, statement_start: int, lines: list[str]) -> tuple[int, int, str, None]:
    """The insertion of `lines` (imports, a lemma) before the lemma whose statement starts at `statement_start`,
    indented like it (or on its line just before it, when the line holds something else first)."""
    newline = "\r\n" if "\r\n" in text else "\n"
    line_start = text.rfind("\n", 0, statement_start) + 1
    indent = text[line_start:statement_start]
    if indent.strip():
        return statement_start, statement_start, " ".join(lines) + " ", None
    return line_start, line_start, "".join(f"{indent}{line}{newline}" for line in lines), None


def compile_problem(text: str, file_name: str, project: CoqProject, timeout: float = COMPILE_TIMEOUT,
                    limits: SandboxLimits = SandboxLimits()) -> tuple[int | None, str] | None:
    """Compile `text` as `file_name` with the project's flags, in a sandbox whose temp dir holds the copy (the
    project's load-path folders readable, nothing outside written); None if it compiles, else (line, first
    error line)."""
    flags = project.flags()
    with Sandbox("rocq-write-", readable=named_paths(flags)) as box:
        (Path(box.dir) / file_name).write_bytes(text.encode("utf-8"))
        try:
            done = box.run([find_executable("coqc"), "-q", *flags, file_name], limits, timeout)
        except subprocess.TimeoutExpired:
            return None, f"coqc did not finish in {timeout:.0f}s"
    if done.returncode == 0:
        return None
    out = (done.stdout + done.stderr).strip()
    error = re.search(r"^Error:\s*(.*)", out, re.M | re.S)
    # warnings before the error have locations of their own: the error's is the last one before it
    located = [m for m in _COQC_LOCATION.finditer(out) if not error or m.start() < error.start()]
    message = " ".join((error.group(1) if error else out or f"coqc exit {done.returncode}").split())[:300]
    return (int(located[-1].group(1)) if located else None), message


def missing_dependency(text: str, project: CoqProject, path: Path | None = None) -> str | None:
    """One line naming the first `.vo` of the project that `text` requires and that is not built, or None.
    Libraries outside the project's load paths are left to coqc."""
    libraries = _project_libraries(project, exclude=path)
    for sentence in split_sentences(text):
        m = _REQUIRE.match(normalize(sentence))
        if not m:
            continue
        prefix, required = m.group(1), m.group(2).split()
        for name in required:
            for logical, source in libraries.items():
                vo = source.with_suffix(".vo")
                if _names_library(logical, prefix, name) and not vo.exists():
                    shown = vo.relative_to(project.root) if vo.is_relative_to(project.root) else vo
                    return f"{shown} is missing ({logical} is required but not compiled): {BUILD_HINT}"
    return None


def patch_for(path: str | os.PathLike, proofs: Mapping[str, Proof], root: str | os.PathLike | None = None) -> str:
    """The unified diff (headers `a/REL`, `b/REL`, REL relative to `root`, default the file's folder) that puts
    `proofs` into the file at `path`, for `git apply` run in `root`; "" when nothing changes. The file is only
    read."""
    path = Path(path).absolute()
    original = read_exact(path)
    return unified_diff(original, fill_proofs(original, proofs).text, relative_name(path, root))


def write_patch(out_dir: str | os.PathLike, path: str | os.PathLike, proofs: Mapping[str, Proof],
                root: str | os.PathLike | None = None) -> Path | None:
    """Write the change `patch_for(path, proofs, root)` gives atomically under `out_dir/patches/` (named after REL,
    `/` as `__`: see prover.file_writes.write_patch); the patch's path, or None when there is nothing to change."""
    path = Path(path).absolute()
    original = read_exact(path)
    return write_patch_file(out_dir, relative_name(path, root), original, fill_proofs(original, proofs).text)


def _tactic_lines(label: str, proof: Proof) -> list[str]:
    """The proof's lines, dedented. Every sentence must be a tactic: a proof may not end or leave the lemma."""
    text = proof if isinstance(proof, str) else "\n".join(proof)
    for sentence in split_sentences(text):
        problem = tactic_problem(sentence)
        if problem:
            raise WriteError(f"{label}: proof step refused: {problem}")
    lines = textwrap.dedent(text.replace("\r\n", "\n")).strip("\n").split("\n")
    if not any(line.strip() for line in lines):
        raise WriteError(f"{label}: the proof is empty")
    return [line.rstrip() for line in lines]


def _rendered(text: str, hole: Hole, lines: list[str]) -> str:
    """What replaces the hole's span: for an Admitted lemma its whole proof, indented like its statement, with
    the comments the replaced proof held; for an admit step the tactics, in braces after a goal selector."""
    newline = "\r\n" if "\r\n" in text else "\n"
    if hole.kind == ADMITTED:
        indent = _line_indent(text, len(hole.context))
        spans = _comment_spans(hole.replaced)
        if hole.proof_opening:  # comments inside the opening stay there: it is kept as written
            at = _outside_comments(hole.replaced, hole.proof_opening)
            spans = [(a, b) for a, b in spans if not at <= a < at + len(hole.proof_opening)]
        comments = [hole.replaced[a:b] for a, b in spans]
        opening = hole.proof_opening or "Proof."
        body = [f"{indent}  {line}" if line else "" for line in [*comments, *lines]]
        return newline.join(["", indent + opening, *body, indent + "Qed."])
    keyword = max(m.start() for m in re.finditer(r"admit|give_up", hole.replaced))
    selector = hole.replaced[:keyword].strip()
    column = hole.start - (text.rfind("\n", 0, hole.start) + 1)
    if selector and lines[0].startswith("{"):  # the proof focuses the goal itself (coq_env.admit_goal)
        lines = [f"{selector} {lines[0]}", *lines[1:]]
    elif selector:  # `2: admit.` focused goal 2: the tactics must work on it alone
        lines = [f"{selector} {{ {lines[0]}", *lines[1:]]
        lines[-1] += " }"
    return newline.join([lines[0], *(" " * column + line if line else "" for line in lines[1:])])


def _line_indent(text: str, offset: int) -> str:
    """The blanks that start the line holding `offset`."""
    before = text[text.rfind("\n", 0, offset) + 1 : offset]
    return before[: len(before) - len(before.lstrip(" \t"))]


def _comment_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each outermost comment of a piece of Rocq source (nested comments and strings read as Coq
    reads them: a `*)` in a string closes nothing)."""
    spans, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text[i] == '"':
            closing = text.find('"', i + 1)
            i = len(text) if closing < 0 else closing + 1
        elif text.startswith("(*", i):
            start = i if depth == 0 else start
            depth, i = depth + 1, i + 2
        elif depth and text.startswith("*)", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                spans.append((start, i))
        else:
            i += 1
    return spans


def _outside_comments(text: str, sentence: str) -> int:
    """Where `sentence` first occurs in `text` outside a comment (-1 if it does not)."""
    spans = _comment_spans(text)
    at = text.find(sentence)
    while at >= 0 and any(a <= at < b for a, b in spans):
        at = text.find(sentence, at + 1)
    return at


def _project_libraries(project: CoqProject, exclude: Path | None) -> dict[str, Path]:
    """Logical name -> source file of every `.v` under the project's -R/-Q folders (a later binding wins)."""
    libraries: dict[str, Path] = {}
    for load_path in project.load_paths:
        if not load_path.folder.is_dir():
            continue
        for source in sorted(load_path.folder.rglob("*.v")):
            if exclude is not None and source == exclude:
                continue
            parts = [load_path.logical, *source.relative_to(load_path.folder).with_suffix("").parts]
            libraries[".".join(part for part in parts if part)] = source
    return libraries


def _names_library(logical: str, prefix: str | None, name: str) -> bool:
    """Whether `From prefix Require name` (or `Require name`) loads the library called `logical`: Coq takes
    the name as a suffix of the library's full name, under the prefix when there is one."""
    if prefix:
        return logical == f"{prefix}.{name}" or (logical.startswith(prefix + ".") and logical.endswith("." + name))
    return logical == name or logical.endswith("." + name)


def _unbound_library(message: str) -> str | None:
    m = _UNBOUND_LIBRARY.search(message)
    return f"{m.group(2)}.{m.group(1)}" if m else None


def _reason(line: int | None, message: str, filled: FilledText) -> str:
    """coqc's complaint about the filled text, naming the line and the proof written there, if any."""
    if line is None:
        return f"does not compile: {message}"
    label = next((label for label, (start, end) in filled.spans.items()
                  if _line_of(filled.text, start) <= line <= _line_of(filled.text, end)), None)
    where = f" (in the proof written for {label})" if label else ""
    return f"does not compile: line {line}{where}: {message}"


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
