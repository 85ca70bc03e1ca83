"""Proving the holes of a user's own files (`prover prove PATHS`): the batch of a benchmark run, over a backend's
`UserFiles`, with each proof checked in its file's context and the proofs put back file by file.

The run folder is a benchmark run's: one results.jsonl row per hole (its name is "FILE:label", FILE relative to
the project's root), trees, proofs, resume. A row also says the hole's `file` and `line`, `depends_on` where the
proof rests on a lemma of the file that is still open, and, once its file's holes are all done, what became of
the proof: `written` (with --write) or the `patch` it is in, and `write_reason` where neither happened. On Ray
(--workers), each prover actor opens the files itself (MakeInContextBackend); the writing back stays with the driver.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from prover.backend import Backend, BackendWrapper
from prover.batch import RESULTS, UNSUPPORTED, finished_names, latest_rows, prove_batch, read_rows, record_result
from prover.generators import TacticGenerator
from prover.jsonl import append_row
from prover.plugins import FileHole, UserFiles, UserFilesError, WriteOutcome, cached_plugin
from prover.search import SearchConfig, Status
from prover.types import ProofState, StatementError, Theorem, Verdict

if TYPE_CHECKING:
    from prover.distributed import ProverCluster


_WRITE_FIELDS = ("written", "patch", "write_reason")  # what a row says about its proof's way back into the file


class InContextBackend(BackendWrapper):
    """A backend whose final check of a proof is its check in the hole's own file (UserFiles.check), remembering
    each theorem's last verdict (what its row says the proof rests on)."""

    def __init__(self, inner: Backend, files: UserFiles):
        super().__init__(inner)
        self.files = files
        self.holes = {hole.theorem.name: hole for hole in files.holes}
        self.verdicts: dict[str, Verdict] = {}

    def open(self, theorem: Theorem) -> ProofState:
        try:
            return super().open(theorem)
        except StatementError as exc:  # most often the user's file itself does not compile up to the hole
            hole = self.holes[theorem.name]
            raise StatementError(f"{hole.relative} does not load up to the hole's lemma (line "
                                 f"{hole.statement_line or hole.line}): {exc}") from None

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        verdict = self.files.check(self.holes[theorem.name], tactics, timeout)
        self.verdicts[theorem.name] = verdict
        return verdict

    def annotate_row(self, theorem: Theorem, row: dict) -> dict:
        """The theorem's results row with its hole's file and line, and, for a proof resting on an open lemma of
        the file, `depends_on` and the reason (what the verdict said)."""
        row = _located(self.holes[theorem.name], row)
        verdict = self.verdicts.get(theorem.name)
        if row["status"] == Status.PROVED.value and verdict is not None and self.files.depends_on(verdict):
            row.update(depends_on=list(self.files.depends_on(verdict)), reason=verdict.reason)
        return row


@dataclass(frozen=True)
class MakeInContextBackend:
    """What a Ray prover actor needs to make the backend of a user's files itself (picklable): the backend's name,
    the paths given and the load-path bindings, with the folders absolute (an actor may run in another folder)."""

    backend: str
    paths: tuple[str, ...]
    load_paths: tuple[tuple[str, str, str], ...]

    @classmethod
    def given(cls, backend: str, paths: Sequence[Path], load_paths: Sequence[tuple[str, str, str]]):
        return cls(backend, tuple(str(Path(path).absolute()) for path in paths),
                   tuple((option, str(Path(folder).absolute()), library) for option, folder, library in load_paths))

    def __call__(self) -> InContextBackend:
        open_files = cached_plugin(self.backend).user_files
        files = open_files([Path(path) for path in self.paths], self.load_paths)
        return InContextBackend(files.make_backend(), files)


def select_holes(holes: Sequence[FileHole], names: list[str] | None, limit: int | None) -> list[FileHole]:
    """The holes a --names and --limit value pick, in file order. A name may be a hole's row name (FILE:label),
    its label, or the label's last dotted part (`even_4` for `Evens.even_4`). UserFilesError for a name naming none."""
    chosen = list(holes)
    if names is not None:
        def matches(hole: FileHole, name: str) -> bool:
            short = hole.label.split("#")[0].rsplit(".", 1)[-1]
            return name in (hole.theorem.name, hole.label, short)

        missing = [name for name in names if not any(matches(hole, name) for hole in holes)]
        if missing:
            raise UserFilesError(f"no hole named {missing[0]!r} in the given files")
        chosen = [hole for hole in holes if any(matches(hole, name) for name in names)]
    return chosen[:limit] if limit else chosen


