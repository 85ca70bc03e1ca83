"""Batch proving: one results.jsonl row per theorem, appended atomically, so an interrupted run resumes."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

from tqdm import tqdm

from prover import interrupts, jsonl
from prover.backend import Backend
from prover.errors import first_line
from prover.generators import TacticGenerator
from prover.jsonl import append_row, write_atomic
from prover.search import SearchConfig, Status, best_first_search
from prover.types import BackendUnavailable, StatementError, Theorem

RESULTS = "results.jsonl"
CONFIG = "config.json"
TREES = "trees"  # OUT/trees/NAME.json: each attempted theorem's search tree (SearchTree.to_json)
UNSUPPORTED = "unsupported"  # the proof assistant cannot state the theorem
ERROR = "error"  # our side broke on this theorem


class RunFolderError(ValueError):
    """A run folder that cannot be used: not writable, or its config.json or results.jsonl cannot be read back."""


class RunConfigMismatch(RunFolderError):
    pass


def read_rows(path: Path, required: tuple[str, ...] = ("name", "status")) -> list[dict]:
    """Complete rows of a results file, every row (a retried theorem has several: `latest_rows` keeps its last).

    A torn last line (killed mid-write) is cut off so appends stay valid. Any other line that is not a JSON object
    with string `required` fields (garbage, another encoding) is skipped with a warning on stderr, not deleted:
    the rows around it still count. OSError if the file cannot be read at all."""
    return jsonl.read_rows(path, required, tail="cut") if path.exists() else []


def latest_rows(rows: Iterable[dict]) -> list[dict]:
    """The last row of each theorem, in the order theorems first appear: a rerun appends a new row for a theorem
    whose row was `error`, and that new row replaces it in every count."""
    latest: dict[str, dict] = {}
    for row in rows:
        latest[row["name"]] = row
    return list(latest.values())


def finished_names(rows: Iterable[dict]) -> set[str]:
    """Theorems a resumed run skips: every one with a row, except those whose last row is `error` (something on
    our side broke, such as a proof-assistant process killed while the header loaded): a rerun tries them again."""
    return {row["name"] for row in latest_rows(rows) if row["status"] != ERROR}


def prepare_run_dir(out: Path, run_config: dict) -> None:
    """Create the run folder, or check a resumed one was started with the same settings. RunFolderError (one line)
    where the folder cannot be written or its config.json or results.jsonl cannot be read back."""
    config_path = out / CONFIG
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "proofs").mkdir(exist_ok=True)
        if config_path.exists():
            try:
                old = json.loads(config_path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise RunFolderError(f"{config_path} is not a run's config (not JSON: {first_line(exc)}); "
                                     "use another --out") from None
            if not isinstance(old, dict):
                raise RunFolderError(f"{config_path} is not a run's config (not a JSON object); use another --out")
            changed = sorted(k for k in run_config if k in old and old[k] != run_config[k] and k not in _RESUMABLE)
            if changed:
                raise RunConfigMismatch(
                    f"{out} was started with different {', '.join(changed)}; use another --out or the same settings"
                )
        read_rows(out / RESULTS)  # now, not mid-batch: an unreadable results file, or the warnings for bad lines
        write_atomic(config_path, json.dumps(run_config, indent=2, sort_keys=True))
    except OSError as exc:  # read-only, not a folder, a file in the way: say which path and why
        where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != out else ""
        raise RunFolderError(f"cannot use {out} as a run folder: {exc.strerror or exc}{where}") from None


# Settings that may change between a run and its resumption without mixing incomparable rows
# (where and how widely the theorems run does not change what a row means).
_RESUMABLE = {"limit", "names", "sample", "workers", "ray_address", "order", "cpus_per_worker", "model_replicas", "model_gpus",
              "trees", "write", "threads", "learn_rounds"}


@dataclass(frozen=True)
class Summary:
    total: int
    proved: int
    by_status: dict

    @property
    def attempted(self) -> int:
        return self.total - self.by_status.get(UNSUPPORTED, 0)

    def line(self) -> str:
        rate = self.proved / self.attempted if self.attempted else 0.0
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.by_status.items()))
        return f"proved {self.proved}/{self.attempted} ({rate:.1%}) of supported theorems; {parts}"


def summarize(rows: Iterable[dict]) -> Summary:
    """Counts by status over each theorem's last row (`latest_rows`): a retried theorem counts once."""
    by_status: dict[str, int] = {}
    for row in latest_rows(rows):
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    return Summary(sum(by_status.values()), by_status.get(Status.PROVED.value, 0), by_status)


class Attempt(NamedTuple):
    """What one theorem leaves in a run folder: its results row, its proof file text if it was proved, and its
    search tree (`SearchTree.to_json`) if it was searched and trees are kept. Plain data, so a Ray actor
    can return it."""

    row: dict
    script: str | None = None
    tree: dict | None = None


