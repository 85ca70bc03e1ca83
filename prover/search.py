"""Best-first tactic search (Llemma/ReProver semantics): a priority queue of proof states by cumulative log-probability."""
from __future__ import annotations

import heapq
import itertools
import json
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import networkx as nx

from prover import interrupts
from prover.backend import Backend
from prover.generators import Candidate, TacticGenerator, generate_within, takes_keyword
from prover.types import Failed, Proof, ProofState, Proved, TimedOut, Theorem, Verdict


class Status(str, Enum):
    PROVED = "proved"  # found and accepted by the fresh-process check
    REJECTED = "rejected"  # found, but the check refused it: never reported as proved
    FAILED = "failed"  # queue exhausted or expansion budget spent
    TIMEOUT = "timeout"  # wall-clock budget spent
    OPEN = "open"


@dataclass(frozen=True)
class SearchConfig:
    """The search's limits. A theorem's wall time is at most about budget_seconds + tactic_timeout +
    verify_timeout: the budget covers loading the theorem (`backend.open`: its header), the search's tactics and
    its model calls (each gets the time left: see TacticGenerator.generate); a tactic started just before the end
    of the budget may finish its own timeout; a proof found in time is then checked from scratch within
    verify_timeout."""

    max_expansions: int = 200
    budget_seconds: float = 60.0  # wall clock per theorem, model and proof assistant together
    tactic_timeout: float = 5.0  # per tactic
    num_candidates: int = 8  # asked of the generator at each expansion
    automation: bool = True  # try the backend's automation tactics at every node first
    automation_score: float = 0.0  # their log-probability: free, so states they reach keep their parent's rank
    # The final fresh-process check of a found proof (compile + axioms), on top of the budget: a proof found in the
    # budget's last second still gets checked. A check that takes longer rejects the proof ("did not finish").
    verify_timeout: float = 60.0


@dataclass
class Node:
    """A proof state in the search graph, keyed by its normalised goals.

    The graph itself is a networkx DiGraph: nodes carry goals, the state text the model was shown ("state",
    only where it differs from the goals: see `node_state`), log-probability, depth, failed attempts ("errors")
    and merged duplicates ("merged"); edges carry the tactic, its score, its outcome and whether it came from
    the backend's automation list ("automation") rather than the generator.
    """

    key: str
    state: ProofState
    logprob: float  # cumulative over the tactics that first reached it
    depth: int
    status: Status = Status.OPEN
    expanded: bool = False


@dataclass
class SearchResult:
    theorem: str
    status: Status
    tactics: tuple[str, ...] | None = None
    proof: Proof | None = None  # the tactics and the complete script that was checked
    verdict: Verdict | None = None
    expansions: int = 0
    tactics_run: int = 0
    merged: int = 0  # tactics whose resulting state was already in the graph
    seconds: float = 0.0
    model_seconds: float = 0.0
    env_seconds: float = 0.0
    verify_seconds: float = 0.0
    tree: nx.DiGraph = field(default_factory=nx.DiGraph, repr=False)

    def tree_data(self) -> dict:
        """The search graph in networkx node-link form: plain JSON-serialisable data."""
        return nx.node_link_data(self.tree, edges="edges")

    def write_tree(self, path: str | Path) -> None:
        """The search graph as JSON (networkx node-link form), for inspection."""
        Path(path).write_text(json.dumps(self.tree_data(), indent=1))


PROVED_KEY = "<proved>"


def node_state(attrs: dict) -> str:
    """A tree node's state text as the model was shown it (`Backend.render_state`). Stored as "state" only where
    it differs from the goals; every backend so far renders the goals unchanged, and trees are large."""
    return attrs.get("state", attrs["goals"])


def _state_attrs(backend: Backend, state: ProofState) -> dict:
    shown = backend.render_state(state)
    return {"goals": state.goals} if shown == state.goals else {"goals": state.goals, "state": shown}


def state_key(state: ProofState) -> str:
    return " ".join(state.goals.split())


def _key_function(backend: Backend):
    return getattr(backend, "state_key", None) or state_key


def verify_within(backend: Backend, theorem: Theorem, tactics: tuple[str, ...], timeout: float) -> Verdict:
    """`backend.verify`, limited to `timeout` seconds where the backend takes a limit (`Backend.verify`'s
    `timeout=`); one written without it checks under its own limits."""
    if takes_keyword(backend.verify, "timeout"):
        return backend.verify(theorem, tactics, timeout=timeout)
    return backend.verify(theorem, tactics)


