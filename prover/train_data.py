"""Proofstep rows from successful searches: the (state, tactic) steps along each proved theorem's proof.

Reads run folders written by `prover prove`: results.jsonl says which theorems were proved and by which tactics,
trees/NAME.json holds the states the model was shown on the way, the proof's path marked (prover.search_tree). Used by
`prover train-data` and, in-process, by the expert-iteration loop (`collect_proofsteps`).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from prover.batch import CONFIG, RESULTS, TREES, stored_name
from prover.jsonl import BadLine, read_rows
from prover.proofsteps import ProofStep, deduplicate, write_proofsteps
from prover.search_tree import Edge, Node, SearchTree, Status

DEFAULT_SPLITS = ("valid",)
# miniF2F test is the benchmark's held-out split: training on it would void every later test result.
HELD_OUT = "test"


USER_FILES_SPLIT = "train"  # a hole of a user's own files (`prover prove PATHS`, e.g. a curriculum): no benchmark's


def row_split(row: dict) -> str | None:
    """A row's split: its benchmark's, or USER_FILES_SPLIT for a hole of a user's files."""
    return row.get("split") or (USER_FILES_SPLIT if row.get("file") else None)


class RunFolderError(ValueError):
    """Not a readable run folder; the message is one printable line."""


class NotInTree(ValueError):
    """The row's proof cannot be followed through its tree."""


@dataclass(frozen=True)
class Skipped:
    run: str
    theorem: str
    reason: str


@dataclass
class Collected:
    rows: list[ProofStep]  # deduplicated across runs
    runs: int = 0
    proved: int = 0  # proved theorems in the chosen splits, over all runs
    steps: int = 0  # before deduplication
    automation_dropped: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "runs": self.runs,
            "proved_theorems": self.proved,
            "rows": len(self.rows),
            "rows_per_split": dict(sorted(Counter(r.split for r in self.rows).items())),
            "duplicates_dropped": self.steps - len(self.rows),
            "automation_steps_dropped": self.automation_dropped,
            "skipped": [vars(s) for s in self.skipped],
        }


def read_run(run_dir: Path) -> tuple[dict, list[dict]]:
    """A run folder's config and results rows, read without touching the folder (a run may still be writing:
    a last line without its newline is not a row yet)."""
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is not a run folder (no such directory)")
    results = run_dir / RESULTS
    if not results.is_file():
        raise RunFolderError(f"{run_dir} is not a run folder (no {RESULTS})")
    try:
        config = json.loads((run_dir / CONFIG).read_text())
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{run_dir} is not a run folder (cannot read {CONFIG}: {exc})") from None
    if not isinstance(config, dict) or not config.get("backend"):
        raise RunFolderError(f"{run_dir / CONFIG} names no backend")
    try:
        rows = read_rows(results, strict=True, tail="skip")
    except BadLine as exc:
        raise RunFolderError(f"{exc.path}:{exc.number}: not a results row") from None
    return config, rows


def proof_path(tree: SearchTree, proof: Iterable[str]) -> list[tuple[Node, Edge, str]]:
    """(node, edge, tactic) for each step of the proof the tree marks, root first: the node the tactic ran on, the
    edge it made, and the tactic as the backend ran it (the row's `proof`, which may normalise what was proposed).
    Tactics the backend appended after the proof was complete (closing braces, `done`) have no state of their own
    and are left out."""
    steps, proof = tree.proof_edges(), list(proof)
    if not steps:
        raise NotInTree("the tree marks no proof")
    if len(steps) > len(proof):
        raise NotInTree(f"the tree's proof has {len(steps)} steps, the row's {len(proof)}")
    return [(tree.nodes[edge.src], edge, tactic) for edge, tactic in zip(steps, proof)]


