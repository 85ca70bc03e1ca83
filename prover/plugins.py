"""Finding backends by name: each backend package registers a BackendPlugin under an entry point.

The plugin is the only door into a backend: the prover core (CLI, search, translate, serve, prompts) knows a
backend by its name and by what its plugin says, never by importing it. Each field below is one capability;
an optional one is None (or empty) where the backend does not have it, and the command that needs it says so.
"""
from __future__ import annotations

import random
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Protocol, Sequence

from prover.backend import Backend, Timeouts
from prover.syntax import EditorSyntax, SketchSyntax
from prover.types import Theorem, Verdict

if TYPE_CHECKING:
    import click

    from prover.contamination import NgramGuard
    from prover.generators import TacticGenerator
    from prover.proofsteps import ExtractOptions, ProofStep

ENTRY_POINT_GROUP = "llemma_prover.backends"
# The backend a command uses when none is named (--backend): the one place the core's defaults name a backend.
DEFAULT_BACKEND = "rocq"
DEFAULT_BENCHMARK = "minif2f-rocq"  # and the benchmark (--benchmark), one of DEFAULT_BACKEND's


class MakeBackend(Protocol):
    def __call__(self, timeouts: Timeouts | None = None, **options) -> Backend:
        """A new backend (nothing started until its first `open`, where it can wait); BackendUnavailable (one line
        saying what to install or set up) when the proof assistant is missing."""
        ...


class CheckFile(Protocol):
    def __call__(self, path: Path, expected: Theorem | None) -> Verdict:
        """`prover check`: the sound check of a proof file on its own, in a fresh process. With `expected` (a
        benchmark theorem), the file must prove exactly that statement. BackendUnavailable when it cannot check."""
        ...


class ExtractProofsteps(Protocol):
    def __call__(self, source: str, out: Path, options: ExtractOptions) -> dict:
        """`prover extract`: replay real proof scripts (`source`: a file, a folder, or a name such as "stdlib") and
        write (goal state, tactic) rows to `out`, held-out files' theorems beside them; a JSON-able summary."""
        ...


class HeldoutTheorems(Protocol):
    def __call__(self, path: Path, split: str) -> tuple[Theorem, ...]:
        """The held-out theorems `extract_proofsteps` wrote next to its rows at `path` (`iterate --corpus-theorems`)."""
        ...


class RenameProofstep(Protocol):
    def __call__(self, step: ProofStep, rng: random.Random) -> ProofStep | None:
        """The step with its hypotheses and variables renamed consistently, or None when it has none to rename
        (`train-data --renamed-copies`)."""
        ...


class SynthesizeProofsteps(Protocol):
    def __call__(self, out: Path, kinds: list[str], count: int, *, seed: int, guard: NgramGuard | None,
                 include_automation: bool, progress: Callable[[object], None]) -> dict:
        """`prover synth`: `count` synthetic theorems of each kind, proved by scripted steps in the live proof
        assistant, written to `out` as proofstep rows; a JSON-able summary."""
        ...


class BuildHolesBenchmark(Protocol):
    def __call__(self, out: Path, files: int, holes_per_file: int, seed: int, max_sentences: int) -> dict:
        """`prover stdlib-holes`: copies of up to `files` of the standard library's held-out files with a seeded
        choice of up to `holes_per_file` short proofs left as holes, written to `out` as a project `prover prove`
        works on, with a manifest of the proofs taken out; a JSON-able summary. ValueError on bad input."""
        ...


class WriteCurriculum(Protocol):
    def __call__(self, out: Path, families: list[str], count: int, seed: int,
                 progress: Callable[[str], None] | None = None) -> dict:
        """`prover curriculum`: `count` synthetic theorems of each family drawn from `seed`, written as holes (one
        theorem a file, OUT/<family>/<name>.v) for `prover prove OUT`, each checked to compile as stated (what does
        not is dropped and counted), with OUT/manifest.jsonl; a JSON-able summary with per-family counts.
        ValueError for an unknown family or an OUT it may not write."""
        ...


class CurriculumTheorems(Protocol):
    def __call__(self, family: str, count: int, seed: int) -> list[Theorem]:
        """`prover iterate --curriculum-count`: `count` distinct theorems of `family` drawn from `seed`, in memory, the
        same statements (and names) `write_curriculum` writes for that seed, not compile-checked: a statement the
        proof assistant refuses is the search's `unsupported` row. ValueError for an unknown family."""
        ...


