"""Proofstep rows (prover.proofsteps, backend "lean") from Lean 4 proofs LeanDojo traced.

    extract_proofsteps("leandojo_benchmark_4/random", "out.jsonl")   # LeanDojo Benchmark 4: train/val/test.json
    extract_proofsteps("random/val.json", "out.jsonl")                # one benchmark file (a JSON list or lines)
    extract_proofsteps("path/to/traced_repo", "out.jsonl")            # a repo LeanDojo traced (needs lean-dojo)
    extract_proofsteps("https://github.com/o/r@COMMIT", "out.jsonl")  # trace it first (needs lean-dojo, Lean)

Either way each traced tactic gives its `state_before` (Lean's pretty-printed goals, separated by blank lines:
what the Lean backends show the model, LeanBackend joining the REPL's goals the same way) and its text. A
theorem whose proof has a `sorry`/`admit` gives no rows. Splits: a benchmark file's own (train/val/test),
else a row's `split`, else by a stable hash of the Lean file's path, so a file's rows never straddle splits.
"""
from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prover.jsonl import read_rows
from prover.proofsteps import ExtractOptions, ProofStep, split_of
from prover.train_data import write_rows

BACKEND = "lean"
SPLIT_NAMES = {"train": "train", "val": "valid", "valid": "valid", "test": "test"}
BENCHMARK_FILES = ("train.json", "val.json", "test.json")
NO_GOALS = "no goals"  # LeanDojo's state after the last tactic
_SKIPPED_PROOF = re.compile(r"(?<![\w.'])(sorry|admit)(?![\w'])")


@dataclass(frozen=True)
class TracedStep:
    state_before: str
    tactic: str


@dataclass
class Tally:
    theorems: int = 0
    theorems_kept: int = 0  # gave at least one row
    theorems_admitted: int = 0  # a sorry/admit somewhere in the proof: no rows
    tactics: int = 0
    steps_dropped: Counter = field(default_factory=Counter)


def theorem_rows(name: str, steps: Iterable[TracedStep], source: str, split: str, tally: Tally) -> list[ProofStep]:
    """The rows of one traced proof: (state before, tactic) for each tactic that ran on open goals."""
    steps = list(steps)
    tally.theorems += 1
    tally.tactics += len(steps)
    if any(_SKIPPED_PROOF.search(s.tactic) for s in steps):
        tally.theorems_admitted += 1
        return []
    rows = []
    for step in steps:
        state, tactic = step.state_before.strip(), step.tactic.strip()
        if not tactic:
            tally.steps_dropped["empty tactic"] += 1
        elif not state or state == NO_GOALS:
            tally.steps_dropped["no goals before"] += 1
        else:
            rows.append(ProofStep(state=state, tactic=tactic, theorem=name, source=source, split=split,
                                  backend=BACKEND))
    tally.theorems_kept += bool(rows)
    return rows


def _repo_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")


def _split(file_split: str | None, row_split: str | None, file_path: str, valid_fraction: float,
           test_fraction: float) -> str:
    return file_split or SPLIT_NAMES.get(row_split or "") or split_of(file_path, valid_fraction, test_fraction)


# -- LeanDojo Benchmark JSON --------------------------------------------------------------------------------
def benchmark_files(source: Path) -> list[Path]:
    """The benchmark files a source names: itself, or a folder's train/val/test.json."""
    if source.is_file():
        return [source]
    found = [source / name for name in BENCHMARK_FILES if (source / name).is_file()]
    if not found:
        raise ValueError(f"{source}: no {', '.join(BENCHMARK_FILES)} (a LeanDojo benchmark split folder)")
    return found


def _read_benchmark(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    try:
        rows = json.loads(text) if text.lstrip().startswith("[") else read_rows(path, strict=True)
    except ValueError as exc:
        raise ValueError(f"{path}: not LeanDojo benchmark JSON ({exc})") from None
    if not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path}: not LeanDojo benchmark JSON (rows must be objects)")
    return rows


