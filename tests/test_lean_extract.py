"""lean_env.extract: proofstep rows from LeanDojo Benchmark JSON (a SYNTHETIC benchmark file whose states are
real Lean output, taken from the recorded REPL transcripts in tests/data/lean-repl-transcripts) and from a
LeanDojo TracedRepo (a test double of its API; the real class only where lean_dojo is installed)."""
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lean_env.extract import NO_GOALS, Tally, extract_proofsteps, traced_repo_rows
from prover.proofsteps import ExtractOptions, read_proofsteps

TRANSCRIPTS = Path(__file__).parent / "data" / "lean-repl-transcripts"
REPL_URL = "https://github.com/leanprover-community/repl"


def _objects(path: Path) -> list[dict]:
    return [json.loads(chunk) for chunk in path.read_text(encoding="utf-8").split("\n\n") if chunk.strip()]


def transcript_proof(name: str, tactics: list[int]) -> list[dict]:
    """LeanDojo-style traced tactics for a linear proof in a recorded REPL session: the session's inputs
    numbered `tactics` (0 = its first tactic), with the states before and after each as the REPL printed them,
    goals joined by blank lines as LeanBackend shows them."""
    inputs, outputs = _objects(TRANSCRIPTS / f"{name}.in"), _objects(TRANSCRIPTS / f"{name}.expected.out")
    states: dict[int, str] = {}
    steps = []
    for given, got in zip(inputs, outputs):
        for sorry in got.get("sorries", []):
            states.setdefault(sorry["proofState"], sorry["goal"])
        if "tactic" in given:
            after = "\n\n".join(got["goals"]) or NO_GOALS
            states[got["proofState"]] = after
            steps.append({"tactic": given["tactic"], "state_before": states[given["proofState"]],
                          "state_after": after})
    return [steps[i] for i in tactics]


def synthetic_theorem(full_name: str, transcript: str, tactics: list[int], file_path: str) -> dict:
    return {"url": REPL_URL, "commit": "8948401ab4924499421c94b7facdfca5ff27d81d", "file_path": file_path,
            "full_name": full_name, "start": [1, 1], "end": [1, 80],
            "traced_tactics": transcript_proof(transcript, tactics)}


# The SYNTHETIC benchmark: LeanDojo Benchmark 4's row format, real states from the transcripts.
COMPLEX_AND = synthetic_theorem("complex_and", "proof_branching", [0, 1, 2, 3], "Test/Branching.lean")
HAVE_EXACT = synthetic_theorem("f", "proof_step", [1, 2], "Test/ProofStep.lean")  # have t : Nat := 42; exact t
WITH_SORRY = synthetic_theorem("foo", "Mathlib/induction", [2], "Test/Induction.lean")  # induction ... => sorry


@pytest.fixture
def benchmark_folder(tmp_path):
    folder = tmp_path / "synthetic_leandojo_benchmark"
    folder.mkdir()
    (folder / "train.json").write_text(json.dumps([HAVE_EXACT, WITH_SORRY]), encoding="utf-8")
    (folder / "val.json").write_text(json.dumps([COMPLEX_AND]), encoding="utf-8")
    return folder


def test_the_transcript_states_make_a_well_formed_proof():
    steps = COMPLEX_AND["traced_tactics"]
    assert steps[0]["state_before"] == "p q r : Prop\nh1 : p ∧ q\nh2 : q → r\n⊢ p ∧ r"
    assert all(a["state_after"] == b["state_before"] for a, b in itertools.pairwise(steps))
    assert steps[-1]["state_after"] == NO_GOALS and "\n\n" in steps[1]["state_before"]  # two goals after And.intro


def test_benchmark_folder_rows_are_the_traced_states_and_tactics(benchmark_folder, tmp_path):
    summary = extract_proofsteps(benchmark_folder, tmp_path / "out.jsonl")
    rows = read_proofsteps(tmp_path / "out.jsonl")
    expected = [(t["state_before"], t["tactic"], "f", "train", "repl:Test/ProofStep.lean")
                for t in HAVE_EXACT["traced_tactics"]]
    expected += [(t["state_before"], t["tactic"], "complex_and", "valid", "repl:Test/Branching.lean")
                 for t in COMPLEX_AND["traced_tactics"]]
    assert [(r.state, r.tactic, r.theorem, r.split, r.source) for r in rows] == expected
    assert {r.backend for r in rows} == {"lean"}
    assert [r.tactic for r in rows if r.theorem == "complex_and"] == [
        "apply And.intro", "exact h1.left", "apply h2", "exact h1.right"]
    assert summary["theorems"] == 3 and summary["theorems_kept"] == 2 and summary["theorems_admitted"] == 1
    assert summary["rows_written"] == 6 and summary["rows_per_split"] == {"train": 2, "valid": 4, "test": 0}


