"""What a report says about one or more run folders of `prover prove`: summaries, categories, cactus data,
comparison and per-theorem details, as plain data that the terminal table and the HTML page both read."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from prover.batch import CONFIG, ERROR, RESULTS, TREES, UNSUPPORTED, latest_rows, read_rows, stored_name, summarize
from prover.errors import first_line, one_line
from prover.search_tree import SearchTree

STATUSES = ("proved", "failed", "timeout", "rejected", UNSUPPORTED, ERROR)
# Settings that say where and how widely a run ran, not what its rows mean: runs differing only in these (and in
# their folder or seed) are repeats, so pass@k over them is meaningful.
NOT_SETTINGS = {"out", "seed", "workers", "ray_address", "cpus_per_worker", "model_replicas", "model_gpus", "order",
                "trees", "limit", "names", "write"}
# miniF2F's problem sources, longest prefix first so `mathd_algebra` is not read as `algebra`.
CATEGORY_PREFIXES = (("mathd_algebra", "mathd_algebra"), ("mathd_numbertheory", "mathd_numbertheory"),
                     ("amc12", "amc12"), ("aime", "aime"), ("imo", "imo"), ("algebra", "algebra"),
                     ("numbertheory", "numbertheory"), ("induction", "induction"))


class ReportError(ValueError):
    """Run folders that cannot be reported on: missing, without rows, or of different benchmarks (one line)."""


@dataclass
class Run:
    """One run folder: its config, the last row of each theorem, and where its proofs and trees are."""

    folder: Path
    config: dict
    rows: list[dict]
    label: str = ""

    @property
    def benchmark(self) -> str:
        """What was proved: `BENCHMARK SPLIT`, or the user's paths for `prover prove PATHS`."""
        if isinstance(self.config.get("paths"), list):
            return "holes in " + ", ".join(map(str, self.config["paths"]))
        return f"{self.config.get('benchmark', '?')} {self.config.get('split', '?')}"

    @property
    def model(self) -> str:
        return str(self.config.get("model") or next((r.get("model") for r in self.rows if r.get("model")), "?"))

    def budgets(self) -> str:
        c = self.config
        parts = [f"{c['budget_seconds']:g}s" if c.get("budget_seconds") is not None else None,
                 f"{c['max_expansions']} expansions" if c.get("max_expansions") is not None else None,
                 f"{c['tactic_timeout']:g}s/tactic" if c.get("tactic_timeout") is not None else None,
                 "hammer" if c.get("hammer") else None]
        return ", ".join(p for p in parts if p) or "?"

    def proof_file(self, name: str) -> tuple[str, str] | None:
        """The proof file written for a proved theorem (statement and proof) and its suffix, if any."""
        found = sorted((self.folder / "proofs").glob(f"{_glob_escape(stored_name(name))}.*"))
        return (found[0].read_text(encoding="utf-8", errors="replace"), found[0].suffix) if found else None

    def tree(self, name: str) -> SearchTree | None:
        """The theorem's search tree, if the run kept it and it reads back."""
        path = self.folder / TREES / f"{stored_name(name)}.json"
        try:
            return SearchTree.read(path) if path.is_file() else None
        except (OSError, ValueError, KeyError):  # a tree from another version: the report goes on without it
            return None


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def load_run(folder: Path, label: str = "") -> Run:
    """A run folder's config and latest rows; ReportError where there is no folder or no row."""
    results = folder / RESULTS
    if not results.is_file():
        raise ReportError(f"no {RESULTS} in {folder}" + ("" if folder.is_dir() else " (no such run folder)"))
    try:
        rows = latest_rows(read_rows(results))  # a theorem retried after an `error` row counts by its last row
    except OSError as exc:
        raise ReportError(f"cannot read {results}: {exc.strerror or exc}") from None
    if not rows:
        raise ReportError(f"{results} has no rows: the run finished no theorem yet")
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8")) if (folder / CONFIG).exists() else {}
    except (OSError, ValueError) as exc:  # only labels come from it: the rows still make a report
        config = {"_warning": f"cannot read {folder / CONFIG}: {first_line(exc)}"}
    return Run(folder, config if isinstance(config, dict) else {}, rows, label or folder.name or str(folder))


