"""The Isabelle backend against a real Isabelle. Runs only where `isabelle` is on PATH and a server answers:
PISA (LLEMMA_PROVER_PISA_PORTS, LLEMMA_PROVER_ISABELLE_HOME, ...) or Isa-REPL (LLEMMA_PROVER_ISABELLE_DRIVER=isarepl,
LLEMMA_PROVER_ISAREPL_ADDRESS). The protocol-level tests are tests/test_isabelle_pisa.py and
tests/test_isabelle_isarepl.py."""
from __future__ import annotations

import shutil

import pytest

from isabelle_env.backend import SLEDGEHAMMER, IsabelleBackend
from isabelle_env.bridge import subgoal_count
from prover.testing import ReplayGenerator
from prover.search import SearchConfig, Status, best_first_search
from prover.types import Advanced, BackendUnavailable, Failed, Proved, StatementError, Theorem

pytestmark = pytest.mark.skipif(
    shutil.which("isabelle") is None, reason="isabelle not on PATH: install Isabelle (`prover setup isabelle`)"
)

ADD = Theorem("live_add", 'theorem live_add: "(2::nat) + 2 = 4"', "theory live_add imports Main begin", "isabelle")
DOUBLE = Theorem(
    "live_double",
    'theorem live_double:\n  fixes n :: nat\n  shows "2 * n = n + n"',
    "theory live_double imports Main begin",
    "isabelle",
)


@pytest.fixture(scope="module")
def backend():
    try:
        b = IsabelleBackend(sledgehammer_timeout=60.0)
    except BackendUnavailable as exc:
        pytest.skip(f"Isabelle is installed but no server answers: {exc}")
    yield b
    b.close()


def test_live_states_and_branching(backend):
    root = backend.open(DOUBLE)
    assert subgoal_count(root.goals) == 1 and "2 * n = n + n" in root.goals
    assert isinstance(backend.run_tactic(root, "apply (rule conjI)", 10.0), Failed)
    induct = backend.run_tactic(root, "apply (induct n)", 10.0)
    assert isinstance(induct, Advanced) and subgoal_count(induct.state.goals) == 2
    assert backend.run_tactic(root, "by simp", 10.0) == Proved(("by simp",))  # back on the root


def test_live_statement_error(backend):
    with pytest.raises(StatementError):
        backend.open(Theorem("bad", 'theorem bad: "x +"', "theory bad imports Main begin", "isabelle"))


def test_live_sledgehammer_records_what_it_found(backend):
    root = backend.open(ADD)
    result = backend.run_tactic(root, SLEDGEHAMMER, 10.0)
    if isinstance(result, Failed):
        pytest.skip(f"Sledgehammer found nothing here (provers installed?): {result.error}")
    assert isinstance(result, Proved) and SLEDGEHAMMER not in result.tactics[-1]


def test_live_search_and_check(backend):
    result = best_first_search(ADD, backend, ReplayGenerator([]), SearchConfig(max_expansions=2, budget_seconds=300))
    assert result.tactics == ("by auto",)
    assert result.status is Status.PROVED, result.verdict