class UserFilesError(ValueError):
    """A user's files that cannot be proved as given (no such path, no holes, a library not compiled, a bad
    project file): one line saying why and, where it can, what to do."""


@dataclass(frozen=True)
class Sample:
    """A fixed, named choice of a benchmark split's theorems (`prove --sample NAME`), in the order they run."""

    split: str
    names: tuple[str, ...]
    rule: str = ""  # how they were chosen, in one sentence


@dataclass(frozen=True)
class FileHole:
    """One hole of a user's file (a lemma left `Admitted`, a `sorry`), as the prover core sees it."""

    theorem: Theorem  # what the search opens; its name, "REL:label", is unique in the run (the row's name)
    file: Path  # absolute
    relative: str  # the file relative to the project's root, with `/`: what rows and patches name
    line: int  # 1-based line of the hole in the file
    label: str  # names the hole within its file (the lemma's qualified name, ...)
    unsupported: str | None = None  # why the prover cannot work on it, or None
    statement_line: int | None = None  # 1-based line where its lemma's statement starts (the editor's cursor may
    # be anywhere from there to `line`), or None where the backend does not say


@dataclass(frozen=True)
class WriteOutcome:
    """What putting one file's proofs back did: written into the file, or a patch written, or neither and why."""

    file: Path
    written: bool = False
    patch: Path | None = None
    reason: str = ""  # why nothing was written (the file is untouched)


class UserFiles(Protocol):
    """The holes of a user's files in one project, and what proving them needs: a backend that loads the
    project, the check of a proof in its file's context, and the writing back of the proofs found."""

    root: Path  # the project's root: FileHole.relative is relative to it, patches apply there
    holes: tuple[FileHole, ...]  # in file order, files in the order given

    def make_backend(self, timeouts: Timeouts | None = None) -> Backend:
        """A backend that can open every hole's theorem (with the project's load paths)."""
        ...

    def check(self, hole: FileHole, tactics: Sequence[str], timeout: float | None = None) -> Verdict:
        """The sound check of `tactics` as the proof of `hole`, in its file's context, in a fresh process. An
        accepted proof that rests on one of the file's own open holes says so (see `depends_on`)."""
        ...

    def depends_on(self, verdict: Verdict) -> tuple[str, ...]:
        """The file's open lemmas an accepted `check` verdict rests on (empty: proved clean)."""
        ...

    def write_back(self, file: Path, proofs: Mapping[str, Sequence[str]], write: bool, out: Path) -> WriteOutcome:
        """Put `proofs` (hole label -> tactics) into `file`: with `write`, into the file itself (checked first,
        atomically; a refusal leaves it untouched), else as a unified diff under `out/patches/`."""
        ...


def source_files(paths: Sequence[Path], suffix: str, language: str) -> list[Path]:
    """The files a user's PATHS name for `prover prove`, each once, in the order given: a file itself (it must end
    in `suffix`), or a folder's files ending in it, sorted, hidden folders (.git, .lake) skipped; all absolute.
    UserFilesError (one line) for no path, a missing path, another kind of file, or a folder without any.
    `language` names the files ("a Rocq file")."""
    if not paths:
        raise UserFilesError("no files given")
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise UserFilesError(f"{path}: no such file or folder")
        if path.is_file():
            if path.suffix != suffix:
                raise UserFilesError(f"{path} is not {language} ({suffix})")
            found = [path.absolute()]
        else:
            found = sorted(file.absolute() for file in path.rglob(f"*{suffix}") if file.is_file()
                           and not any(part.startswith(".") for part in file.relative_to(path).parts))
            if not found:
                raise UserFilesError(f"{path}: no {suffix} files in this folder")
        files += [file for file in found if file not in files]
    return files


def gathered_holes(files: Sequence[Path], holes_of: Callable[[Path], list[FileHole]], kinds: str) -> tuple[FileHole, ...]:
    """Every file's holes (`holes_of` one file), in file order; UserFilesError naming the files when there are
    none. `kinds` says what a hole is in this language ("lemmas ending in Admitted., admit. steps")."""
    holes = [hole for file in files for hole in holes_of(file)]
    if not holes:
        raise UserFilesError(f"no holes ({kinds}) in {', '.join(shown_path(file) for file in files)}")
    return tuple(holes)


