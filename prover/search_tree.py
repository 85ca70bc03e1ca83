"""The search tree as explicit data: proof states (nodes), the tactics tried on them (edges), their status, the
proof path marked; written to JSON and read back into the same objects (old networkx trees read too)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from prover.types import ProofState

FORMAT = "search-tree/1"  # the "format" field of a tree written by `SearchTree.to_json`
OLD_PROVED_KEY = "<proved>"  # the proved sink node of the networkx trees runs wrote before this format


class Status(str, Enum):
    """A search's outcome, and a node's: proved, failed (a dead end) or open."""

    PROVED = "proved"  # a search: found and accepted by the fresh-process check; a node: on the proof path
    REJECTED = "rejected"  # a search only: found, but the check refused it, so never reported as proved
    FAILED = "failed"  # a search: queue exhausted or expansion budget spent; a node: a dead end
    TIMEOUT = "timeout"  # a search only: wall-clock budget spent
    OPEN = "open"


class Outcome(str, Enum):
    """What one tactic did to the state it ran on."""

    ADVANCED = "advanced"  # reached a state new to the tree (its child)
    PROVED = "proved"  # closed the last goal
    MERGED = "merged"  # reached a state already in the tree (possibly its own)
    FAILED = "failed"  # refused by the proof assistant
    TIMEOUT = "timeout"  # ran past its limit and was interrupted


DEAD = (Outcome.FAILED, Outcome.TIMEOUT)


@dataclass
class Node:
    """A proof state, keyed by `Backend.state_key`: two ways to the same key are one node."""

    key: str
    goals: str
    shown: str | None = None  # the state text the model was shown (Backend.render_state), where it differs from goals
    logprob: float = 0.0  # cumulative over the best-scored tactics that reached it before it was expanded
    depth: int = 0  # tactics from the root along the path that first reached it
    status: Status = Status.OPEN
    expanded: int | None = None  # its place in the order of expansion (1: the root); None: never expanded
    proof_state: ProofState | None = field(default=None, repr=False, compare=False)  # the live state; not written

    @property
    def state_text(self) -> str:
        """The state text the model was shown."""
        return self.goals if self.shown is None else self.shown

    def to_json(self) -> dict:
        data = {"key": self.key, "goals": self.goals, "shown": self.shown, "logprob": self.logprob,
                "depth": self.depth, "status": self.status.value, "expanded": self.expanded}
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict) -> "Node":
        return cls(data["key"], data["goals"], data.get("shown"), data.get("logprob", 0.0), data.get("depth", 0),
                   Status(data.get("status", "open")), data.get("expanded"))


@dataclass
class Edge:
    """One tactic tried on a node, and what came of it."""

    src: str
    dst: str | None  # the node reached (advanced, merged); None where there is none (proved, failed, timeout)
    tactic: str  # as proposed; the backend may have normalised the one it ran (the proof's tactics say)
    score: float
    outcome: Outcome
    error: str = ""  # the proof assistant's refusal, or the limit a timeout hit
    seconds: float = 0.0  # how long the backend took to run it
    automation: bool = False  # from the backend's automation list, not the generator
    on_proof: bool = False  # a step of the proof found
    step: str = ""  # what the backend recorded in the tactic's place, where it differs (a hammer's replay tactic)
    premise: bool = False  # from the backend's premise retrieval (a lemma its own search found), not the generator

    def to_json(self) -> dict:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        for optional in ("error", "step", "premise"):
            if not data[optional]:
                del data[optional]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Edge":
        return cls(data["src"], data.get("dst"), data["tactic"], data.get("score", 0.0), Outcome(data["outcome"]),
                   data.get("error", ""), data.get("seconds", 0.0), data.get("automation", False),
                   data.get("on_proof", False), data.get("step", ""), data.get("premise", False))


class SearchTree:
    """The nodes a search reached (the root first) and the edges it tried, in order. Status is kept as the search
    goes: the proof path's nodes are proved, a node whose tactics all failed (or led only to dead ends) is failed."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self._out: dict[str, list[Edge]] = {}
        self._in: dict[str, list[Edge]] = {}

    @property
    def root(self) -> Node:
        return next(iter(self.nodes.values()))

    def add_node(self, node: Node) -> Node:
        self.nodes[node.key] = node
        self._out.setdefault(node.key, [])
        self._in.setdefault(node.key, [])
        return node

    def add_edge(self, edge: Edge) -> Edge:
        self.edges.append(edge)
        self._out[edge.src].append(edge)
        if edge.dst is not None:
            self._in[edge.dst].append(edge)
        return edge

    def edges_from(self, key: str) -> list[Edge]:
        return self._out[key]

    def parent_edge(self, key: str) -> Edge | None:
        """The edge that first reached the node (its live state came that way); None for the root."""
        return next((e for e in self._in[key] if e.outcome is Outcome.ADVANCED), None)

    def finish_expansion(self, key: str) -> None:
        """Called once every tactic meant for the node has run: a dead end (each tactic failed, or led only to dead
        ends) is marked failed, and so, in turn, is every expanded node whose tactics now all lead to dead ends."""
        todo = [key]
        while todo:
            node = self.nodes[todo.pop()]
            if node.status is not Status.OPEN or node.expanded is None:
                continue
            if all(e.outcome in DEAD or (e.dst is not None and self.nodes[e.dst].status is Status.FAILED)
                   for e in self._out[node.key]):
                node.status = Status.FAILED
                todo.extend(e.src for e in self._in[node.key])

    def mark_proof(self, proving: Edge) -> None:
        """Mark the proof that `proving` (an edge that closed the last goal) ends: each edge from the root on the way
        to it, and each node on the way proved."""
        edge: Edge | None = proving
        while edge is not None:
            edge.on_proof = True
            self.nodes[edge.src].status = Status.PROVED
            edge = self.parent_edge(edge.src)

    def proof_edges(self) -> list[Edge]:
        """The marked proof, root first; empty if none is marked."""
        steps, key = [], self.root.key if self.nodes else None
        while key is not None:
            edge = next((e for e in self._out[key] if e.on_proof), None)
            if edge is None:
                return []
            steps.append(edge)
            if edge.outcome is Outcome.PROVED:
                return steps
            key = edge.dst
        return []

    def extract_proof(self) -> tuple[str, ...] | None:
        """The marked proof's tactics as proposed (`SearchResult.tactics` has them as the backend ran them); None if
        the tree holds no proof."""
        steps = self.proof_edges()
        return tuple(e.tactic for e in steps) if steps else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchTree) and (self.nodes, self.edges) == (other.nodes, other.edges)

    def to_json(self) -> dict:
        """The tree as JSON data (dicts, lists, strings and numbers)."""
        return {"format": FORMAT, "nodes": [n.to_json() for n in self.nodes.values()],
                "edges": [e.to_json() for e in self.edges]}

    @classmethod
    def from_json(cls, data: dict) -> "SearchTree":
        """A tree from `to_json`'s data, or from the networkx node-link data runs wrote before it."""
        if data.get("format") != FORMAT:
            if "directed" in data:
                return _from_networkx(data)
            raise ValueError(f"not a search tree (format {data.get('format')!r})")
        tree = cls()
        for node in data["nodes"]:
            tree.add_node(Node.from_json(node))
        for edge in data["edges"]:
            tree.add_edge(Edge.from_json(edge))
        return tree

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path) -> "SearchTree":
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def _from_networkx(data: dict) -> SearchTree:
    """A tree from the networkx node-link data earlier runs wrote: failed tactics and merges were lists on their
    node (without score, time or automation flag: read as 0 and False), the proof ended in a "<proved>" node, and
    no status was kept. The proof path is marked from the single proved edge (the search stopped there), following
    back the edges that first reached each node, and expanded dead ends are marked failed."""
    tree = SearchTree()
    attrs = [n for n in data["nodes"] if n["id"] != OLD_PROVED_KEY]
    for n in attrs:
        tree.add_node(Node(n["id"], n["goals"], n.get("state"), n.get("logprob", 0.0), n.get("depth", 0),
                           expanded=n.get("expanded")))
    for e in data.get("edges", data.get("links", [])):
        proved = e["target"] == OLD_PROVED_KEY
        tree.add_edge(Edge(e["source"], None if proved else e["target"], e["tactic"], e.get("score", 0.0),
                           Outcome.PROVED if proved else Outcome.ADVANCED, automation=e.get("automation", False)))
    for n in attrs:
        for error in n.get("errors", []):
            outcome = Outcome(error["outcome"])
            text = f"timed out after {error['detail']}" if outcome is Outcome.TIMEOUT else error["detail"]
            tree.add_edge(Edge(n["id"], None, error["tactic"], 0.0, outcome, text))
        for merge in n.get("merged", []):
            tree.add_edge(Edge(n["id"], merge["into"], merge["tactic"], 0.0, Outcome.MERGED))
    for node in list(tree.nodes.values()):
        if node.expanded is not None:
            tree.finish_expansion(node.key)
    proving = next((e for e in tree.edges if e.outcome is Outcome.PROVED), None)
    if proving is not None:
        tree.mark_proof(proving)
    return tree