def benchmark_rows(source: str | Path, tally: Tally, valid_fraction: float = 0.02, test_fraction: float = 0.02,
                   limit: int | None = None) -> Iterator[ProofStep]:
    """Rows of LeanDojo benchmark theorems (url, file_path, full_name, traced_tactics with state_before/tactic)."""
    seen = 0
    for path in benchmark_files(Path(source)):
        file_split = SPLIT_NAMES.get(path.stem)
        for number, row in enumerate(_read_benchmark(path), 1):
            if limit is not None and seen >= limit:
                return
            seen += 1
            try:
                steps = [TracedStep(t["state_before"], t["tactic"]) for t in row.get("traced_tactics") or ()]
                name, file_path = row["full_name"], row["file_path"]
            except (KeyError, TypeError) as exc:
                raise ValueError(f"{path}: theorem {number} lacks {exc} (LeanDojo benchmark rows have "
                                 "full_name, file_path and traced_tactics)") from None
            source_label = f"{_repo_name(row.get('url', ''))}:{file_path}" if row.get("url") else file_path
            split = _split(file_split, row.get("split"), file_path, valid_fraction, test_fraction)
            yield from theorem_rows(name, steps, source_label, split, tally)


# -- a traced repository (LeanDojo's TracedRepo) --------------------------------------------------------------
def load_traced_repo(source: str):
    """LeanDojo's TracedRepo for `source`: a folder it traced (*.trace.xml), a local git repo or URL@COMMIT to
    trace now. BackendUnavailable without lean-dojo."""
    from lean_env.leandojo import lean_dojo_module

    ld = lean_dojo_module()
    if "://" in source:
        url, _, commit = source.rpartition("@")
        if not url or not commit:
            raise ValueError(f"{source}: give a repository to trace as URL@COMMIT")
        return ld.trace(ld.LeanGitRepo(url, commit))
    path = Path(source)
    if next(path.glob("**/*.trace.xml"), None) is not None:
        return ld.TracedRepo.load_from_disk(path)
    return ld.trace(ld.LeanGitRepo.from_path(path))


def traced_repo_rows(traced, tally: Tally, valid_fraction: float = 0.02, test_fraction: float = 0.02,
                     limit: int | None = None) -> Iterator[ProofStep]:
    """Rows of a TracedRepo's own theorems (not its dependencies'): `get_traced_theorems()`, each theorem's
    `get_traced_tactics()` with `.state_before` and `.tactic`."""
    repo = traced.repo
    name = getattr(repo, "name", None) or _repo_name(getattr(repo, "url", ""))
    seen = 0
    for theorem in traced.get_traced_theorems():
        if theorem.repo != repo:
            continue
        if limit is not None and seen >= limit:
            return
        seen += 1
        file_path = str(theorem.theorem.file_path)
        steps = [TracedStep(t.state_before, t.tactic) for t in theorem.get_traced_tactics()]
        split = split_of(file_path, valid_fraction, test_fraction)
        yield from theorem_rows(theorem.theorem.full_name, steps, f"{name}:{file_path}", split, tally)


def is_benchmark_source(source: str) -> bool:
    path = Path(source)
    return path.suffix in (".json", ".jsonl") or (path.is_dir() and any((path / f).is_file() for f in BENCHMARK_FILES))


def extract_proofsteps(source: str | Path, out: str | Path, options: ExtractOptions = ExtractOptions()) -> dict:
    """Write the proofstep rows of `source` (see the module's doc) to `out`; returns the summary. `options.limit`:
    the first N theorems. Nothing is replayed, so `workers`, the timeouts and `fresh` (each run starts over) have
    nothing to act on."""
    valid_fraction, test_fraction, limit = options.valid_fraction, options.test_fraction, options.limit
    started = time.monotonic()
    source = str(source)
    tally = Tally()
    if is_benchmark_source(source):
        if not Path(source).exists():
            raise ValueError(f"{source}: no such file or folder")
        rows = benchmark_rows(source, tally, valid_fraction, test_fraction, limit)
        kind = "leandojo-benchmark"
    else:
        if "://" not in source and not Path(source).is_dir():
            raise ValueError(f"{source}: not a LeanDojo benchmark file or folder, a traced repo, or URL@COMMIT")
        rows = traced_repo_rows(load_traced_repo(source), tally, valid_fraction, test_fraction, limit)
        kind = "leandojo-traced-repo"
    if options.progress:
        from tqdm import tqdm

        rows = tqdm(rows, unit="row", file=sys.stderr)
    written = write_rows(out, rows, options.guard)
    return {
        "source": source,
        "kind": kind,
        "theorems": tally.theorems,
        "theorems_kept": tally.theorems_kept,
        "theorems_admitted": tally.theorems_admitted,
        "tactics": tally.tactics,
        "steps_dropped": dict(tally.steps_dropped),
        **written,
        "seconds": round(time.monotonic() - started, 1),
    }
