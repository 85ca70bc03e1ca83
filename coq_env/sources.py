"""Coq source files to replay: the installed standard library, an installed library that ships its sources
(Debian's user-contrib), or a folder of .v files (each with the load-path flags its own Requires need), and a
file's text cut into the sentences coqtop is sent one by one."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from coq_env.coqtop import SandboxLimits, find_executable
from coq_env.sentences import is_bullet, split_sentences, strip_comments
from prover.sandbox import Sandbox

STDLIB = "stdlib"
_ELLIPSIS = re.compile(r"\.\.\.(?=\s)")
FOCUS = re.compile(r"(?:\d+|\[\s*[\w']+\s*\])\s*:\s*\{")  # `2: {` focuses on a goal, like a brace


@dataclass(frozen=True)
class Library:
    """An installed Coq library whose .v files sit beside its .vo in user-contrib."""
    folder: str  # under `coqc -where`/user-contrib
    prefix: str  # its logical name: the first part of each file's module name
    package: str  # the Debian package that installs it


# `--source` names beside `stdlib`. Debian ships these libraries' sources with the compiled files.
LIBRARIES = {
    "coquelicot": Library("Coquelicot", "Coquelicot", "libcoq-coquelicot"),
    "hammer": Library("Hammer", "Hammer", "libcoq-hammer"),
    "mathcomp": Library("mathcomp", "mathcomp", "libcoq-mathcomp-ssreflect"),
}


class ExtractError(ValueError):
    """The source cannot be extracted from (no such path, no .v files) or the output belongs to another run."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    relpath: str  # relative to the source root, '/'-separated: the split is a hash of it
    label: str  # ProofStep.source: `stdlib:Arith/PeanoNat.v`, or the relative path
    args: tuple[str, ...] = ()  # coqtop flags that make the file's own Requires resolve


@lru_cache(maxsize=1)
def _coq_where() -> str:
    with Sandbox("coqc-where-") as box:
        return box.run([find_executable("coqc"), "-where"], SandboxLimits(), timeout=60).stdout.strip()


def _coqlib_folder(name: str) -> Path | None:
    """`name` under Coq's library folder (`coqc -where`, else $COQLIB), where it exists."""
    where = _coq_where()
    for root in (Path(where) / name, Path(os.environ.get("COQLIB", where)) / name):
        if root.is_dir():
            return root
    return None


def stdlib_root() -> Path:
    """The installed standard library's sources: `coqc -where`/theories."""
    root = _coqlib_folder("theories")
    if root is None:
        raise ExtractError(f"no Coq standard library sources under {_coq_where()}/theories")
    return root


def library_root(name: str) -> Path:
    """The installed sources of the library `name` (a key of LIBRARIES): `coqc -where`/user-contrib/FOLDER."""
    library = LIBRARIES[name]
    user_contrib = _coqlib_folder("user-contrib")
    root = user_contrib / library.folder if user_contrib is not None else None
    if root is None or not root.is_dir():
        raise ExtractError(f"library {name} is not installed (no {_coq_where()}/user-contrib/{library.folder}): "
                           f"install the Debian package {library.package}")
    return root


def source_files(source: str | Path) -> list[SourceFile]:
    """The .v files of `source` (`stdlib`, a name in LIBRARIES, a .v file or a folder), in a fixed order."""
    if str(source) == STDLIB:
        root = stdlib_root()
        return [_stdlib_file(root, p) for p in _sorted_sources(root)]
    if str(source) in LIBRARIES:
        root = library_root(str(source))
        return [_library_file(str(source), root, p) for p in _sorted_sources(root)]
    path = Path(source)
    if not path.exists():
        raise ExtractError(f"no such file or folder: {source}")
    if path.is_file():
        if path.suffix != ".v":
            raise ExtractError(f"not a Coq source (.v): {source}")
        root, files = path.parent, [path]
    else:
        root, files = path, _sorted_sources(path)
    args, load_path = _project_args(root.resolve())
    result = []
    for p in files:
        rel = p.relative_to(root).as_posix()
        result.append(SourceFile(p.resolve(), rel, rel, args + _top(p.resolve(), load_path)))
    return result


