"""The Lean backend on a real Lean REPL. Runs where `lake` and `lean` are on PATH and a Lean project is
configured (`prover setup lean`, or $LLEMMA_PROVER_LEAN_PROJECT); skipped with the reason otherwise.
The same driver is proven against recorded transcripts in test_lean_repl_replay.py."""
from __future__ import annotations

import shutil

import pytest

from prover.types import Advanced, BackendUnavailable, Failed, Proved, StatementError, Theorem, TimedOut


def _why_not_live() -> str | None:
    missing = [tool for tool in ("lake", "lean") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not on PATH: run `prover setup lean` for the live Lean tests"
    from lean_env.repl import find_project

    try:
        find_project()
    except BackendUnavailable as exc:
        return str(exc)
    return None


WHY_NOT = _why_not_live()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")

# Lean core only: works in any project.
ADD_COMM = Theorem(name="add_comm_live", statement="theorem add_comm_live (a b : Nat) : a + b = b + a", header="", backend="lean")
AND_INTRO = Theorem(
    name="and_live", statement="theorem and_live (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n", header="", backend="lean"
)
# A miniF2F valid theorem with the DeepSeek-Prover-V1.5 header: needs Mathlib in the project.
MATHD_182 = Theorem(
    name="mathd_algebra_182",
    statement="theorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n",
    header="import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n\n",
    backend="lean",
    split="valid",
)


@pytest.fixture(scope="module")
def backend():
    from lean_env.backend import LeanBackend

    with LeanBackend() as b:
        yield b


def test_core_theorem_opens_and_closes(backend):
    root = backend.open(ADD_COMM)
    assert "⊢ a + b = b + a" in root.goals
    assert backend.run_tactic(root, "omega", 30) == Proved(("omega",))


def test_branching_from_any_earlier_state(backend):
    root = backend.open(AND_INTRO)
    split = backend.run_tactic(root, "constructor", 30)
    assert isinstance(split, Advanced) and "case left" in split.state.goals and "case right" in split.state.goals
    assert backend.run_tactic(root, "exact ⟨hp, hq⟩", 30) == Proved(("exact ⟨hp, hq⟩",))
    left_done = backend.run_tactic(split.state, "exact hp", 30)
    assert isinstance(left_done, Advanced) and left_done.state.goals.strip().endswith("⊢ q")
    assert backend.run_tactic(left_done.state, "exact hq", 30) == Proved(("constructor", "exact hp", "exact hq"))


def test_failures_are_reported(backend):
    root = backend.open(ADD_COMM)
    failed = backend.run_tactic(root, "exact no_such_lemma_here", 30)
    assert isinstance(failed, Failed) and "no_such_lemma_here" in failed.error
    assert isinstance(backend.run_tactic(root, "exat 1", 30), Failed)
    assert isinstance(backend.run_tactic(root, "sorry", 30), Failed)


def test_a_timeout_kills_the_process_and_the_search_goes_on(backend):
    root = backend.open(AND_INTRO)
    split = backend.run_tactic(root, "constructor", 30).state
    assert backend.run_tactic(split, "sleep 20000", 1) == TimedOut(1)
    left_done = backend.run_tactic(split, "exact hp", 60)  # a new process: the path is replayed
    assert isinstance(left_done, Advanced)


def test_verify_accepts_a_found_proof(backend):
    root = backend.open(ADD_COMM)
    proved = backend.run_tactic(root, "omega", 30)
    assert isinstance(proved, Proved)
    assert backend.verify(ADD_COMM, proved.tactics).accepted


def test_minif2f_theorem_with_the_mathlib_header(backend):
    try:
        root = backend.open(MATHD_182)
    except (StatementError, BackendUnavailable) as exc:
        pytest.skip(f"the configured project cannot load Mathlib: {exc}")
    assert "⊢ 7 * (3 * y + 2) = 21 * y + 14" in root.goals
    starts = backend._pool.starts
    assert backend.run_tactic(root, "ring", 120) == Proved(("ring",))
    backend.open(MATHD_182)  # the same header: the same process, no second `import Mathlib`
    assert backend._pool.starts == starts