def test_a_single_file_in_json_lines_takes_each_rows_split_or_its_files(tmp_path):
    lines = tmp_path / "pointers.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in [{**COMPLEX_AND, "split": "test"}, HAVE_EXACT, COMPLEX_AND]))
    summary = extract_proofsteps(lines, tmp_path / "out.jsonl", ExtractOptions(valid_fraction=0, test_fraction=0))
    rows = read_proofsteps(tmp_path / "out.jsonl")
    assert {r.theorem: r.split for r in rows} == {"complex_and": "test", "f": "train"}
    assert summary["rows_before_dedupe"] == 10 and summary["rows_written"] == 6  # the repeated theorem is dropped
    assert extract_proofsteps(lines, tmp_path / "one.jsonl", ExtractOptions(limit=1))["rows_written"] == 4


def test_bad_sources_are_value_errors_with_the_reason(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        extract_proofsteps(tmp_path / "nothing.json", tmp_path / "out.jsonl")
    broken = tmp_path / "val.json"
    broken.write_text(json.dumps([{"full_name": "x"}]))
    with pytest.raises(ValueError, match="lacks 'file_path'"):
        extract_proofsteps(broken, tmp_path / "out.jsonl")
    with pytest.raises(ValueError, match="not a LeanDojo benchmark"):
        extract_proofsteps(tmp_path / "no_such_folder", tmp_path / "out.jsonl")


def test_prover_extract_runs_it_for_the_lean_backend(benchmark_folder, tmp_path):
    done = subprocess.run([sys.executable, "-m", "prover.cli", "extract", "--backend", "lean", "--source",
                           str(benchmark_folder), "--out", str(tmp_path / "out.jsonl")],
                          check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows_written"] == 6 and summary["rows_dropped_contamination"] == 0  # the guard ran
    assert len(read_proofsteps(tmp_path / "out.jsonl")) == 6


# -- LeanDojo's TracedRepo ----------------------------------------------------------------------------------
class FakeRepo:
    def __init__(self, name):
        self.name, self.url = name, f"https://github.com/example/{name}"


class FakeTracedTactic:
    def __init__(self, step):
        self.tactic, self.state_before, self.state_after = step["tactic"], step["state_before"], step["state_after"]


class FakeTracedTheorem:
    """TEST DOUBLE of lean_dojo.TracedTheorem: .repo, .theorem (full_name, file_path), get_traced_tactics()."""

    def __init__(self, repo, row):
        self.repo = repo
        self.theorem = type("Theorem", (), {"full_name": row["full_name"], "file_path": Path(row["file_path"])})
        self._tactics = [FakeTracedTactic(t) for t in row["traced_tactics"]]

    def get_traced_tactics(self):
        return self._tactics


class FakeTracedRepo:
    """TEST DOUBLE of lean_dojo.TracedRepo: .repo and get_traced_theorems(), its dependencies' included."""

    def __init__(self, theorems, dependency_theorems):
        self.repo = FakeRepo("project")
        dependency = FakeRepo("mathlib4")
        self._theorems = [FakeTracedTheorem(self.repo, r) for r in theorems]
        self._theorems += [FakeTracedTheorem(dependency, r) for r in dependency_theorems]

    def get_traced_theorems(self):
        return self._theorems


def test_a_traced_repos_own_theorems_give_rows():
    tally = Tally()
    rows = list(traced_repo_rows(FakeTracedRepo([COMPLEX_AND, WITH_SORRY], [HAVE_EXACT]), tally))
    assert [(r.state, r.tactic) for r in rows] == [(t["state_before"], t["tactic"])
                                                   for t in COMPLEX_AND["traced_tactics"]]
    assert {r.source for r in rows} == {"project:Test/Branching.lean"} and {r.backend for r in rows} == {"lean"}
    assert tally.theorems == 2 and tally.theorems_admitted == 1  # the dependency's theorem is not the repo's


def test_the_traced_repo_api_used_here_is_lean_dojos():
    lean_dojo = pytest.importorskip("lean_dojo",
                                    reason="lean-dojo is not installed (pip install 'llemma-prover[lean]')")
    assert callable(lean_dojo.trace) and callable(lean_dojo.TracedRepo.load_from_disk)
    assert callable(lean_dojo.TracedRepo.get_traced_theorems) and callable(lean_dojo.LeanGitRepo.from_path)
    assert callable(lean_dojo.TracedTheorem.get_traced_tactics)
    for name in ("tactic", "state_before", "state_after"):
        assert isinstance(getattr(lean_dojo.TracedTactic, name), property)


def test_a_traced_repo_without_lean_dojo_says_how_to_get_it(tmp_path):
    try:
        import lean_dojo  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("lean-dojo is installed: this checks the message without it")
    from prover.types import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="lean-dojo"):
        extract_proofsteps(tmp_path, tmp_path / "out.jsonl")