def prove_one(theorem: Theorem, backend: Backend, generator: TacticGenerator, config: SearchConfig,
              trees: bool = True) -> Attempt:
    """The results row for one theorem, the proof file text if it was proved, the search tree if `trees`."""
    row = {"name": theorem.name, "split": theorem.split, "model": generator.name, "proof": None}
    t0 = time.monotonic()
    try:
        result = best_first_search(theorem, backend, generator, config)
    except StatementError as exc:
        return Attempt({**row, "status": UNSUPPORTED, "reason": str(exc), "seconds": round(time.monotonic() - t0, 3)})
    row.update(
        status=result.status.value,
        proof=list(result.tactics) if result.tactics else None,
        seconds=round(result.seconds, 3),
        expansions=result.expansions,
        tactics_run=result.tactics_run,
        model_seconds=round(result.model_seconds, 3),
        env_seconds=round(result.env_seconds, 3),
        verify_seconds=round(result.verify_seconds, 3),
    )
    if result.refused:
        row["refused_proofs"] = result.refused  # found in the search, refused by the check; the search went on
    if result.widenings:
        row["widenings"] = result.widenings
    if premise_steps := sum(edge.premise and edge.on_proof for edge in result.tree.edges):
        row["premise_steps"] = premise_steps  # the proof's steps that premise retrieval found
    if result.hammer_seconds:
        row["hammer_seconds"] = round(result.hammer_seconds, 3)  # part of env_seconds
    if result.verdict is not None:
        row["axioms"] = list(result.verdict.axioms)
        if not result.verdict.accepted:
            row["reason"] = result.verdict.reason
    script = result.proof.script if result.status is Status.PROVED else None
    return Attempt(row, script, result.tree.to_json() if trees else None)


def error_row(theorem: Theorem, model: str, reason: str) -> dict:
    return {"name": theorem.name, "split": theorem.split, "model": model, "proof": None, "status": ERROR, "reason": reason}


def attempt_one(theorem: Theorem, backend: Backend, generator: TacticGenerator, config: SearchConfig,
                trees: bool = True) -> Attempt:
    """prove_one, with anything that breaks on our side turned into an `error` row (BackendUnavailable still
    raises: without a proof assistant every later theorem would fail the same way)."""
    try:
        return prove_one(theorem, backend, generator, config, trees)
    except (KeyboardInterrupt, SystemExit, BackendUnavailable):
        raise
    except Exception as exc:  # one broken theorem must not end the batch; the row says what broke
        return Attempt(error_row(theorem, generator.name, f"{type(exc).__name__}: {exc}"))


def stored_name(name: str) -> str:
    """A theorem's name as its proof and tree files are named: a `/` (a hole's name holds its file's path) would
    make a folder, so it is escaped, and so is `%`, which keeps distinct names distinct."""
    return name.replace("%", "%25").replace("/", "%2F")


def record_result(out: Path, row: dict, script: str | None, suffix: str, tree: dict | None = None) -> None:
    """The proof file and the search tree first (each atomically renamed into place), then the row: a row never
    names a missing proof or tree. A tree left without its row (killed in between) is overwritten on resume."""
    if script is not None:
        write_atomic(out / "proofs" / f"{stored_name(row['name'])}{suffix}", script)
    if tree is not None:
        (out / TREES).mkdir(exist_ok=True)
        write_atomic(out / TREES / f"{stored_name(row['name'])}.json",
                     json.dumps(tree, ensure_ascii=False, separators=(",", ":")))
    append_row(out / RESULTS, row)


class BatchProgress:
    """A batch's progress bar with its running pass rate, counting the rows a run folder already holds."""

    def __init__(self, theorems: list[Theorem], rows: list[dict], progress: bool, desc: str | None = None):
        names = {t.name for t in theorems}
        done = finished_names(rows)  # an `error` row is to be retried: not counted as finished
        self.finished = sum(t.name in done for t in theorems)
        self.proved = sum(row["status"] == Status.PROVED.value for row in latest_rows(rows) if row["name"] in names)
        self.bar = tqdm(total=len(theorems), initial=self.finished, disable=not progress, unit="thm",
                        dynamic_ncols=True, desc=desc)

    def record(self, out: Path, row: dict, script: str | None, suffix: str, tree: dict | None = None) -> None:
        """Write a finished theorem's proof file, tree and row (`record_result`), then count it."""
        record_result(out, row, script, suffix, tree)
        self.finished += 1
        self.proved += row["status"] == Status.PROVED.value
        self.bar.update(1)
        self.bar.set_postfix(proved=f"{self.proved}/{self.finished}", rate=f"{self.proved / self.finished:.0%}")

    def close(self) -> None:
        self.bar.close()


def prove_batch(
    theorems: list[Theorem],
    backend: Backend,
    generator: TacticGenerator,
    config: SearchConfig,
    out: Path,
    suffix: str = ".v",
    progress: bool = True,
    trees: bool = True,
    annotate: Callable[[Theorem, dict], dict] | None = None,
) -> Iterator[dict]:
    """Prove each theorem not already finished in out/results.jsonl (one whose last row is `error` is tried again),
    appending its row as soon as it is known (and, with `trees`, its search tree to out/trees/ just before).
    `annotate`: the row a theorem's row becomes before it is written (fields a caller adds, such as a file)."""
    results = out / RESULTS
    rows = read_rows(results)
    done = finished_names(rows)
    todo = [t for t in theorems if t.name not in done]
    bar = BatchProgress(theorems, rows, progress)
    try:
        for theorem in todo:
            bar.bar.set_description(theorem.name[:32])
            row, script, tree = attempt_one(theorem, backend, generator, config, trees)
            if annotate is not None:
                row = annotate(theorem, row)
            bar.record(out, row, script, suffix, tree)
            yield row
            interrupts.check()
    finally:
        bar.close()