def best_first_search(
    theorem: Theorem,
    backend: Backend,
    generator: TacticGenerator,
    config: SearchConfig = SearchConfig(),
    verify: bool = True,
) -> SearchResult:
    """Search for a proof of `theorem`; stop at the first one and check it from scratch.

    Raises StatementError (from `backend.open`) if the statement itself is not accepted.
    """
    start = time.monotonic()
    deadline = start + config.budget_seconds
    result = SearchResult(theorem.name, Status.OPEN)
    tree = result.tree
    key_of = _key_function(backend)
    root_state = backend.open(theorem)
    root = Node(key_of(root_state), root_state, 0.0, 0)
    nodes = {root.key: root}
    tree.add_node(root.key, **_state_attrs(backend, root_state), logprob=0.0, depth=0, status=Status.OPEN.value)
    order = itertools.count()  # FIFO among equal priorities
    queue = [(-root.logprob, next(order), root.key)]

    def run(node: Node, cand: Candidate, automation: bool) -> tuple[str, ...] | None:
        """Run one candidate on `node`; the full tactic path if it closed the proof."""
        t0 = time.monotonic()
        outcome = backend.run_tactic(node.state, cand.tactic, max(0.5, min(config.tactic_timeout, deadline - t0)))
        result.env_seconds += time.monotonic() - t0
        result.tactics_run += 1
        if isinstance(outcome, Proved):
            tree.add_node(PROVED_KEY, status=Status.PROVED.value)
            tree.add_edge(node.key, PROVED_KEY, tactic=cand.tactic, score=cand.score, outcome="proved",
                          automation=automation)
            return outcome.tactics
        if isinstance(outcome, (Failed, TimedOut)):
            kind = "failed" if isinstance(outcome, Failed) else "timeout"
            detail = outcome.error if isinstance(outcome, Failed) else f"{outcome.seconds:g}s"
            tree.nodes[node.key].setdefault("errors", []).append({"tactic": cand.tactic, "outcome": kind, "detail": detail})
            return None
        child_key = key_of(outcome.state)
        if child_key in nodes:  # the same goals reached another way: merge, keeping the better rank
            result.merged += 1
            tree.nodes[node.key].setdefault("merged", []).append({"tactic": cand.tactic, "into": child_key})
            known, logprob = nodes[child_key], node.logprob + cand.score
            if not known.expanded and logprob > known.logprob:  # e.g. the model is surer of it than automation
                known.logprob = logprob
                tree.nodes[child_key]["logprob"] = logprob
                heapq.heappush(queue, (-logprob, next(order), child_key))  # its old entry is skipped when popped
            return None
        child = Node(child_key, outcome.state, node.logprob + cand.score, node.depth + 1)
        nodes[child_key] = child
        tree.add_node(child_key, **_state_attrs(backend, outcome.state), logprob=child.logprob, depth=child.depth,
                      status=Status.OPEN.value)
        tree.add_edge(node.key, child_key, tactic=cand.tactic, score=cand.score, outcome="advanced",
                      automation=automation)
        heapq.heappush(queue, (-child.logprob, next(order), child_key))
        return None

    proof: tuple[str, ...] | None = None
    while queue and proof is None:
        interrupts.check()
        if result.expansions >= config.max_expansions:
            result.status = Status.FAILED
            break
        if time.monotonic() >= deadline:
            result.status = Status.TIMEOUT
            break
        priority, _, key = heapq.heappop(queue)
        node = nodes[key]
        if node.expanded or -priority != node.logprob:  # a stale entry: the node was re-ranked
            continue
        node.expanded = True
        result.expansions += 1
        automation = backend.automation_tactics() if config.automation else []
        for cand in (Candidate(t, config.automation_score) for t in automation):
            if proof is not None or time.monotonic() >= deadline:
                break
            proof = run(node, cand, automation=True)
        if proof is None and time.monotonic() < deadline:
            t0 = time.monotonic()
            # The model gets the time left: it stops at the deadline with the candidates complete by then.
            candidates = generate_within(generator, theorem, backend.render_state(node.state), config.num_candidates,
                                         deadline)
            result.model_seconds += time.monotonic() - t0
            for cand in candidates:
                if proof is not None or time.monotonic() >= deadline:
                    break
                proof = run(node, cand, automation=False)
        tree.nodes[node.key]["expanded"] = result.expansions  # 1 for the root: the order of expansion
    if proof is None:
        if result.status is Status.OPEN:
            result.status = Status.TIMEOUT if time.monotonic() >= deadline else Status.FAILED
    else:
        result.tactics = proof
        result.proof = Proof(proof, backend.render_proof(theorem, proof))
        if verify:
            t0 = time.monotonic()
            result.verdict = verify_within(backend, theorem, proof, config.verify_timeout)
            result.verify_seconds = time.monotonic() - t0
            result.status = Status.PROVED if result.verdict.accepted else Status.REJECTED
        else:
            result.status = Status.PROVED
    result.seconds = time.monotonic() - start
    return result
