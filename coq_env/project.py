"""The load-path flags of a Coq project: its `_CoqProject` read as coq_makefile reads it, or -R/-Q given by hand."""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

PROJECT_FILE = "_CoqProject"
# Options coq_makefile knows that say nothing about where coqc finds libraries: skipped with their argument.
_IGNORED_WITH_ARGUMENT = {"-o", "-docroot", "-install", "-native-compiler", "-generate-meta-for-package"}
_IGNORED_ALONE = {"-no-install"}


class ProjectFileError(ValueError):
    """A `_CoqProject` line (or a caller's -R/-Q option) coqc could not make sense of: one line, naming where."""


@dataclass(frozen=True)
class LoadPath:
    """One `-R`/`-Q` binding: a physical folder (absolute) seen by coqc as the logical library `logical`."""

    kind: str  # "-R" (recursive, names importable unqualified) or "-Q" (recursive, qualified only)
    folder: Path
    logical: str

    def flags(self) -> list[str]:
        return [self.kind, str(self.folder), self.logical]


@dataclass(frozen=True)
class CoqProject:
    """What coqc and coqtop need to see a project's files as its libraries. Paths are absolute."""

    root: Path  # the folder of `_CoqProject` (without one: the folder of the file the flags are for)
    project_file: Path | None = None
    load_paths: tuple[LoadPath, ...] = ()
    includes: tuple[Path, ...] = ()  # -I folders (OCaml plugins)
    extra_args: tuple[str, ...] = ()  # what `-arg` passes to coqc, already split into words
    files: tuple[Path, ...] = ()  # the file names `_CoqProject` lists, in order

    def flags(self) -> list[str]:
        """The coqc/coqtop command-line flags, in coq_makefile's order: -I, then -R/-Q, then -arg's words."""
        flags: list[str] = []
        for folder in self.includes:
            flags += ["-I", str(folder)]
        for load_path in self.load_paths:
            flags += load_path.flags()
        return flags + list(self.extra_args)

    def with_load_paths(self, load_paths: Sequence[LoadPath]) -> CoqProject:
        """This project with `load_paths` added after its own: coqc lets a later binding of a logical name win,
        so a caller's -R/-Q overrides the project file's."""
        return replace(self, load_paths=self.load_paths + tuple(load_paths))


def find_project_file(path: str | Path) -> Path | None:
    """The `_CoqProject` governing `path`: the nearest one in its folder (the path itself if it is a folder) or
    a folder above, or None."""
    here = Path(path).absolute()
    folder = here if here.is_dir() else here.parent
    for candidate in (folder, *folder.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate / PROJECT_FILE
    return None


def read_project_file(project_file: str | Path) -> CoqProject:
    """Parse a `_CoqProject`; relative paths in it are relative to its folder."""
    project_file = Path(project_file).absolute()
    project = parse_project_text(project_file.read_text(), project_file.parent, source=project_file)
    return replace(project, project_file=project_file)


def parse_project_text(text: str, root: str | Path, source: str | Path = PROJECT_FILE) -> CoqProject:
    """Parse `_CoqProject` text: `-R dir Lib`, `-Q dir Lib`, `-I dir`, `-arg opt`, `#` comments to the end of the
    line, shell-style quotes; any other word is a file of the project. An option's arguments must be on its line.

    Raises ProjectFileError naming `source` and the line for an option missing its arguments or an unknown option.
    """
    root = Path(root).absolute()
    parts: dict[str, list] = {"load_paths": [], "includes": [], "extra_args": [], "files": []}
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:  # an unclosed quote
            raise ProjectFileError(f"{source}:{number}: {exc}") from None
        _read_line(words, root, parts, f"{source}:{number}")
    return CoqProject(
        root=root,
        load_paths=tuple(parts["load_paths"]),
        includes=tuple(parts["includes"]),
        extra_args=tuple(parts["extra_args"]),
        files=tuple(parts["files"]),
    )


def load_path_options(options: Sequence[str], base: str | Path = ".") -> tuple[LoadPath, ...]:
    """A caller's `-R dir Lib` / `-Q dir Lib` options (as a command line gives them), folders relative to `base`."""
    parts: dict[str, list] = {"load_paths": [], "includes": [], "extra_args": [], "files": []}
    _read_line(list(options), Path(base).absolute(), parts, "load-path options")
    if parts["includes"] or parts["extra_args"] or parts["files"]:
        raise ProjectFileError(f"load-path options: only -R and -Q are accepted here, not {' '.join(options)!r}")
    return tuple(parts["load_paths"])


def project_for(path: str | Path, options: Sequence[str] = (), base: str | Path = ".") -> CoqProject:
    """The flags to compile the file (or folder) at `path`: its governing `_CoqProject`, if any, plus the caller's
    -R/-Q `options` (relative to `base`), which win over the project file's."""
    project_file = find_project_file(path)
    if project_file is not None:
        project = read_project_file(project_file)
    else:
        here = Path(path).absolute()
        project = CoqProject(root=here if here.is_dir() else here.parent)
    return project.with_load_paths(load_path_options(options, base))


def _read_line(words: list[str], root: Path, parts: dict[str, list], where: str) -> None:
    """Add one line's options and files to `parts` (lists keyed like CoqProject's fields)."""
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-R", "-Q"):
            if len(words) < i + 3 or words[i + 1].startswith("-") or words[i + 2].startswith("-"):
                raise ProjectFileError(f"{where}: {word} needs a folder and a logical name ({word} dir Lib)")
            parts["load_paths"].append(LoadPath(word, _absolute(root, words[i + 1]), words[i + 2]))
            i += 3
        elif word == "-I":
            if len(words) < i + 2:
                raise ProjectFileError(f"{where}: -I needs a folder (-I dir)")
            parts["includes"].append(_absolute(root, words[i + 1]))
            i += 2
        elif word == "-arg":
            if len(words) < i + 2:
                raise ProjectFileError(f"{where}: -arg needs the option it passes to coqc (-arg opt)")
            parts["extra_args"] += shlex.split(words[i + 1])  # `-arg "-w -notation-overridden"` is two words
            i += 2
        elif word in _IGNORED_WITH_ARGUMENT:
            if len(words) < i + 2:
                raise ProjectFileError(f"{where}: {word} needs an argument")
            i += 2
        elif word in ("-extra", "-extra-phony"):  # a Makefile rule: target, dependencies, command
            if len(words) < i + 4:
                raise ProjectFileError(f"{where}: {word} needs a target, its dependencies and a command")
            i += 4
        elif word in _IGNORED_ALONE:
            i += 1
        elif word == "-f":
            raise ProjectFileError(f"{where}: -f (reading another project file) is not supported")
        elif word.startswith("-"):
            raise ProjectFileError(f"{where}: unknown option {word}")
        elif i + 2 < len(words) and words[i + 1] == "=":  # `VAR = value`: a Makefile variable
            i += 3
        else:
            parts["files"].append(_absolute(root, word))
            i += 1


def _absolute(root: Path, path: str) -> Path:
    return Path(os.path.normpath(root / path))
