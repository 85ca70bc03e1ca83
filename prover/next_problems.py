"""Which curriculum problems an expert-iteration round proves: the model picks its own next problems.

Round 0 proves fresh draws spread evenly over the families. Round R proves the previous round's near misses again
(unproved, but nearly proved: `nearly_proved`), now with the newer model, topped up with fresh draws to the round's
count; the fresh draws are apportioned across families in proportion to how often the previous round proved or
nearly proved a problem of each family, with a floor (MIN_RATE) so that no family disappears. What was proved is
not tried again: its steps are already training data. A near miss is retried at most MAX_TRIES rounds in all, so
problems the loop keeps missing do not crowd out fresh ones.

The backend draws the theorems (`BackendPlugin.curriculum_theorems`); this module only chooses.
"""
from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from prover.batch import ERROR, RESULTS, TREES, UNSUPPORTED, latest_rows, read_rows, stored_name
from prover.jsonl import atomic_file
from prover.search_tree import SearchTree, Status
from prover.types import Theorem

NEAR_DEPTH = 2  # accepted tactics in a row, at least, for an unproved search to count as a near miss
MAX_TRIES = 3  # rounds a problem is proved in at most (its first and its retries as a near miss)
MIN_RATE = 0.1  # a family's proved-or-near rate counts as at least this when weighting fresh draws
SEED_STRIDE = 1000  # round R draws fresh problems with seed `seed + SEED_STRIDE * R` (round 0: `seed` itself)

Draw = Callable[[str, int, int], list]  # (family, count, seed) -> Theorems: BackendPlugin.curriculum_theorems


def family_error(chosen: list[str], known: tuple[str, ...]) -> str | None:
    """Why `chosen` is no choice of the backend's curriculum families `known` (one line), or None if it is one."""
    unknown = [f for f in chosen if f not in known]
    if unknown or not chosen:
        return f"unknown family {', '.join(unknown) or '(none)'}: one of {', '.join(known)}"
    return None


def nearly_proved(tree: SearchTree) -> bool:
    """Whether an unproved search nearly proved its theorem: it reached a state at least NEAR_DEPTH accepted tactics
    from the statement, by a tactic the model proposed (not the automation list or premise retrieval), that the
    search had not found to be a dead end when its budget ran out. Two accepted steps in a row mean the proof was
    under way rather than refused at the statement; the model's own step is what fine-tuning extends (automation and
    retrieval do the same in every round); a dead end is excluded because the search itself showed that path leads
    nowhere. Depth and status are in every tree, whatever the backend's state text looks like (a goal count would
    need the backend's layout)."""
    if not tree.nodes or tree.root.status is Status.PROVED:
        return False
    for node in tree.nodes.values():
        if node.depth < NEAR_DEPTH or node.status is Status.FAILED:
            continue
        edge = tree.parent_edge(node.key)
        if edge is not None and not edge.automation and not edge.premise:
            return True
    return False


@dataclass(frozen=True)
class Problem:
    """One curriculum theorem of a round, its family, and the rounds it has been proved in (this one included)."""

    theorem: Theorem
    family: str
    tries: int = 1

    def to_row(self) -> dict:
        t = self.theorem
        return {"name": t.name, "family": self.family, "tries": self.tries, "statement": t.statement,
                "header": t.header, "backend": t.backend, "split": t.split, "benchmark": t.benchmark}

    @classmethod
    def from_row(cls, row: dict) -> "Problem":
        theorem = Theorem(row["name"], row["statement"], row["header"], row["backend"], row.get("split"),
                          row.get("benchmark"))
        return cls(theorem, row["family"], row.get("tries", 1))


@dataclass(frozen=True)
class Attempt:
    """What a round's search did with one problem."""

    problem: Problem
    proved: bool
    near: bool  # nearly proved (never with proved)


@dataclass(frozen=True)
class Choice:
    """A round's problems: the near misses kept from the previous round first, then the fresh draws."""

    problems: list[Problem]
    kept: int  # near misses of the previous round, tried again
    weights: dict[str, float]  # each family's share of the fresh draws


def round_seed(seed: int, round_index: int) -> int:
    """The seed of round R's fresh draws: distinct per round (so are the drawn names, cur_FAMILY_SEED_K), and round
    0's is `seed` itself, so round 0 draws what `prover curriculum --seed SEED` writes (as many of each family)."""
    return seed + SEED_STRIDE * round_index