def _sorted_sources(root: Path) -> list[Path]:
    files = sorted((p for p in root.rglob("*.v") if p.is_file()), key=lambda p: p.relative_to(root).as_posix())
    if not files:
        raise ExtractError(f"no .v files under {root}")
    return files


def _library_file(name: str, root: Path, path: Path) -> SourceFile:
    # `-R`, as the library was built: user-contrib alone is on Coq's load path without implicit short names, and
    # Coquelicot's files Require their siblings by short name (`Require Import Rcomplements.`). The label carries
    # the library's name: two libraries' `Basic.v` stay two files in the log and the output.
    rel = path.relative_to(root).as_posix()
    prefix = LIBRARIES[name].prefix
    return SourceFile(path, rel, f"{name}:{rel}", ("-R", str(root), prefix) + _top(path, [(root, prefix)]))


def _stdlib_file(root: Path, path: Path) -> SourceFile:
    rel = path.relative_to(root).as_posix()
    # The prelude's own files are compiled without the prelude they define.
    args = ("-noinit",) if rel.startswith("Init/") else ()
    return SourceFile(path, rel, f"{STDLIB}:{rel}", args + _top(path, [(root, "Coq")]))


def _top(path: Path, load_path: list[tuple[Path, str]]) -> tuple[str, ...]:
    """`-top` with the file's own module name (`Coq.Arith.PeanoNat`): files name their own definitions by
    it, and Program names obligations after it; left out where the name is no Coq identifier."""
    for physical, logical in load_path:
        if path.is_relative_to(physical):
            parts = [*logical.split("."), *path.relative_to(physical).with_suffix("").parts]
            parts = [part for part in parts if part]
            if parts and all(re.fullmatch(r"[A-Za-z_][\w']*", part) for part in parts):
                return ("-top", ".".join(parts))
            return ()
    return ()


def _project_args(root: Path) -> tuple[tuple[str, ...], list[tuple[Path, str]]]:
    """The load path a folder's files were compiled with: its _CoqProject's -R/-Q/-I, else `-Q folder ""`;
    and the (folder, logical prefix) pairs in it."""
    project = root / "_CoqProject"
    args: list[str] = []
    load_path: list[tuple[Path, str]] = []
    if project.is_file():
        words = project.read_text(errors="replace").split()
        i = 0
        while i < len(words):
            flag = words[i]
            if flag in ("-R", "-Q") and i + 2 < len(words):
                physical = (root / words[i + 1]).resolve()
                args += [flag, str(physical), words[i + 2]]
                load_path.append((physical, words[i + 2]))
                i += 3
            elif flag == "-I" and i + 1 < len(words):
                args += [flag, str((root / words[i + 1]).resolve())]
                i += 2
            else:
                i += 1
    if not load_path:
        args += ["-Q", str(root), ""]
        load_path.append((root, ""))
    # The innermost folder names a file's module when mappings nest.
    load_path.sort(key=lambda pair: len(pair[0].parts), reverse=True)
    return tuple(args), load_path


def replay_sentences(text: str) -> list[str]:
    """The sentences coqtop is sent for a file: comments dropped, whitespace collapsed, unterminated tail dropped."""
    out = []
    for sentence in split_sentences(strip_comments(text)):
        for part in _resplit(sentence):
            part = " ".join(part.split())
            if part.endswith(".") or is_bullet(part) or FOCUS.fullmatch(part):
                out.append(part)
    return out


def _resplit(sentence: str) -> list[str]:
    """Coq sentences that split_sentences reads as part of the next one: `2:{` (focus on a goal) and a tactic
    ended by `...` (`Proof with`). Two sentences sent as one make coqtop answer twice, and every later reply
    would belong to the sentence before it. What follows is split again: it may start with a bullet."""
    sentence = sentence.strip()
    cut = None
    if m := FOCUS.match(sentence):
        cut = m.end()
    else:
        in_string = False
        for i, c in enumerate(sentence):
            if c == '"':
                in_string = not in_string
            elif not in_string and c == "." and _ELLIPSIS.match(sentence, i) and (i == 0 or sentence[i - 1] != "."):
                cut = i + 3
                break
    if cut is None or cut == len(sentence):
        return [sentence] if sentence else []
    return [sentence[:cut], *(part for rest in split_sentences(sentence[cut:]) for part in _resplit(rest))]
