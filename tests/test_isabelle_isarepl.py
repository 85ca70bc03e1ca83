"""The Isa-REPL driver's mapping onto the IsaREPL client API, against a TEST DOUBLE of that package
(tests/isabelle_isarepl_double.py) installed as the `IsaREPL` module. No Isabelle, no server."""
from __future__ import annotations

import os
import sys

import pytest

from isabelle_env.backend import IsabelleBackend
from isabelle_env.bridge import ServerDied, split_header
from isabelle_env.isarepl_driver import TOPLEVEL, IsaReplBridge
from prover.backend import Timeouts
from prover.testing import ReplayGenerator
from prover.search import SearchConfig, Status, best_first_search
from prover.types import Advanced, BackendUnavailable, Proved, Theorem, TimedOut

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from isabelle_isarepl_double import make_isarepl_double  # noqa: E402
from isabelle_pisa_double import S0, S1, S2, TOY_HEADER, TOY_STATEMENT  # noqa: E402

TOY = Theorem("toy_double", TOY_STATEMENT, TOY_HEADER, "isabelle", split="valid", benchmark="test-double")
HEADER = split_header(TOY_HEADER).text


@pytest.fixture
def repl(monkeypatch):
    module = make_isarepl_double()
    monkeypatch.setitem(sys.modules, "IsaREPL", module)
    return module


def calls(module, since=0):
    return [(method, args, kwargs) for _, method, args, kwargs in module.calls[since:]]


def test_missing_package_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "IsaREPL", None)  # as if not installed
    with pytest.raises(BackendUnavailable, match="pip install IsaREPL") as info:
        IsaReplBridge()
    assert "\n" not in str(info.value)
    with pytest.raises(BackendUnavailable, match="pip install IsaREPL"):
        IsabelleBackend(driver="isarepl")


def test_no_server_says_how_to_start_one(monkeypatch):
    monkeypatch.setitem(sys.modules, "IsaREPL", make_isarepl_double(refuse=True))
    with pytest.raises(ServerDied, match="repl_server.sh") as info:
        IsaReplBridge("127.0.0.1:6666")
    assert "127.0.0.1:6666" in str(info.value) and isinstance(info.value, BackendUnavailable)


def test_initialise_and_step_map_onto_the_client(repl):
    bridge = IsaReplBridge("127.0.0.1:7777", thy_qualifier="HOL", grace=0.5)
    assert calls(repl) == [("Client", ("127.0.0.1:7777", "HOL"), {}), ("record_state", (TOPLEVEL,), {})]
    start = len(repl.calls)
    thy = bridge.initialise("thy", header=HEADER, working_dir="/data/minif2f", timeout=30)
    assert thy.ok and thy.proof_level == 0
    assert calls(repl, start) == [
        ("clean_history", (), {}),
        ("record_state", (TOPLEVEL,), {}),
        ("eval", (HEADER,), {"timeout": 30000, "cmd_timeout": 30000, "import_dir": "/data/minif2f"}),
        ("record_state", ("thy",), {}),
    ]
    start = len(repl.calls)
    root = bridge.step("thy", TOY_STATEMENT, "root", 5.0)  # already there: no rollback
    assert (root.state, root.proof_level) == (S0, 1)
    assert [m for m, _, _ in calls(repl, start)] == ["eval", "record_state"]
    assert repl.socket_timeouts[-2:] == [5.5, 120.0]  # our deadlines: the command's limit and the grace; record
    start = len(repl.calls)
    branch = bridge.step("thy", TOY_STATEMENT, "root2", 5.0)  # elsewhere: roll back first
    assert branch.state == S0
    assert calls(repl, start)[0] == ("rollback", ("thy",), {})
    bridge.step("root", "apply (induct n)", "s1", 5.0)
    bridge.clone("s1", "s1_copy")
    assert bridge.proof_level("s1_copy") == 1 and "s1_copy" in bridge.list()
    bridge.delete("s1_copy")
    assert set(bridge.list()) == {"thy", "root", "root2", "s1"}