def load_runs(folders: list[Path]) -> list[Run]:
    """The runs to report on together; ReportError where they prove different things (nothing to compare)."""
    resolved = [f.resolve() for f in folders]
    twice = next((f for f, r in zip(folders, resolved) if resolved.count(r) > 1), None)
    if twice is not None:
        raise ReportError(f"{twice} is given twice: a run compared with itself says nothing")
    labels = _labels(folders)
    runs = [load_run(folder, label) for folder, label in zip(folders, labels)]
    first = runs[0]
    for other in runs[1:]:
        if other.benchmark != first.benchmark:
            raise ReportError(f"runs of different benchmarks cannot be compared: {first.folder} is {first.benchmark}, "
                              f"{other.folder} is {other.benchmark}")
    return runs


def _labels(folders: list[Path]) -> list[str]:
    """Short names for the runs: each folder's name, or its path where two share a name."""
    names = [f.resolve().name or str(f) for f in folders]
    return names if len(set(names)) == len(names) else [str(f) for f in folders]


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a pass rate; (0, 0) for no trials."""
    if trials == 0:
        return 0.0, 0.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class RunSummary:
    """The numbers of one run: counts by status, pass rate and its interval, and where the time went."""

    counts: dict
    proved: int
    attempted: int
    rate: float
    interval: tuple[float, float]
    seconds: float  # summed over theorems: the wall time of an in-process run, more than it for --workers
    model_seconds: float
    env_seconds: float  # the proof assistant during search
    verify_seconds: float  # the fresh-process check of each proof found
    note: str = ""

    def line(self) -> str:
        low, high = self.interval
        return (f"proved {self.proved}/{self.attempted} ({self.rate:.1%}, 95% CI {low:.1%}-{high:.1%}); "
                + ", ".join(f"{k} {v}" for k, v in self.counts.items() if v))


def summarize_run(run: Run) -> RunSummary:
    summary = summarize(run.rows)
    counts = {status: summary.by_status.get(status, 0) for status in STATUSES}
    counts.update({k: v for k, v in sorted(summary.by_status.items()) if k not in counts})

    def total(key: str) -> float:
        return round(sum(r[key] for r in run.rows if isinstance(r.get(key), (int, float))), 3)

    note = ""
    if counts[ERROR] == summary.total:
        note = f"every theorem ended in an error on our side, e.g. {one_line(run.rows[0].get('reason', '?'), 200)}"
    rate = summary.proved / summary.attempted if summary.attempted else 0.0
    return RunSummary(counts, summary.proved, summary.attempted, rate, wilson_interval(summary.proved, summary.attempted),
                      total("seconds"), total("model_seconds"), total("env_seconds"), total("verify_seconds"), note)


def category(row: dict) -> str:
    """A theorem's category: its file's folder for a hole of a user's file, else its miniF2F source by name."""
    if row.get("file"):
        parent = str(PurePosixPath(str(row["file"]).replace("\\", "/")).parent)
        return "(top folder)" if parent == "." else parent
    name = row["name"].lower()
    return next((cat for prefix, cat in CATEGORY_PREFIXES if name.startswith(prefix)), "other")


def categories(runs: list[Run]) -> dict[str, list[tuple[int, int]]]:
    """Per category (sorted), per run: (proved, supported theorems)."""
    table: dict[str, list[list[int]]] = {}
    for i, run in enumerate(runs):
        for row in run.rows:
            if row["status"] == UNSUPPORTED:
                continue
            cell = table.setdefault(category(row), [[0, 0] for _ in runs])[i]
            cell[0] += row["status"] == "proved"
            cell[1] += 1
    return {cat: [tuple(c) for c in cells] for cat, cells in sorted(table.items())}


