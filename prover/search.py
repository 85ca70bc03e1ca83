"""Best-first tactic search (Llemma/ReProver semantics): a priority queue of proof states by cumulative log-probability."""
from __future__ import annotations

import heapq
import itertools
import time

from prover import interrupts
from prover.backend import Backend
from prover.generators import Candidate, TacticGenerator, generate_within
from prover.search_tree import Edge, Node, Outcome, Status
from prover.search_types import (AUTOMATION, HAMMER, HAMMER_MIN_SECONDS, MODEL, PREMISE, SearchConfig,
                                 SearchResult, verify_within)
from prover.types import Advanced, Failed, Proof, Proved, TimedOut, Theorem

__all__ = ["HAMMER_MIN_SECONDS", "SearchConfig", "SearchResult", "Status", "best_first_search", "verify_within"]


def best_first_search(theorem: Theorem, backend: Backend, generator: TacticGenerator,
                      config: SearchConfig = SearchConfig(), verify: bool = True) -> SearchResult:
    """Search for a proof of `theorem`; stop at the first one the fresh-process check accepts. Raises StatementError
    (from `backend.open`) if the statement itself is not accepted."""
    start = time.monotonic()
    deadline = start + config.budget_seconds
    result = SearchResult(theorem.name, Status.OPEN)
    tree = result.tree

    def new_node(state, key: str, logprob: float, depth: int) -> Node:
        shown = backend.render_state(state)  # stored apart from the goals only where it differs: trees are large
        node = Node(key, state.goals, None if shown == state.goals else shown, logprob, depth, proof_state=state)
        heapq.heappush(queue, (-logprob, next(order), key, 0))
        return tree.add_node(node)

    order = itertools.count()  # FIFO among equal priorities
    # (-logprob, order, key, widening): widening 0 is a state's first expansion, W > 0 its re-expansion at level W
    queue: list[tuple[float, int, str, int]] = []
    root_state = backend.open(theorem)
    new_node(root_state, backend.state_key(root_state), 0.0, 0)

    hammers = backend.hammer_tactics() if config.hammer else []
    hammered: set[str] = set()

    def hammer_time() -> float:
        return min(config.hammer_timeout, deadline - time.monotonic(),
                   config.hammer_share * config.budget_seconds - result.hammer_seconds)

    def accepted(tactics: tuple[str, ...], edge: Edge) -> bool:
        """Whether the fresh-process check accepts a proof the search found (always, without `verify`). A refused one
        becomes a failed edge and the search goes on: a step may work in the search's session and not in the
        theorem's own context (`auto with sets` where the file never loads that hint database), and another proof
        may check. The first refused proof is reported if none is accepted."""
        if not verify:
            return True
        t0 = time.monotonic()
        verdict = verify_within(backend, theorem, tactics, config.verify_timeout)
        result.verify_seconds += time.monotonic() - t0
        if verdict.accepted:
            result.verdict = verdict
            return True
        result.refused += 1
        if result.refused == 1:
            result.verdict, result.tactics = verdict, tactics
        edge.outcome, edge.error = Outcome.FAILED, f"the check refused the proof this closed: {verdict.reason}"
        return False

    def run(node: Node, cand: Candidate, kind: str) -> tuple[str, ...] | None:
        """Run one candidate (`kind`: model, automation or hammer) on `node`, recording it as an edge; the full tactic
        path if it closed the proof."""
        t0 = time.monotonic()
        limit = hammer_time() if kind == HAMMER else min(config.tactic_timeout, deadline - t0)
        outcome = backend.run_tactic(node.proof_state, cand.tactic, max(0.5, limit))
        seconds = time.monotonic() - t0
        result.env_seconds += seconds
        if kind == HAMMER:
            result.hammer_seconds += seconds
            hammered.add(node.key)
        result.tactics_run += 1
        edge = Edge(node.key, None, cand.tactic, cand.score, Outcome.ADVANCED, seconds=round(seconds, 6),
                    automation=kind in (AUTOMATION, HAMMER), premise=kind == PREMISE)
        if isinstance(outcome, (Advanced, Proved)) and outcome.step:
            edge.step = outcome.step
        if isinstance(outcome, Proved):
            if not accepted(outcome.tactics, edge):
                tree.add_edge(edge)
                return None
            edge.outcome = Outcome.PROVED
            tree.mark_proof(tree.add_edge(edge))
            return outcome.tactics
        if isinstance(outcome, Failed):
            edge.outcome, edge.error = Outcome.FAILED, outcome.error
        elif isinstance(outcome, TimedOut):
            edge.outcome, edge.error = Outcome.TIMEOUT, f"timed out after {outcome.seconds:g}s"
        elif (key := backend.state_key(outcome.state)) in tree.nodes:
            # The same goals reached another way: merge, keeping the better rank.
            edge.outcome, edge.dst = Outcome.MERGED, key
            result.merged += 1
            known, logprob = tree.nodes[key], node.logprob + cand.score
            if known.expanded is None and logprob > known.logprob:  # e.g. the model is surer of it than automation
                known.logprob = logprob
                heapq.heappush(queue, (-logprob, next(order), key, 0))  # its old entry is skipped when popped
        else:
            edge.dst = new_node(outcome.state, key, node.logprob + cand.score, node.depth + 1).key
        tree.add_edge(edge)
        return None

    def candidates(node: Node, widening: int = 0):
        """(candidate, kind) for `node`: the backend's automation tactics, then (asked only once those are spent) the
        model's candidates, then the backend's premise tactics (`config.premises`), ranked by the names the model's
        candidates make up; the model gets the time left and stops at the deadline. A re-expansion (`widening` > 0)
        asks the model alone, for 2**widening times as many, and skips the tactics the node has run already."""
        for tactic in backend.automation_tactics() if config.automation and not widening else []:
            yield Candidate(tactic, config.automation_score), AUTOMATION
        t0 = time.monotonic()
        proposed = generate_within(generator, theorem, node.state_text, config.num_candidates * 2 ** widening,
                                   deadline)
        result.model_seconds += time.monotonic() - t0
        tried = {edge.tactic for edge in tree.edges_from(node.key)} if widening else set()
        yield from ((cand, MODEL) for cand in proposed if cand.tactic not in tried)
        if config.premises and not widening and (left := deadline - time.monotonic()) > 0:
            t0 = time.monotonic()
            hints = [cand.tactic for cand in proposed]
            found = backend.premise_tactics(node.proof_state, hints, config.premises, min(config.tactic_timeout, left))
            result.env_seconds += time.monotonic() - t0
            yield from ((Candidate(tactic, config.premise_score), PREMISE) for tactic in found if tactic not in hints)

    def hammer(node: Node) -> tuple[str, ...] | None:
        for tactic in hammers if node.key not in hammered else []:
            if hammer_time() < HAMMER_MIN_SECONDS:
                return None
            if (proof := run(node, Candidate(tactic, config.automation_score), HAMMER)) is not None:
                return proof
        return None

    root = tree.root
    hammer_slice = min(config.hammer_timeout, config.hammer_share * config.budget_seconds)

    def hammer_the_root_before(node: Node) -> bool:
        """Whether the root's hammer goes before expanding `node`. It waits for the states the automation reached at
        no cost (an automation proof a level or two down takes a second or two, a hammer call up to its timeout),
        then goes before the model's states, or sooner where waiting longer would cut its time slice."""
        if not hammers or root.key in hammered or node is root:
            return False
        return node.logprob < root.logprob or deadline - time.monotonic() <= hammer_slice

    def hammer_the_rest() -> tuple[str, ...] | None:
        """With the model and the automation spent: the hammer on the nodes not hammered yet, best first."""
        for node in sorted(tree.nodes.values(), key=lambda n: -n.logprob):
            if (proof := hammer(node)) is not None:
                return proof
        return None

    widened = 0  # the widening level reached

    def widen() -> bool:
        """With the queue dry and time left: queue every expanded state not on a proof again, one level wider. False
        where the widenings are spent, the time is up, or there is no such state."""
        nonlocal widened
        if widened >= config.widenings or time.monotonic() >= deadline:
            return False
        again = [n for n in tree.nodes.values() if n.expanded is not None and n.status is not Status.PROVED]
        if not again:
            return False
        widened += 1
        for node in again:
            node.status = Status.OPEN  # a dead end so far; its new candidates may get somewhere
            heapq.heappush(queue, (-node.logprob, next(order), node.key, widened))
        return True

    def expand(node: Node, widening: int = 0) -> tuple[str, ...] | None:
        """The proof if a tactic on `node` closed it. A node whose every candidate ran before the deadline is finished
        in the tree (a dead end if none got anywhere)."""
        for cand, kind in candidates(node, widening):
            if time.monotonic() >= deadline:
                return None
            if (proof := run(node, cand, kind)) is not None:
                return proof
        tree.finish_expansion(node.key)
        return None

    proof: tuple[str, ...] | None = None
    while proof is None:
        if not queue:  # the model and the automation have nothing left: the hammer, then the model asked wider
            if (hammers and (proof := hammer_the_rest()) is not None) or not widen():
                break
            continue
        interrupts.check()
        if result.expansions >= config.max_expansions:
            result.status = Status.FAILED
            break
        if time.monotonic() >= deadline:
            result.status = Status.TIMEOUT
            break
        priority, _, key, widening = heapq.heappop(queue)
        node = tree.nodes[key]
        if widening:
            if node.status is Status.PROVED:
                continue
            result.expansions += 1
            proof = expand(node, widening)
            continue
        if node.expanded is not None or -priority != node.logprob:  # a stale entry: the node was re-ranked
            continue
        if hammer_the_root_before(node) and (proof := hammer(root)) is not None:
            break
        result.expansions += 1
        node.expanded = result.expansions  # 1 for the root: the order of expansion
        proof = expand(node)
    result.widenings = widened
    if proof is None and hammers:
        proof = hammer_the_rest()
    if proof is not None:
        result.tactics, result.status = proof, Status.PROVED
        result.proof = Proof(proof, backend.render_proof(theorem, proof))
    elif result.refused:  # found, but every proof found was refused: never reported as proved
        result.status = Status.REJECTED
        result.proof = Proof(result.tactics, backend.render_proof(theorem, result.tactics))
    elif result.status is Status.OPEN:
        result.status = Status.TIMEOUT if time.monotonic() >= deadline else Status.FAILED
    result.seconds = time.monotonic() - start
    return result
