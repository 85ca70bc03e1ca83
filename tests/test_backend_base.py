"""prover.backend: the base class's defaults, the wrapper that forwards everything, the one timeout policy."""
from __future__ import annotations

import pytest

from prover.backend import Backend, BackendBase, BackendWrapper, Timeouts, known_prefix
from prover.proofsteps import ExtractOptions
from prover.types import Advanced, Failed, ProofState, Theorem, Verdict

THEOREM = Theorem(name="t", statement="t : 1 = 1", header="", backend="echo")


class EchoBackendDouble(BackendBase):
    """TEST DOUBLE: a backend that accepts every tactic and appends it to the goals."""

    name = "echo"

    def __init__(self):
        self.closed = False
        self.restarts = 3  # a backend's own extra, reached through a wrapper

    def open(self, theorem):
        return ProofState(0, "⊢  1 = 1")

    def run_tactic(self, state, tactic, timeout):
        return Advanced(ProofState(state.handle + 1, f"{state.goals} {tactic}", state.depth + 1))

    def render_proof(self, theorem, tactics):
        return "\n".join(tactics)

    def verify(self, theorem, tactics, timeout=None):
        return Verdict(True, f"checked in {timeout}")

    def state_key(self, state):
        return state.goals.upper()

    def close(self):
        self.closed = True


def test_the_base_class_gives_every_default_a_backend_needs():
    class Minimal(BackendBase):
        name = "minimal"

    backend = Minimal()
    state = ProofState(0, "x :  nat\n⊢ x = x")
    assert backend.render_state(state) == state.goals
    assert backend.state_key(state) == "x : nat ⊢ x = x"  # the goals up to whitespace
    assert backend.automation_tactics() == []
    with backend as entered:
        assert entered is backend
    assert isinstance(EchoBackendDouble(), Backend)


def test_closing_through_the_context_manager_closes_the_backend():
    with EchoBackendDouble() as backend:
        pass
    assert backend.closed


def test_a_wrapper_forwards_every_method_and_attribute_it_does_not_override():
    inner = EchoBackendDouble()

    class Refusing(BackendWrapper):
        def run_tactic(self, state, tactic, timeout):
            return Failed("refused") if tactic == "bad" else self.inner.run_tactic(state, tactic, timeout)

    wrapped = Refusing(inner)
    root = wrapped.open(THEOREM)
    assert wrapped.name == "echo" and wrapped.restarts == 3
    assert wrapped.run_tactic(root, "bad", 1.0) == Failed("refused")
    assert wrapped.run_tactic(root, "simp", 1.0).state.goals == "⊢  1 = 1 simp"
    assert wrapped.verify(THEOREM, ("simp",), timeout=7) == Verdict(True, "checked in 7")
    assert wrapped.state_key(root) == "⊢  1 = 1"
    assert wrapped.render_proof(THEOREM, ("a", "b")) == "a\nb"
    with pytest.raises(AttributeError):
        wrapped.no_such_attribute
    wrapped.close()
    assert inner.closed


def test_timeouts_left_unset_take_the_backends_defaults():
    defaults = Timeouts(header=600.0, statement=120.0, verify=300.0, replay_factor=2.0)
    resolved = Timeouts(verify=30.0).resolved(defaults)
    assert (resolved.header, resolved.statement, resolved.verify) == (600.0, 120.0, 30.0)
    assert resolved.replay is None and resolved.interrupt_grace is None


def test_a_replayed_tactic_gets_twice_its_limit_and_at_least_a_second_unless_a_fixed_limit_is_set():
    assert Timeouts().replay_limit(5.0) == 10.0
    assert Timeouts().replay_limit(0.1) == 2.0
    assert Timeouts(replay_factor=3.0).replay_limit(5.0) == 15.0
    assert Timeouts(replay=60.0, replay_factor=3.0).replay_limit(5.0) == 60.0


def test_a_replay_starts_after_the_longest_known_prefix_of_the_path():
    known = {(), ("a",), ("a", "b")}
    assert known_prefix(("a", "b", "c", "d"), known.__contains__) == 2
    assert known_prefix(("x",), known.__contains__) == 0
    held = ("a", "b", "c")
    assert known_prefix(("a", "b", "z"), lambda prefix: held[:len(prefix)] == prefix) == 2


def test_extract_options_refuse_splits_that_add_up_to_more_than_everything():
    with pytest.raises(ValueError, match="add up to at most 1"):
        ExtractOptions(valid_fraction=0.6, test_fraction=0.6)
    assert ExtractOptions().sentence_timeout is None  # the backend's own default
