"""The LeanDojo adapter: lean-dojo's results map onto ours, a lost process is replayed, and a missing
lean-dojo is one line. `lean_dojo` here is a TEST DOUBLE module (put in sys.modules) with lean-dojo's
public names and result types (4.x: LeanError, DojoTacticTimeoutError; 1.x: TacticError, TimeoutError)."""
import json
import sys
import types
from dataclasses import dataclass, field

import pytest

from lean_env.dojo_pointers import DojoPointer, load_leandojo_benchmark
from lean_env.leandojo import LeanDojoBackend
from prover.backend import Timeouts
from prover.types import (
    Advanced,
    BackendUnavailable,
    Failed,
    Proved,
    StatementError,
    Theorem,
    TimedOut,
)

POINTER = DojoPointer("https://github.com/rah4927/lean-dojo-mew", "d00c776260c77de7e70125ef0cd119de6c0ff1de",
                      "MiniF2F/Validation.lean", "mathd_algebra_10", "theorem mathd_algebra_10 : (2 : ℕ) + 2 = 4", "valid")
THEOREM = Theorem("mathd_algebra_10", POINTER.statement, "", "lean", "valid", "minif2f-lean4-llemma")
ROOT = "⊢ 2 + 2 = 4"


def lean_dojo_test_double(*, v1=False, script=None, init_error=None, check_proof=None):
    """A TEST DOUBLE of the `lean_dojo` package. `script` maps (goals, tactic) to what run_tac does:
    ("state", goals) | ("finished",) | ("error", text) | ("given_up",) | ("timeout_result",) | ("raise", class name, text)."""
    module = types.ModuleType("lean_dojo")
    script = script or {}

    @dataclass(frozen=True)
    class TacticState:
        pp: str
        id: int = field(compare=False)
        message: str | None = field(default=None, compare=False)

    @dataclass(frozen=True)
    class ProofFinished:
        tactic_state_id: int
        message: str | None = None

    @dataclass(frozen=True)
    class ProofGivenUp:
        pass

    @dataclass(frozen=True)
    class LeanError:
        error: str

    @dataclass(frozen=True)
    class TimeoutError:  # lean-dojo 1.x returned this as a result
        error: str

    class DojoCrashError(Exception):
        pass

    class DojoTacticTimeoutError(Exception):
        pass

    class DojoInitError(Exception):
        pass

    @dataclass(frozen=True)
    class LeanGitRepo:
        url: str
        commit: str

    @dataclass(frozen=True)
    class Theorem:
        repo: LeanGitRepo
        file_path: object
        full_name: str

    class Dojo:
        instances = []

        def __init__(self, entry, **kwargs):
            self.entry, self.kwargs, self.calls, self.exited, self.ids = entry, kwargs, [], False, 0
            Dojo.instances.append(self)

        def __enter__(self):
            if init_error is not None:  # (class name, message)
                raise getattr(module, init_error[0])(init_error[1])
            return self, TacticState(ROOT, 0)

        def __exit__(self, *exc):
            self.exited = True

        def run_tac(self, state, tactic):
            self.calls.append((state.pp, tactic))
            outcome = script.get((state.pp, tactic), ("error", f"unknown tactic {tactic}"))
            kind = outcome[0]
            if kind == "raise":
                raise getattr(module, outcome[1])(*outcome[2:])
            self.ids += 1
            if kind == "state":
                return TacticState(outcome[1], self.ids)
            if kind == "finished":
                return ProofFinished(self.ids)
            if kind == "given_up":
                return ProofGivenUp()
            if kind == "timeout_result":
                return TimeoutError("try_for_time tactic failed, timeout")
            return (TacticErrorV1 if v1 else LeanError)(outcome[1])

    @dataclass(frozen=True)
    class TacticErrorV1:
        error: str

    if v1:  # 1.x names and signature: `hard_timeout`, TacticError, TimeoutError results, DojoHardTimeoutError
        class DojoV1(Dojo):
            def __init__(self, entry, hard_timeout=None, additional_imports=[]):
                super().__init__(entry, hard_timeout=hard_timeout)

        module.Dojo, module.TacticError, module.TimeoutError = DojoV1, TacticErrorV1, TimeoutError
        module.DojoHardTimeoutError = type("DojoHardTimeoutError", (Exception,), {})
    else:  # 4.x: Dojo(entry, timeout=600, additional_imports=[], build_deps=True)
        class DojoV4(Dojo):
            def __init__(self, entry, timeout=600, additional_imports=[], build_deps=True):
                super().__init__(entry, timeout=timeout)

        module.Dojo, module.LeanError, module.DojoTacticTimeoutError = DojoV4, LeanError, DojoTacticTimeoutError
        if check_proof is not None:
            module.check_proof = check_proof
    module.TacticState, module.ProofFinished, module.ProofGivenUp = TacticState, ProofFinished, ProofGivenUp
    module.DojoCrashError, module.DojoInitError = DojoCrashError, DojoInitError
    module.LeanGitRepo, module.Theorem = LeanGitRepo, Theorem
    module.dojos = Dojo.instances
    return module