def prove_holes(files: UserFiles, holes: Sequence[FileHole], backend: Backend, generator: TacticGenerator,
                config: SearchConfig, out: Path, suffix: str, *, write: bool, progress: bool = True,
                trees: bool = True, order: str = "given") -> list[WriteOutcome]:
    """Prove `holes` (of `files`) in-process, as `prove_holes_with` says."""
    checked = InContextBackend(backend, files)

    def prove(theorems: list[Theorem]) -> Iterable[dict]:
        if order != "given":
            from prover.theorem_order import order_theorems, read_unfinished

            theorems = order_theorems(theorems, order, read_unfinished(out))
        return prove_batch(theorems, checked, generator, config, out, suffix, progress, trees, checked.annotate_row)

    return prove_holes_with(prove, files, holes, out, suffix, generator.name, write=write)


def prove_holes_on(job: ProverCluster, files: UserFiles, holes: Sequence[FileHole], config: SearchConfig, out: Path,
                   suffix: str, *, write: bool, progress: bool = True, trees: bool = True) -> list[WriteOutcome]:
    """Prove `holes` (of `files`) on a Ray job whose provers each make their backend with `MakeInContextBackend`
    (so each row is annotated where the proof was checked), as `prove_holes_with` says."""
    return prove_holes_with(lambda theorems: job.run(theorems, config, out, suffix, progress, trees=trees), files,
                            holes, out, suffix, job.model_name, write=write)


def prove_holes_with(prove: Callable[[list[Theorem]], Iterable[dict]], files: UserFiles, holes: Sequence[FileHole],
                     out: Path, suffix: str, model_name: str, *, write: bool) -> list[WriteOutcome]:
    """Prove `holes` (of `files`) not already finished in out/results.jsonl, by `prove` (the searched holes'
    theorems -> each one's row, annotated by InContextBackend.annotate_row, once it is recorded); an unsupported
    one gets its row at once. When a file's last hole is done, its proofs so far go back into it (`write`) or into
    a patch: one write per file, on this side, whose outcome its rows then carry. The outcomes, one per file that
    had a proof."""
    done = finished_names(read_rows(out / RESULTS))
    for hole in holes:
        if hole.unsupported and hole.theorem.name not in done:
            row = {"name": hole.theorem.name, "split": None, "model": model_name, "proof": None,
                   "status": UNSUPPORTED, "reason": hole.unsupported}
            record_result(out, _located(hole, row), None, suffix)
    by_name = {hole.theorem.name: hole for hole in holes}
    by_file: dict[Path, list[FileHole]] = {}
    for hole in holes:
        by_file.setdefault(hole.file, []).append(hole)
    pending = {file: sum(h.theorem.name not in done for h in found if not h.unsupported)
               for file, found in by_file.items()}
    outcomes: list[WriteOutcome] = []

    def put_back(file: Path) -> None:
        outcome = _put_back(files, by_file[file], out, write)
        if outcome is not None:
            outcomes.append(outcome)

    for file, left in pending.items():
        if not left:  # finished by an earlier run that stopped before putting its proofs back
            put_back(file)
    for row in prove([hole.theorem for hole in holes if not hole.unsupported]):
        file = by_name[row["name"]].file
        pending[file] -= 1
        if not pending[file]:
            put_back(file)
    return outcomes


def _located(hole: FileHole, row: dict) -> dict:
    """The row with the hole's file and line after its name."""
    return {"name": row["name"], "file": hole.relative, "line": hole.line, **row}


def _put_back(files: UserFiles, holes: list[FileHole], out: Path, write: bool) -> WriteOutcome | None:
    """Write the proved holes among `holes` (one file's) back, or their patch; each proved row not yet saying so
    gets a new row with the outcome. None when none of them is proved."""
    latest = {row["name"]: row for row in latest_rows(read_rows(out / RESULTS))}
    proved = [(hole, latest[hole.theorem.name]) for hole in holes
              if latest.get(hole.theorem.name, {}).get("status") == Status.PROVED.value]
    if not proved:
        return None
    outcome = files.write_back(holes[0].file, {hole.label: row["proof"] for hole, row in proved}, write, out)
    said: dict = {"written": outcome.written} if write else {}
    if outcome.patch is not None:
        said["patch"] = outcome.patch.relative_to(out).as_posix() if outcome.patch.is_relative_to(out) \
            else str(outcome.patch)
    if outcome.reason:
        said["write_reason"] = outcome.reason
    for _, row in proved:
        updated = {**{key: value for key, value in row.items() if key not in _WRITE_FIELDS}, **said}
        if updated != row:
            append_row(out / RESULTS, updated)
    return outcome