def project_relative(file: Path, root: Path) -> str:
    """What FileHole.relative says of `file`: its path under the project's `root` with `/`, or its whole path
    where it lies outside."""
    return file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)


def shown_path(file: Path) -> str:
    """A file as the user would name it: relative to the current folder where it is below it."""
    return os.path.relpath(file) if file.is_relative_to(Path.cwd()) else str(file)


class OpenUserFiles(Protocol):
    def __call__(self, paths: Sequence[Path], load_paths: Sequence[tuple[str, str, str]]) -> UserFiles:
        """`prover prove PATHS`: the holes of the files at `paths` (files or folders of them). `load_paths`: the
        caller's (option, folder, logical name) bindings, e.g. ("-R", "theories", "Foo"), over the project's own.
        Raises UserFilesError (one line) for paths that cannot be proved as given."""
        ...


def whole_state(goals: str) -> str:
    """The default `first_goal`: a state layout the core cannot split is kept whole."""
    return goals


@dataclass(frozen=True)
class BackendPlugin:
    """Everything the prover core may know about one backend."""

    name: str  # the entry point's name, what --backend takes and Theorem.backend holds
    make_backend: MakeBackend
    benchmarks: dict[str, Callable[[str], tuple[Theorem, ...]]]  # benchmark name -> load(split); ValueError on a bad split
    check_file: CheckFile
    file_suffix: str = ""  # of a proof file (".v"): what `prove` writes to proofs/ and `check` reads
    splits: tuple[str, ...] = field(default=("valid", "test"))
    default_prompt: str = "proofstep"  # prompt name (prover.prompts) used when --prompt is not given
    # words a proposed tactic must never contain: they close a goal without proving it (sorry, admit, ...)
    forbidden_tactics: tuple[str, ...] = ()
    # the first goal of a rendered state text, where the state holds several: what a prompt cut to its token
    # budget keeps (tactics act on the first goal)
    first_goal: Callable[[str], str] = whole_state
    executable: str = ""  # the proof assistant's command on PATH when it is installed (for messages)
    sketch: SketchSyntax | None = None  # `prover translate`; None: no sketches for this backend
    editor: EditorSyntax | None = None  # `prover serve`'s checked suggestions and editor protocols
    setup_command: click.Command | None = None  # registered by the CLI as `prover setup NAME`
    extract_proofsteps: ExtractProofsteps | None = None
    # `--model hints`: a rule-based TacticGenerator (expert iteration's teacher)
    hint_generator: Callable[[], TacticGenerator] | None = None
    rename_proofstep: RenameProofstep | None = None
    heldout_theorems: HeldoutTheorems | None = None
    synthesize_proofsteps: SynthesizeProofsteps | None = None
    synthetic_kinds: tuple[str, ...] = ()  # what `prover synth --kinds` may name
    write_curriculum: WriteCurriculum | None = None  # `prover curriculum`: synthetic theorems as files of holes
    curriculum_families: tuple[str, ...] = ()  # what `prover curriculum --families` may name, in order
    curriculum_theorems: CurriculumTheorems | None = None  # `prover iterate --curriculum-count`: drawn in-process
    user_files: OpenUserFiles | None = None  # `prover prove PATHS`: the holes of a user's own files
    holes_benchmark: BuildHolesBenchmark | None = None  # `prover stdlib-holes`: held-out library files with holes
    # benchmark name -> load() of its named samples (`prove --sample NAME`: e.g. the README's quickstart)
    samples: dict[str, Callable[[], Mapping[str, Sample]]] = field(default_factory=dict)


class UnknownBackend(LookupError):
    pass


def available_backends() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def load_plugin(name: str) -> BackendPlugin:
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(available_backends()) or "none installed"
        raise UnknownBackend(f"unknown backend {name!r} (available: {known})")
    return matches[0].load()


@lru_cache(maxsize=None)
def cached_plugin(name: str) -> BackendPlugin:
    """load_plugin, remembered: for callers that ask per request or per state (reading entry points takes ms)."""
    return load_plugin(name)