def test_errors_timeouts_and_lost_connections(repl):
    bridge = IsaReplBridge(grace=0.5)
    bridge.initialise("thy", header=HEADER)
    bridge.step("thy", TOY_STATEMENT, "root", 5.0)
    failed = bridge.step("root", "apply nonsense", "x", 5.0)
    assert failed.error == "Failed to apply proof method" and "x" not in bridge.list()
    assert bridge.step("root", "apply slow", "x", 5.0).timed_out  # the REPL's own limit
    assert bridge.generation == 0
    hang = bridge.step("root", "apply hang", "x", 5.0)  # no answer by our deadline
    assert hang.timed_out
    assert bridge.generation == 1 and repl.clients[0].closed and len(repl.clients) == 2
    assert bridge.list() == []  # the new connection holds no states: the backend replays


def test_sledgehammer_picks_by_or_apply(repl):
    bridge = IsaReplBridge()
    bridge.initialise("thy", header=HEADER)
    bridge.step("thy", TOY_STATEMENT, "root", 5.0)
    bridge.step("root", "apply (induct n)", "s1", 5.0)
    bridge.step("s1", "apply simp", "s2", 5.0)
    assert bridge.sledgehammer("s1", 12.4) == "apply (simp)"  # two goals: `by` would have to prove both
    assert ("hammer", (12,), {}) in calls(repl)
    assert bridge.sledgehammer("s2", 10) == "by (metis mult_2)"
    assert bridge.sledgehammer("root", 10) is None


def test_sledgehammer_parameters_are_declared(monkeypatch):
    module = make_isarepl_double()
    monkeypatch.setitem(sys.modules, "IsaREPL", module)
    bridge = IsaReplBridge(sledgehammer_params='provers = "cvc5 vampire"')
    bridge.initialise("thy", header=HEADER)
    evaluated = [args[0] for method, args, _ in calls(module) if method == "eval"]
    assert evaluated == [HEADER, 'declare [[REPL_sledgehammer_params = "provers = \\"cvc5 vampire\\""]]']


def test_earlier_clients_tuple_replies(monkeypatch):
    monkeypatch.setitem(sys.modules, "IsaREPL", make_isarepl_double(legacy=True))
    bridge = IsaReplBridge()
    assert bridge.initialise("thy", header=HEADER).ok
    root = bridge.step("thy", TOY_STATEMENT, "root", 5.0)
    assert (root.state, root.proof_level) == (S0, 1)
    assert bridge.step("root", "apply nonsense", "x", 5.0).error


def test_backend_and_search_over_isarepl(repl):
    with IsabelleBackend(IsaReplBridge(grace=0.5), timeouts=Timeouts(statement=5.0), sledgehammer_timeout=5.0) as backend:
        result = best_first_search(
            TOY, backend, ReplayGenerator(["apply (induct n)", "apply simp"]),
            SearchConfig(max_expansions=10, budget_seconds=60, tactic_timeout=2.0), verify=False,
        )
        assert result.status is Status.PROVED
        assert result.tactics == ("apply (induct n)", "apply (simp)", "by auto")  # the hammer's text is kept


def test_backend_replays_after_a_lost_connection(repl):
    with IsabelleBackend(IsaReplBridge(grace=0.5), timeouts=Timeouts(statement=5.0)) as backend:
        root = backend.open(TOY)
        induct = backend.run_tactic(root, "apply (induct n)", 5.0)
        assert backend.run_tactic(induct.state, "apply hang", 1.0) == TimedOut(1.0)
        step = backend.run_tactic(induct.state, "apply simp", 5.0)
        assert isinstance(step, Advanced) and step.state.goals == S2 and backend.replays == 1
        assert isinstance(backend.run_tactic(step.state, "by auto", 5.0), Proved)
        assert S1 in induct.state.goals