@pytest.fixture
def install(monkeypatch):
    def put(module):
        monkeypatch.setitem(sys.modules, "lean_dojo", module)
        return module

    return put


SCRIPT = {
    (ROOT, "norm_num"): ("finished",),
    (ROOT, "intro"): ("state", "⊢ 4 = 4"),
    ("⊢ 4 = 4", "rfl"): ("finished",),
    (ROOT, "simp"): ("error", "simp made no progress"),
    (ROOT, "exact?"): ("given_up",),
}


def opened(**kwargs):
    backend = LeanDojoBackend([POINTER], **kwargs)
    return backend, backend.open(THEOREM)


def test_without_lean_dojo_the_backend_is_unavailable_with_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "lean_dojo", None)  # `import lean_dojo` raises ImportError
    with pytest.raises(BackendUnavailable, match=r"pip install 'llemma-prover\[lean\]'"):
        LeanDojoBackend([POINTER])


def test_open_builds_the_theorem_from_its_pointer_with_a_per_interaction_timeout(install):
    ld = install(lean_dojo_test_double(script=SCRIPT))
    _, root = opened(timeouts=Timeouts(statement=120))
    dojo = ld.dojos[-1]
    assert dojo.entry == ld.Theorem(ld.LeanGitRepo(POINTER.url, POINTER.commit), dojo.entry.file_path, POINTER.full_name)
    assert str(dojo.entry.file_path) == "MiniF2F/Validation.lean"
    assert dojo.kwargs == {"timeout": 120}
    assert root.goals == ROOT and root.depth == 0


@pytest.mark.parametrize("tactic,expected", [
    ("norm_num", Proved(("norm_num",))),
    ("simp", Failed("simp made no progress")),
    ("exact?", Failed("the tactic gave up the proof (sorry)")),
])
def test_results_map_onto_ours(install, tactic, expected):
    install(lean_dojo_test_double(script=SCRIPT))
    backend, root = opened()
    assert backend.run_tactic(root, tactic, timeout=5) == expected


def test_a_tactic_state_advances_and_its_path_finishes_the_proof(install):
    install(lean_dojo_test_double(script=SCRIPT))
    backend, root = opened()
    step = backend.run_tactic(root, "intro", timeout=5)
    assert isinstance(step, Advanced) and step.state.goals == "⊢ 4 = 4" and step.state.depth == 1
    assert backend.run_tactic(step.state, "rfl", timeout=5) == Proved(("intro", "rfl"))


def test_sorry_is_refused_before_it_reaches_lean(install):
    ld = install(lean_dojo_test_double(script=SCRIPT))
    backend, root = opened()
    assert "sorry" in backend.run_tactic(root, "sorry", timeout=5).error
    assert ld.dojos[-1].calls == []


def test_a_tactic_timeout_is_timed_out_and_the_next_tactic_replays_in_a_new_dojo(install):
    ld = install(lean_dojo_test_double(script={**SCRIPT, ("⊢ 4 = 4", "nlinarith"): ("raise", "DojoTacticTimeoutError")}))
    backend, root = opened(timeouts=Timeouts(statement=7))
    step = backend.run_tactic(root, "intro", timeout=5)
    assert backend.run_tactic(step.state, "nlinarith", timeout=5) == TimedOut(7.0)
    assert ld.dojos[0].exited  # the hung process is let go
    assert backend.run_tactic(step.state, "rfl", timeout=5) == Proved(("intro", "rfl"))
    assert len(ld.dojos) == 2 and ld.dojos[1].calls == [(ROOT, "intro"), ("⊢ 4 = 4", "rfl")]
    assert backend.restarts == 1


def test_a_crash_is_a_failure_and_the_theorem_is_reopened(install):
    install(lean_dojo_test_double(script={(ROOT, "omega"): ("raise", "DojoCrashError", "OOM"),
                                               (ROOT, "norm_num"): ("finished",)}))
    backend, root = opened()
    result = backend.run_tactic(root, "omega", timeout=5)
    assert isinstance(result, Failed) and "crashed" in result.error and "OOM" in result.error
    assert backend.run_tactic(root, "norm_num", timeout=5) == Proved(("norm_num",))


