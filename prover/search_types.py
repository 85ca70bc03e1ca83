"""What the best-first search takes and gives: its limits (SearchConfig) and its result (SearchResult)."""
from __future__ import annotations

from dataclasses import dataclass, field

from prover.backend import Backend
from prover.generators import takes_keyword
from prover.search_tree import SearchTree, Status
from prover.types import Proof, Theorem, Verdict

MODEL, AUTOMATION, HAMMER, PREMISE = "model", "automation", "hammer", "premise"  # where a candidate came from
HAMMER_MIN_SECONDS = 2.0  # a hammer call with less time left cannot finish its first ATP run


# SearchConfig.premises where the holes are a user's files (`prover prove PATHS`, the editor's hole at the cursor):
# their lemmas are library lemmas, which the lemmas in scope prove (issue 14's stdlib holes: 5/15 with, 3/15
# without); a benchmark's competition problems rarely need one, so there it stays 0.
USER_FILE_PREMISES = 8


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
    # When the queue runs dry with budget left (every state's candidates failed or led back into the tree), ask the
    # model again at every expanded state, best first, for twice as many candidates as the time before (those tried
    # already are not run again): up to this many times. Each such re-expansion counts as an expansion.
    widenings: int = 0
    automation: bool = True  # try the backend's automation tactics at every node first
    # Premise retrieval: at each expansion, after the model's candidates, up to this many tactics using lemmas in
    # scope that the backend's own search finds for the state (Backend.premise_tactics); 0: none.
    premises: int = 0
    # Their log-probability: below the automation's, about a middling model candidate's, so the states they reach
    # wait behind the model's surer ones.
    premise_score: float = -1.0
    automation_score: float = 0.0  # their log-probability: free, so states they reach keep their parent's rank
    # The backend's hammer (hammer_tactics): at the root once the states the automation reached at no cost are
    # expanded (before the model's states), and on the other nodes, best first, once the model and the automation
    # have nothing left; each call within hammer_timeout, all of a theorem's within hammer_share of its budget.
    hammer: bool = True
    hammer_timeout: float = 20.0
    hammer_share: float = 0.5
    # The final fresh-process check of a found proof (compile + axioms), on top of the budget: a proof found in the
    # budget's last second still gets checked. A check that takes longer rejects the proof ("did not finish").
    verify_timeout: float = 60.0


@dataclass
class SearchResult:
    theorem: str
    status: Status
    tactics: tuple[str, ...] | None = None  # the proof as the backend ran it (its normalised tactics)
    proof: Proof | None = None  # the tactics and the complete script that was checked
    verdict: Verdict | None = None
    expansions: int = 0
    tactics_run: int = 0
    merged: int = 0  # tactics whose resulting state was already in the tree
    widenings: int = 0  # times the dry queue was refilled by asking the model wider (SearchConfig.widenings)
    seconds: float = 0.0
    model_seconds: float = 0.0
    env_seconds: float = 0.0
    hammer_seconds: float = 0.0  # the part of env_seconds the hammer took
    verify_seconds: float = 0.0
    refused: int = 0  # proofs found that the check refused (the search went on after each)
    tree: SearchTree = field(default_factory=SearchTree, repr=False)


def verify_within(backend: Backend, theorem: Theorem, tactics: tuple[str, ...], timeout: float) -> Verdict:
    """`backend.verify`, limited to `timeout` seconds where the backend takes a limit (`Backend.verify`'s
    `timeout=`); one written without it checks under its own limits."""
    if takes_keyword(backend.verify, "timeout"):
        return backend.verify(theorem, tactics, timeout=timeout)
    return backend.verify(theorem, tactics)