def cactus(run: Run) -> list[float]:
    """The seconds of each proved theorem, sorted: the k-th value is the time by which k theorems were proved."""
    return sorted(float(r.get("seconds") or 0.0) for r in run.rows if r["status"] == "proved")


@dataclass
class Comparison:
    """A later run against the first: theorems it proved that the first did not (gained), and the reverse (lost)."""

    base: Run
    other: Run
    gained: list[str]
    lost: list[str]
    both: int
    neither: int


def compare(base: Run, other: Run) -> Comparison:
    """Over the theorems both runs attempted."""
    status_a = {r["name"]: r["status"] for r in base.rows}
    status_b = {r["name"]: r["status"] for r in other.rows}
    common = [n for n in status_a if n in status_b]
    proved_a = {n for n in common if status_a[n] == "proved"}
    proved_b = {n for n in common if status_b[n] == "proved"}
    return Comparison(base, other, [n for n in common if n in proved_b - proved_a],
                      [n for n in common if n in proved_a - proved_b], len(proved_a & proved_b),
                      len([n for n in common if n not in proved_a | proved_b]))


def settings(run: Run) -> dict:
    return {k: v for k, v in run.config.items() if k not in NOT_SETTINGS and not k.startswith("_")}


def are_repeats(runs: list[Run]) -> bool:
    """Two or more runs with the same settings (folder and seed aside): repeats, so pass@k means something."""
    return len(runs) > 1 and all(run.config for run in runs) and all(settings(r) == settings(runs[0]) for r in runs)


def pass_at_k(runs: list[Run]) -> dict[int, float]:
    """pass@j for j = 1..k (k runs) over the theorems every run attempted, by the unbiased estimator
    1 - C(k-c, j)/C(k, j) with c the runs that proved a theorem; pass@k is then proved by any run."""
    k = len(runs)
    statuses = [{r["name"]: r["status"] for r in run.rows} for run in runs]
    names = [n for n in statuses[0] if all(n in s for s in statuses) and statuses[0][n] != UNSUPPORTED]
    if not names:
        return {}
    result = {}
    for j in range(1, k + 1):
        total = 0.0
        for name in names:
            c = sum(s[name] == "proved" for s in statuses)
            total += 1.0 - math.comb(k - c, j) / math.comb(k, j)
        result[j] = total / len(names)
    return result


@dataclass
class TheoremDetail:
    """What the report shows for one theorem of one run."""

    name: str
    status: str
    category: str
    seconds: float | None
    expansions: int | None
    proof: list[str] = field(default_factory=list)
    proof_file: str | None = None  # the proof file's text: statement and proof
    suffix: str = ""
    statement: str = ""  # the root proof state, where no proof file says it
    error: str = ""  # why it was not proved: the row's reason, or the last refusal in its search tree
    tree: SearchTree | None = None


def theorem_details(run: Run, with_trees: bool = True) -> list[TheoremDetail]:
    details = []
    for row in run.rows:
        tree = run.tree(row["name"]) if with_trees else None
        proved = row["status"] == "proved"
        detail = TheoremDetail(row["name"], row["status"], category(row), row.get("seconds"), row.get("expansions"),
                               [str(t) for t in row.get("proof") or []], tree=tree)
        written = run.proof_file(row["name"]) if proved else None
        if written is not None:
            detail.proof_file, detail.suffix = written
        if tree is not None and tree.nodes:
            detail.statement = tree.root.goals
        if not proved:
            detail.error = one_line(str(row.get("reason") or "") or _last_refusal(tree), 400)
        details.append(detail)
    return details


def _last_refusal(tree: SearchTree | None) -> str:
    """The proof assistant's last refusal in a search, or why there is none to show."""
    if tree is None:
        return "no search tree kept"
    refusal = next((e for e in reversed(tree.edges) if e.error), None)
    return f"{refusal.tactic}: {refusal.error}" if refusal else "no tactic was refused; the budget ran out"