def family_weights(previous: list[Attempt], families: list[str]) -> dict[str, float]:
    """Each family's share of the fresh draws, summing to 1: even without a previous round, else in proportion to the
    family's proved-or-near rate in it, at least MIN_RATE. A rate, not a count: counts would follow the previous
    round's own apportioning and compound. A family the previous round did not try has the overall rate."""
    if not previous:
        return {f: 1 / len(families) for f in families}
    tried = Counter(a.problem.family for a in previous)
    good = Counter(a.problem.family for a in previous if a.proved or a.near)
    overall = sum(good.values()) / sum(tried.values())
    rates = {f: max(good[f] / tried[f] if tried[f] else overall, MIN_RATE) for f in families}
    total = sum(rates.values())
    return {f: rates[f] / total for f in families}


def apportion(weights: dict[str, float], count: int, rng: random.Random) -> dict[str, int]:
    """`count` draws split by `weights`: each family gets the whole part of its quota, and the draws left go to
    families picked (each once at most) in proportion to what their quotas had left over. With few draws and many
    families most quotas are below one: the seeded pick still reaches each family over the rounds."""
    total = sum(weights.values())
    quotas = {f: count * w / total for f, w in weights.items()}
    counts = {f: int(q) for f, q in quotas.items()}
    left = {f: quotas[f] - counts[f] for f in weights}
    for _ in range(count - sum(counts.values())):
        pool = [f for f in left if left[f] > 0] or list(left)  # (rounding can leave a draw without a remainder)
        family = rng.choices(pool, weights=[left[f] if left[f] > 0 else 1.0 for f in pool])[0]
        counts[family] += 1
        del left[family]
    return counts


def choose_problems(previous: list[Attempt], families: list[str], count: int, seed: int, round_index: int,
                    draw: Draw) -> Choice:
    """Round `round_index`'s `count` problems (see the module's docstring), the same for the same inputs."""
    kept = [Problem(a.problem.theorem, a.problem.family, a.problem.tries + 1) for a in previous
            if a.near and not a.proved and a.problem.tries < MAX_TRIES][:count]
    weights = family_weights(previous, families)
    fresh_seed = round_seed(seed, round_index)
    rng = random.Random(f"curriculum-apportion:{fresh_seed}")
    shares = apportion(weights, count - len(kept), rng)
    fresh = [Problem(t, family) for family in families if shares[family]
             for t in draw(family, shares[family], fresh_seed)]
    return Choice([*kept, *fresh], len(kept), weights)


def write_problems(path: Path, problems: list[Problem]) -> None:
    with atomic_file(path) as f:
        for problem in problems:
            f.write(json.dumps(problem.to_row()) + "\n")


def read_problems(path: Path) -> list[Problem]:
    return [Problem.from_row(row) for row in read_rows(path, required=("name", "family", "statement"))]


def read_attempts(run_dir: Path, problems: list[Problem]) -> list[Attempt]:
    """What the run folder's rows and trees say of each problem; a problem without a row, or whose statement the
    proof assistant refused (unsupported), was not attempted and is left out. An error row counts as attempted
    and not near (its search did not finish)."""
    rows = {row["name"]: row for row in latest_rows(read_rows(run_dir / RESULTS))}
    attempts = []
    for problem in problems:
        row = rows.get(problem.theorem.name)
        if row is None or row["status"] == UNSUPPORTED:
            continue
        proved = row["status"] == Status.PROVED.value
        tree_path = run_dir / TREES / f"{stored_name(problem.theorem.name)}.json"
        near = not proved and row["status"] != ERROR and tree_path.is_file() and nearly_proved(SearchTree.read(tree_path))
        attempts.append(Attempt(problem, proved, near))
    return attempts


def round_summary(choice: Choice, attempts: list[Attempt], families: list[str]) -> dict:
    """The round row's curriculum fields."""
    proved = sum(a.proved for a in attempts)
    per_family = {f: {"proved": sum(a.proved for a in attempts if a.problem.family == f),
                      "attempted": sum(a.problem.family == f for a in attempts)} for f in families}
    return {"curriculum_attempted": len(attempts), "curriculum_proved": proved,
            "curriculum_pass_rate": proved / max(1, len(attempts)),
            "curriculum_near": sum(a.near for a in attempts), "curriculum_kept": choice.kept,
            "curriculum_families": per_family,
            "curriculum_weights": {f: round(w, 4) for f, w in choice.weights.items()}}