def collect(run_dirs: Iterable[str | Path], splits: Iterable[str] = DEFAULT_SPLITS,
            include_automation: bool = True) -> Collected:
    """Proofstep rows along the proof of every proved theorem of the chosen splits in the run folders, with
    what was skipped and why. Raises RunFolderError for a folder that is not a run folder."""
    splits = set(splits)
    runs = list(dict.fromkeys(Path(r) for r in run_dirs))
    loaded = [(run, *read_run(run)) for run in runs]  # every folder checked before any is used
    found = Collected(rows=[], runs=len(runs))
    steps: list[ProofStep] = []
    for run, config, rows in loaded:
        for row in rows:
            split = row_split(row)
            if row.get("status") != Status.PROVED.value or split not in splits or not row.get("proof"):
                continue
            found.proved += 1
            name = row["name"]
            tree_path = run / TREES / f"{stored_name(name)}.json"
            try:
                path = proof_path(SearchTree.read(tree_path), row["proof"])
            except FileNotFoundError:
                why = "the run was made with --no-trees" if config.get("trees") is False else "its tree is missing"
                found.skipped.append(Skipped(str(run), name, f"no {TREES}/{name}.json: {why}"))
                continue
            except (OSError, ValueError, KeyError, TypeError) as exc:
                found.skipped.append(Skipped(str(run), name, f"{TREES}/{name}.json: {type(exc).__name__}: {exc}"))
                continue
            for node, edge, tactic in path:
                if edge.automation and not include_automation:
                    found.automation_dropped += 1
                    continue
                steps.append(ProofStep(state=node.state_text, tactic=tactic, theorem=name, source=str(run),
                                       split=split, backend=config["backend"]))
    found.steps = len(steps)
    found.rows = list(deduplicate(steps))
    return found


def collect_proofsteps(run_dirs: Iterable[str | Path], splits: Iterable[str] = DEFAULT_SPLITS,
                       include_automation: bool = True) -> list[ProofStep]:
    """The deduplicated proofstep rows of the proved theorems in the run folders (splits: valid only unless
    asked; asking for miniF2F `test` puts the held-out benchmark into the training data)."""
    return collect(run_dirs, splits, include_automation).rows


def renamed_copies(rows: list[ProofStep], copies: int, seed: int = 0) -> list[ProofStep]:
    """`rows` followed by up to `copies` renamed variants of each (the backend plugin's `rename_proofstep`):
    the same step under other hypothesis and variable names. Raises ValueError for a backend without one."""
    import random

    from prover.plugins import load_plugin

    rng = random.Random(seed)
    out = list(rows)
    renamers: dict = {}
    for row in rows:
        if row.backend not in renamers:
            renamers[row.backend] = load_plugin(row.backend).rename_proofstep
            if renamers[row.backend] is None:
                raise ValueError(f"the {row.backend} backend cannot rename proofsteps (--renamed-copies)")
        seen = {(row.state, row.tactic)}
        for _ in range(copies):
            copy = renamers[row.backend](row, rng)
            if copy is not None and (copy.state, copy.tactic) not in seen:
                seen.add((copy.state, copy.tactic))
                out.append(copy)
    return out


def write_rows(out: str | Path, rows: Iterable[ProofStep], guard=None) -> dict:
    """Deduplicate `rows`, drop those the contamination guard (a prover.contamination.NgramGuard) matches, with
    its report written to OUT.contamination.json, and write the rest to `out` atomically; the counts. The last
    pass of the Lean and Isabelle extractors (the Rocq one has its own, resumable)."""
    counts: Counter = Counter()
    per_split: Counter = Counter()

    def before(stream):
        for row in stream:
            counts["before"] += 1
            yield row

    def after(stream):
        for row in stream:
            per_split[row.split] += 1
            yield row

    stream = deduplicate(before(rows))
    report = guard.new_report() if guard is not None else None
    if guard is not None:
        stream = guard.filter(stream, report)
    written = write_proofsteps(out, after(stream))
    if report is not None:
        report.write(Path(f"{out}.contamination.json"))
    return {
        "rows_before_dedupe": counts["before"],
        "rows_after_dedupe": report.rows_checked if report is not None else written,
        "rows_dropped_contamination": report.rows_dropped if report is not None else None,
        "rows_written": written,
        "rows_per_split": {split: per_split[split] for split in ("train", "valid", "test")},
        "out": str(out),
    }