def test_a_theorem_lean_dojo_cannot_open_is_a_statement_error(install):
    install(lean_dojo_test_double(init_error=("DojoInitError", "Cannot find the *.ast.json file")))
    with pytest.raises(StatementError, match="ast.json"):
        LeanDojoBackend([POINTER]).open(THEOREM)


def test_a_theorem_without_a_pointer_is_a_statement_error(install):
    install(lean_dojo_test_double())
    with pytest.raises(StatementError, match="no LeanDojo pointer"):
        LeanDojoBackend([]).open(THEOREM)


def test_the_1x_api_maps_the_same_way(install):
    script = {**SCRIPT, (ROOT, "nlinarith"): ("timeout_result",)}
    ld = install(lean_dojo_test_double(v1=True, script=script))
    backend, root = opened(timeouts=Timeouts(statement=30))
    assert ld.dojos[-1].kwargs == {"hard_timeout": 30}
    assert backend.run_tactic(root, "simp", timeout=5) == Failed("simp made no progress")
    assert backend.run_tactic(root, "nlinarith", timeout=5) == TimedOut(30.0)
    assert backend.run_tactic(root, "norm_num", timeout=5) == Proved(("norm_num",))


def test_verify_uses_check_proof_on_the_rendered_tactics(install):
    seen = []
    install(lean_dojo_test_double(script=SCRIPT, check_proof=lambda thm, proof: seen.append((thm.full_name, proof)) or True))
    backend = LeanDojoBackend([POINTER])
    verdict = backend.verify(THEOREM, ("intro", "rfl"))
    assert verdict.accepted and seen == [("mathd_algebra_10", "by\n  intro\n  rfl")]
    refused = backend.verify(THEOREM, ("native_decide",))
    assert not refused.accepted and "native" in refused.reason and len(seen) == 1


def test_verify_without_check_proof_replays_in_a_fresh_dojo(install):
    install(lean_dojo_test_double(v1=True, script=SCRIPT))
    backend = LeanDojoBackend([POINTER])
    assert backend.verify(THEOREM, ("intro", "rfl")).accepted
    assert not backend.verify(THEOREM, ("intro",)).accepted  # goals left open


def test_the_leandojo_benchmark_format_loads_from_a_json_list_or_lines(tmp_path):
    row = {"url": "https://github.com/leanprover-community/mathlib4", "commit": "29dcec074de168ac2bf835a77ef68bbe069194c5",
           "file_path": "Mathlib/Algebra/Group/Basic.lean", "full_name": "mul_left_comm", "start": [10, 1], "end": [12, 20],
           "traced_tactics": [{"tactic": "simp", "state_before": "⊢ a", "state_after": "no goals"}]}
    listed = tmp_path / "test.json"
    listed.write_text(json.dumps([row, dict(row, full_name="mul_right_comm")]))
    assert [p.full_name for p in load_leandojo_benchmark(listed, "test")] == ["mul_left_comm", "mul_right_comm"]
    assert load_leandojo_benchmark(listed)[0].file_path == "Mathlib/Algebra/Group/Basic.lean"
    lines = tmp_path / "rows.jsonl"
    lines.write_text(json.dumps(row) + "\n")
    assert load_leandojo_benchmark(lines, "test")[0].split == "test"
    lines.write_text(json.dumps({"url": "x"}) + "\n")
    with pytest.raises(ValueError, match="commit, file_path, full_name"):
        load_leandojo_benchmark(lines)


def test_the_default_pointers_are_llemmas_minif2f(install):
    install(lean_dojo_test_double())
    backend = LeanDojoBackend()
    assert len(backend._pointers) == 488


def test_prover_check_on_the_leandojo_backend_replays_the_files_tactics(install, tmp_path):
    from lean_env.minif2f import load_llemma_split
    from lean_env.plugin import check_file_leandojo

    seen = []
    install(lean_dojo_test_double(check_proof=lambda thm, proof: seen.append(proof) or True))
    theorem = {t.name: t for t in load_llemma_split("valid")}["mathd_algebra_10"]
    proof = tmp_path / "proof.lean"
    proof.write_text(f"{theorem.statement} := by\n  norm_num\n  simp only [abs_of_nonneg]\n")
    assert check_file_leandojo(proof, theorem).accepted
    assert seen == ["by\n  norm_num\n  simp only [abs_of_nonneg]"]
    proof.write_text(f"{theorem.statement} := by\n  sorry\n")
    assert "sorry" in check_file_leandojo(proof, theorem).reason and len(seen) == 1
