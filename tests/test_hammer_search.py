"""The search's hammer tier, specified on the toy backend's hammer (prover.testing): tried at the root once the
automation's free states are expanded, elsewhere only once the model and the automation have nothing left, within
its share of the budget;
the proof records the step the hammer found, never the hammer call."""
from prover.batch import prove_one
from prover.generators import AutomationOnly
from prover.search import SearchConfig, Status, best_first_search
from prover.search_tree import Outcome
from prover.testing import ReplayGenerator, ToyBackend, toy_theorem

CONFIG = SearchConfig(budget_seconds=30, tactic_timeout=2)


def _hammer_edges(result):
    return [e for e in result.tree.edges if e.tactic == "hammer"]


def test_the_hammer_proves_the_root_and_the_proof_records_its_step():
    backend = ToyBackend(hammer_seconds=0.0)
    result = best_first_search(toy_theorem(5), backend, AutomationOnly(), CONFIG)
    assert result.status is Status.PROVED
    assert result.tactics == ("sub 5",)
    assert result.verdict.accepted
    [edge] = _hammer_edges(result)
    assert edge.outcome is Outcome.PROVED and edge.automation and edge.on_proof
    assert edge.step == "sub 5" and result.tree.to_json()["edges"][-1]["step"] == "sub 5"


def test_the_root_hammer_waits_for_the_states_the_automation_reached_at_no_cost():
    # dec, dec, auto proves 4 = 0 by automation alone, a level down: found without a hammer call.
    backend = ToyBackend(hammer_seconds=0.0, automation=("auto", "dec"))
    result = best_first_search(toy_theorem(4), backend, ReplayGenerator(["sub 1"]), CONFIG)
    assert result.tactics == ("dec", "dec", "auto") and not _hammer_edges(result)


def test_the_root_hammer_goes_before_the_models_states():
    backend = ToyBackend(hammer_seconds=0.0)
    result = best_first_search(toy_theorem(5), backend, ReplayGenerator(["sub 1"]), CONFIG)
    assert [e.tactic for e in result.tree.edges] == ["auto", "sub 1", "hammer"]
    assert result.tactics == ("sub 5",)


def test_the_root_hammer_goes_sooner_where_waiting_would_cut_its_slice():
    # Free automation states without end (dec at score 0) would keep it waiting: it goes once the time left is
    # its slice.
    backend = ToyBackend(hammer_seconds=0.5, automation=("dec",), tactic_seconds=0.05)
    config = SearchConfig(budget_seconds=6, hammer_timeout=2.5, max_expansions=1000)
    result = best_first_search(toy_theorem(10_000), backend, AutomationOnly(), config)
    [edge] = _hammer_edges(result)
    assert edge.src == result.tree.root.key and edge.outcome is Outcome.FAILED


def test_below_the_root_the_hammer_waits_until_the_model_and_the_automation_are_spent():
    # Every state stays beyond the hammer's reach: it fails everywhere, so every node gets its one try.
    backend = ToyBackend(hammer_seconds=0.0, automation=())
    generator = ReplayGenerator(["sub 50", "sub 100"])
    result = best_first_search(toy_theorem(1000), backend, generator, SearchConfig(budget_seconds=30, max_expansions=3))
    edges = result.tree.edges
    assert result.status is Status.FAILED
    root_hammer = next(i for i, e in enumerate(edges) if e.tactic == "hammer")
    assert edges[root_hammer].src == result.tree.root.key
    assert all(e.src == result.tree.root.key for e in edges[:root_hammer])  # after the root's own expansion
    later = [i for i, e in enumerate(edges) if e.tactic == "hammer" and i > root_hammer]
    assert later and min(later) > max(i for i, e in enumerate(edges) if e.tactic != "hammer")
    assert len(later) == len(result.tree.nodes) - 1  # every other node once, none twice


def test_the_hammer_below_the_root_finds_the_proof_the_model_missed():
    backend = ToyBackend(hammer_seconds=0.0, automation=())
    result = best_first_search(toy_theorem(24), backend, ReplayGenerator(["half"]),
                               SearchConfig(budget_seconds=30, max_expansions=2))
    assert result.status is Status.PROVED
    assert result.tactics == ("half", "half", "sub 6")  # the best node first: the deepest has the model's score
    assert result.verdict.accepted


def test_the_hammer_keeps_to_its_share_of_the_budget_and_the_budget_holds():
    backend = ToyBackend(hammer_seconds=1.5, automation=())
    config = SearchConfig(budget_seconds=6, hammer_share=0.5, hammer_timeout=20)
    result = best_first_search(toy_theorem(1000), backend, ReplayGenerator(["sub 1"]), config)
    assert result.status in (Status.FAILED, Status.TIMEOUT)
    assert 0 < result.hammer_seconds <= 0.5 * 6 + 0.2
    assert len(_hammer_edges(result)) == 1  # 1.5 s spent, 1.5 s left: below what one call needs
    assert result.seconds <= config.budget_seconds + config.tactic_timeout


def test_a_hammer_call_is_limited_by_hammer_timeout():
    backend = ToyBackend(hammer_seconds=5.0)
    result = best_first_search(toy_theorem(3), backend, AutomationOnly(),
                               SearchConfig(budget_seconds=30, hammer_timeout=2.5, automation=False))
    [edge] = _hammer_edges(result)
    assert edge.outcome is Outcome.TIMEOUT and 2.4 <= edge.seconds < 4


def test_no_hammer_turns_the_tier_off():
    backend = ToyBackend(hammer_seconds=0.0)
    result = best_first_search(toy_theorem(5), backend, AutomationOnly(), SearchConfig(hammer=False))
    assert result.status is Status.FAILED and not _hammer_edges(result)


def test_the_results_row_says_how_long_the_hammer_took():
    row = prove_one(toy_theorem(5), ToyBackend(hammer_seconds=0.05), AutomationOnly(), CONFIG).row
    assert row["status"] == "proved" and row["proof"] == ["sub 5"]
    assert 0.05 <= row["hammer_seconds"] <= row["env_seconds"]
    assert "hammer_seconds" not in prove_one(toy_theorem(5), ToyBackend(), AutomationOnly(), CONFIG).row
